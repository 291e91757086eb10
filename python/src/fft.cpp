// ember.core.fft: discrete Fourier transforms, shifts and sample frequencies.
#include "utils.h"

using namespace pybind11::literals;

namespace {

inline StreamOrDevice sd(const py::object& s) { return to_stream_or_device(s); }

std::optional<int> opt_len(const py::object& n, const char* op) {
  if (n.is_none()) return std::nullopt;
  return to_dim(n, op);
}

fft::OptShape opt_shape(const py::object& s, const char* op) {
  if (s.is_none()) return std::nullopt;
  return to_shape(s, op);
}

using Fn1 = array (*)(const array&, std::optional<int>, int, const std::string&, StreamOrDevice);
using FnN = array (*)(const array&, const fft::OptShape&, const fft::OptAxes&, const std::string&,
                      StreamOrDevice);

void def1(py::module_& m, const char* name, Fn1 fn, const char* doc) {
  m.def(
      name,
      [fn, name](const py::object& a, const py::object& n, int axis, const std::string& norm,
                 const py::object& s) { return fn(to_array(a), opt_len(n, name), axis, norm, sd(s)); },
      "a"_a, "n"_a = py::none(), "axis"_a = -1, "norm"_a = "backward", "stream"_a = py::none(), doc);
}

void defn(py::module_& m, const char* name, FnN fn, bool two, const char* doc) {
  auto f = [fn, name](const py::object& a, const py::object& s, const py::object& axes,
                      const std::string& norm, const py::object& stream) {
    return fn(to_array(a), opt_shape(s, name), to_axes(axes), norm, sd(stream));
  };
  if (two)
    m.def(name, f, "a"_a, "s"_a = py::none(), "axes"_a = std::vector<int>{-2, -1},
          "norm"_a = "backward", "stream"_a = py::none(), doc);
  else
    m.def(name, f, "a"_a, "s"_a = py::none(), "axes"_a = py::none(), "norm"_a = "backward",
          "stream"_a = py::none(), doc);
}

}  // namespace

void init_fft(py::module_& parent) {
  py::module_ m = parent.def_submodule("fft", "Discrete Fourier transforms.");
  def1(m, "fft", fft::fft, "One dimensional discrete Fourier Transform.");
  def1(m, "ifft", fft::ifft, "One dimensional inverse discrete Fourier Transform.");
  def1(m, "rfft", fft::rfft,
       "One dimensional discrete Fourier Transform on a real input (the n // 2 + 1 "
       "non-negative frequencies).");
  def1(m, "irfft", fft::irfft, "The inverse of rfft (real output of length n).");
  defn(m, "fft2", fft::fft2, true, "Two dimensional discrete Fourier Transform.");
  defn(m, "ifft2", fft::ifft2, true, "Two dimensional inverse discrete Fourier Transform.");
  defn(m, "rfft2", fft::rfft2, true, "Two dimensional real discrete Fourier Transform.");
  defn(m, "irfft2", fft::irfft2, true, "The inverse of rfft2.");
  defn(m, "fftn", fft::fftn, false, "n-dimensional discrete Fourier Transform.");
  defn(m, "ifftn", fft::ifftn, false, "n-dimensional inverse discrete Fourier Transform.");
  defn(m, "rfftn", fft::rfftn, false, "n-dimensional real discrete Fourier Transform.");
  defn(m, "irfftn", fft::irfftn, false, "The inverse of rfftn.");
  m.def(
      "stft",
      [](const py::object& x, const py::object& n_fft, const py::object& hop, const py::object& win,
         const py::object& window, bool center, const std::string& pad_mode, const std::string& norm,
         std::optional<bool> onesided, const py::object& s) {
        std::optional<array> w;
        if (!window.is_none()) w = to_array(window);
        return fft::stft(to_array(x), to_dim(n_fft, "stft"), opt_len(hop, "stft"), opt_len(win, "stft"), w,
                         center, pad_mode, norm, onesided, sd(s));
      },
      "x"_a, "n_fft"_a = 2048, "hop_length"_a = py::none(), "win_length"_a = py::none(),
      "window"_a = py::none(), "center"_a = true, "pad_mode"_a = "reflect", "norm"_a = "backward",
      "onesided"_a = py::none(), "stream"_a = py::none(),
      "Short-Time Fourier Transform of the last axis: (..., n_freq, n_frames).");
  m.def(
      "istft",
      [](const py::object& m, const py::object& n_fft, const py::object& hop, const py::object& win,
         const py::object& window, bool center, const std::string& norm, std::optional<bool> onesided,
         const py::object& length, const py::object& s) {
        std::optional<array> w;
        if (!window.is_none()) w = to_array(window);
        return fft::istft(to_array(m), opt_len(n_fft, "istft"), opt_len(hop, "istft"), opt_len(win, "istft"),
                          w, center, norm, onesided, opt_len(length, "istft"), sd(s));
      },
      "stft_matrix"_a, "n_fft"_a = py::none(), "hop_length"_a = py::none(), "win_length"_a = py::none(),
      "window"_a = py::none(), "center"_a = true, "norm"_a = "backward", "onesided"_a = py::none(),
      "length"_a = py::none(), "stream"_a = py::none(),
      "Inverse Short-Time Fourier Transform: overlap-add of the windowed inverse transforms of the "
      "frames, divided by the overlap-added squared window.");
  m.def(
      "fftshift",
      [](const py::object& a, const py::object& axes, const py::object& s) {
        return fft::fftshift(to_array(a), to_axes(axes), sd(s));
      },
      "a"_a, "axes"_a = py::none(), "stream"_a = py::none(),
      "Shift the zero-frequency component to the center of the spectrum.");
  m.def(
      "ifftshift",
      [](const py::object& a, const py::object& axes, const py::object& s) {
        return fft::ifftshift(to_array(a), to_axes(axes), sd(s));
      },
      "a"_a, "axes"_a = py::none(), "stream"_a = py::none(), "The inverse of fftshift.");
  m.def(
      "fftfreq", [](int n, double d, const py::object& s) { return fft::fftfreq(n, d, sd(s)); }, "n"_a,
      "d"_a = 1.0, "stream"_a = py::none(),
      "The discrete Fourier Transform sample frequencies (float32).");
  m.def(
      "rfftfreq", [](int n, double d, const py::object& s) { return fft::rfftfreq(n, d, sd(s)); },
      "n"_a, "d"_a = 1.0, "stream"_a = py::none(),
      "The sample frequencies of rfft (float32): the n // 2 + 1 non-negative ones.");
}
