// Discrete Fourier transforms (the ember::fft namespace, mlx.core.fft in Python).
//
// Every transform works in complex64 (real input is promoted; the real transforms take
// float32). `n` / `s` give the transformed length of each axis: the input is truncated or
// zero-padded to it. `norm` is "backward" (1/n on the inverse), "ortho" (1/sqrt(n) on both)
// or "forward" (1/n on the forward transform). For the inverse real transforms the last axis
// of `axes` is the real one: its input holds s[-1]/2 + 1 frequencies (by default
// s[-1] = 2 * (size - 1)).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ember/array.h"

namespace ember::fft {

using OptShape = std::optional<Shape>;
using OptAxes = std::optional<std::vector<int>>;

array fft(const array& a, std::optional<int> n = std::nullopt, int axis = -1,
          const std::string& norm = "backward", StreamOrDevice s = {});
array ifft(const array& a, std::optional<int> n = std::nullopt, int axis = -1,
           const std::string& norm = "backward", StreamOrDevice s = {});
array rfft(const array& a, std::optional<int> n = std::nullopt, int axis = -1,
           const std::string& norm = "backward", StreamOrDevice s = {});
array irfft(const array& a, std::optional<int> n = std::nullopt, int axis = -1,
            const std::string& norm = "backward", StreamOrDevice s = {});

// Over `axes` (default: every axis; with `s` given, `axes` must be given too).
array fftn(const array& a, const OptShape& s = std::nullopt, const OptAxes& axes = std::nullopt,
           const std::string& norm = "backward", StreamOrDevice stream = {});
array ifftn(const array& a, const OptShape& s = std::nullopt, const OptAxes& axes = std::nullopt,
            const std::string& norm = "backward", StreamOrDevice stream = {});
array rfftn(const array& a, const OptShape& s = std::nullopt, const OptAxes& axes = std::nullopt,
            const std::string& norm = "backward", StreamOrDevice stream = {});
array irfftn(const array& a, const OptShape& s = std::nullopt, const OptAxes& axes = std::nullopt,
             const std::string& norm = "backward", StreamOrDevice stream = {});

// Over the last two axes by default.
array fft2(const array& a, const OptShape& s = std::nullopt,
           const OptAxes& axes = std::vector<int>{-2, -1}, const std::string& norm = "backward",
           StreamOrDevice stream = {});
array ifft2(const array& a, const OptShape& s = std::nullopt,
            const OptAxes& axes = std::vector<int>{-2, -1}, const std::string& norm = "backward",
            StreamOrDevice stream = {});
array rfft2(const array& a, const OptShape& s = std::nullopt,
            const OptAxes& axes = std::vector<int>{-2, -1}, const std::string& norm = "backward",
            StreamOrDevice stream = {});
array irfft2(const array& a, const OptShape& s = std::nullopt,
             const OptAxes& axes = std::vector<int>{-2, -1}, const std::string& norm = "backward",
             StreamOrDevice stream = {});

// Rolls that move the zero frequency to the middle and back (default: every axis).
array fftshift(const array& a, const OptAxes& axes = std::nullopt, StreamOrDevice s = {});
array ifftshift(const array& a, const OptAxes& axes = std::nullopt, StreamOrDevice s = {});

// Sample frequencies (float32) of a transform of length n with sample spacing d.
array fftfreq(int n, double d = 1.0, StreamOrDevice s = {});
array rfftfreq(int n, double d = 1.0, StreamOrDevice s = {});

// Short-time transform: frames of n_fft samples every hop_length (default n_fft / 4) along the
// last axis, each multiplied by `window` (default ones of win_length, default n_fft; centred
// and zero-padded to n_fft) and transformed; (..., n_freq, n_frames). With `center` the
// signal is first padded by n_fft / 2 on both ends ("reflect", "constant" or "edge").
// `onesided` (default: for real input) keeps the n_fft / 2 + 1 non-negative frequencies.
array stft(const array& x, int n_fft = 2048, std::optional<int> hop_length = std::nullopt,
           std::optional<int> win_length = std::nullopt,
           const std::optional<array>& window = std::nullopt, bool center = true,
           const std::string& pad_mode = "reflect", const std::string& norm = "backward",
           std::optional<bool> onesided = std::nullopt, StreamOrDevice s = {});
// Its inverse: overlap-add of the windowed inverse transforms of the frames, divided by the
// overlap-added squared window; `length` trims or zero-pads the result.
array istft(const array& stft_matrix, std::optional<int> n_fft = std::nullopt,
            std::optional<int> hop_length = std::nullopt,
            std::optional<int> win_length = std::nullopt,
            const std::optional<array>& window = std::nullopt, bool center = true,
            const std::string& norm = "backward", std::optional<bool> onesided = std::nullopt,
            std::optional<int> length = std::nullopt, StreamOrDevice s = {});

}  // namespace ember::fft
