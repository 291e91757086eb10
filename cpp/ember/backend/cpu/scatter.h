// Index handling shared by the gather and scatter kernels.
#pragma once

#include <string>
#include <vector>

#include "ember/backend/cpu/kernels.h"

namespace ember::cpu {

// An index value wrapped for negatives and bounds-checked against an axis of length n.
inline int64_t wrap_index(int64_t i, int64_t n, const char* op) {
  int64_t j = i < 0 ? i + n : i;
  if (j < 0 || j >= n)
    throw std::out_of_range(std::string("[") + op + "] Index " + std::to_string(i) +
                            " is out of bounds for axis with size " + std::to_string(n) + ".");
  return j;
}

// in[first], ..., in[first + count - 1] (integer arrays of any layout) read as int64 in
// row-major order.
inline std::vector<std::vector<int64_t>> read_indices(const std::vector<array>& in, size_t first,
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

// The rows of a strided block: `shape` iterated row-major with `strides`, described as the
// element offset of each innermost row, the row length and the inner stride. Built once
// per kernel so that moving the block around (per index position) allocates nothing.
struct BlockRows {
  std::vector<int64_t> offsets;
  int64_t inner = 1;
  int64_t inner_stride = 1;
  BlockRows(Shape shape, Strides strides) {
    std::array<Strides, 1> st{std::move(strides)};
    collapse(shape, st);
    int nd = (int)shape.size();
    inner = shape[nd - 1];
    inner_stride = st[0][nd - 1];
    int64_t rows = 1;
    for (int d = 0; d < nd - 1; ++d) rows *= shape[d];
    offsets.reserve(rows);
    std::vector<int64_t> idx(nd, 0);
    int64_t off = 0;
    for (int64_t r = 0; r < rows; ++r) {
      offsets.push_back(off);
      for (int d = nd - 2; d >= 0; --d) {
        off += st[0][d];
        if (++idx[d] < shape[d]) break;
        off -= st[0][d] * shape[d];
        idx[d] = 0;
      }
    }
  }
};

}  // namespace ember::cpu
