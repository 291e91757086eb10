// Contractions and diagonals: einsum and its contraction path, tensordot over axis lists,
// vecdot, kron, diag / diagonal / trace, matrix_transpose and meshgrid.
//
// All but diagonal are compositions of existing ops (matmul, multiply, transpose, reshape,
// broadcast, where, sum), so grad, vmap and compile come from their rules; diagonal is the
// Diagonal primitive, a strided view with its own rules (exact shapes under shapeless compile).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ember/array.h"

namespace ember {

// The order in which einsum contracts its operands, in numpy's format: each step names the
// positions, in the current operand list, of the operands it contracts; their result is
// appended to the end of the list. `info` is the report MLX prints (the subscripts as given,
// the naive and optimized scaling and FLOP counts).
struct EinsumPath {
  std::vector<std::vector<int>> path;
  std::string info;
};

// Subscripts as numpy and MLX take them: letters, one "..." per term at most, an optional
// "->output" (without it the output is the ellipsis dims, then the letters that occur once,
// in sorted order). Dims of size 1 broadcast against the other operands' sizes of the label.
array einsum(const std::string& subscripts, const std::vector<array>& operands,
             StreamOrDevice s = {});
EinsumPath einsum_path(const std::string& subscripts, const std::vector<array>& operands);

// Contract a's `axes_a` with b's `axes_b` (pairwise, same lengths and sizes); the result has
// a's other axes, then b's other axes.
array tensordot(const array& a, const array& b, const std::vector<int>& axes_a,
                const std::vector<int>& axes_b, StreamOrDevice s = {});
// sum(conj(a) * b) along `axis` of the broadcast inputs.
array vecdot(const array& a, const array& b, int axis = -1, StreamOrDevice s = {});
// Swap the last two axes.
array matrix_transpose(const array& a, StreamOrDevice s = {});
array kron(const array& a, const array& b, StreamOrDevice s = {});
// 1-D: the square matrix with `a` on diagonal `k`; 2-D: diagonal `k` of `a`.
array diag(const array& a, int k = 0, StreamOrDevice s = {});
// The diagonal `offset` of the planes spanned by axis1 and axis2, as a last axis.
array diagonal(const array& a, int offset = 0, int axis1 = 0, int axis2 = 1,
               StreamOrDevice s = {});
// Sum of diagonal(a, offset, axis1, axis2), the diagonal cast to `dtype` first when given.
array trace(const array& a, int offset = 0, int axis1 = 0, int axis2 = 1,
            std::optional<Dtype> dtype = std::nullopt, StreamOrDevice s = {});
// indexing: "xy" (the first two output axes swapped, as matplotlib) or "ij".
std::vector<array> meshgrid(const std::vector<array>& arrays, bool sparse = false,
                            const std::string& indexing = "xy", StreamOrDevice s = {});

}  // namespace ember
