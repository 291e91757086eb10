// Gather, and take/put along an axis.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "ember/backend/cpu/scatter.h"
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

inline int64_t wrap(int64_t i, int64_t n, const char* op) { return wrap_index(i, n, op); }

}  // namespace

void Gather::eval_cpu(const std::vector<array>& in, array& out) {
  const array& a = in[0];
  alloc_out(out);
  if (out.size() == 0) return;
  auto idx = read_indices(in, 1, axes_.size());
  const size_t n_idx = idx.empty() ? 1 : idx[0].size();
  // The slice sizes as the output has them (a shapeless replay may widen full slices).
  Shape slice_sizes(out.shape().end() - slice_sizes_.size(), out.shape().end());
  const int64_t slice_size = shape_size(slice_sizes);
  // Where each index position's block starts in `a`, all checked before any copying.
  std::vector<int64_t> bases(n_idx, 0);
  for (size_t k = 0; k < axes_.size(); ++k) {
    const int64_t n = a.shape()[axes_[k]], st = a.strides()[axes_[k]];
    const auto& ik = idx[k];
    for (size_t p = 0; p < n_idx; ++p) bases[p] += wrap(ik[p], n, "gather") * st;
  }
  idx.clear();
  BlockRows rows(slice_sizes, a.strides());
  const int64_t n = rows.inner, s = rows.inner_stride;
  dispatch_all(a.dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    const T* pa = a.data<T>();
    T* po = out.data<T>();
    parallel_for(n_idx, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(slice_size, 1)),
                 [&](size_t b, size_t e) {
                   for (size_t p = b; p < e; ++p) {
                     T* dst = po + p * slice_size;
                     const T* src = pa + bases[p];
                     for (int64_t off : rows.offsets) {
                       if (s == 1) std::copy(src + off, src + off + n, dst);
                       else for (int64_t i = 0; i < n; ++i) dst[i] = src[off + i * s];
                       dst += n;
                     }
                   }
                 });
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
