// Gather, scatter, and take/put along an axis.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "ember/backend/cpu/kernels.h"
#include "ember/primitives.h"

namespace ember {

using namespace cpu;

namespace {

// Index values of any integer dtype, wrapped for negatives and bounds-checked.
struct IndexReader {
  const array& idx;
  int64_t read(int64_t flat) const {
    return dispatch_integer(idx.dtype(), [&](auto t) -> int64_t {
      using T = typename decltype(t)::type;
      return (int64_t)idx.data<T>()[flat];
    });
  }
};

inline int64_t wrap(int64_t i, int64_t n, const char* op) {
  int64_t j = i < 0 ? i + n : i;
  if (j < 0 || j >= n)
    throw std::out_of_range(std::string("[") + op + "] Index " + std::to_string(i) +
                            " is out of bounds for axis with size " + std::to_string(n) + ".");
  return j;
}

// Read all (row-contiguous) index arrays into int64 vectors.
std::vector<std::vector<int64_t>> read_indices(const std::vector<array>& in, size_t first,
                                               size_t count) {
  std::vector<std::vector<int64_t>> out;
  for (size_t k = 0; k < count; ++k) {
    array idx = ensure_row_contiguous(in[first + k]);
    std::vector<int64_t> v(idx.size());
    dispatch_integer(idx.dtype(), [&](auto t) {
      using T = typename decltype(t)::type;
      const T* p = idx.data<T>();
      for (size_t i = 0; i < v.size(); ++i) v[i] = (int64_t)p[i];
    });
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace

void Gather::eval_cpu(const std::vector<array>& in, array& out) {
  const array& a = in[0];
  alloc_out(out);
  auto idx = read_indices(in, 1, axes_.size());
  size_t n_idx = idx.empty() ? 1 : idx[0].size();
  // The slice sizes as the output has them (a shapeless replay may widen full slices).
  Shape slice_sizes(out.shape().end() - slice_sizes_.size(), out.shape().end());
  int64_t slice_size = shape_size(slice_sizes);
  if (out.size() == 0) return;
  // A view over `a` with the slice's shape, moved per index position.
  array slice_view(slice_sizes, a.dtype(), nullptr, {});
  std::vector<int64_t> bases(n_idx, 0);
  for (size_t p = 0; p < n_idx; ++p) {
    int64_t off = 0;
    for (size_t k = 0; k < axes_.size(); ++k)
      off += wrap(idx[k][p], a.shape()[axes_[k]], "gather") * a.strides()[axes_[k]];
    bases[p] = off;
  }
  Shape shape = slice_sizes;
  std::array<Strides, 1> st{a.strides()};
  collapse(shape, st);
  dispatch_all(a.dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    const T* pa = a.data<T>();
    T* po = out.data<T>();
    parallel_for(n_idx, std::max<int64_t>(1, 4096 / std::max<int64_t>(slice_size, 1)),
                 [&](size_t b, size_t e) {
                   for (size_t p = b; p < e; ++p) {
                     T* dst = po + p * slice_size;
                     const T* src = pa + bases[p];
                     int64_t k = 0;
                     for_each_row<1>(shape, st, [&](auto off, int64_t n, auto s) {
                       for (int64_t i = 0; i < n; ++i) dst[k++] = src[off[0] + i * s[0]];
                     }, false);
                   }
                 });
  });
}

void Scatter::eval_cpu(const std::vector<array>& in, array& out) {
  const array& a = in[0];
  const array& upd_in = in.back();
  if (a.flags().row_contiguous && a.is_donatable())
    out.move_shared_buffer(a);
  else
    copy_to_row_contiguous(a, out);
  auto idx = read_indices(in, 1, axes_.size());
  array upd = ensure_row_contiguous(upd_in);
  size_t n_idx = idx.empty() ? 1 : idx[0].size();
  if (upd.size() == 0) return;
  Shape slice(out.shape());
  for (int ax : axes_) slice[ax] = 1;
  int64_t slice_size = shape_size(slice);
  Shape shape = slice;
  std::array<Strides, 1> st{out.strides()};
  collapse(shape, st);
  bool add = kind_ == Kind::Sum;
  dispatch_all(out.dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    T* po = out.data<T>();
    const T* pu = upd.data<T>();
    for (size_t p = 0; p < n_idx; ++p) {
      int64_t base = 0;
      for (size_t k = 0; k < axes_.size(); ++k)
        base += wrap(idx[k][p], out.shape()[axes_[k]], "scatter") * out.strides()[axes_[k]];
      const T* src = pu + p * slice_size;
      T* dst = po + base;
      int64_t k = 0;
      for_each_row<1>(shape, st, [&](auto off, int64_t n, auto s) {
        for (int64_t i = 0; i < n; ++i) {
          T& d = dst[off[0] + i * s[0]];
          if (add) d = T(static_cast<compute_t<T>>(d) + static_cast<compute_t<T>>(src[k]));
          else d = src[k];
          ++k;
        }
      }, false);
    }
  });
}

void GatherAxis::eval_cpu(const std::vector<array>& in, array& out) {
  array a = ensure_row_contiguous(in[0]);
  array idx = ensure_row_contiguous(in[1]);
  alloc_out(out);
  if (out.size() == 0) return;
  int64_t outer = 1, Ra = a.shape()[axis_], Ri = idx.shape()[axis_], inner = 1;
  for (int i = 0; i < axis_; ++i) outer *= idx.shape()[i];
  for (int i = axis_ + 1; i < idx.ndim(); ++i) inner *= idx.shape()[i];
  IndexReader rd{idx};
  dispatch_all(a.dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    const T* pa = a.data<T>();
    T* po = out.data<T>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t r = 0; r < Ri; ++r)
        for (int64_t j = 0; j < inner; ++j) {
          int64_t k = (o * Ri + r) * inner + j;
          int64_t src = wrap(rd.read(k), Ra, "take_along_axis");
          po[k] = pa[(o * Ra + src) * inner + j];
        }
  });
}

void ScatterAxis::eval_cpu(const std::vector<array>& in, array& out) {
  copy_to_row_contiguous(in[0], out);
  array idx = ensure_row_contiguous(in[1]);
  array upd = ensure_row_contiguous(in[2]);
  if (idx.size() == 0) return;
  int64_t outer = 1, Ra = out.shape()[axis_], Ri = idx.shape()[axis_], inner = 1;
  for (int i = 0; i < axis_; ++i) outer *= idx.shape()[i];
  for (int i = axis_ + 1; i < idx.ndim(); ++i) inner *= idx.shape()[i];
  IndexReader rd{idx};
  dispatch_all(out.dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    T* po = out.data<T>();
    const T* pu = upd.data<T>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t r = 0; r < Ri; ++r)
        for (int64_t j = 0; j < inner; ++j) {
          int64_t k = (o * Ri + r) * inner + j;
          int64_t dst = (o * Ra + wrap(rd.read(k), Ra, "put_along_axis")) * inner + j;
          if (add_) po[dst] = T(static_cast<compute_t<T>>(po[dst]) + static_cast<compute_t<T>>(pu[k]));
          else po[dst] = pu[k];
        }
  });
}

}  // namespace ember
