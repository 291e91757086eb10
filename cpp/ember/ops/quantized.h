// Quantization (affine integer and the microscaling float formats) and the special
// matrix products: quantized, gathered, block-masked and segmented.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ember/ops.h"

namespace ember {

// "affine": per-group scale and bias, integer codes of 1-8 bits.
// "mxfp4" / "mxfp8": E2M1 / E4M3 codes with a power-of-two (E8M0) scale per 32 values.
// "nvfp4": E2M1 codes with an E4M3 scale per 16 values.
enum class QuantMode { Affine, Mxfp4, Mxfp8, Nvfp4 };

QuantMode quant_mode_from_string(const std::string& mode, const char* op);
const char* quant_mode_name(QuantMode m);

// Returns {w_q, scales, biases} for "affine" and {w_q, scales} for the float modes. w_q packs
// the codes of each row as a little-endian bit stream in uint32 words.
std::vector<array> quantize(const array& w, std::optional<int> group_size = std::nullopt,
                            std::optional<int> bits = std::nullopt,
                            const std::string& mode = "affine",
                            const std::optional<array>& global_scale = std::nullopt, S s = {});
array dequantize(const array& w, const array& scales,
                 const std::optional<array>& biases = std::nullopt,
                 std::optional<int> group_size = std::nullopt, std::optional<int> bits = std::nullopt,
                 const std::string& mode = "affine",
                 const std::optional<array>& global_scale = std::nullopt,
                 std::optional<Dtype> dtype = std::nullopt, S s = {});
// x @ dequantize(w).T (transpose) or x @ dequantize(w); batch dims broadcast.
array quantized_matmul(const array& x, const array& w, const array& scales,
                       const std::optional<array>& biases = std::nullopt, bool transpose = true,
                       std::optional<int> group_size = std::nullopt,
                       std::optional<int> bits = std::nullopt, const std::string& mode = "affine",
                       S s = {});
array gather_qmm(const array& x, const array& w, const array& scales,
                 const std::optional<array>& biases = std::nullopt,
                 const std::optional<array>& lhs_indices = std::nullopt,
                 const std::optional<array>& rhs_indices = std::nullopt, bool transpose = true,
                 std::optional<int> group_size = std::nullopt, std::optional<int> bits = std::nullopt,
                 const std::string& mode = "affine", bool sorted_indices = false, S s = {});
array gather_mm(const array& a, const array& b, const std::optional<array>& lhs_indices = std::nullopt,
                const std::optional<array>& rhs_indices = std::nullopt, bool sorted_indices = false,
                S s = {});
array block_masked_mm(const array& a, const array& b, int block_size = 64,
                      const std::optional<array>& mask_out = std::nullopt,
                      const std::optional<array>& mask_lhs = std::nullopt,
                      const std::optional<array>& mask_rhs = std::nullopt, S s = {});
array segmented_mm(const array& a, const array& b, const array& segments, S s = {});
// Quantized x times quantized w: x is quantized on the fly ("nvfp4" or "mxfp8"), and w too
// unless `scales` says it already is; the product is x_q @ w_q.T in x's dtype. Gradients pass
// straight through the quantization to x and to an unquantized w.
array qqmm(const array& x, const array& w, const std::optional<array>& scales = std::nullopt,
           std::optional<int> group_size = std::nullopt, std::optional<int> bits = std::nullopt,
           const std::string& mode = "nvfp4", const std::optional<array>& global_scale_x = std::nullopt,
           const std::optional<array>& global_scale_w = std::nullopt, S s = {});
array gather_qqmm(const array& x, const array& w, const std::optional<array>& scales = std::nullopt,
                  const std::optional<array>& lhs_indices = std::nullopt,
                  const std::optional<array>& rhs_indices = std::nullopt,
                  std::optional<int> group_size = std::nullopt, std::optional<int> bits = std::nullopt,
                  const std::string& mode = "nvfp4", const std::optional<array>& global_scale_x = std::nullopt,
                  const std::optional<array>& global_scale_w = std::nullopt, bool sorted_indices = false,
                  S s = {});
// E4M3 codes (uint8) of a floating array, and back.
array to_fp8(const array& x, S s = {});
array from_fp8(const array& x, Dtype dtype = bfloat16, S s = {});
array hadamard_transform(const array& a, std::optional<float> scale = std::nullopt, S s = {});

}  // namespace ember
