#include "ember/array.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>

#include "ember/allocator.h"
#include "ember/dispatch.h"
#include "ember/primitive.h"
#include "ember/ops/misc.h"

namespace ember {

Data::Data(size_t nbytes) : ptr(allocator::malloc(nbytes)), bytes(nbytes) {}
Data::Data(void* external, size_t nbytes, std::function<void()> release)
    : ptr(external), bytes(nbytes), release_(std::move(release)) {}
Data::~Data() {
  if (release_) release_();
  else allocator::free(ptr, bytes);
}

// The product saturates at INT64_MAX instead of overflowing (a shape nobody could build
// then compares unequal to every real size); a zero dimension makes it 0.
int64_t shape_size(const Shape& s) {
  int64_t n = 1;
  bool saturated = false;
  for (auto d : s) {
    if (d == 0) return 0;
    if (!saturated && __builtin_mul_overflow(n, (int64_t)d, &n)) saturated = true;
  }
  return saturated ? INT64_MAX : n;
}

int64_t checked_size(const Shape& s, Dtype dtype, const char* op) {
  auto shape_text = [&] {
    std::string r = "(";
    for (size_t i = 0; i < s.size(); ++i) r += std::to_string(s[i]) + (i + 1 < s.size() ? ", " : "");
    return r + (s.size() == 1 ? ",)" : ")");
  };
  for (auto d : s)
    if (d < 0)
      throw std::invalid_argument(std::string("[") + op + "] Negative dimensions are not allowed: got shape " +
                                  shape_text() + ".");
  int64_t n = shape_size(s);
  int64_t bytes;
  if (n == INT64_MAX || __builtin_mul_overflow(n, (int64_t)size_of(dtype), &bytes))
    throw std::overflow_error(std::string("[") + op + "] An array of shape " + shape_text() + " and dtype " +
                              dtype_name(dtype) + " would hold more than 2^63 - 1 " +
                              (n == INT64_MAX ? "elements." : "bytes."));
  return n;
}

// Strides of a zero-size array are never used to address memory; the unsigned product
// keeps them defined when the other dimensions multiply past int64.
Strides row_strides(const Shape& s) {
  Strides st(s.size());
  uint64_t acc = 1;
  for (int i = (int)s.size() - 1; i >= 0; --i) {
    st[i] = (int64_t)acc;
    acc *= (uint64_t)s[i];
  }
  return st;
}

array::Desc::Desc(Shape s, Dtype t) : shape(std::move(s)), dtype(t) {
  size = (size_t)checked_size(shape, dtype, "array");
  strides = row_strides(shape);
}

array::Desc::Desc(Shape s, Strides st, Dtype t) : shape(std::move(s)), strides(std::move(st)), dtype(t) {
  size = (size_t)shape_size(shape);
}

Flags view_flags(const Shape& shape, const Strides& strides) {
  Flags f{true, true, true};
  int64_t acc = 1;
  for (int i = (int)shape.size() - 1; i >= 0; --i) {
    if (shape[i] == 1) continue;
    if (strides[i] != acc) f.row_contiguous = false;
    acc *= shape[i];
  }
  acc = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1) continue;
    if (strides[i] != acc) f.col_contiguous = false;
    acc *= shape[i];
  }
  if (shape_size(shape) == 0) return Flags{true, true, true};
  if (f.row_contiguous || f.col_contiguous) return f;
  // Dense in some other dimension order? (Sorted by stride; small ranks stay on the stack.)
  using Dim = std::pair<int64_t, int64_t>;
  Dim local[8];
  std::vector<Dim> heap;
  Dim* dims = local;
  if (shape.size() > 8) {
    heap.resize(shape.size());
    dims = heap.data();
  }
  size_t n = 0;
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] != 1) dims[n++] = Dim(strides[i] < 0 ? -1 : strides[i], shape[i]);
  std::sort(dims, dims + n);
  acc = 1;
  for (size_t i = 0; i < n; ++i) {
    if (dims[i].first != acc) {
      f.contiguous = false;
      break;
    }
    acc *= dims[i].second;
  }
  return f;
}

array array::view(const array& src, Shape shape, Strides strides, int64_t offset_elems) {
  array out;
  out.desc_ = std::make_shared<Desc>(std::move(shape), std::move(strides), src.dtype());
  Desc& d = *out.desc_;
  if (d.size == 0) offset_elems = 0;
  Flags f = view_flags(d.shape, d.strides);
  d.data = src.buffer();
  d.ptr = static_cast<char*>(src.raw_ptr()) + offset_elems * (int64_t)size_of(d.dtype);
  d.data_size = f.contiguous ? d.size : src.data_size();
  d.flags = f;
  d.status.store(Status::available, std::memory_order_relaxed);
  return out;
}

// Frees a long chain of unevaluated nodes without recursing once per node.
array::Desc::~Desc() {
  if (inputs.empty()) return;
  std::vector<array> pending = std::move(inputs);
  while (!pending.empty()) {
    array a = std::move(pending.back());
    pending.pop_back();
    if (a.desc_ && a.desc_.use_count() == 1) {
      for (auto& in : a.desc_->inputs) pending.push_back(std::move(in));
      a.desc_->inputs.clear();
    }
  }
}

