// Rules of the FFT primitive. The transform is linear, so its tangent is the same transform
// of the tangent. Cotangents follow the conjugate convention of the other complex
// primitives (the cotangent of x for y = A x is A^H ct): the adjoint of the unnormalised
// forward transform is the unnormalised inverse and the other way round. For a real
// forward transform the cotangent of the half spectrum is zero-padded to the full length,
// inverse transformed and its real part kept; for a real inverse transform it is the real
// forward transform of the cotangent, with the frequencies that stand for two (all but the
// zero and the Nyquist one) counted twice.
#include "ember/ops/common.h"

namespace ember {

namespace {

using Arrays = std::vector<array>;
using Axes = std::vector<int>;

Shape fft_out_shape(const Shape& in, const Axes& axes, bool inverse, bool real, int n) {
  Shape s = in;
  if (real) s[axes.back()] = inverse ? n : in[axes.back()] / 2 + 1;
  return s;
}

array fft_node(const array& x, const Axes& axes, bool inverse, bool real, int n, Stream s) {
  array in = astype(x, real && !inverse ? float32 : complex64, s);
  return array(fft_out_shape(in.shape(), axes, inverse, real, n), real && inverse ? float32 : complex64,
               std::make_shared<FFT>(s, axes, inverse, real, n), {in});
}

}  // namespace

Arrays FFT::vjp(const Arrays& p, const Arrays& ct, const Axes&, const Arrays&) {
  const array& x = p[0];
  if (!real_) return {fft_node(ct[0], axes_, !inverse_, false, 0, stream())};
  const int last = axes_.back();
  if (!inverse_) {
    std::vector<std::pair<int, int>> pw(x.ndim(), {0, 0});
    pw[last].second = x.shape(last) - ct[0].shape(last);
    array full = pad(astype(ct[0], complex64, stream()), pw, array(complex64_t(0.0f, 0.0f)), stream());
    return {real(fft_node(full, axes_, true, false, 0, stream()), stream())};
  }
  const int m = x.shape(last);
  std::vector<float> w(m, 2.0f);
  w[0] = 1.0f;
  if (n_ % 2 == 0) w[m - 1] = 1.0f;
  Shape ws(x.ndim(), 1);
  ws[last] = m;
  array f = fft_node(ct[0], axes_, false, true, 0, stream());
  return {multiply(f, array(w.begin(), ws, float32), stream())};
}

Arrays FFT::jvp(const Arrays&, const Arrays& t, const Axes&) {
  array tan = real_ && !inverse_ && is_complex(t[0].dtype()) ? real(t[0], stream()) : t[0];
  return {fft_node(tan, axes_, inverse_, real_, n_, stream())};
}

std::pair<Arrays, Axes> FFT::vmap(const Arrays& in, const Axes& axes) {
  if (axes[0] < 0) return {{fft_node(in[0], axes_, inverse_, real_, n_, stream())}, {-1}};
  array x = axes[0] > 0 ? moveaxis(in[0], axes[0], 0, stream()) : in[0];
  Axes shifted = axes_;
  for (int& a : shifted) a += 1;
  return {{fft_node(x, shifted, inverse_, real_, n_, stream())}, {0}};
}

bool FFT::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const FFT*>(&o);
  return p && p->axes_ == axes_ && p->inverse_ == inverse_ && p->real_ == real_ && p->n_ == n_;
}

std::vector<Shape> FFT::output_shapes(const Arrays& in) {
  if (real_ && inverse_ && in[0].shape(axes_.back()) != n_ / 2 + 1)
    throw std::invalid_argument("[irfft] The input has " + std::to_string(in[0].shape(axes_.back())) +
                                " frequencies along the real axis; a real output of length " +
                                std::to_string(n_) + " needs " + std::to_string(n_ / 2 + 1) + ".");
  return {fft_out_shape(in[0].shape(), axes_, inverse_, real_, n_)};
}

}  // namespace ember
