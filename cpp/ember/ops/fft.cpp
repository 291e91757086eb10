// The FFT ops: argument checks, promotion to complex64 (float32 for the real forward
// transform), truncation or zero padding to the requested lengths, one FFT node, and the
// norm applied as a scalar multiply (so that derivatives and batching of the scaling come
// from the multiply).
#include <algorithm>
#include <cmath>

#include "ember/ops/common.h"

namespace ember::fft {

namespace {

double norm_scale(const std::string& norm, const char* op, bool inverse, double n) {
  if (norm == "backward") return inverse ? 1.0 / n : 1.0;
  if (norm == "ortho") return 1.0 / std::sqrt(n);
  if (norm == "forward") return inverse ? 1.0 : 1.0 / n;
  op_error(op, "Invalid norm. Expected one of {'backward', 'ortho', 'forward'}.");
}

array fft_impl(const char* op, const array& a, const OptShape& n, const OptAxes& axes_opt, bool real,
               bool inverse, const std::string& norm, S s) {
  norm_scale(norm, op, inverse, 1.0);
  std::vector<int> axes;
  if (axes_opt) {
    axes = *axes_opt;
  } else {
    if (n) op_error(op, "`axes` should not be `None` if `s` is not `None`.");
    for (int i = 0; i < a.ndim(); ++i) axes.push_back(i);
  }
  if (n && n->size() != axes.size()) op_error(op, "Shape and axes have different sizes.");
  if (axes.empty()) return a;
  for (int& ax : axes) ax = normalize_axis(ax, a.ndim(), op);
  {
    std::vector<int> sorted = axes;
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 1; i < sorted.size(); ++i)
      if (sorted[i] == sorted[i - 1])
        op_error(op, "Duplicated axis received " + std::to_string(sorted[i]) + " in axes.");
  }
  // The transformed length of each axis.
  const int last = axes.back();
  Shape sizes;
  for (size_t i = 0; i < axes.size(); ++i) {
    int64_t v = n ? (*n)[i] : a.shape(axes[i]);
    if (!n && real && inverse && axes[i] == last) v = 2 * ((int64_t)a.shape(last) - 1);
    if (v <= 0) op_error(op, "Invalid FFT output size requested (" + std::to_string(v) + ").");
    sizes.push_back((int32_t)v);
  }
  array x = a;
  if (real && !inverse) {
    if (is_complex(x.dtype())) x = ember::real(x, s);
    x = astype(x, float32, s);
  } else {
    x = astype(x, complex64, s);
  }
  // Truncate or zero-pad each axis to the length the transform reads.
  Shape start(x.ndim(), 0), stop = x.shape();
  std::vector<std::pair<int, int>> pw(x.ndim(), {0, 0});
  bool cut = false, grow = false;
  for (size_t i = 0; i < axes.size(); ++i) {
    int want = real && inverse && axes[i] == last ? sizes[i] / 2 + 1 : sizes[i];
    int have = x.shape(axes[i]);
    if (want < have) stop[axes[i]] = want, cut = true;
    if (want > have) pw[axes[i]].second = want - have, grow = true;
  }
  if (cut) x = slice(x, start, stop, s);
  if (grow) x = pad(x, pw, array(0.0f, x.dtype()), s);
  Shape out = x.shape();
  if (real) out[last] = inverse ? sizes.back() : sizes.back() / 2 + 1;
  array y = array(out, real && inverse ? float32 : complex64,
                  std::make_shared<FFT>(to_stream(s), axes, inverse, real, real && inverse ? sizes.back() : 0),
                  {x});
  double total = 1.0;
  for (int v : sizes) total *= v;
  double scale = norm_scale(norm, op, inverse, total);
  if (scale != 1.0) y = multiply(y, array((float)scale, float32), s);
  return y;
}

OptShape one(std::optional<int> n) { return n ? OptShape(Shape{*n}) : std::nullopt; }

array shift(const char* op, const array& a, const OptAxes& axes_opt, bool inverse, S s) {
  std::vector<int> axes;
  if (axes_opt) {
    for (int ax : *axes_opt) axes.push_back(normalize_axis(ax, a.ndim(), op));
  } else {
    for (int i = 0; i < a.ndim(); ++i) axes.push_back(i);
  }
  if (axes.empty()) return a;
  std::vector<int> shifts;
  for (int ax : axes) {
    int len = a.shape(ax);
    shifts.push_back(inverse ? -(len / 2) : len / 2);
  }
  return roll(a, shifts, axes, s);
}

array freqs(const char* op, int n, double d, bool half) {
  if (n <= 0) op_error(op, "`n` must be greater than 0.");
  if (d == 0.0) op_error(op, "`d` must be non-zero.");
  std::vector<float> v;
  const double step = 1.0 / (n * d);
  if (half) {
    for (int i = 0; i <= n / 2; ++i) v.push_back((float)(i * step));
  } else {
    for (int i = 0; i < n; ++i) v.push_back((float)((i <= (n - 1) / 2 ? i : i - n) * step));
  }
  return array(v.begin(), Shape{(int32_t)v.size()}, float32);
}

}  // namespace

