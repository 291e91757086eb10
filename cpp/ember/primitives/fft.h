// The discrete Fourier transform primitive.
//
// FFT transforms complex64 input along `axes` (in that order), unnormalised: the forward
// transform uses exp(-2 pi i jk / n), the inverse exp(+2 pi i jk / n) with no 1/n (the ops
// apply the norm). With `real`, the forward transform takes float32 input and keeps the
// n/2 + 1 non-negative frequencies of the last axis; the inverse takes those n/2 + 1
// (imaginary parts of the zero and Nyquist frequencies ignored) and gives `n_` real samples.
#pragma once

#include "ember/primitive.h"

namespace ember {

class FFT : public UnaryPrimitive {
 public:
  FFT(Stream s, std::vector<int> axes, bool inverse, bool real, int n = 0)
      : UnaryPrimitive(s), axes_(std::move(axes)), inverse_(inverse), real_(real), n_(n) {}
  const char* name() const override { return "FFT"; }
  EMBER_UNARY_RULES
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  std::vector<int> axes_;
  bool inverse_;
  bool real_;
  int n_;  // real inverse: the length of the last axis's output
};

}  // namespace ember