void convert_scalar_to(const void* src, Dtype from, void* dst, Dtype to) {
  dispatch_all(from, [&](auto tf) {
    using F = typename decltype(tf)::type;
    F v = *static_cast<const F*>(src);
    dispatch_all(to, [&](auto tt) {
      using T = typename decltype(tt)::type;
      *static_cast<T*>(dst) = cast_to<T>(v);
    });
  });
}

void array::init_from(const void* src, Dtype from) {
  auto& dd = d();
  auto buf = std::make_shared<Data>(dd.size * size_of(dd.dtype));
  dispatch_all(from, [&](auto tf) {
    using F = typename decltype(tf)::type;
    dispatch_all(dd.dtype, [&](auto tt) {
      using T = typename decltype(tt)::type;
      const F* s = static_cast<const F*>(src);
      T* o = static_cast<T*>(buf->ptr);
      for (size_t i = 0; i < dd.size; ++i) o[i] = cast_to<T>(s[i]);
    });
  });
  set_data(std::move(buf));
  set_status(Status::available);
}

array::array(const void* data, Shape shape, Dtype from, Dtype dtype)
    : desc_(std::make_shared<Desc>(std::move(shape), dtype)) {
  init_from(data, from);
}

array::array(Shape shape, Dtype dtype, std::shared_ptr<Primitive> prim, std::vector<array> inputs)
    : desc_(std::make_shared<Desc>(std::move(shape), dtype)) {
  desc_->prim = std::move(prim);
  desc_->inputs = std::move(inputs);
  for (auto& in : desc_->inputs)
    if (in.desc_ && in.desc_->tracer) {
      desc_->tracer = true;
      break;
    }
}

std::vector<array> array::make_arrays(std::vector<Shape> shapes, std::vector<Dtype> dtypes,
                                      std::shared_ptr<Primitive> prim,
                                      std::vector<array> inputs) {
  std::vector<array> outs;
  size_t n = shapes.size();
  if (n == 1) {
    outs.emplace_back(std::move(shapes[0]), dtypes[0], std::move(prim), std::move(inputs));
    return outs;
  }
  auto sibs = std::make_shared<std::vector<std::weak_ptr<Desc>>>();
  auto meta = std::make_shared<std::vector<std::pair<Shape, Dtype>>>();
  for (size_t i = 0; i < n; ++i) {
    meta->emplace_back(shapes[i], dtypes[i]);
    outs.emplace_back(shapes[i], dtypes[i], prim, inputs);
    outs.back().desc_->position = (int)i;
    outs.back().desc_->siblings = sibs;
    outs.back().desc_->sibling_meta = meta;
    outs.back().desc_->tracer = outs[0].desc_->tracer;
    sibs->push_back(outs.back().desc_);
  }
  return outs;
}

std::vector<array> array::outputs() const {
  auto& dd = d();
  if (!dd.siblings) return {*this};
  std::vector<array> out;
  for (size_t i = 0; i < dd.siblings->size(); ++i) {
    if ((int)i == dd.position) {
      out.push_back(*this);
      continue;
    }
    array a;
    a.desc_ = (*dd.siblings)[i].lock();
    if (!a.desc_) {
      // A dropped output: a new node of the same primitive and inputs, so that it can be
      // written by the node's evaluation or, handed to a transformation rule, evaluated on
      // its own.
      if (!dd.prim)
        throw std::invalid_argument(
            "[array] An output of an evaluated multi-output operation was dropped and is needed "
            "again; keep every output of the operation alive until it is evaluated.");
      auto& [s, t] = (*dd.sibling_meta)[i];
      a.desc_ = std::make_shared<Desc>(s, t);
      a.desc_->prim = dd.prim;
      a.desc_->inputs = dd.inputs;
      a.desc_->siblings = dd.siblings;
      a.desc_->sibling_meta = dd.sibling_meta;
      a.desc_->position = (int)i;
      a.desc_->tracer = dd.tracer;
      if (dd.status.load() == Status::scheduled) a.desc_->status = Status::scheduled;
      // Registered as the node's output from now on: evaluating any output of the node
      // writes this one too, so it is never computed a second time on its own.
      (*dd.siblings)[i] = a.desc_;
    }
    out.push_back(std::move(a));
  }
  return out;
}

std::vector<array> array::siblings() const {
  if (!d().siblings) return {};
  auto all = outputs();
  all.erase(all.begin() + d().position);
  return all;
}

int32_t array::shape(int dim) const {
  int nd = ndim();
  if (dim < -nd || dim >= nd) throw std::out_of_range("[array.shape] Dimension out of range.");
  return d().shape[dim < 0 ? dim + nd : dim];
}

int64_t array::strides(int dim) const {
  int nd = ndim();
  if (dim < -nd || dim >= nd) throw std::out_of_range("[array.strides] Dimension out of range.");
  return d().strides[dim < 0 ? dim + nd : dim];
}

