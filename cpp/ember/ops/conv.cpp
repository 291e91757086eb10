// Convolution ops: argument checks (with MLX's messages), then one Convolution node.
#include "ember/ops/conv.h"

#include "ember/ops/common.h"
#include "ember/primitives/conv_grad.h"

namespace ember {

namespace {

// "(1,2,3)", as the convolution messages print shapes and parameter lists.
template <typename V>
std::string tuple_str(const V& v) {
  std::string r = "(";
  for (size_t i = 0; i < v.size(); ++i) r += (i ? "," : "") + std::to_string(v[i]);
  return r + ")";
}

[[noreturn]] void conv_error(const std::string& msg) { op_error("conv", msg); }

std::vector<int> or_default(std::vector<int> v, int n, int value) {
  if (v.empty()) v.assign(n, value);
  return v;
}

}  // namespace

Shape ConvParams::output_shape(const Shape& in, const Shape& w) const {
  int nd = (int)in.size();
  Shape out(nd);
  out[0] = in[0];
  for (int i = 1; i < nd - 1; ++i) {
    int64_t dil_in = (int64_t)input_dilation[i - 1] * (in[i] - 1) + 1;
    int64_t span = dil_in + pad_lo[i - 1] + pad_hi[i - 1] -
                   (int64_t)kernel_dilation[i - 1] * (w[i] - 1) - 1;
    out[i] = span < 0 ? 0 : (int32_t)(span / stride[i - 1] + 1);
  }
  out[nd - 1] = w[0];
  return out;
}

array conv_node(const array& input, const array& weight, const ConvParams& p, S s) {
  Shape out = p.output_shape(input.shape(), weight.shape());
  return make_node<Convolution>(std::move(out), input.dtype(), {input, weight}, s, p);
}

array conv_weight_grad(const array& x, const array& ct, const ConvParams& p,
                       const std::vector<int>& kernel, S s) {
  auto prim = std::make_shared<ConvWeightGrad>(to_stream(s), p, kernel);
  Shape out = prim->weight_shape(x.shape(), ct.shape());
  return array(std::move(out), x.dtype(), std::move(prim), {x, ct});
}

array tile_max(const array& x, const std::vector<int>& kernel, S s) {
  int nd = x.ndim();
  if (nd < 3 || nd > 5 || (int)kernel.size() != nd - 2)
    op_error("tile_max", "Expected an input (N, spatial..., C) with 1 to 3 spatial axes and one "
                         "kernel size per spatial axis; got shape " + shape_str(x.shape()) + ".");
  if (x.dtype() != float32 && x.dtype() != float64)
    op_error("tile_max", "Only float32 and float64 inputs are supported.");
  Shape out = x.shape();
  for (int i = 0; i < nd - 2; ++i) {
    if (kernel[i] <= 0 || x.shape(i + 1) % kernel[i] != 0)
      op_error("tile_max", "Every spatial size must be a positive multiple of its kernel size; got "
                           "shape " + shape_str(x.shape()) + " and kernel " + tuple_str(kernel) + ".");
    out[i + 1] = x.shape(i + 1) / kernel[i];
  }
  return make_node<TileMax>(std::move(out), x.dtype(), {x}, s, kernel);
}

array tile_max_grad(const array& x, const array& ct, const std::vector<int>& kernel, S s) {
  return make_node<TileMaxGrad>(x.shape(), x.dtype(), {x, astype(ct, x.dtype(), s)}, s, kernel);
}

array conv_general(const array& input, const array& weight, std::vector<int> stride,
                   std::vector<int> padding_lo, std::vector<int> padding_hi,
                   std::vector<int> kernel_dilation, std::vector<int> input_dilation, int groups,
                   bool flip, S s) {
  int nd = input.ndim();
  int sp = nd - 2;
  if (nd < 3 || nd > 5)
    conv_error("Only works for inputs with 1-3 spatial dimensions. The inputs must be in the "
               "format [N, ..., C_in]");
  if (weight.ndim() != nd)
    conv_error("Invalid weight array with " + std::to_string(weight.ndim()) + " dimensions for " +
               std::to_string(sp) + "D convolution. Expected an array with " + std::to_string(nd) +
               " dimensions following the format [C_out, ..., C_in].");
  if (!is_floating_point(input.dtype()))
    conv_error(std::string("Invalid input array with type ") + dtype_name(input.dtype()) +
               ". Convolution currently only supports floating point types");
  if (!is_floating_point(weight.dtype()))
    conv_error(std::string("Invalid weight array with type ") + dtype_name(weight.dtype()) +
               ". Convolution currently only supports floating point types");
  stride = or_default(std::move(stride), sp, 1);
  padding_lo = or_default(std::move(padding_lo), sp, 0);
  padding_hi = or_default(std::move(padding_hi), sp, 0);
  kernel_dilation = or_default(std::move(kernel_dilation), sp, 1);
  input_dilation = or_default(std::move(input_dilation), sp, 1);
  std::string d = std::to_string(sp) + "D convolution.";
  if ((int)stride.size() != sp) conv_error("Invalid strides " + tuple_str(stride) + " for " + d);
  if ((int)padding_lo.size() != sp || (int)padding_hi.size() != sp)
    conv_error("Invalid padding " + tuple_str(padding_lo) + " | " + tuple_str(padding_hi) + " for " + d);
  if ((int)kernel_dilation.size() != sp)
    conv_error("Invalid kernel dilation " + tuple_str(kernel_dilation) + " for " + d);
  if ((int)input_dilation.size() != sp)
    conv_error("Invalid input dilation " + tuple_str(input_dilation) + " for " + d);
  for (int v : stride)
    if (v <= 0) conv_error("Stride sizes must be positive. Got strides " + tuple_str(stride) + ".");
  for (int v : kernel_dilation)
    if (v <= 0)
      conv_error("Kernel dilation sizes must be positive. Got kernel dilation " +
                 tuple_str(kernel_dilation) + ".");
  for (int v : input_dilation)
    if (v <= 0)
      conv_error("Input dilation sizes must be positive. Got input dilation " +
                 tuple_str(input_dilation) + ".");
  if (groups <= 0)
    conv_error("The number of groups must be positive. Got " + std::to_string(groups) + " groups.");
  int cin = input.shape().back(), cout = weight.shape()[0];
  if (cin % groups != 0)
    conv_error("The input channels must be divisible by the number of groups. Got input with shape " +
               tuple_str(input.shape()) + " and " + std::to_string(groups) + " groups.");
  if (groups > 1 && cout % groups != 0)
    conv_error("If groups > 1, the output channels must be divisible by the number of groups. Got " +
               std::to_string(cout) + " output channels and " + std::to_string(groups) + " groups.");
  if ((int64_t)weight.shape().back() * groups != cin)
    conv_error("Expect the input channels in the input and weight array to match but got shapes - "
               "input: " + tuple_str(input.shape()) + " and weight: " + tuple_str(weight.shape()));

  // Negative padding crops the (undilated) input, as MLX does.
  array x = input;
  bool crop = false;
  Shape start(nd, 0), stop = input.shape();
  for (int i = 0; i < sp; ++i) {
    if (padding_lo[i] < 0) {
      start[i + 1] = std::min<int>(-padding_lo[i], input.shape(i + 1));
      padding_lo[i] = 0;
      crop = true;
    }
    if (padding_hi[i] < 0) {
      stop[i + 1] = std::max<int>(input.shape(i + 1) + padding_hi[i], start[i + 1]);
      padding_hi[i] = 0;
      crop = true;
    }
  }
  if (crop) x = slice(x, start, stop, s);
  for (int i = 0; i < sp; ++i) {
    int64_t in_span = (int64_t)input_dilation[i] * (x.shape(i + 1) - 1) + 1 + padding_lo[i] + padding_hi[i];
    int64_t k_span = (int64_t)kernel_dilation[i] * (weight.shape(i + 1) - 1) + 1;
    if (x.shape(i + 1) == 0 ? padding_lo[i] + padding_hi[i] < k_span : in_span < k_span)
      conv_error("Spatial dimensions of input after padding cannot be smaller than weight spatial "
                 "dimensions. Got error at axis " + std::to_string(i + 1) + " for input with shape " +
                 tuple_str(x.shape()) + ", padding low " + tuple_str(padding_lo) + ", padding high " +
                 tuple_str(padding_hi) + ", and weight of shape " + tuple_str(weight.shape()) + ".");
  }
  Dtype dt = promote_types(input.dtype(), weight.dtype());
  ConvParams p{std::move(stride), std::move(padding_lo), std::move(padding_hi),
               std::move(kernel_dilation), std::move(input_dilation), groups, flip};
  return conv_node(astype(x, dt, s), astype(weight, dt, s), p, s);
}

array conv1d(const array& input, const array& weight, int stride, int padding, int dilation,
             int groups, S s) {
  return conv_general(input, weight, {stride}, {padding}, {padding}, {dilation}, {1}, groups, false, s);
}

array conv2d(const array& input, const array& weight, const std::array<int, 2>& stride,
             const std::array<int, 2>& padding, const std::array<int, 2>& dilation, int groups, S s) {
  std::vector<int> pad(padding.begin(), padding.end());
  return conv_general(input, weight, {stride.begin(), stride.end()}, pad, pad,
                      {dilation.begin(), dilation.end()}, {1, 1}, groups, false, s);
}

array conv3d(const array& input, const array& weight, const std::array<int, 3>& stride,
             const std::array<int, 3>& padding, const std::array<int, 3>& dilation, int groups, S s) {
  std::vector<int> pad(padding.begin(), padding.end());
  return conv_general(input, weight, {stride.begin(), stride.end()}, pad, pad,
                      {dilation.begin(), dilation.end()}, {1, 1, 1}, groups, false, s);
}

namespace {

// A transposed convolution is the convolution of the stride-dilated input with the flipped
// kernel, padded by dilation * (kernel - 1) - padding (plus output_padding on the high side).
array conv_transpose_general(const array& input, const array& weight, std::vector<int> stride,
                             std::vector<int> padding, std::vector<int> dilation,
                             std::vector<int> output_padding, int groups, S s) {
  int sp = (int)stride.size();
  if (weight.ndim() != sp + 2)
    conv_error("Invalid weight array with " + std::to_string(weight.ndim()) + " dimensions for " +
               std::to_string(sp) + "D convolution. Expected an array with " +
               std::to_string(sp + 2) + " dimensions following the format [C_out, ..., C_in].");
  if (input.ndim() != sp + 2)
    conv_error("Only works for inputs with 1-3 spatial dimensions. The inputs must be in the "
               "format [N, ..., C_in]");
  std::vector<int> lo(sp), hi(sp);
  for (int i = 0; i < sp; ++i) {
    int k = dilation[i] * (weight.shape(i + 1) - 1);
    lo[i] = k - padding[i];
    hi[i] = k - padding[i] + output_padding[i];
  }
  return conv_general(input, weight, std::vector<int>(sp, 1), lo, hi, dilation, stride, groups, true, s);
}

}  // namespace

array conv_transpose1d(const array& input, const array& weight, int stride, int padding,
                       int dilation, int output_padding, int groups, S s) {
  return conv_transpose_general(input, weight, {stride}, {padding}, {dilation}, {output_padding},
                                groups, s);
}

array conv_transpose2d(const array& input, const array& weight, const std::array<int, 2>& stride,
                       const std::array<int, 2>& padding, const std::array<int, 2>& dilation,
                       const std::array<int, 2>& output_padding, int groups, S s) {
  return conv_transpose_general(input, weight, {stride.begin(), stride.end()},
                                {padding.begin(), padding.end()}, {dilation.begin(), dilation.end()},
                                {output_padding.begin(), output_padding.end()}, groups, s);
}

array conv_transpose3d(const array& input, const array& weight, const std::array<int, 3>& stride,
                       const std::array<int, 3>& padding, const std::array<int, 3>& dilation,
                       const std::array<int, 3>& output_padding, int groups, S s) {
  return conv_transpose_general(input, weight, {stride.begin(), stride.end()},
                                {padding.begin(), padding.end()}, {dilation.begin(), dilation.end()},
                                {output_padding.begin(), output_padding.end()}, groups, s);
}

array convolve(const array& a, const array& v, const std::string& mode, S s) {
  if (a.ndim() != 1 || v.ndim() != 1) op_error("convolve", "Inputs must be 1D.");
  if (a.size() == 0 || v.size() == 0) op_error("convolve", "Inputs cannot be empty.");
  if (mode != "full" && mode != "same" && mode != "valid") op_error("convolve", "Invalid mode.");
  // numpy swaps the operands so that the kernel is the shorter one.
  const array& x = a.size() >= v.size() ? a : v;
  const array& k = a.size() >= v.size() ? v : a;
  int m = k.shape(0);
  int lo = 0, hi = 0;
  if (mode == "full") {
    lo = hi = m - 1;
  } else if (mode == "same") {
    hi = (m - 1) / 2;
    lo = m - 1 - hi;
  }
  array out = conv_general(reshape(x, {1, x.shape(0), 1}, s), reshape(k, {1, m, 1}, s), {1}, {lo},
                           {hi}, {1}, {1}, 1, true, s);
  return reshape(out, {out.shape(1)}, s);
}

}  // namespace ember
