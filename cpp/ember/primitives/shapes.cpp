// Output shapes of the primitives at new input shapes: what a shapeless compiled function
// uses to replay its graph. A primitive whose shapes were fixed at trace time and cannot be
// derived from its inputs keeps the base class's error; compile then replays it only while
// its inputs keep their traced shapes.
#include <algorithm>

#include "ember/ops/common.h"

namespace ember {

namespace {

[[noreturn]] void cannot_replay(const char* what, const Shape& baked, const Shape& traced_in,
                                const Shape& now) {
  throw std::invalid_argument(std::string("[compile] Cannot replay ") + what + " with shapeless=True: "
                              "the shape " + shape_str(baked) + " was fixed at trace time for an "
                              "input of shape " + shape_str(traced_in) + ", and the input now has "
                              "shape " + shape_str(now) + ".");
}

}  // namespace


std::vector<Shape> Copy::output_shapes(const std::vector<array>& in) { return {in[0].shape()}; }
std::vector<Shape> Reduce::output_shapes(const std::vector<array>& in) {
  return {reduced_keepdims_shape(in[0].shape())};
}
std::vector<Shape> ArgReduce::output_shapes(const std::vector<array>& in) {
  Shape s = in[0].shape();
  s[axis_] = 1;
  return {s};
}
std::vector<Shape> Scan::output_shapes(const std::vector<array>& in) { return {in[0].shape()}; }
std::vector<Shape> Softmax::output_shapes(const std::vector<array>& in) { return {in[0].shape()}; }
std::vector<Shape> LogSumExp::output_shapes(const std::vector<array>& in) {
  Shape s = in[0].shape();
  s.back() = 1;
  return {s};
}


// Input and output dims are matched in groups of equal product, as a reshape regroups them.
// A group whose input dims changed is rebuilt: a dim that maps to one output dim (kept as it
// is, or several merged into one) takes the new size or product; inserted or removed ones
// stay ones. A group that splits dims is undetermined by its dims alone: then a requested
// shape with a -1 is resolved again; otherwise replay stops with an error naming the shape
// fixed at trace time.
std::vector<Shape> Reshape::replay_shapes(const std::vector<array>& in, const std::vector<array>& traced_in,
                                          const std::vector<array>&) {
  const Shape& now = in[0].shape();
  const Shape& was = traced_in[0].shape();
  if (now == was) return {shape_};
  if (units_ != Units::None && now.size() == was.size()) {
    Shape out;
    if (units_ == Units::Inserted) {
      size_t k = 0, j = 0;
      for (size_t o = 0; o < shape_.size(); ++o) {
        if (j < unit_axes_.size() && unit_axes_[j] == (int)o) {
          out.push_back(1);
          ++j;
        } else {
          out.push_back(now[k++]);
        }
      }
      return {out};
    }
    size_t j = 0;
    for (size_t i = 0; i < now.size(); ++i) {
      if (j < unit_axes_.size() && unit_axes_[j] == (int)i) {
        if (now[i] != 1) cannot_replay("a squeeze", shape_, was, now);
        ++j;
      } else {
        out.push_back(now[i]);
      }
    }
    return {out};
  }
  int64_t total = shape_size(now);
  bool grouped = now.size() == was.size() && shape_size(was) > 0 && total > 0;
  Shape out;
  size_t i = 0, o = 0;
  while (grouped && (i < was.size() || o < shape_.size())) {
    if (i < was.size() && was[i] == 1 && now[i] == 1) {
      ++i;
      continue;
    }
    if (o < shape_.size() && shape_[o] == 1) {
      out.push_back(1);
      ++o;
      continue;
    }
    if (i >= was.size() || o >= shape_.size()) {
      grouped = false;
      break;
    }
    size_t i0 = i, o0 = o;
    int64_t pi = was[i++], po = shape_[o++];
    while (pi != po && grouped) {
      if (pi < po && i < was.size()) pi *= was[i++];
      else if (po < pi && o < shape_.size()) po *= shape_[o++];
      else grouped = false;
    }
    bool changed = false;
    int64_t p = 1;
    for (size_t k = i0; k < i; ++k) {
      changed |= now[k] != was[k];
      p *= now[k];
    }
    if (!changed) out.insert(out.end(), shape_.begin() + o0, shape_.begin() + o);
    else if (o - o0 == 1) out.push_back((int32_t)p);
    else grouped = false;
  }
  if (grouped && shape_size(out) == total) return {out};
  if (!inferred_.empty()) {
    Shape r = inferred_;
    int64_t known = 1;
    size_t at = 0;
    for (size_t k = 0; k < r.size(); ++k) {
      if (r[k] == -1) at = k;
      else known *= r[k];
    }
    if (known > 0 && total % known == 0) {
      r[at] = (int32_t)(total / known);
      return {r};
    }
  }
  cannot_replay("a reshape", shape_, was, now);
}

std::vector<Shape> Transpose::output_shapes(const std::vector<array>& in) {
  Shape s;
  for (int a : axes_) s.push_back(in[0].shape()[a]);
  return {s};
}

// With the operands it was made to match (inputs after the first, linked by a shapeless
// trace), the target is their common shape; alone, the target fixed at trace time.
std::vector<Shape> Broadcast::output_shapes(const std::vector<array>& in) {
  Shape s = in.size() > 1 ? Shape{} : shape_;
  for (auto& x : in) s = broadcast_shapes(s, x.shape());
  if (in.size() == 1 && s != shape_)
    throw std::invalid_argument("[Broadcast] The input no longer broadcasts to the traced shape.");
  return {s};
}

std::vector<Shape> Concatenate::output_shapes(const std::vector<array>& in) {
  Shape s = in[0].shape();
  for (size_t k = 1; k < in.size(); ++k) s[axis_] += in[k].shape()[axis_];
  return {s};
}

// A slice that took a whole axis at trace time takes the whole axis again; other slices keep
// their traced size while their axis keeps its size.
std::vector<Shape> Slice::replay_shapes(const std::vector<array>& in, const std::vector<array>& traced_in,
                                        const std::vector<array>& traced_out) {
  const Shape& now = in[0].shape();
  const Shape& was = traced_in[0].shape();
  Shape s = traced_out[0].shape();
  for (size_t d = 0; d < now.size(); ++d) {
    if (now[d] == was[d]) continue;
    if (start_[d] != 0 || strides_[d] != 1 || s[d] != was[d]) cannot_replay("a slice", s, was, now);
    s[d] = now[d];
  }
  return {s};
}
std::vector<Shape> SliceUpdate::output_shapes(const std::vector<array>& in) { return {in[0].shape()}; }

// Index shape, then the slice sizes; a slice that took a whole non-indexed axis at trace time
// takes the whole axis again.
std::vector<Shape> Gather::replay_shapes(const std::vector<array>& in, const std::vector<array>& traced_in,
                                         const std::vector<array>&) {
  Shape s = in.size() > 1 ? in[1].shape() : Shape{};
  const Shape& now = in[0].shape();
  const Shape& was = traced_in[0].shape();
  for (int d = 0; d < (int)slice_sizes_.size(); ++d) {
    bool indexed = std::find(axes_.begin(), axes_.end(), d) != axes_.end();
    int size = slice_sizes_[d];
    if (!indexed && size == was[d]) size = now[d];
    if (size > now[d]) cannot_replay("a gather", slice_sizes_, was, now);
    s.push_back(size);
  }
  return {s};
}
std::vector<Shape> Scatter::output_shapes(const std::vector<array>& in) { return {in[0].shape()}; }
std::vector<Shape> GatherAxis::output_shapes(const std::vector<array>& in) { return {in[1].shape()}; }
std::vector<Shape> ScatterAxis::output_shapes(const std::vector<array>& in) { return {in[0].shape()}; }

std::vector<Shape> Matmul::output_shapes(const std::vector<array>& in) {
  const Shape &a = in[0].shape(), &b = in[1].shape();
  if (a.size() < 2 || b.size() < 2 || a[a.size() - 1] != b[b.size() - 2])
    throw std::invalid_argument("[matmul] Last dimension of first input with shape " + shape_str(a) +
                                " must match second to last dimension of second input with shape " +
                                shape_str(b) + ".");
  if (a.size() != b.size() || !std::equal(a.begin(), a.end() - 2, b.begin()))
    throw std::invalid_argument("[matmul] Inputs of shapes " + shape_str(a) + " and " + shape_str(b) +
                                " have different batch shapes.");
  Shape s = a;
  s.back() = b.back();
  return {s};
}

}  // namespace ember