void array::set_data(std::shared_ptr<Data> buf) {
  auto& dd = d();
  dd.ptr = buf->ptr;
  dd.data = std::move(buf);
  dd.data_size = dd.size;
  dd.strides = row_strides(dd.shape);
  dd.flags = Flags{true, true, true};
  if (dd.shape.size() > 1 && dd.size > 1) {
    int non1 = 0;
    for (auto s : dd.shape) non1 += s > 1;
    dd.flags.col_contiguous = non1 <= 1;
  }
}

void array::set_data(std::shared_ptr<Data> buf, size_t data_size, Strides strides, Flags flags,
                     int64_t offset_elems) {
  auto& dd = d();
  dd.ptr = static_cast<char*>(buf->ptr) + offset_elems * (int64_t)size_of(dd.dtype);
  dd.data = std::move(buf);
  dd.data_size = data_size;
  dd.strides = std::move(strides);
  dd.flags = flags;
}

void array::copy_shared_buffer(const array& other, const Strides& strides, Flags flags,
                               size_t data_size, int64_t offset_elems) {
  auto& dd = d();
  dd.data = other.buffer();
  dd.ptr = static_cast<char*>(other.raw_ptr()) + offset_elems * (int64_t)size_of(other.dtype());
  dd.data_size = data_size;
  dd.strides = strides;
  dd.flags = flags;
}

void array::copy_shared_buffer(const array& other) {
  copy_shared_buffer(other, other.strides(), other.flags(), other.data_size());
}

bool array::is_donatable() const {
  return desc_.use_count() == 1 && !d().tracer && d().data && d().data.use_count() == 1 &&
         !d().data->external();
}

void array::move_shared_buffer(const array& other) {
  auto& dd = d();
  auto& od = other.d();
  dd.data = std::move(od.data);
  dd.ptr = od.ptr;
  dd.data_size = od.data_size;
  dd.strides = od.strides;
  dd.flags = od.flags;
  // other keeps its pointer: the memory lives on in this array.
}

void array::detach() {
  auto& dd = d();
  dd.prim = nullptr;
  dd.inputs.clear();
  dd.siblings = nullptr;
  dd.sibling_meta = nullptr;
}

void array::set_error(std::exception_ptr e) { d().error = e; }

// ---------- printing, in MLX's format
//
// Elements as C++ streams write them by default (6 significant digits, like printf's %g);
// a dimension longer than 6 shows its first and last 3 entries around "...". Rows of a
// nested dimension start on a new line, aligned one column right of their bracket.

namespace {

constexpr int kEdge = 3;

// The precision set by set_print_precision: -1 is %g; any other value fixed decimals
// (a negative one 6, as C++ streams treat it).
std::string format_float(double v) {
  char buf[400];
  int p = print_precision();
  if (p == -1) std::snprintf(buf, sizeof(buf), "%g", v);
  else std::snprintf(buf, sizeof(buf), "%.*f", p < 0 ? 6 : std::min(p, 60), v);
  return buf;
}

std::string format_element(const array& a, int64_t offset, bool python_bools) {
  std::string s;
  dispatch_all(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T v = a.data<T>()[offset];
    if constexpr (std::is_same_v<T, bool>) {
      s = v ? (python_bools ? "True" : "true") : (python_bools ? "False" : "false");
    } else if constexpr (std::is_same_v<T, complex64_t>) {
      std::string im = format_float(v.imag());
      s = format_float(v.real()) + (im[0] == '-' ? "" : "+") + im + "j";
    } else if constexpr (std::is_integral_v<T>) {
      s = std::to_string(v);
    } else if constexpr (std::is_same_v<T, double>) {
      s = format_float(v);
    } else {
      s = format_float(static_cast<float>(v));  // float, float16, bfloat16
    }
  });
  return s;
}

void format_dim(const array& a, int dim, int64_t offset, bool python_bools, std::string& out) {
  if (dim == a.ndim()) {
    out += format_element(a, offset, python_bools);
    return;
  }
  int n = a.shape(dim);
  bool last = dim == a.ndim() - 1;
  // Between entries: on one line in the last dimension, else a new line indented past
  // "array(" and one column per enclosing bracket.
  std::string sep = last ? ", " : ",\n" + std::string(6 + dim + 1, ' ');
  out += "[";
  for (int i = 0; i < n; ++i) {
    if (n > 2 * kEdge && i == kEdge) {
      out += "..." + sep;
      i = n - kEdge;
    }
    format_dim(a, dim + 1, offset + i * a.strides(dim), python_bools, out);
    if (i + 1 < n) out += sep;
  }
  out += "]";
}

}  // namespace

std::string array_to_string(const array& a, bool python_bools) {
  array x = a;
  x.eval();
  std::string body;
  format_dim(x, 0, 0, python_bools, body);
  return "array(" + body + ", dtype=" + dtype_name(x.dtype()) + ")";
}

std::ostream& operator<<(std::ostream& os, const array& a) { return os << array_to_string(a); }

std::ostream& operator<<(std::ostream& os, Dtype t) { return os << dtype_name(t); }

std::ostream& operator<<(std::ostream& os, const Shape& s) {
  os << "(";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? "," : "") << s[i];
  return os << ")";
}

}  // namespace ember