array fft(const array& a, std::optional<int> n, int axis, const std::string& norm, S s) {
  return fft_impl("fft", a, one(n), std::vector<int>{axis}, false, false, norm, s);
}
array ifft(const array& a, std::optional<int> n, int axis, const std::string& norm, S s) {
  return fft_impl("ifft", a, one(n), std::vector<int>{axis}, false, true, norm, s);
}
array rfft(const array& a, std::optional<int> n, int axis, const std::string& norm, S s) {
  return fft_impl("rfft", a, one(n), std::vector<int>{axis}, true, false, norm, s);
}
array irfft(const array& a, std::optional<int> n, int axis, const std::string& norm, S s) {
  return fft_impl("irfft", a, one(n), std::vector<int>{axis}, true, true, norm, s);
}

array fftn(const array& a, const OptShape& n, const OptAxes& axes, const std::string& norm, S s) {
  return fft_impl("fftn", a, n, axes, false, false, norm, s);
}
array ifftn(const array& a, const OptShape& n, const OptAxes& axes, const std::string& norm, S s) {
  return fft_impl("ifftn", a, n, axes, false, true, norm, s);
}
array rfftn(const array& a, const OptShape& n, const OptAxes& axes, const std::string& norm, S s) {
  return fft_impl("rfftn", a, n, axes, true, false, norm, s);
}
array irfftn(const array& a, const OptShape& n, const OptAxes& axes, const std::string& norm, S s) {
  return fft_impl("irfftn", a, n, axes, true, true, norm, s);
}

array fft2(const array& a, const OptShape& n, const OptAxes& axes, const std::string& norm, S s) {
  return fft_impl("fft2", a, n, axes, false, false, norm, s);
}
array ifft2(const array& a, const OptShape& n, const OptAxes& axes, const std::string& norm, S s) {
  return fft_impl("ifft2", a, n, axes, false, true, norm, s);
}
array rfft2(const array& a, const OptShape& n, const OptAxes& axes, const std::string& norm, S s) {
  return fft_impl("rfft2", a, n, axes, true, false, norm, s);
}
array irfft2(const array& a, const OptShape& n, const OptAxes& axes, const std::string& norm, S s) {
  return fft_impl("irfft2", a, n, axes, true, true, norm, s);
}

array fftshift(const array& a, const OptAxes& axes, S s) { return shift("fftshift", a, axes, false, s); }
array ifftshift(const array& a, const OptAxes& axes, S s) { return shift("ifftshift", a, axes, true, s); }

// ---------- short-time transforms

namespace {

// The window centred in n_fft samples (ones of win_length when none is given).
array full_window(const char* op, int n_fft, std::optional<int> win_length,
                  const std::optional<array>& window, S s) {
  array w = ones({win_length.value_or(n_fft)}, float32, s);
  if (window) {
    if (window->ndim() != 1) op_error(op, "window must be a one-dimensional array.");
    w = *window;
  }
  if (w.shape(0) > n_fft) op_error(op, "window length must not exceed n_fft.");
  if (w.shape(0) < n_fft) {
    int left = (n_fft - w.shape(0)) / 2;
    w = pad(w, std::vector<std::pair<int, int>>{{left, n_fft - w.shape(0) - left}}, array(0.0f, w.dtype()), s);
  }
  return w;
}

// Positions of the samples of every frame: (n_frames, n_fft).
array frame_positions(int n_frames, int n_fft, int hop, S s) {
  return add(reshape(multiply(arange(0, n_frames, 1, s), array(hop), s), {n_frames, 1}, s),
             reshape(arange(0, n_fft, 1, s), {1, n_fft}, s), s);
}

}  // namespace

