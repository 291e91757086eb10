// How each primitive's parameters are written to an exported file and read back.
//
// Adding a primitive: one line in register_builtin_primitive_exports,
//   register_primitive_fields<MyPrimitive>("MyPrimitive", &MyPrimitive::a_, &MyPrimitive::b_);
// when its constructor takes (stream, a, b) in that order (an enum member also needs an
// export_enum_size specialisation), or register_primitive_export with a saver and a
// loader for anything else (see Convolution below). The registered name is what the file
// holds: keep it once files exist.
#include "ember/export.h"
#include "ember/primitives.h"
#include "ember/primitives/conv_grad.h"

namespace ember {

template <>
struct export_enum_size<ReduceType> {
  static constexpr int value = 6;
};
template <>
struct export_enum_size<ScanType> {
  static constexpr int value = 5;
};
template <>
struct export_enum_size<Scatter::Kind> {
  static constexpr int value = 5;
};
template <>
struct export_enum_size<Reshape::Units> {
  static constexpr int value = 3;
};
template <>
struct export_enum_size<QuantMode> {
  static constexpr int value = 4;
};

namespace {

template <typename P>
void plain(const char* key) {
  register_primitive_fields<P>(key);
}

void save_quant(const QuantSpec& q, Writer& w) { w << q.group_size << q.bits << q.mode; }
QuantSpec load_quant(Reader& r) {
  QuantSpec q;
  q.group_size = r.get<int>();
  q.bits = r.get<int>();
  q.mode = r.get<QuantMode>();
  if (q.group_size <= 0 || q.bits <= 0 || q.bits > 32) r.fail("invalid quantization parameters");
  return q;
}

}  // namespace

void register_builtin_primitive_exports() {
#define EMBER_PLAIN(P) plain<P>(#P);
  // elementwise, no parameters
  EMBER_PLAIN(Negative) EMBER_PLAIN(Abs) EMBER_PLAIN(Sign) EMBER_PLAIN(Square) EMBER_PLAIN(Sqrt)
  EMBER_PLAIN(Rsqrt) EMBER_PLAIN(Reciprocal) EMBER_PLAIN(Exp) EMBER_PLAIN(Expm1) EMBER_PLAIN(Log)
  EMBER_PLAIN(Log1p) EMBER_PLAIN(Log2) EMBER_PLAIN(Log10) EMBER_PLAIN(Sin) EMBER_PLAIN(Cos)
  EMBER_PLAIN(Tan) EMBER_PLAIN(ArcSin) EMBER_PLAIN(ArcCos) EMBER_PLAIN(ArcTan) EMBER_PLAIN(Sinh)
  EMBER_PLAIN(Cosh) EMBER_PLAIN(Tanh) EMBER_PLAIN(ArcSinh) EMBER_PLAIN(ArcCosh) EMBER_PLAIN(ArcTanh)
  EMBER_PLAIN(Sigmoid) EMBER_PLAIN(Erf) EMBER_PLAIN(ErfInv) EMBER_PLAIN(Floor) EMBER_PLAIN(Ceil)
  EMBER_PLAIN(Round) EMBER_PLAIN(LogicalNot) EMBER_PLAIN(IsNaN) EMBER_PLAIN(IsInf)
  EMBER_PLAIN(IsPosInf) EMBER_PLAIN(IsNegInf) EMBER_PLAIN(Real) EMBER_PLAIN(Imag)
  EMBER_PLAIN(Conjugate) EMBER_PLAIN(BitwiseInvert) EMBER_PLAIN(StopGradient)
  EMBER_PLAIN(Add) EMBER_PLAIN(Subtract) EMBER_PLAIN(Multiply) EMBER_PLAIN(Divide)
  EMBER_PLAIN(FloorDivide) EMBER_PLAIN(Remainder) EMBER_PLAIN(Power) EMBER_PLAIN(Maximum)
  EMBER_PLAIN(Minimum) EMBER_PLAIN(ArcTan2) EMBER_PLAIN(LogAddExp) EMBER_PLAIN(Equal)
  EMBER_PLAIN(NotEqual) EMBER_PLAIN(Less) EMBER_PLAIN(LessEqual) EMBER_PLAIN(Greater)
  EMBER_PLAIN(GreaterEqual) EMBER_PLAIN(LogicalAnd) EMBER_PLAIN(LogicalOr) EMBER_PLAIN(BitwiseAnd)
  EMBER_PLAIN(BitwiseOr) EMBER_PLAIN(BitwiseXor) EMBER_PLAIN(LeftShift) EMBER_PLAIN(RightShift)
  EMBER_PLAIN(Select) EMBER_PLAIN(EqualNaN)
  // other primitives without parameters
  EMBER_PLAIN(Copy) EMBER_PLAIN(LogSumExp) EMBER_PLAIN(CovarianceRoot) EMBER_PLAIN(CrossEntropy)
#undef EMBER_PLAIN

  register_primitive_fields("AsType", &AsType::dtype_);
  register_primitive_fields("Arange", &Arange::start_, &Arange::stop_, &Arange::step_);
  // views and shapes
  register_primitive_fields("Reshape", &Reshape::shape_, &Reshape::inferred_, &Reshape::units_,
                            &Reshape::unit_axes_);
  register_primitive_fields("Transpose", &Transpose::axes_);
  register_primitive_fields("Broadcast", &Broadcast::shape_);
  register_primitive_fields("Slice", &Slice::start_, &Slice::stop_, &Slice::strides_);
  register_primitive_fields("SliceUpdate", &SliceUpdate::start_, &SliceUpdate::stop_, &SliceUpdate::strides_);
  register_primitive_fields("AsStrided", &AsStrided::shape_, &AsStrided::strides_, &AsStrided::offset_);
  register_primitive_fields("Concatenate", &Concatenate::axis_);
  // reductions
  register_primitive_fields("Reduce", &Reduce::type_, &Reduce::axes_);
  register_primitive_fields("ArgReduce", &ArgReduce::is_max_, &ArgReduce::axis_);
  register_primitive_fields("Scan", &Scan::type_, &Scan::axis_, &Scan::reverse_, &Scan::inclusive_);
  register_primitive_fields("Softmax", &Softmax::precise_);
  // indexing
  register_primitive_fields("Gather", &Gather::axes_, &Gather::slice_sizes_);
  register_primitive_fields("Scatter", &Scatter::kind_, &Scatter::axes_);
  register_primitive_fields("GatherAxis", &GatherAxis::axis_);
  register_primitive_fields("ScatterAxis", &ScatterAxis::axis_, &ScatterAxis::add_);
  // linear algebra, random
  register_primitive_fields("Matmul", &Matmul::alpha_, &Matmul::beta_);
  register_primitive_fields("RandomBits", &RandomBits::shape_, &RandomBits::width_);
  // misc
  register_primitive_fields("View", &View::dtype_);
  register_primitive_fields("Depends", &Depends::n_);
  // sorting
  register_primitive_fields("Sort", &Sort::axis_, &Sort::arg_);
  register_primitive_fields("Partition", &Partition::kth_, &Partition::axis_, &Partition::arg_);
  register_primitive_fields("TopK", &TopK::k_, &TopK::axis_, &TopK::arg_);
  register_primitive_fields("SearchSorted", &SearchSorted::right_);
  // einsum family
  register_primitive_fields("Diagonal", &Diagonal::offset_, &Diagonal::axis1_, &Diagonal::axis2_);
  // fast
  register_primitive_fields("RMSNorm", &RMSNorm::eps_, &RMSNorm::has_weight_);
  register_primitive_fields("RMSNormVJP", &RMSNormVJP::eps_, &RMSNormVJP::has_weight_);
  register_primitive_fields("LayerNorm", &LayerNorm::eps_, &LayerNorm::has_weight_, &LayerNorm::has_bias_);
  register_primitive_fields("LayerNormVJP", &LayerNormVJP::eps_, &LayerNormVJP::has_weight_,
                            &LayerNormVJP::has_bias_);
  register_primitive_fields("RoPE", &RoPE::dims_, &RoPE::traditional_, &RoPE::base_, &RoPE::scale_,
                            &RoPE::forward_, &RoPE::has_freqs_);
  using SDPA = ScaledDotProductAttention;
  using SDPAVJP = ScaledDotProductAttentionVJP;
  register_primitive_fields("ScaledDotProductAttention", &SDPA::scale_, &SDPA::causal_, &SDPA::has_mask_,
                            &SDPA::bool_mask_, &SDPA::has_sinks_);
  register_primitive_fields("ScaledDotProductAttentionVJP", &SDPAVJP::scale_, &SDPAVJP::causal_,
                            &SDPAVJP::has_mask_, &SDPAVJP::bool_mask_, &SDPAVJP::has_sinks_);
  // quantized
  register_primitive_fields("FP8Cast", &FP8Cast::to_fp8_, &FP8Cast::dtype_out_);
  register_primitive_export(
      typeid(Quantize), "Quantize",
      [](const Primitive& p, Writer& w) { save_quant(static_cast<const Quantize&>(p).q_, w); },
      [](Stream s, Reader& r) -> std::shared_ptr<Primitive> {
        QuantSpec q = load_quant(r);
        r.finish();
        return std::make_shared<Quantize>(s, q);
      });
  register_primitive_export(
      typeid(Dequantize), "Dequantize",
      [](const Primitive& p, Writer& w) {
        auto& q = static_cast<const Dequantize&>(p);
        save_quant(q.q_, w);
        w << q.dtype_out_;
      },
      [](Stream s, Reader& r) -> std::shared_ptr<Primitive> {
        QuantSpec q = load_quant(r);
        Dtype t = r.get<Dtype>();
        r.finish();
        return std::make_shared<Dequantize>(s, q, t);
      });
  register_primitive_export(
      typeid(QuantizedMatmul), "QuantizedMatmul",
      [](const Primitive& p, Writer& w) {
        auto& q = static_cast<const QuantizedMatmul&>(p);
        save_quant(q.q_, w);
        w << q.transpose_ << q.dtype_out_;
      },
      [](Stream s, Reader& r) -> std::shared_ptr<Primitive> {
        QuantSpec q = load_quant(r);
        bool transpose = r.get<bool>();
        Dtype t = r.get<Dtype>();
        r.finish();
        return std::make_shared<QuantizedMatmul>(s, q, transpose, t);
      });
  // linear algebra
  plain<QRF>("QRF");
  plain<LUF>("LUF");
  plain<Solve>("Solve");
  plain<SLogDet>("SLogDet");
  register_primitive_fields("Inverse", &Inverse::tri_, &Inverse::upper_);
  register_primitive_fields("Cholesky", &Cholesky::upper_);
  register_primitive_fields("SVD", &SVD::uv_);
  register_primitive_fields("Eig", &Eig::vectors_);
  register_primitive_fields("Eigh", &Eigh::upper_, &Eigh::vectors_);
  // fft
  register_primitive_fields("FFT", &FFT::axes_, &FFT::inverse_, &FFT::real_, &FFT::n_);
  // pooling over whole tiles
  register_primitive_fields("TileMax", &TileMax::kernel_);
  register_primitive_fields("TileMaxGrad", &TileMaxGrad::kernel_);
  // convolution
  register_primitive_export(
      typeid(Convolution), "Convolution",
      [](const Primitive& p, Writer& w) {
        auto& c = static_cast<const Convolution&>(p).p_;
        w << c.stride << c.pad_lo << c.pad_hi << c.kernel_dilation << c.input_dilation << c.groups << c.flip;
      },
      [](Stream s, Reader& r) -> std::shared_ptr<Primitive> {
        ConvParams c;
        r >> c.stride >> c.pad_lo >> c.pad_hi >> c.kernel_dilation >> c.input_dilation >> c.groups >> c.flip;
        r.finish();
        size_t n = c.stride.size();
        if (c.pad_lo.size() != n || c.pad_hi.size() != n || c.kernel_dilation.size() != n ||
            c.input_dilation.size() != n || c.groups <= 0)
          r.fail("inconsistent convolution parameters");
        return std::make_shared<Convolution>(s, c);
      });
  register_primitive_export(
      typeid(ConvWeightGrad), "ConvWeightGrad",
      [](const Primitive& p, Writer& w) {
        auto& g = static_cast<const ConvWeightGrad&>(p);
        auto& c = g.p_;
        w << c.stride << c.pad_lo << c.pad_hi << c.kernel_dilation << c.input_dilation << c.groups << c.flip
          << g.kernel_;
      },
      [](Stream s, Reader& r) -> std::shared_ptr<Primitive> {
        ConvParams c;
        std::vector<int> kernel;
        r >> c.stride >> c.pad_lo >> c.pad_hi >> c.kernel_dilation >> c.input_dilation >> c.groups >> c.flip >>
            kernel;
        r.finish();
        size_t n = c.stride.size();
        if (c.pad_lo.size() != n || c.pad_hi.size() != n || c.kernel_dilation.size() != n ||
            c.input_dilation.size() != n || kernel.size() != n || c.groups <= 0)
          r.fail("inconsistent convolution parameters");
        return std::make_shared<ConvWeightGrad>(s, c, kernel);
      });
}

}  // namespace ember
