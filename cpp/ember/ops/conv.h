// Convolutions (channels last, as MLX): input (N, spatial..., C_in), weight
// (C_out, kernel..., C_in / groups).
#pragma once

#include <array>
#include <string>
#include <vector>

#include "ember/array.h"

namespace ember {

struct ConvParams;

// Empty vectors mean the defaults (stride, dilations 1; padding 0) for every spatial axis.
array conv_general(const array& input, const array& weight, std::vector<int> stride = {},
                   std::vector<int> padding_lo = {}, std::vector<int> padding_hi = {},
                   std::vector<int> kernel_dilation = {}, std::vector<int> input_dilation = {},
                   int groups = 1, bool flip = false, StreamOrDevice s = {});
array conv1d(const array& input, const array& weight, int stride = 1, int padding = 0,
             int dilation = 1, int groups = 1, StreamOrDevice s = {});
array conv2d(const array& input, const array& weight, const std::array<int, 2>& stride = {1, 1},
             const std::array<int, 2>& padding = {0, 0}, const std::array<int, 2>& dilation = {1, 1},
             int groups = 1, StreamOrDevice s = {});
array conv3d(const array& input, const array& weight, const std::array<int, 3>& stride = {1, 1, 1},
             const std::array<int, 3>& padding = {0, 0, 0},
             const std::array<int, 3>& dilation = {1, 1, 1}, int groups = 1, StreamOrDevice s = {});
array conv_transpose1d(const array& input, const array& weight, int stride = 1, int padding = 0,
                       int dilation = 1, int output_padding = 0, int groups = 1,
                       StreamOrDevice s = {});
array conv_transpose2d(const array& input, const array& weight,
                       const std::array<int, 2>& stride = {1, 1},
                       const std::array<int, 2>& padding = {0, 0},
                       const std::array<int, 2>& dilation = {1, 1},
                       const std::array<int, 2>& output_padding = {0, 0}, int groups = 1,
                       StreamOrDevice s = {});
array conv_transpose3d(const array& input, const array& weight,
                       const std::array<int, 3>& stride = {1, 1, 1},
                       const std::array<int, 3>& padding = {0, 0, 0},
                       const std::array<int, 3>& dilation = {1, 1, 1},
                       const std::array<int, 3>& output_padding = {0, 0, 0}, int groups = 1,
                       StreamOrDevice s = {});
// numpy.convolve: 1-D arrays, mode "full", "same" or "valid".
array convolve(const array& a, const array& v, const std::string& mode = "full",
               StreamOrDevice s = {});

// The Convolution node itself, without validation (the transformation rules build these).
array conv_node(const array& input, const array& weight, const ConvParams& p, StreamOrDevice s = {});

}  // namespace ember