array stft(const array& x, int n_fft, std::optional<int> hop_length, std::optional<int> win_length,
           const std::optional<array>& window, bool center, const std::string& pad_mode,
           const std::string& norm, std::optional<bool> onesided, S s) {
  const char* op = "stft";
  if (x.ndim() < 1) op_error(op, "Input must have at least one dimension.");
  if (n_fft <= 0) op_error(op, "n_fft must be positive.");
  const int hop = hop_length.value_or(n_fft / 4);
  if (hop <= 0) op_error(op, "hop_length must be positive.");
  if (win_length && *win_length <= 0) op_error(op, "win_length must be positive.");
  norm_scale(norm, op, false, 1.0);
  array w = full_window(op, n_fft, win_length, window, s);
  array sig = x;
  if (center) {
    std::vector<std::pair<int, int>> pw(x.ndim(), {0, 0});
    pw.back() = {n_fft / 2, n_fft / 2};
    sig = pad(sig, pw, array(0.0f, sig.dtype()), pad_mode, s);
  }
  const int len = sig.shape(-1);
  if (len < n_fft) op_error(op, "Input is too short for the given n_fft.");
  const int n_frames = 1 + (len - n_fft) / hop;
  array frames = take(sig, frame_positions(n_frames, n_fft, hop, s), sig.ndim() - 1, s);
  frames = multiply(frames, w, s);
  bool half = onesided.value_or(!is_complex(x.dtype()));
  array spec = half ? rfft(frames, std::nullopt, -1, norm, s) : fft(frames, std::nullopt, -1, norm, s);
  return swapaxes(spec, -1, -2, s);
}

array istft(const array& stft_matrix, std::optional<int> n_fft_opt, std::optional<int> hop_length,
            std::optional<int> win_length, const std::optional<array>& window, bool center,
            const std::string& norm, std::optional<bool> onesided, std::optional<int> length, S s) {
  const char* op = "istft";
  const array& m = stft_matrix;
  if (m.ndim() < 2) op_error(op, "Input must have at least two dimensions (freq, frames).");
  const bool half = onesided.value_or(true);
  const int n_freq = m.shape(-2), n_frames = m.shape(-1);
  const int n_fft = n_fft_opt.value_or(half ? 2 * (n_freq - 1) : n_freq);
  if (n_fft <= 0) op_error(op, "n_fft must be positive.");
  const int hop = hop_length.value_or(n_fft / 4);
  if (hop <= 0) op_error(op, "hop_length must be positive.");
  if (win_length && *win_length <= 0) op_error(op, "win_length must be positive.");
  norm_scale(norm, op, true, 1.0);
  array w = full_window(op, n_fft, win_length, window, s);
  array frames = swapaxes(m, -1, -2, s);  // (..., n_frames, n_freq)
  frames = half ? irfft(frames, n_fft, -1, norm, s) : ember::real(ifft(frames, n_fft, -1, norm, s), s);
  frames = multiply(frames, w, s);
  // Overlap-add along a leading axis: (L, ...batch) gets (K, 1, ...batch) at K positions.
  const int total = n_fft + hop * (n_frames - 1);
  Shape batch(m.shape().begin(), m.shape().end() - 2);
  const int K = n_frames * n_fft;
  array pos = reshape(frame_positions(n_frames, n_fft, hop, s), {K}, s);
  Shape flat_shape = batch;
  flat_shape.push_back(K);
  array upd = moveaxis(reshape(frames, flat_shape, s), -1, 0, s);
  upd = expand_dims(upd, 1, s);
  Shape ys = {total};
  ys.insert(ys.end(), batch.begin(), batch.end());
  array y = scatter_add(zeros(ys, frames.dtype(), s), {pos}, upd, {0}, s);
  y = moveaxis(y, 0, -1, s);
  array w2 = reshape(broadcast_to(reshape(square(w, s), {1, n_fft}, s), {n_frames, n_fft}, s), {K, 1}, s);
  array env = scatter_add(zeros({total}, w2.dtype(), s), {pos}, w2, {0}, s);
  env = where(greater(env, array(1e-11f), s), env, array(1.0f), s);
  y = divide(y, env, s);
  // Trim the centring padding, then cut or zero-pad to `length`.
  const int start = center ? n_fft / 2 : 0;
  int stop = center ? total - n_fft / 2 : total;
  if (length) stop = start + std::max(*length, 0);
  int avail = std::min(stop, total);
  Shape b(y.ndim(), 0), e = y.shape();
  b.back() = std::min(start, avail), e.back() = avail;
  y = slice(y, b, e, s);
  if (stop > avail) {
    std::vector<std::pair<int, int>> pw(y.ndim(), {0, 0});
    pw.back().second = stop - std::max(avail, start);
    y = pad(y, pw, array(0.0f, y.dtype()), s);
  }
  return y;
}

array fftfreq(int n, double d, S) { return freqs("fftfreq", n, d, false); }
array rfftfreq(int n, double d, S) { return freqs("rfftfreq", n, d, true); }

}  // namespace ember::fft
