// What importing checks of each node of an exported function before any kernel can run it:
// the number and dtypes of its inputs, its parameters against its inputs' shapes (axes in
// range, permutations, slice bounds, element counts, index shapes, matrix sizes), and the
// shapes and dtypes its outputs must have. A file written by export_function passes; a file
// whose contents were changed on purpose raises here instead of reaching a kernel with
// buffers of the wrong size.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "ember/ops/common.h"
#include "ember/primitives.h"
#include "ember/primitives/conv_grad.h"

namespace ember {

namespace {

using Arrays = std::vector<array>;

struct Check {
  const Arrays& in;
  const std::vector<Shape>& stored;  // the outputs' shapes the file gives
  std::vector<Shape> shapes;  // expected outputs
  std::vector<Dtype> dtypes;  // expected output dtypes (empty: not checked)

  [[noreturn]] static void fail(const std::string& what) { throw std::invalid_argument(what); }
  static void need(bool ok, const std::string& what) {
    if (!ok) fail(what);
  }
  void arity(size_t n) const {
    if (in.size() != n)
      fail("it takes " + std::to_string(n) + " inputs, the file gives " + std::to_string(in.size()));
  }
  void arity_at_least(size_t n) const {
    if (in.size() < n)
      fail("it takes at least " + std::to_string(n) + " inputs, the file gives " + std::to_string(in.size()));
  }
  void axis(int64_t a, int ndim, const char* what = "axis") const {
    if (a < 0 || a >= ndim)
      fail(std::string(what) + " " + std::to_string(a) + " is out of range for an input of rank " +
           std::to_string(ndim));
  }
  void same_dtype(size_t i, size_t j) const {
    if (in[i].dtype() != in[j].dtype())
      fail(std::string("inputs of different dtypes ") + dtype_name(in[i].dtype()) + " and " +
           dtype_name(in[j].dtype()));
  }
  void integer_input(size_t i) const {
    if (!is_integral(in[i].dtype()) || in[i].dtype() == bool_)
      fail(std::string("index input of dtype ") + dtype_name(in[i].dtype()) + " (integers expected)");
  }
  void out(Shape s, Dtype t) {
    shapes.push_back(std::move(s));
    dtypes.push_back(t);
  }
};

// Number of elements a slice of an axis of size n takes, or an error when it would read
// outside the axis.
int64_t slice_count(int64_t start, int64_t stop, int64_t stride, int64_t n) {
  if (stride == 0) Check::fail("a slice step is zero");
  int64_t len = stride > 0 ? (stop - start + stride - 1) / stride : (start - stop + (-stride) - 1) / (-stride);
  if (len <= 0) return 0;
  int64_t last = start + (len - 1) * stride;
  if (start < 0 || start >= n || last < 0 || last >= n)
    Check::fail("slice bounds [" + std::to_string(start) + ", " + std::to_string(stop) + ") step " +
                std::to_string(stride) + " fall outside an axis of size " + std::to_string(n));
  return len;
}

Shape slice_shape(const Shape& x, const Shape& start, const Shape& stop, const Shape& strides) {
  size_t nd = x.size();
  if (start.size() != nd || stop.size() != nd || strides.size() != nd)
    Check::fail("slice parameters do not have one entry per input dimension");
  Shape s;
  for (size_t d = 0; d < nd; ++d) s.push_back((int32_t)slice_count(start[d], stop[d], strides[d], x[d]));
  return s;
}

bool binary_key(const std::string& k) {
  static const std::set<std::string> keys = {
      "Add", "Subtract", "Multiply", "Divide", "FloorDivide", "Remainder", "Power", "Maximum",
      "Minimum", "ArcTan2", "LogAddExp", "Equal", "NotEqual", "Less", "LessEqual", "Greater",
      "GreaterEqual", "LogicalAnd", "LogicalOr", "BitwiseAnd", "BitwiseOr", "BitwiseXor",
      "LeftShift", "RightShift", "EqualNaN"};
  return keys.count(k) > 0;
}

void check_elementwise(const std::string& key, Elementwise& p, Check& c) {
  if (key == "Select") {
    c.arity(3);
    Check::need(c.in[0].dtype() == bool_, "its condition is not boolean");
    c.same_dtype(1, 2);
  } else if (binary_key(key)) {
    c.arity(2);
    c.same_dtype(0, 1);
  } else {
    c.arity(1);
    if (key == "Real" || key == "Imag")
      Check::need(c.in[0].dtype() == complex64, "its input is not complex");
  }
  c.out(p.Elementwise::output_shapes(c.in)[0], p.output_dtype(c.in));
}

void check_node(const std::string& key, Primitive& prim, Check& c) {
  const Arrays& in = c.in;
  if (auto* e = dynamic_cast<Elementwise*>(&prim)) return check_elementwise(key, *e, c);
  if (key == "Arange") {
    c.arity(0);
    auto& p = static_cast<Arange&>(prim);
    Check::need(c.stored.size() == 1 && c.stored[0].size() == 1, "its output is not one-dimensional");
    Check::need(p.step_ != 0 && std::isfinite(p.start_) && std::isfinite(p.stop_) && std::isfinite(p.step_),
                "its start, stop or step is zero, infinite or NaN");
    // An integer range starts from the truncated start, which can shift its length by one.
    double n = std::max(0.0, std::ceil((p.stop_ - p.start_) / p.step_));
    Check::need(std::abs(n - c.stored[0][0]) <= 1, "its length does not match its start, stop and step");
    c.shapes = c.stored;
    return;
  }
  if (key == "Copy") {
    c.arity(1);
    return c.out(in[0].shape(), in[0].dtype());
  }
  if (key == "Reshape") {
    auto& p = static_cast<Reshape&>(prim);
    c.arity(1);
    for (auto d : p.shape_) Check::need(d >= 0, "a negative size in its shape");
    Check::need(shape_size(p.shape_) == in[0].size(),
                "its shape " + shape_str(p.shape_) + " does not hold the " + std::to_string(in[0].size()) +
                    " elements of its input");
    if (!p.inferred_.empty()) {
      Check::need(p.inferred_.size() == p.shape_.size(), "its requested shape has the wrong rank");
      int unknown = 0;
      for (auto d : p.inferred_) {
        unknown += d == -1;
        Check::need(d >= -1, "a negative size in its requested shape");
      }
      Check::need(unknown == 1, "its requested shape does not have one -1");
    }
    std::vector<int> ax = p.unit_axes_;
    Check::need(std::is_sorted(ax.begin(), ax.end()) && std::adjacent_find(ax.begin(), ax.end()) == ax.end(),
                "its unit axes are not sorted and distinct");
    if (p.units_ == Reshape::Units::Inserted) {
      Check::need(p.shape_.size() == (size_t)in[0].ndim() + ax.size(), "its inserted axes do not match its shape");
      for (int a : ax) {
        c.axis(a, (int)p.shape_.size());
        Check::need(p.shape_[a] == 1, "an inserted axis is not of size 1");
      }
    } else if (p.units_ == Reshape::Units::Removed) {
      Check::need(p.shape_.size() + ax.size() == (size_t)in[0].ndim(), "its removed axes do not match its shape");
      for (int a : ax) {
        c.axis(a, in[0].ndim());
        Check::need(in[0].shape()[a] == 1, "a removed axis is not of size 1");
      }
    }
    return c.out(p.shape_, in[0].dtype());
  }
  if (key == "Transpose") {
    auto& p = static_cast<Transpose&>(prim);
    c.arity(1);
    int nd = in[0].ndim();
    Check::need((int)p.axes_.size() == nd, "its permutation does not have one entry per dimension");
    std::vector<bool> seen(nd, false);
    for (int a : p.axes_) {
      c.axis(a, nd);
      Check::need(!seen[a], "its permutation repeats an axis");
      seen[a] = true;
    }
    return c.out(p.output_shapes(in)[0], in[0].dtype());
  }
  if (key == "Broadcast") {
    auto& p = static_cast<Broadcast&>(prim);
    c.arity_at_least(1);
    for (auto d : p.shape_) Check::need(d >= 0, "a negative size in its shape");
    Check::need(in[0].ndim() <= (int)p.shape_.size(), "its input has more dimensions than its shape");
    Check::need(broadcast_shapes(p.shape_, in[0].shape()) == p.shape_,
                "its input of shape " + shape_str(in[0].shape()) + " does not broadcast to " + shape_str(p.shape_));
    return c.out(p.output_shapes(in)[0], in[0].dtype());
  }
  if (key == "Slice") {
    auto& p = static_cast<Slice&>(prim);
    c.arity(1);
    return c.out(slice_shape(in[0].shape(), p.start_, p.stop_, p.strides_), in[0].dtype());
  }
  if (key == "SliceUpdate") {
    auto& p = static_cast<SliceUpdate&>(prim);
    c.arity(2);
    c.same_dtype(0, 1);
    Shape s = slice_shape(in[0].shape(), p.start_, p.stop_, p.strides_);
    Check::need(in[1].shape() == s, "its update of shape " + shape_str(in[1].shape()) +
                                        " does not match the slice of shape " + shape_str(s));
    return c.out(in[0].shape(), in[0].dtype());
  }
  if (key == "AsStrided") {
    auto& p = static_cast<AsStrided&>(prim);
    c.arity(1);
    Check::need(p.strides_.size() == p.shape_.size(), "its strides do not match its shape");
    int64_t lo = (int64_t)p.offset_, hi = (int64_t)p.offset_;
    bool empty = false;
    for (size_t d = 0; d < p.shape_.size(); ++d) {
      Check::need(p.shape_[d] >= 0, "a negative size in its shape");
      empty |= p.shape_[d] == 0;
      int64_t span = (int64_t)p.strides_[d] * (p.shape_[d] - 1);
      Check::need(std::abs((int64_t)p.strides_[d]) <= (int64_t)1 << 31, "a stride is out of range");
      (span < 0 ? lo : hi) += span;
    }
    Check::need(p.offset_ <= (size_t)std::numeric_limits<int32_t>::max(), "its offset is out of range");
    if (!empty)
      Check::need(lo >= 0 && hi < (int64_t)in[0].size(), "it reads outside its input of " +
                                                               std::to_string(in[0].size()) + " elements");
    return c.out(p.shape_, in[0].dtype());
  }
  if (key == "Concatenate") {
    auto& p = static_cast<Concatenate&>(prim);
    c.arity_at_least(1);
    c.axis(p.axis_, in[0].ndim());
    for (size_t k = 1; k < in.size(); ++k) {
      c.same_dtype(0, k);
      Check::need(in[k].ndim() == in[0].ndim(), "inputs of different ranks");
      for (int d = 0; d < in[0].ndim(); ++d)
        Check::need(d == p.axis_ || in[k].shape()[d] == in[0].shape()[d],
                    "inputs of shapes " + shape_str(in[0].shape()) + " and " + shape_str(in[k].shape()) +
                        " differ outside the concatenation axis");
    }
    int64_t total = 0;
    for (auto& x : in) total += x.shape()[p.axis_];
    Check::need(total <= std::numeric_limits<int32_t>::max(), "its output is too large");
    return c.out(p.output_shapes(in)[0], in[0].dtype());
  }
  if (key == "Reduce") {
    auto& p = static_cast<Reduce&>(prim);
    c.arity(1);
    Shape s = in[0].shape();
    for (size_t k = 0; k < p.axes_.size(); ++k) {
      c.axis(p.axes_[k], in[0].ndim());
      Check::need(k == 0 || p.axes_[k] > p.axes_[k - 1], "its axes are not sorted and distinct");
      s[p.axes_[k]] = 1;
    }
    return c.out(s, in[0].dtype());
  }
  if (key == "ArgReduce") {
    auto& p = static_cast<ArgReduce&>(prim);
    c.arity(1);
    c.axis(p.axis_, in[0].ndim());
    return c.out(p.output_shapes(in)[0], uint32);
  }
  if (key == "Scan") {
    auto& p = static_cast<Scan&>(prim);
    c.arity(1);
    c.axis(p.axis_, in[0].ndim());
    return c.out(in[0].shape(), in[0].dtype());
  }
  if (key == "Softmax") {
    c.arity(1);
    Check::need(in[0].ndim() >= 1, "its input is a scalar");
    return c.out(in[0].shape(), in[0].dtype());
  }
  if (key == "LogSumExp") {
    c.arity(1);
    Check::need(in[0].ndim() >= 1, "its input is a scalar");
    return c.out(prim.output_shapes(in)[0], in[0].dtype());
  }
  if (key == "Gather") {
    auto& p = static_cast<Gather&>(prim);
    c.arity_at_least(1);
    const Shape& x = in[0].shape();
    Check::need(in.size() == p.axes_.size() + 1, "its number of index inputs does not match its axes");
    Check::need(p.slice_sizes_.size() == x.size(), "its slice sizes do not have one entry per dimension");
    std::vector<bool> seen(x.size(), false);
    for (int a : p.axes_) {
      c.axis(a, (int)x.size());
      Check::need(!seen[a], "its axes repeat");
      seen[a] = true;
    }
    for (size_t d = 0; d < x.size(); ++d)
      Check::need(p.slice_sizes_[d] >= 0 && p.slice_sizes_[d] <= x[d], "a slice size is outside [0, size of its axis]");
    Shape s = in.size() > 1 ? in[1].shape() : Shape{};
    for (size_t k = 1; k < in.size(); ++k) {
      c.integer_input(k);
      Check::need(in[k].shape() == in[1].shape(), "its index inputs have different shapes");
    }
    for (size_t k = 0; k < p.axes_.size(); ++k)
      Check::need(x[p.axes_[k]] > 0 || in[1].size() == 0, "it indexes into an empty axis");
    s.insert(s.end(), p.slice_sizes_.begin(), p.slice_sizes_.end());
    return c.out(s, in[0].dtype());
  }
  if (key == "Scatter") {
    auto& p = static_cast<Scatter&>(prim);
    c.arity_at_least(2);
    const Shape& x = in[0].shape();
    size_t ni = in.size() - 2;
    Check::need(ni == p.axes_.size(), "its number of index inputs does not match its axes");
    std::vector<bool> seen(x.size(), false);
    for (int a : p.axes_) {
      c.axis(a, (int)x.size());
      Check::need(!seen[a], "its axes repeat");
      seen[a] = true;
    }
    Shape u = ni ? in[1].shape() : Shape{};
    for (size_t k = 1; k <= ni; ++k) {
      c.integer_input(k);
      Check::need(in[k].shape() == in[1].shape(), "its index inputs have different shapes");
    }
    for (int a : p.axes_) Check::need(x[a] > 0 || in[1].size() == 0, "it indexes into an empty axis");
    Shape sl = x;
    for (int a : p.axes_) sl[a] = 1;
    u.insert(u.end(), sl.begin(), sl.end());
    c.same_dtype(0, in.size() - 1);
    Check::need(in.back().shape() == u, "its updates of shape " + shape_str(in.back().shape()) +
                                            " do not match the indexed shape " + shape_str(u));
    return c.out(x, in[0].dtype());
  }
  if (key == "GatherAxis" || key == "ScatterAxis") {
    bool gather = key == "GatherAxis";
    int axis = gather ? static_cast<GatherAxis&>(prim).axis_ : static_cast<ScatterAxis&>(prim).axis_;
    c.arity(gather ? 2 : 3);
    const Shape& x = in[0].shape();
    const Shape& i = in[1].shape();
    c.axis(axis, (int)x.size());
    c.integer_input(1);
    Check::need(i.size() == x.size(), "its indices and input have different ranks");
    for (size_t d = 0; d < x.size(); ++d)
      Check::need((int)d == axis || i[d] == x[d], "its indices of shape " + shape_str(i) +
                                                     " do not match its input of shape " + shape_str(x));
    Check::need(x[axis] > 0 || in[1].size() == 0, "it indexes into an empty axis");
    if (gather) return c.out(i, in[0].dtype());
    c.same_dtype(0, 2);
    Check::need(in[2].shape() == i, "its updates and indices have different shapes");
    return c.out(x, in[0].dtype());
  }
  if (key == "Matmul") {
    Check::need(in.size() == 2 || in.size() == 3, "it takes 2 or 3 inputs");
    c.same_dtype(0, 1);
    Shape s = prim.output_shapes(in)[0];
    if (in.size() == 3) {
      c.same_dtype(0, 2);
      Check::need(in[2].ndim() <= (int)s.size() && broadcast_shapes(s, in[2].shape()) == s,
                  "its addend does not broadcast to the output's shape");
    }
    return c.out(s, in[0].dtype());
  }
  if (key == "RandomBits") {
    auto& p = static_cast<RandomBits&>(prim);
    c.arity(1);
    Check::need(p.width_ == 1 || p.width_ == 2 || p.width_ == 4 || p.width_ == 8, "its bit width is invalid");
    Check::need(in[0].dtype() == uint32 && in[0].shape() == Shape{2}, "its key is not a (2,) uint32 array");
    for (auto d : p.shape_) Check::need(d >= 0, "a negative size in its shape");
    Dtype t = p.width_ == 1 ? uint8 : p.width_ == 2 ? uint16 : p.width_ == 4 ? uint32 : uint64;
    return c.out(p.shape_, t);
  }
  if (key == "View") {
    auto& p = static_cast<View&>(prim);
    c.arity(1);
    Check::need(in[0].ndim() >= 1 || size_of(in[0].dtype()) == size_of(p.dtype_),
                "a scalar viewed as a dtype of another size");
    return c.out(p.output_shapes(in)[0], p.dtype_);
  }
  if (key == "Depends") {
    auto& p = static_cast<Depends&>(prim);
    Check::need(p.n_ >= 1 && p.n_ <= (int)in.size(), "its count of outputs is out of range");
    for (int i = 0; i < p.n_; ++i) c.out(in[i].shape(), in[i].dtype());
    return;
  }
  if (key == "Sort") {
    auto& p = static_cast<Sort&>(prim);
    c.arity(1);
    c.axis(p.axis_, in[0].ndim());
    return c.out(in[0].shape(), p.arg_ ? uint32 : in[0].dtype());
  }
  if (key == "Partition") {
    auto& p = static_cast<Partition&>(prim);
    c.arity(1);
    c.axis(p.axis_, in[0].ndim());
    int n = in[0].shape()[p.axis_];
    Check::need(n == 0 ? p.kth_ == 0 : (p.kth_ >= 0 && p.kth_ < n), "its kth is out of range");
    return c.out(in[0].shape(), p.arg_ ? uint32 : in[0].dtype());
  }
  if (key == "TopK") {
    auto& p = static_cast<TopK&>(prim);
    c.arity(1);
    c.axis(p.axis_, in[0].ndim());
    Check::need(p.k_ >= 0 && p.k_ <= in[0].shape()[p.axis_], "its k is out of range");
    return c.out(prim.output_shapes(in)[0], p.arg_ ? uint32 : in[0].dtype());
  }
  if (key == "Diagonal") {
    auto& p = static_cast<Diagonal&>(prim);
    c.arity(1);
    c.axis(p.axis1_, in[0].ndim(), "axis1");
    c.axis(p.axis2_, in[0].ndim(), "axis2");
    Check::need(p.axis1_ != p.axis2_, "its two axes are the same");
    return c.out(prim.output_shapes(in)[0], in[0].dtype());
  }
  if (key == "SearchSorted") {
    c.arity(2);
    c.same_dtype(0, 1);
    Check::need(in[0].ndim() == 1, "its sorted input is not one-dimensional");
    return c.out(in[1].shape(), uint32);
  }
  if (key == "Convolution") {
    auto& p = static_cast<Convolution&>(prim).p_;
    c.arity(2);
    c.same_dtype(0, 1);
    size_t n = p.stride.size();
    Check::need(in[0].ndim() == (int)n + 2 && in[1].ndim() == (int)n + 2, "its inputs' ranks do not match its parameters");
    for (size_t d = 0; d < n; ++d)
      Check::need(p.stride[d] > 0 && p.kernel_dilation[d] > 0 && p.input_dilation[d] > 0 && p.pad_lo[d] >= 0 &&
                      p.pad_hi[d] >= 0,
                  "a stride, dilation or padding is out of range");
    int cin = in[0].shape().back(), wc = in[1].shape().back(), cout = in[1].shape()[0];
    Check::need(p.groups > 0 && wc * p.groups == cin && cout % p.groups == 0, "its channels do not match its groups");
    Shape s = prim.output_shapes(in)[0];
    for (auto d : s) Check::need(d >= 0, "its output would have a negative size");
    return c.out(s, in[0].dtype());
  }
  if (key == "RMSNorm" || key == "LayerNorm" || key == "RMSNormVJP" || key == "LayerNormVJP") {
    bool rms = key[0] == 'R', vjp = key.size() > 8 && key.substr(key.size() - 3) == "VJP";
    bool hw = rms ? (vjp ? static_cast<RMSNormVJP&>(prim).has_weight_ : static_cast<RMSNorm&>(prim).has_weight_)
                  : (vjp ? static_cast<LayerNormVJP&>(prim).has_weight_ : static_cast<LayerNorm&>(prim).has_weight_);
    bool hb = !rms && !vjp && static_cast<LayerNorm&>(prim).has_bias_;
    c.arity(1 + hw + hb + vjp);
    Check::need(in[0].ndim() >= 1, "its input is a scalar");
    Check::need(is_floating_point(in[0].dtype()), "its input is not floating point");
    Shape d{in[0].shape().back()};
    for (size_t k = 1; k < in.size(); ++k) {
      c.same_dtype(0, k);
      bool grad = vjp && k == in.size() - 1;
      Check::need(in[k].shape() == (grad ? in[0].shape() : d), "an input of shape " + shape_str(in[k].shape()) +
                                                                  " does not match its input of shape " +
                                                                  shape_str(in[0].shape()));
    }
    for (auto& sh : prim.output_shapes(in)) c.out(sh, in[0].dtype());
    return;
  }
  if (key == "RoPE") {
    auto& p = static_cast<RoPE&>(prim);
    c.arity(2 + p.has_freqs_);
    Check::need(in[0].ndim() >= 1 && is_floating_point(in[0].dtype()), "its input is a scalar or not floating point");
    Check::need(p.dims_ > 0 && p.dims_ % 2 == 0 && p.dims_ <= in[0].shape().back(), "its dims are out of range");
    Check::need(in[1].size() == 1 || (in[0].ndim() >= 2 && in[1].ndim() == 1 && in[1].shape()[0] == in[0].shape()[0]),
                "its offset has the wrong shape");
    Check::need(is_integral(in[1].dtype()) || is_floating_point(in[1].dtype()), "its offset is not a number");
    if (p.has_freqs_)
      Check::need(in[2].shape() == Shape{p.dims_ / 2} && in[2].dtype() == float32,
                  "its frequencies do not have shape (dims / 2,) and dtype float32");
    return c.out(in[0].shape(), in[0].dtype());
  }
  if (key == "ScaledDotProductAttention" || key == "ScaledDotProductAttentionVJP") {
    bool vjp = key.size() > 25;
    bool hm, bm, hs;
    if (vjp) {
      auto& p = static_cast<ScaledDotProductAttentionVJP&>(prim);
      hm = p.has_mask_, bm = p.bool_mask_, hs = p.has_sinks_;
    } else {
      auto& p = static_cast<ScaledDotProductAttention&>(prim);
      hm = p.has_mask_, bm = p.bool_mask_, hs = p.has_sinks_;
    }
    size_t nf = 3 + hm + hs;
    c.arity(nf + (vjp ? 3 : 0));
    for (int k = 0; k < 3; ++k) {
      Check::need(in[k].ndim() == 4, "its queries, keys and values are not of rank 4");
      c.same_dtype(0, k);
    }
    Check::need(is_floating_point(in[0].dtype()), "its inputs are not floating point");
    const Shape &q = in[0].shape(), &k = in[1].shape(), &v = in[2].shape();
    Check::need(q[3] == k[3] && k[0] == v[0] && k[1] == v[1] && k[2] == v[2] && q[0] == k[0] && k[1] > 0 &&
                    q[1] % k[1] == 0,
                "its queries, keys and values have inconsistent shapes");
    Shape scores{q[0], q[1], q[2], k[2]};
    size_t at = 3;
    if (hm) {
      Check::need(in[at].shape() == scores, "its mask does not have the scores' shape");
      Check::need(in[at].dtype() == (bm ? bool_ : in[0].dtype()), "its mask has the wrong dtype");
      ++at;
    }
    if (hs)
      Check::need(in[at].shape() == Shape{q[1]} && is_floating_point(in[at].dtype()), "its sinks have the wrong shape");
    Shape o{q[0], q[1], q[2], v[3]}, stats{q[0], q[1], q[2], 2};
    if (!vjp) {
      c.out(o, in[0].dtype());
      c.out(stats, float32);
      return;
    }
    Check::need(in[nf].shape() == o && in[nf].dtype() == in[0].dtype(), "its output input has the wrong shape");
    Check::need(in[nf + 1].shape() == stats && in[nf + 1].dtype() == float32, "its statistics have the wrong shape");
    Check::need(in[nf + 2].shape() == o && in[nf + 2].dtype() == in[0].dtype(), "its cotangent has the wrong shape");
    for (int k = 0; k < 3; ++k) c.out(in[k].shape(), in[k].dtype());
    if (hs) c.out(in[nf - 1].shape(), in[nf - 1].dtype());
    return;
  }
  if (key == "Quantize") {
    auto& p = static_cast<Quantize&>(prim);
    Check::need(in.size() == 1 || in.size() == 2, "it takes 1 or 2 inputs");
    Dtype t = in[0].dtype();
    Check::need(is_floating_point(t) && t != float64, "its input is not float32, float16 or bfloat16");
    Check::need(in[0].ndim() >= 2 && in[0].shape().back() % p.q_.group_size == 0,
                "its input's last axis is not a multiple of the group size");
    Check::need(in.size() == 1 || in[1].ndim() == 0, "its global scale is not a scalar");
    auto sh = prim.output_shapes(in);
    bool affine = p.q_.mode == QuantMode::Affine;
    Check::need(sh.size() == (affine ? 3u : 2u), "its outputs do not match its mode");
    c.out(sh[0], uint32);
    for (size_t k = 1; k < sh.size(); ++k) c.out(sh[k], affine ? t : uint8);
    return;
  }
  if (key == "Dequantize") {
    auto& p = static_cast<Dequantize&>(prim);
    Check::need(in.size() >= 2 && in.size() <= 4, "it takes 2 to 4 inputs");
    Check::need(in[0].dtype() == uint32 && in[0].ndim() >= 1, "its matrix is not a uint32 array");
    bool affine = p.q_.mode == QuantMode::Affine;
    Shape want = in[0].shape();
    int64_t cols = (int64_t)want.back() * 32, per = (int64_t)p.q_.bits * p.q_.group_size;
    Check::need(cols % per == 0, "its matrix's last axis does not hold whole groups");
    want.back() = (int32_t)(cols / per);
    Check::need(in[1].shape() == want, "its scales have the wrong shape");
    Check::need(affine ? is_floating_point(in[1].dtype()) : in[1].dtype() == uint8, "its scales have the wrong dtype");
    if (affine && in.size() >= 3)
      Check::need(in[2].shape() == want && in[2].dtype() == in[1].dtype(), "its biases do not match its scales");
    if (in.size() == 4 || (!affine && in.size() == 3)) Check::need(in.back().ndim() == 0, "its global scale is not a scalar");
    Check::need(is_floating_point(p.dtype_out_) && p.dtype_out_ != float64, "its output dtype is invalid");
    Shape out = in[0].shape();
    out.back() = (int32_t)(cols / p.q_.bits);
    return c.out(out, p.dtype_out_);
  }
  if (key == "QuantizedMatmul") {
    auto& p = static_cast<QuantizedMatmul&>(prim);
    Check::need(in.size() == 3 || in.size() == 4, "it takes 3 or 4 inputs");
    const Shape &x = in[0].shape(), &w = in[1].shape();
    Check::need(x.size() >= 2 && w.size() == x.size() && std::equal(x.begin(), x.end() - 2, w.begin()),
                "its input and matrix do not have the same batch shape");
    Check::need(is_floating_point(in[0].dtype()) && in[1].dtype() == uint32, "its input or matrix has the wrong dtype");
    bool affine = p.q_.mode == QuantMode::Affine;
    int64_t cols = (int64_t)w.back() * 32, per = (int64_t)p.q_.bits * p.q_.group_size;
    Check::need(cols % per == 0, "its matrix's last axis does not hold whole groups");
    Shape want = w;
    want.back() = (int32_t)(cols / per);
    Check::need(in[2].shape() == want, "its scales have the wrong shape");
    Check::need(affine ? is_floating_point(in[2].dtype()) : in[2].dtype() == uint8, "its scales have the wrong dtype");
    if (in.size() == 4)
      Check::need(in[3].shape() == want && in[3].dtype() == in[2].dtype(), "its biases do not match its scales");
    int64_t wcols = cols / p.q_.bits, rows = w[w.size() - 2];
    Check::need(x.back() == (p.transpose_ ? wcols : rows), "its input's last axis does not match its matrix");
    Check::need(is_floating_point(p.dtype_out_) && p.dtype_out_ != float64, "its output dtype is invalid");
    Shape out = x;
    out.back() = (int32_t)(p.transpose_ ? rows : wcols);
    return c.out(out, p.dtype_out_);
  }
  if (key == "FP8Cast") {
    auto& p = static_cast<FP8Cast&>(prim);
    c.arity(1);
    if (p.to_fp8_) {
      Check::need(is_floating_point(in[0].dtype()) && p.dtype_out_ == uint8, "invalid dtypes for a cast to fp8");
    } else {
      Check::need(in[0].dtype() == uint8 && is_floating_point(p.dtype_out_), "invalid dtypes for a cast from fp8");
    }
    return c.out(in[0].shape(), p.dtype_out_);
  }
  if (key == "CrossEntropy") {
    c.arity(2);
    Check::need(in[0].ndim() >= 1 && is_floating_point(in[0].dtype()), "its logits are not floating point");
    Check::need(in[1].dtype() == int32, "its targets are not int32");
    Shape lead(in[0].shape().begin(), in[0].shape().end() - 1);
    Check::need(in[1].shape() == lead, "its targets do not match its logits");
    return c.out(lead, float32);
  }
  if (key == "CovarianceRoot") {
    c.arity(1);
    const Shape& x = in[0].shape();
    Check::need(in[0].dtype() == float32 && x.size() >= 2 && x[x.size() - 1] == x[x.size() - 2],
                "its input is not a float32 stack of square matrices");
    return c.out(x, float32);
  }
  if (key == "ConvWeightGrad") {
    auto& g = static_cast<ConvWeightGrad&>(prim);
    auto& p = g.p_;
    c.arity(2);
    c.same_dtype(0, 1);
    Check::need(is_floating_point(in[0].dtype()), "its inputs are not floating point");
    size_t n = p.stride.size();
    Check::need(p.pad_lo.size() == n && p.pad_hi.size() == n && p.kernel_dilation.size() == n &&
                    p.input_dilation.size() == n && g.kernel_.size() == n,
                "its parameters have different lengths");
    Check::need(in[0].ndim() == (int)n + 2 && in[1].ndim() == (int)n + 2, "its inputs' ranks do not match its parameters");
    for (size_t d = 0; d < n; ++d)
      Check::need(p.stride[d] > 0 && p.kernel_dilation[d] > 0 && p.input_dilation[d] > 0 && p.pad_lo[d] >= 0 &&
                      p.pad_hi[d] >= 0 && g.kernel_[d] > 0,
                  "a stride, dilation, padding or kernel size is out of range");
    int cin = in[0].shape().back(), cout = in[1].shape().back();
    Check::need(p.groups > 0 && cin % p.groups == 0 && cout % p.groups == 0, "its channels do not match its groups");
    Check::need(in[0].shape()[0] == in[1].shape()[0], "its input and cotangent have different batch sizes");
    Shape w = g.weight_shape(in[0].shape(), in[1].shape());
    Check::need(p.output_shape(in[0].shape(), w) == in[1].shape(),
                "its cotangent's shape does not match the convolution's output");
    return c.out(w, in[0].dtype());
  }
  if (key == "TileMax" || key == "TileMaxGrad") {
    bool grad = key == "TileMaxGrad";
    const auto& k = grad ? static_cast<TileMaxGrad&>(prim).kernel_ : static_cast<TileMax&>(prim).kernel_;
    c.arity(grad ? 2 : 1);
    const Shape& x = in[0].shape();
    Check::need(in[0].dtype() == float32 || in[0].dtype() == float64, "its input is not float32 or float64");
    Check::need(x.size() >= 3 && x.size() <= 5 && k.size() == x.size() - 2, "its kernel does not match its input's rank");
    Shape o = x;
    for (size_t d = 0; d < k.size(); ++d) {
      Check::need(k[d] > 0 && x[d + 1] % k[d] == 0, "a kernel size does not divide its input's size");
      o[d + 1] = x[d + 1] / k[d];
    }
    if (!grad) return c.out(o, in[0].dtype());
    c.same_dtype(0, 1);
    Check::need(in[1].shape() == o, "its cotangent does not have the pooled shape");
    return c.out(x, in[0].dtype());
  }
  if (key == "FFT") {
    auto& f = static_cast<FFT&>(prim);
    c.arity(1);
    int nd = in[0].ndim();
    Check::need(!f.axes_.empty(), "it has no axes");
    std::set<int> seen;
    for (int a : f.axes_) {
      c.axis(a, nd);
      Check::need(seen.insert(a).second, "an axis is repeated");
    }
    bool real_in = f.real_ && !f.inverse_;
    Check::need(in[0].dtype() == (real_in ? float32 : complex64), "its input has the wrong dtype");
    if (f.real_ && f.inverse_) Check::need(f.n_ > 0, "its output length is not positive");
    else Check::need(f.n_ == 0, "an output length is given where none is used");
    return c.out(prim.output_shapes(in)[0], f.real_ && f.inverse_ ? float32 : complex64);
  }
  if (auto* la = dynamic_cast<LinalgPrimitive*>(&prim)) {
    bool solve = key == "Solve";
    c.arity(solve ? 2 : 1);
    const array& a = in[0];
    Dtype t = a.dtype();
    bool complex_ok = key == "SVD" || key == "Eig" || key == "Eigh";
    Check::need(t == float32 || t == float64 || (complex_ok && t == complex64), "its input has an unsupported dtype");
    Check::need(a.ndim() >= 2, "its input is not a matrix");
    bool square = key != "QRF" && key != "SVD" && key != "LUF";
    Check::need(!square || a.shape(-1) == a.shape(-2), "its input is not square");
    if (solve) {
      c.same_dtype(0, 1);
      const array& b = in[1];
      Check::need(b.ndim() == a.ndim() && b.shape(-2) == a.shape(-1), "its right-hand side does not match its matrix");
      for (int d = 0; d + 2 < a.ndim(); ++d)
        Check::need(a.shape(d) == b.shape(d), "its inputs have different batch shapes");
    }
    auto shapes = prim.output_shapes(in);
    auto dtypes = la->output_dtypes(in);
    for (size_t i = 0; i < shapes.size(); ++i) c.out(shapes[i], dtypes[i]);
    return;
  }
  // A primitive registered for export without a check here: its output_shapes compare the
  // shapes (its dtypes are trusted).
  c.shapes = prim.output_shapes(in);
}

}  // namespace

// Raises std::invalid_argument naming the problem.
void check_imported_node(const std::string& key, Primitive& prim, const std::vector<array>& ins,
                         const std::vector<Shape>& shapes, const std::vector<Dtype>& dtypes) {
  Check c{ins, shapes, {}, {}};
  check_node(key, prim, c);
  if (c.shapes.size() != shapes.size())
    Check::fail("it has " + std::to_string(c.shapes.size()) + " outputs, the file gives " +
                std::to_string(shapes.size()));
  for (size_t i = 0; i < shapes.size(); ++i) {
    if (c.shapes[i] != shapes[i])
      Check::fail("its output " + std::to_string(i) + " has shape " + shape_str(c.shapes[i]) +
                  ", the file gives " + shape_str(shapes[i]));
    if (i < c.dtypes.size() && c.dtypes[i] != dtypes[i])
      Check::fail("its output " + std::to_string(i) + " has dtype " + dtype_name(c.dtypes[i]) +
                  ", the file gives " + dtype_name(dtypes[i]));
  }
}

}  // namespace ember
