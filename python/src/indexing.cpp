// __getitem__ / __setitem__ with numpy semantics: integers, slices, None, Ellipsis,
// and integer arrays (advanced indexing).
#include <algorithm>
#include <numeric>
#include <optional>

#include "fast_array.h"
#include "scatter.h"

namespace {

struct Index {
  enum Kind { Int, Slice, Array } kind;
  int64_t i = 0;
  py::slice slice = py::slice(py::none(), py::none(), py::none());
  array arr;
};

bool is_array_index(py::handle h) {
  return py::isinstance<array>(h) || py::isinstance<py::array>(h) || PyList_Check(h.ptr());
}

// Expands Ellipsis, turns None into new axes of `a`, and classifies each entry.
std::vector<Index> parse(array& a, py::object obj) {
  py::tuple idx = PyTuple_Check(obj.ptr()) ? py::reinterpret_borrow<py::tuple>(obj) : py::make_tuple(obj);
  int consumed = 0, ellipses = 0;
  for (auto h : idx) {
    if (h.is_none()) continue;
    if (h.ptr() == Py_Ellipsis) ++ellipses;
    else ++consumed;
  }
  if (ellipses > 1) throw std::out_of_range("[index] An index can only have a single ellipsis ('...').");
  if (consumed > a.ndim())
    throw py::value_error("[index] Too many indices for array with " + std::to_string(a.ndim()) +
                          " dimensions.");  // ValueError, as MLX
  std::vector<py::object> entries;
  for (auto h : idx) {
    if (h.ptr() == Py_Ellipsis) {
      for (int k = 0; k < a.ndim() - consumed; ++k) entries.push_back(py::slice(py::none(), py::none(), py::none()));
    } else {
      entries.push_back(py::reinterpret_borrow<py::object>(h));
    }
  }
  // None -> a new size-1 axis of the source, indexed with a full slice.
  std::vector<int> new_axes;
  int pos = 0;
  for (auto& e : entries) {
    if (e.is_none()) {
      new_axes.push_back(pos);
      e = py::slice(py::none(), py::none(), py::none());
    }
    ++pos;
  }
  if (!new_axes.empty()) a = expand_dims(a, new_axes);
  std::vector<Index> out;
  for (auto& e : entries) {
    Index ix{Index::Slice};
    if (PyLong_Check(e.ptr()) && !PyBool_Check(e.ptr())) {
      ix.kind = Index::Int;
      int overflow = 0;
      ix.i = PyLong_AsLongLongAndOverflow(e.ptr(), &overflow);
      if (overflow)  // past 64 bits: out of bounds for every axis
        throw std::out_of_range("[index] Index " + std::string(py::str(e)) + " is out of bounds.");
    } else if (PySlice_Check(e.ptr())) {
      ix.slice = py::reinterpret_borrow<py::slice>(e);
    } else if (is_array_index(e)) {
      ix.kind = Index::Array;
      ix.arr = to_array(e);
      if (ix.arr.dtype() == bool_)
        throw py::value_error("[index] Boolean indices are not supported when reading; use "
                              "where, or assign through a mask (a[mask] = v).");
      if (!is_integral(ix.arr.dtype()))
        throw py::value_error("[index] Index arrays must be integers.");
    } else if (py::isinstance<array>(e)) {
      ix.kind = Index::Array;
      ix.arr = e.cast<array>();
    } else if (PyIndex_Check(e.ptr()) && !PyBool_Check(e.ptr())) {
      // Other integers (numpy's integer scalars).
      ix.kind = Index::Int;
      py::int_ v = py::reinterpret_steal<py::int_>(PyNumber_Index(e.ptr()));
      if (!v) throw py::error_already_set();
      int overflow = 0;
      ix.i = PyLong_AsLongLongAndOverflow(v.ptr(), &overflow);
      if (overflow)
        throw std::out_of_range("[index] Index " + std::string(py::str(e)) + " is out of bounds.");
    } else {
      throw py::value_error("[index] Cannot index with an object of type " +
                            std::string(py::str(py::type::handle_of(e))) + ".");
    }
    out.push_back(ix);
  }
  while ((int)out.size() < a.ndim()) out.push_back(Index{Index::Slice});
  for (auto& ix : out)
    if (ix.kind == Index::Slice && ix.slice.is_none()) ix.slice = py::slice(py::none(), py::none(), py::none());
  return out;
}

void slice_bounds(const py::slice& s, int n, int& start, int& stop, int& step) {
  py::ssize_t b, e, st, len;
  if (!s.compute(n, &b, &e, &st, &len)) throw py::error_already_set();
  if (st < INT32_MIN || st > INT32_MAX) {
    // A step this long takes at most the first element.
    st = 1;
    e = b + len;
  }
  start = (int)b;
  // A step past 32 bits takes one element, like a step of 2^31 - 1 (no axis is longer).
  step = (int)std::clamp<py::ssize_t>(st, -INT32_MAX, INT32_MAX);
  stop = (int)e;
  if (step < 0 && stop < 0) stop = -n - 1;  // "before the first element" for the engine's slice
  if (len == 0) {
    start = 0;
    stop = 0;
    step = 1;
  }
}

int check_int(int64_t i, int n, int axis) {
  if (i < -n || i >= n)
    throw std::out_of_range("[index] Index " + std::to_string(i) + " is out of bounds for axis " +
                            std::to_string(axis) + " with size " + std::to_string(n) + ".");
  return (int)(i < 0 ? i + n : i);
}

struct Plan {
  array base;                  // after basic slicing (ints kept as size-1 axes)
  std::vector<int> int_axes;   // axes to drop (basic ints)
  std::vector<int> arr_axes;   // axes indexed by arrays
  std::vector<array> arrs;     // their (broadcast) index arrays
  bool arr_contiguous = true;
  Shape start, stop, step;     // the basic slice
};

Plan plan(array a, const std::vector<Index>& ix) {
  Plan p;
  bool has_arr = std::any_of(ix.begin(), ix.end(), [](const Index& i) { return i.kind == Index::Array; });
  int nd = a.ndim();
  p.start.assign(nd, 0);
  p.stop = a.shape();
  p.step.assign(nd, 1);
  for (int d = 0; d < nd; ++d) {
    const Index& i = ix[d];
    if (i.kind == Index::Slice) {
      slice_bounds(i.slice, a.shape()[d], p.start[d], p.stop[d], p.step[d]);
    } else if (i.kind == Index::Int && !has_arr) {
      int k = check_int(i.i, a.shape()[d], d);
      p.start[d] = k;
      p.stop[d] = k + 1;
      p.int_axes.push_back(d);
    } else {
      p.arr_axes.push_back(d);
      p.arrs.push_back(i.kind == Index::Int ? array((int64_t)check_int(i.i, a.shape()[d], d), int64) : i.arr);
    }
  }
  for (size_t k = 1; k < p.arr_axes.size(); ++k)
    if (p.arr_axes[k] != p.arr_axes[k - 1] + 1) p.arr_contiguous = false;
  p.base = slice(a, p.start, p.stop, p.step);
  if (!p.arrs.empty()) p.arrs = broadcast_arrays(p.arrs);
  return p;
}

// Result of gathering: idx dims placed as numpy places them.
array gather_result(const Plan& p) {
  const array& b = p.base;
  Shape slice_sizes = b.shape();
  for (int ax : p.arr_axes) slice_sizes[ax] = 1;
  array g = gather(b, p.arrs, p.arr_axes, slice_sizes);
  int ni = p.arrs[0].ndim();
  std::vector<int> sq;
  for (int ax : p.arr_axes) sq.push_back(ni + ax);
  g = squeeze(g, sq);
  if (p.arr_contiguous && p.arr_axes[0] > 0) {
    // (idx..., rest...) -> (rest[:first]..., idx..., rest[first:]...)
    int first = p.arr_axes[0];
    std::vector<int> perm;
    for (int i = 0; i < first; ++i) perm.push_back(ni + i);
    for (int i = 0; i < ni; ++i) perm.push_back(i);
    for (int i = ni + first; i < g.ndim(); ++i) perm.push_back(i);
    g = transpose(g, perm);
  }
  return g;
}

// ---------- basic indexing (ints, slices, None, Ellipsis): the hot path
//
// Reads the index straight from the Python objects (no intermediate tuples, slices or
// vectors of entries). The result is a view of `a`:
// - when `a` is evaluated (and not traced by a transformation), the view is made at once:
//   it shares the buffer, has no primitive and costs nothing to evaluate;
// - otherwise it is one slice node and, when ints or None change the rank, one reshape node.
// Anything unusual (another kind of entry, an out-of-bounds integer, an integer that doesn't
// fit, a second Ellipsis, too many indices) returns false, and the general path below then
// handles it or raises its error.

enum class Entry : uint8_t { Int, Slice, NewAxis, Ellipsis, Other };

inline Entry classify(PyObject* e) {
  if (PyLong_Check(e)) return PyBool_Check(e) ? Entry::Other : Entry::Int;
  if (PySlice_Check(e)) return Entry::Slice;
  if (e == Py_None) return Entry::NewAxis;
  if (e == Py_Ellipsis) return Entry::Ellipsis;
  return Entry::Other;
}

bool basic_getitem(const array& a, PyObject* obj, array& out) {
  PyObject* single[1] = {obj};
  PyObject** items = single;
  Py_ssize_t n = 1;
  if (PyTuple_Check(obj)) {
    n = PyTuple_GET_SIZE(obj);
    items = &PyTuple_GET_ITEM(obj, 0);
  }
  const int nd = a.ndim();
  int consumed = 0, ellipses = 0;
  bool reshaped = false;
  for (Py_ssize_t k = 0; k < n; ++k) {
    switch (classify(items[k])) {
      case Entry::Int: reshaped = true; [[fallthrough]];
      case Entry::Slice: ++consumed; break;
      case Entry::NewAxis: reshaped = true; break;
      case Entry::Ellipsis: ++ellipses; break;
      case Entry::Other: return false;
    }
  }
  if (ellipses > 1 || consumed > nd) return false;
  const bool now = a.is_available() && !a.is_tracer() && !a.error();
  const Shape& in_shape = a.shape();
  const Strides& in_strides = a.strides();
  // The view: its shape always; its strides and offset when made now; the slice otherwise.
  Shape shape, start, stop, step;
  Strides strides;
  int64_t offset = 0;
  shape.reserve(nd + n);
  if (now) {
    strides.reserve(nd + n);
  } else {
    start.assign(nd, 0);
    stop = in_shape;
    step.assign(nd, 1);
  }
  auto keep_axis = [&](int len, int64_t stride) {
    shape.push_back(len);
    if (now) strides.push_back(stride);
  };
  int ax = 0;  // next source axis
  for (Py_ssize_t k = 0; k < n; ++k) {
    PyObject* e = items[k];
    switch (classify(e)) {
      case Entry::Int: {
        int overflow = 0;
        long long i = PyLong_AsLongLongAndOverflow(e, &overflow);
        const int len = in_shape[ax];
        if (overflow || i < -len || i >= len) return false;
        if (i < 0) i += len;
        if (now) {
          offset += i * in_strides[ax];
        } else {
          start[ax] = (int)i;
          stop[ax] = (int)i + 1;
        }
        ++ax;
        break;
      }
      case Entry::Slice: {
        Py_ssize_t b, en, st;
        if (PySlice_Unpack(e, &b, &en, &st) < 0) {
          PyErr_Clear();
          return false;
        }
        const int len = in_shape[ax];
        Py_ssize_t count = PySlice_AdjustIndices(len, &b, &en, st);
        if (st < INT32_MIN || st > INT32_MAX) {
          // A step this long takes at most the first element.
          st = 1;
          en = b + count;
        }
        if (now) {
          if (count > 0) offset += b * in_strides[ax];
        } else if (count == 0) {
          start[ax] = 0;
          stop[ax] = 0;
        } else {
          start[ax] = (int)b;
          stop[ax] = (st < 0 && en < 0) ? -len - 1 : (int)en;  // "before the first element"
          step[ax] = (int)st;
        }
        keep_axis((int)count, in_strides[ax] * st);
        ++ax;
        break;
      }
      case Entry::NewAxis:
        keep_axis(1, 0);  // stride set below
        break;
      default:  // Ellipsis: full slices over the axes no other entry takes
        for (int r = nd - consumed; r > 0; --r, ++ax) keep_axis(in_shape[ax], in_strides[ax]);
        break;
    }
  }
  for (; ax < nd; ++ax) keep_axis(in_shape[ax], in_strides[ax]);
  if (!now) {
    out = slice(a, std::move(start), std::move(stop), std::move(step));
    if (reshaped) out = reshape(out, std::move(shape));
    return true;
  }
  // Size-1 axes (new ones among them) take the stride a row-major layout would give them.
  int64_t inner = 1;
  for (int d = (int)shape.size() - 1; d >= 0; --d) {
    if (shape[d] == 1) strides[d] = inner;
    inner = strides[d] * shape[d];
  }
  out = array::view(a, std::move(shape), std::move(strides), offset);
  return true;
}

array getitem(const array& self, py::handle obj) {
  array out;
  if (basic_getitem(self, obj.ptr(), out)) return out;
  array a = self;
  auto ix = parse(a, py::reinterpret_borrow<py::object>(obj));
  Plan p = plan(a, ix);
  if (p.arrs.empty()) return p.int_axes.empty() ? p.base : squeeze(p.base, p.int_axes);
  return gather_result(p);
}

// A value meeting the indexed shape: leading size-1 dims beyond its rank are dropped (as
// numpy and MLX allow), then it is broadcast.
array fit_value(const array& v, const Shape& shape) {
  array x = v;
  int extra = x.ndim() - (int)shape.size();
  if (extra > 0) {
    bool ones = true;
    for (int d = 0; d < extra; ++d) ones = ones && x.shape()[d] == 1;
    if (ones) x = reshape(x, Shape(x.shape().begin() + extra, x.shape().end()));
  }
  return broadcast_to(x, shape);
}

// `cur` (the indexed values) combined elementwise with `v` as the scatter kind does.
array combine(const array& cur, const array& v, Scatter::Kind kind) {
  switch (kind) {
    case Scatter::Kind::Sum: return astype(add(cur, v), cur.dtype());
    case Scatter::Kind::Prod: return astype(multiply(cur, v), cur.dtype());
    case Scatter::Kind::Max: return maximum(cur, v);
    case Scatter::Kind::Min: return minimum(cur, v);
    default: return v;
  }
}

array scatter_of(Scatter::Kind kind, const array& a, const std::vector<array>& idx, const array& u,
                 const std::vector<int>& axes) {
  switch (kind) {
    case Scatter::Kind::Sum: return scatter_add(a, idx, u, axes);
    case Scatter::Kind::Prod: return scatter_prod(a, idx, u, axes);
    case Scatter::Kind::Max: return scatter_max(a, idx, u, axes);
    case Scatter::Kind::Min: return scatter_min(a, idx, u, axes);
    default: return scatter(a, idx, u, axes);
  }
}

// A boolean index given alone (an array, a numpy array or a list of bools), or null.
std::optional<array> bool_mask(py::handle obj) {
  if (!is_array_index(obj)) return std::nullopt;
  if (const array* x = array_in(obj)) {
    if (x->dtype() == bool_) return *x;
    return std::nullopt;
  }
  array m = to_array(obj);
  if (m.dtype() == bool_) return m;
  return std::nullopt;
}

// self with self[obj] replaced by (kind None) or combined with v, with numpy's placement of
// the advanced-index dimensions. Repeated positions accumulate for the combining kinds.
array update(const array& self, py::handle obj_h, const array& v_in, Scatter::Kind kind) {
  py::object obj = py::reinterpret_borrow<py::object>(obj_h);
  array a = self;
  auto ix = parse(a, obj);
  Plan p = plan(a, ix);
  array v = astype(v_in, a.dtype());
  array result;
  if (p.arrs.empty()) {
    // Basic indexing: a slice update of the view (no position repeats).
    array view = p.int_axes.empty() ? p.base : squeeze(p.base, p.int_axes);
    array vb = combine(view, fit_value(v, view.shape()), kind);
    result = slice_update(a, reshape(vb, p.base.shape()), p.start, p.stop, p.step);
  } else {
    const int nd = a.ndim();
    const Shape& bsh = p.arrs[0].shape();
    const int nb = (int)bsh.size();
    // The indexed result's dims: the basic axes in order with the broadcast index dims at
    // `adv_pos` (where the first indexed axis was when the indexed axes are adjacent, else
    // in front).
    std::vector<int> basic;
    for (int d = 0; d < nd; ++d)
      if (std::find(p.arr_axes.begin(), p.arr_axes.end(), d) == p.arr_axes.end()) basic.push_back(d);
    int adv_pos = 0;
    if (p.arr_contiguous)
      while (adv_pos < (int)basic.size() && basic[adv_pos] < p.arr_axes[0]) ++adv_pos;
    const int nr = (int)basic.size() + nb;
    Shape rshape;
    std::vector<int> rpos(nd, -1);  // result position of each basic axis
    for (int k = 0; k <= (int)basic.size(); ++k) {
      if (k == adv_pos) rshape.insert(rshape.end(), bsh.begin(), bsh.end());
      if (k == (int)basic.size()) break;
      rpos[basic[k]] = (int)rshape.size();
      rshape.push_back(p.base.shape()[basic[k]]);
    }
    // Index arrays over the result's dims: the advanced ones, then an arange per partially
    // sliced axis; fully sliced axes stay whole in each update block.
    std::vector<array> idx;
    std::vector<int> axes = p.arr_axes;
    for (auto& arr : p.arrs) {
      Shape s(nr, 1);
      std::copy(bsh.begin(), bsh.end(), s.begin() + adv_pos);
      idx.push_back(reshape(arr, s));
    }
    std::vector<int> whole;  // fully sliced axes
    for (int d : basic) {
      int len = p.base.shape()[d];
      if (p.start[d] == 0 && p.step[d] == 1 && len == a.shape()[d]) {
        whole.push_back(d);
        continue;
      }
      Shape s(nr, 1);
      s[rpos[d]] = len;
      array r = arange((double)p.start[d], (double)p.start[d] + (double)p.step[d] * len,
                       (double)p.step[d], int64);
      idx.push_back(reshape(r, s));
      axes.push_back(d);
    }
    array vb = fit_value(v, rshape);
    // (result dims..., a's dims as 1) with each whole axis's dim swapped into its own slot.
    Shape ext = vb.shape();
    ext.insert(ext.end(), nd, 1);
    vb = reshape(vb, ext);
    std::vector<int> perm(nr + nd);
    std::iota(perm.begin(), perm.end(), 0);
    for (int d : whole) std::swap(perm[rpos[d]], perm[nr + d]);
    vb = transpose(vb, perm);
    result = scatter_of(kind, a, idx, vb, axes);
  }
  if (a.ndim() != self.ndim()) result = reshape(result, self.shape());  // drop None axes
  return result;
}

void setitem(array& self, py::object obj, py::object val) {
  array v = to_array_like(val, self);
  if (auto mask = bool_mask(obj)) {
    self = masked_scatter(self, *mask, v);
    return;
  }
  self = update(self, obj, v, Scatter::Kind::None);
}

}  // namespace

array index_update(const array& a, py::handle index, const array& value, Scatter::Kind kind) {
  if (bool_mask(index))
    throw py::value_error("[at] Boolean masks are not supported by array.at; use where.");
  return update(a, index, value, kind);
}

array index_row(const array& a, int i) {
  if (a.is_available() && !a.is_tracer() && !a.error()) {
    Shape shape(a.shape().begin() + 1, a.shape().end());
    Strides strides(a.strides().begin() + 1, a.strides().end());
    return array::view(a, std::move(shape), std::move(strides), (int64_t)i * a.strides()[0]);
  }
  return take(a, i, 0);
}

void init_indexing(py::class_<array>& cls) {
  cls.def("__getitem__", [](py::handle self, py::handle key) { return wrap(getitem(array_of(self), key)); });
  cls.def("__setitem__", &setitem);
}
