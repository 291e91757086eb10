// Small ops composed from the others: angle conversions, rolls and flips, differences,
// bit reinterpretation, graph dependencies, window functions and dtype queries.
#pragma once

#include <optional>
#include <vector>

#include "ember/array.h"

namespace ember {

array positive(const array& a, StreamOrDevice s = {});
array trunc(const array& a, StreamOrDevice s = {});
array degrees(const array& a, StreamOrDevice s = {});
array radians(const array& a, StreamOrDevice s = {});
array logical_xor(const array& a, const array& b, StreamOrDevice s = {});
// NaN becomes `nan`, +inf `posinf` and -inf `neginf` (default: the dtype's largest and
// lowest finite values). Integer and boolean arrays come back unchanged; float64 and
// complex64 are rejected, as in MLX.
array nan_to_num(const array& a, float nan = 0.0f, std::optional<float> posinf = std::nullopt,
                 std::optional<float> neginf = std::nullopt, StreamOrDevice s = {});

// roll: elements shifted along axes (wrapping round). With no axes the array is rolled
// flattened, by the sum of the shifts; one shift for several axes applies to each.
array roll(const array& a, int shift, StreamOrDevice s = {});
array roll(const array& a, const std::vector<int>& shift, StreamOrDevice s = {});
array roll(const array& a, int shift, int axis, StreamOrDevice s = {});
array roll(const array& a, int shift, const std::vector<int>& axes, StreamOrDevice s = {});
array roll(const array& a, const std::vector<int>& shift, int axis, StreamOrDevice s = {});
array roll(const array& a, const std::vector<int>& shift, const std::vector<int>& axes,
           StreamOrDevice s = {});
array flip(const array& a, StreamOrDevice s = {});  // every axis
array flip(const array& a, const std::vector<int>& axes, StreamOrDevice s = {});
// The n-th discrete difference along `axis` (booleans: "not equal").
array diff(const array& a, int n = 1, int axis = -1, StreamOrDevice s = {});
std::vector<array> unstack(const array& a, int axis = 0, StreamOrDevice s = {});

// The bits of `a` read as `dtype`; the last axis grows or shrinks by the size ratio.
array view(const array& a, Dtype dtype, StreamOrDevice s = {});
// `inputs` unchanged, but computed only after `dependencies`.
std::vector<array> depends(const std::vector<array>& inputs, const std::vector<array>& dependencies);

// Window functions (float32, length max(M, 0)).
array hanning(int M, StreamOrDevice s = {});
array hamming(int M, StreamOrDevice s = {});
array blackman(int M, StreamOrDevice s = {});
array bartlett(int M, StreamOrDevice s = {});

// Uninitialised arrays are zero-filled (as MLX).
array empty(const Shape& shape, Dtype dtype = float32, StreamOrDevice s = {});
array empty_like(const array& a, StreamOrDevice s = {});
array zeros_like(const array& a, Dtype dtype, StreamOrDevice s = {});
array ones_like(const array& a, Dtype dtype, StreamOrDevice s = {});

// `from` casts to `to` when promoting the two gives `to`.
bool can_cast(Dtype from, Dtype to);

// Array printing: -1 prints 6 significant digits (%g); p >= 0 prints p fixed decimals.
void set_print_precision(int precision);
int print_precision();

}  // namespace ember
