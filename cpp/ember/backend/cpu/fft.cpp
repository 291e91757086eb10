// CPU forward of the FFT primitive.
//
// A complex transform of length n runs as a mixed-radix Stockham sweep (radices 4, 2, 3, 5,
// 7 and the odd primes up to 31, each stage self-sorting, so no bit reversal) on split
// real/imaginary float buffers: every stage's inner loop walks contiguous memory with one
// twiddle per loop, which the compiler vectorises. A length with a prime factor above 31
// goes through Bluestein's chirp-z convolution on a power-of-two length. Plans (factors and
// twiddles, computed in double) are cached per length behind a mutex.
//
// A real transform of even length n packs the samples into n/2 complex numbers, transforms
// those and untangles the spectrum in one pass; odd lengths go through the full complex
// transform. Transforms are unnormalised (the ops apply the norm); the inverse is the
// conjugate of the forward transform of the conjugate. Lines of a batch are spread over
// the thread pool; each thread keeps its own scratch.
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "ember/backend/cpu/kernels.h"
#include "ember/primitives.h"

namespace ember {

namespace {

constexpr int kMaxRadix = 31;
constexpr int kHalf = kMaxRadix / 2 + 1;

struct Stage {
  int p = 0;  // radix
  int L = 0;  // length of the transforms already formed
  int r = 0;  // n / (L * p): the contiguous run each butterfly sweeps
  std::vector<float> twr, twi;  // twiddle of q (1..p-1) and j (0..L-1) at (q - 1) * L + j
  std::vector<float> cs, sn;    // odd p: cos and sin of 2 pi q v / p at v * (p/2 + 1) + q
};

struct Plan {
  int n = 0;
  std::vector<Stage> stages;
  // Bluestein: a convolution of length m (a power of two) by the sub-plan.
  bool bluestein = false;
  int m = 0;
  std::shared_ptr<const Plan> sub;
  std::vector<float> chr, chi;  // exp(-i pi k^2 / n), k < n
  std::vector<float> fbr, fbi;  // transform of the conjugate chirp filter, divided by m
  // Floats of scratch one execution needs.
  size_t scratch() const { return bluestein ? 2 * (size_t)m + sub->scratch() : 2 * (size_t)n; }
};

std::shared_ptr<const Plan> make_plan(int n);

std::shared_ptr<const Plan> get_plan(int n) {
  static std::mutex mu;
  static std::unordered_map<int, std::shared_ptr<const Plan>> cache;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(n);
    if (it != cache.end()) return it->second;
  }
  auto p = make_plan(n);  // built outside the lock (Bluestein plans recurse)
  std::lock_guard<std::mutex> lock(mu);
  return cache.emplace(n, p).first->second;
}

void run(const Plan& p, float* re, float* im, float* scratch, bool par = false);

std::shared_ptr<const Plan> make_plan(int n) {
  auto plan = std::make_shared<Plan>();
  plan->n = n;
  std::vector<int> radices;
  int rest = n;
  while (rest % 4 == 0) radices.push_back(4), rest /= 4;
  while (rest % 2 == 0) radices.push_back(2), rest /= 2;
  for (int q = 3; q <= kMaxRadix; q += 2)
    while (rest % q == 0) radices.push_back(q), rest /= q;
  if (rest > 1) {
    // Bluestein: X_k = w_k sum_j (x_j w_j) conj(w_{k-j}), w_k = exp(-i pi k^2 / n).
    plan->bluestein = true;
    int m = 1;
    while (m < 2 * n - 1) m *= 2;
    plan->m = m;
    plan->sub = get_plan(m);
    plan->chr.resize(n), plan->chi.resize(n);
    for (int64_t k = 0; k < n; ++k) {
      double a = M_PI * (double)((k * k) % (2 * (int64_t)n)) / n;
      plan->chr[k] = (float)std::cos(a), plan->chi[k] = (float)-std::sin(a);
    }
    std::vector<float> br(m, 0.f), bi(m, 0.f);
    for (int k = 0; k < n; ++k) {
      br[k] = plan->chr[k], bi[k] = -plan->chi[k];
      if (k > 0) br[m - k] = br[k], bi[m - k] = bi[k];
    }
    std::vector<float> scratch(plan->sub->scratch());
    run(*plan->sub, br.data(), bi.data(), scratch.data());
    for (int k = 0; k < m; ++k) br[k] /= (float)m, bi[k] /= (float)m;
    plan->fbr = std::move(br), plan->fbi = std::move(bi);
    return plan;
  }
  int L = 1;
  for (int p : radices) {
    Stage s;
    s.p = p, s.L = L, s.r = n / (L * p);
    s.twr.resize((size_t)(p - 1) * L), s.twi.resize((size_t)(p - 1) * L);
    for (int q = 1; q < p; ++q)
      for (int j = 0; j < L; ++j) {
        double a = -2.0 * M_PI * (double)((int64_t)q * j) / ((double)L * p);
        s.twr[(size_t)(q - 1) * L + j] = (float)std::cos(a);
        s.twi[(size_t)(q - 1) * L + j] = (float)std::sin(a);
      }
    if (p % 2 == 1) {
      const int h = p / 2 + 1;
      s.cs.resize((size_t)h * h), s.sn.resize((size_t)h * h);
      for (int v = 0; v < h; ++v)
        for (int q = 0; q < h; ++q) {
          double a = 2.0 * M_PI * (double)(q * v % p) / p;
          s.cs[v * h + q] = (float)std::cos(a), s.sn[v * h + q] = (float)std::sin(a);
        }
    }
    plan->stages.push_back(std::move(s));
    L *= p;
  }
  return plan;
}

// ---------- butterflies (forward, on P values in registers)

// Radix 4 and 2.
template <int P>
inline void bfly_pow2(float* ar, float* ai) {
  if constexpr (P == 2) {
    float r0 = ar[0] + ar[1], i0 = ai[0] + ai[1];
    ar[1] = ar[0] - ar[1], ai[1] = ai[0] - ai[1];
    ar[0] = r0, ai[0] = i0;
  } else {
    float t0r = ar[0] + ar[2], t0i = ai[0] + ai[2];
    float t1r = ar[0] - ar[2], t1i = ai[0] - ai[2];
    float t2r = ar[1] + ar[3], t2i = ai[1] + ai[3];
    float t3r = ar[1] - ar[3], t3i = ai[1] - ai[3];
    ar[0] = t0r + t2r, ai[0] = t0i + t2i;
    ar[2] = t0r - t2r, ai[2] = t0i - t2i;
    ar[1] = t1r + t3i, ai[1] = t1i - t3r;
    ar[3] = t1r - t3i, ai[3] = t1i + t3r;
  }
}

// Odd radix p: pairs (q, p - q) give sums and differences; cs[v][q] = cos(2 pi q v / p),
// sn[v][q] = sin(2 pi q v / p).
template <int PC>
inline void bfly_odd(int p, float* ar, float* ai, const float (*cs)[kHalf],
                     const float (*sn)[kHalf]) {
  const int P = PC ? PC : p;
  const int h = P / 2;
  float sr[kMaxRadix / 2 + 1], si[kMaxRadix / 2 + 1], dr[kMaxRadix / 2 + 1], di[kMaxRadix / 2 + 1];
  float b0r = ar[0], b0i = ai[0];
  for (int q = 1; q <= h; ++q) {
    sr[q] = ar[q] + ar[P - q], si[q] = ai[q] + ai[P - q];
    dr[q] = ar[q] - ar[P - q], di[q] = ai[q] - ai[P - q];
    b0r += sr[q], b0i += si[q];
  }
  float outr[kMaxRadix], outi[kMaxRadix];
  for (int v = 1; v <= h; ++v) {
    float Ar = ar[0], Ai = ai[0], Br = 0.f, Bi = 0.f;
    for (int q = 1; q <= h; ++q) {
      Ar += sr[q] * cs[v][q], Ai += si[q] * cs[v][q];
      Br += dr[q] * sn[v][q], Bi += di[q] * sn[v][q];
    }
    outr[v] = Ar + Bi, outi[v] = Ai - Br;
    outr[P - v] = Ar - Bi, outi[P - v] = Ai + Br;
  }
  ar[0] = b0r, ai[0] = b0i;
  for (int v = 1; v < P; ++v) ar[v] = outr[v], ai[v] = outi[v];
}

// One Stockham stage: input element (j, q, k) at j*p*r + q*r + k, output element (j, v, k)
// at (j + L*v)*r + k.
template <int PC>
void stage(const Stage& s, const float* xr, const float* xi, float* yr, float* yi, int j0, int j1,
           int k0, int k1) {
  const int p = PC ? PC : s.p;
  const int L = s.L, r = s.r;
  float cs[kHalf][kHalf], sn[kHalf][kHalf];
  if (p % 2 == 1)
    for (int v = 0; v <= p / 2; ++v)
      for (int q = 0; q <= p / 2; ++q)
        cs[v][q] = s.cs[v * (p / 2 + 1) + q], sn[v][q] = s.sn[v * (p / 2 + 1) + q];
  auto body = [&](int j, int k, const float* tr, const float* ti) {
    float ar[kMaxRadix], ai[kMaxRadix];
    const int64_t in = (int64_t)j * p * r + k;
    ar[0] = xr[in], ai[0] = xi[in];
    for (int q = 1; q < p; ++q) {
      float vr = xr[in + (int64_t)q * r], vi = xi[in + (int64_t)q * r];
      ar[q] = vr * tr[q] - vi * ti[q];
      ai[q] = vr * ti[q] + vi * tr[q];
    }
    if constexpr (PC == 2 || PC == 4)
      bfly_pow2<PC>(ar, ai);
    else
      bfly_odd<PC>(p, ar, ai, cs, sn);
    const int64_t out = (int64_t)j * r + k;
    for (int v = 0; v < p; ++v) {
      yr[out + (int64_t)v * L * r] = ar[v];
      yi[out + (int64_t)v * L * r] = ai[v];
    }
  };
  if (r >= 8 || L == 1) {
    for (int j = j0; j < j1; ++j) {
      float tr[kMaxRadix], ti[kMaxRadix];
      tr[0] = 1.f, ti[0] = 0.f;
      for (int q = 1; q < p; ++q) tr[q] = s.twr[(size_t)(q - 1) * L + j], ti[q] = s.twi[(size_t)(q - 1) * L + j];
#pragma GCC ivdep
      for (int k = k0; k < k1; ++k) body(j, k, tr, ti);
    }
  } else {
    // Short runs: sweep the twiddle index instead.
    for (int k = k0; k < k1; ++k)
#pragma GCC ivdep
      for (int j = j0; j < j1; ++j) {
        float tr[kMaxRadix], ti[kMaxRadix];
        tr[0] = 1.f, ti[0] = 0.f;
        for (int q = 1; q < p; ++q)
          tr[q] = s.twr[(size_t)(q - 1) * L + j], ti[q] = s.twi[(size_t)(q - 1) * L + j];
        body(j, k, tr, ti);
      }
  }
}

void stage_range(const Stage& s, const float* xr, const float* xi, float* yr, float* yi, int j0,
                 int j1, int k0, int k1) {
  switch (s.p) {
    case 2: return stage<2>(s, xr, xi, yr, yi, j0, j1, k0, k1);
    case 3: return stage<3>(s, xr, xi, yr, yi, j0, j1, k0, k1);
    case 4: return stage<4>(s, xr, xi, yr, yi, j0, j1, k0, k1);
    case 5: return stage<5>(s, xr, xi, yr, yi, j0, j1, k0, k1);
    case 7: return stage<7>(s, xr, xi, yr, yi, j0, j1, k0, k1);
    case 11: return stage<11>(s, xr, xi, yr, yi, j0, j1, k0, k1);
    case 13: return stage<13>(s, xr, xi, yr, yi, j0, j1, k0, k1);
    default: return stage<0>(s, xr, xi, yr, yi, j0, j1, k0, k1);
  }
}

// A stage on the pool (for one long transform): split over the twiddle index when there
// are many, over the contiguous runs otherwise.
constexpr int64_t kParallelFFT = 1 << 15;

void run_stage(const Stage& s, const float* xr, const float* xi, float* yr, float* yi, bool par) {
  const int64_t work = (int64_t)s.L * s.r * s.p;
  if (!par || work < kParallelFFT || num_threads() < 2)
    return stage_range(s, xr, xi, yr, yi, 0, s.L, 0, s.r);
  const int64_t chunk = 1 << 14;
  if (s.L >= 64) {
    size_t grain = (size_t)std::max<int64_t>(1, chunk / ((int64_t)s.r * s.p));
    parallel_for((size_t)s.L, grain, [&](size_t b, size_t e) {
      stage_range(s, xr, xi, yr, yi, (int)b, (int)e, 0, s.r);
    });
  } else {
    size_t grain = (size_t)std::max<int64_t>(8, chunk / ((int64_t)s.L * s.p));
    parallel_for((size_t)s.r, grain, [&](size_t b, size_t e) {
      stage_range(s, xr, xi, yr, yi, 0, s.L, (int)b, (int)e);
    });
  }
}

// The forward transform of (re, im) in place; `scratch` holds plan.scratch() floats.
void run(const Plan& p, float* re, float* im, float* scratch, bool par) {
  const int n = p.n;
  if (p.bluestein) {
    const int m = p.m;
    float* ar = scratch;
    float* ai = scratch + m;
    float* sub = scratch + 2 * (size_t)m;
    for (int k = 0; k < n; ++k) {
      ar[k] = re[k] * p.chr[k] - im[k] * p.chi[k];
      ai[k] = re[k] * p.chi[k] + im[k] * p.chr[k];
    }
    std::memset(ar + n, 0, sizeof(float) * (m - n));
    std::memset(ai + n, 0, sizeof(float) * (m - n));
    run(*p.sub, ar, ai, sub, par);
    // Multiply by the filter and conjugate, so that the next forward pass is an inverse.
    for (int k = 0; k < m; ++k) {
      float xr = ar[k], xi = ai[k];
      ar[k] = xr * p.fbr[k] - xi * p.fbi[k];
      ai[k] = -(xr * p.fbi[k] + xi * p.fbr[k]);
    }
    run(*p.sub, ar, ai, sub, par);
    for (int k = 0; k < n; ++k) {
      float xr = ar[k], xi = -ai[k];
      re[k] = xr * p.chr[k] - xi * p.chi[k];
      im[k] = xr * p.chi[k] + xi * p.chr[k];
    }
    return;
  }
  float *ar = re, *ai = im, *br = scratch, *bi = scratch + n;
  for (const Stage& s : p.stages) {
    run_stage(s, ar, ai, br, bi, par);
    std::swap(ar, br), std::swap(ai, bi);
  }
  if (ar != re) {
    std::memcpy(re, ar, sizeof(float) * n);
    std::memcpy(im, ai, sizeof(float) * n);
  }
}

// ---------- several lines at once
//
// kLanes lines of one length transformed together, element k of line i at [k * kLanes + i]:
// every operand of a butterfly is kLanes values, one SIMD vector, so the loops vectorise
// whatever a stage's run length (the short runs of the first stages included).
constexpr int kLanes = 8;

// Eight floats as one value (GCC/Clang vector extension): one AVX register, or two SSE ones.
// (These helpers are internal and inlined: GCC's note that passing such values changes the
// ABI without AVX does not apply.)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
typedef float f8 __attribute__((vector_size(32)));
typedef float f8u __attribute__((vector_size(32), aligned(4)));  // unaligned access
inline f8 ld(const float* p) { return *reinterpret_cast<const f8u*>(p); }
inline void st(float* p, const f8& v) { *reinterpret_cast<f8u*>(p) = v; }

template <int PC>
void stage_lanes(const Stage& s, const float* xr, const float* xi, float* yr, float* yi) {
  static_assert(kLanes == 8, "one f8 per element");
  constexpr int G = kLanes;
  const int p = PC ? PC : s.p;
  const int L = s.L, r = s.r, h = p / 2;
  const int64_t ostep = (int64_t)L * r * G;  // between the outputs of one butterfly
  float cs[kHalf][kHalf], sn[kHalf][kHalf];
  if (p % 2 == 1)
    for (int v = 0; v <= h; ++v)
      for (int q = 0; q <= h; ++q)
        cs[v][q] = s.cs[v * (h + 1) + q], sn[v][q] = s.sn[v * (h + 1) + q];
  for (int j = 0; j < L; ++j) {
    float tr[kMaxRadix], ti[kMaxRadix];
    for (int q = 1; q < p; ++q)
      tr[q] = s.twr[(size_t)(q - 1) * L + j], ti[q] = s.twi[(size_t)(q - 1) * L + j];
    for (int k = 0; k < r; ++k) {
      const int64_t in = ((int64_t)j * p * r + k) * G, out = ((int64_t)j * r + k) * G;
      f8 ar[kMaxRadix], ai[kMaxRadix];
      ar[0] = ld(xr + in), ai[0] = ld(xi + in);
      for (int q = 1; q < p; ++q) {
        f8 vr = ld(xr + in + (int64_t)q * r * G), vi = ld(xi + in + (int64_t)q * r * G);
        if (j == 0) {
          ar[q] = vr, ai[q] = vi;
        } else {
          ar[q] = vr * tr[q] - vi * ti[q];
          ai[q] = vr * ti[q] + vi * tr[q];
        }
      }
      if constexpr (PC == 2) {
        st(yr + out, ar[0] + ar[1]), st(yi + out, ai[0] + ai[1]);
        st(yr + out + ostep, ar[0] - ar[1]), st(yi + out + ostep, ai[0] - ai[1]);
      } else if constexpr (PC == 4) {
        f8 t0r = ar[0] + ar[2], t0i = ai[0] + ai[2];
        f8 t1r = ar[0] - ar[2], t1i = ai[0] - ai[2];
        f8 t2r = ar[1] + ar[3], t2i = ai[1] + ai[3];
        f8 t3r = ar[1] - ar[3], t3i = ai[1] - ai[3];
        st(yr + out, t0r + t2r), st(yi + out, t0i + t2i);
        st(yr + out + 2 * ostep, t0r - t2r), st(yi + out + 2 * ostep, t0i - t2i);
        st(yr + out + ostep, t1r + t3i), st(yi + out + ostep, t1i - t3r);
        st(yr + out + 3 * ostep, t1r - t3i), st(yi + out + 3 * ostep, t1i + t3r);
      } else {
        // odd radix, as bfly_odd
        f8 sr[kHalf], si[kHalf], dr[kHalf], di[kHalf];
        f8 b0r = ar[0], b0i = ai[0];
        for (int q = 1; q <= h; ++q) {
          sr[q] = ar[q] + ar[p - q], si[q] = ai[q] + ai[p - q];
          dr[q] = ar[q] - ar[p - q], di[q] = ai[q] - ai[p - q];
          b0r += sr[q], b0i += si[q];
        }
        for (int v = 1; v <= h; ++v) {
          f8 Ar = ar[0], Ai = ai[0], Br = {}, Bi = {};
          for (int q = 1; q <= h; ++q) {
            Ar += sr[q] * cs[v][q], Ai += si[q] * cs[v][q];
            Br += dr[q] * sn[v][q], Bi += di[q] * sn[v][q];
          }
          st(yr + out + v * ostep, Ar + Bi), st(yi + out + v * ostep, Ai - Br);
          st(yr + out + (p - v) * ostep, Ar - Bi), st(yi + out + (p - v) * ostep, Ai + Br);
        }
        st(yr + out, b0r), st(yi + out, b0i);
      }
    }
  }
}

// The forward transforms of kLanes lines in place (re, im: n * kLanes floats each, laid out
// as above); `scratch` holds 2 * n * kLanes floats. Not for Bluestein plans.
void run_lanes(const Plan& p, float* re, float* im, float* scratch) {
  const size_t len = (size_t)p.n * kLanes;
  float *ar = re, *ai = im, *br = scratch, *bi = scratch + len;
  for (const Stage& s : p.stages) {
    switch (s.p) {
      case 2: stage_lanes<2>(s, ar, ai, br, bi); break;
      case 3: stage_lanes<3>(s, ar, ai, br, bi); break;
      case 4: stage_lanes<4>(s, ar, ai, br, bi); break;
      case 5: stage_lanes<5>(s, ar, ai, br, bi); break;
      case 7: stage_lanes<7>(s, ar, ai, br, bi); break;
      default: stage_lanes<0>(s, ar, ai, br, bi); break;
    }
    std::swap(ar, br), std::swap(ai, bi);
  }
  if (ar != re) {
    std::memcpy(re, ar, sizeof(float) * len);
    std::memcpy(im, ai, sizeof(float) * len);
  }
}

// ---------- real transforms of even length: twiddles exp(-2 pi i k / n), k <= n/2

struct RealTwiddles {
  std::vector<float> wr, wi;
};

std::shared_ptr<const RealTwiddles> get_real_twiddles(int n) {
  static std::mutex mu;
  static std::unordered_map<int, std::shared_ptr<const RealTwiddles>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[n];
  if (!slot) {
    auto t = std::make_shared<RealTwiddles>();
    t->wr.resize(n / 2 + 1), t->wi.resize(n / 2 + 1);
    for (int k = 0; k <= n / 2; ++k) {
      double a = -2.0 * M_PI * k / n;
      t->wr[k] = (float)std::cos(a), t->wi[k] = (float)std::sin(a);
    }
    slot = t;
  }
  return slot;
}

// Per-thread scratch.
float* thread_scratch(size_t floats) {
  thread_local std::vector<float> buf;
  if (buf.size() < floats) buf.resize(floats);
  return buf.data();
}

// ---------- line drivers

// Offsets (in elements) of the first element of every line along `axis`.
struct Lines {
  Shape shape;  // the other dimensions
  Strides a, b;
  int64_t count = 1;
  Lines(const Shape& sh, const Strides& sa, const Strides& sb, int axis) {
    for (int d = 0; d < (int)sh.size(); ++d)
      if (d != axis) shape.push_back(sh[d]), a.push_back(sa[d]), b.push_back(sb[d]), count *= sh[d];
  }
  void offsets(int64_t line, int64_t& oa, int64_t& ob) const {
    oa = 0, ob = 0;
    for (int d = (int)shape.size() - 1; d >= 0; --d) {
      int64_t i = line % shape[d];
      line /= shape[d];
      oa += i * a[d], ob += i * b[d];
    }
  }
};

size_t line_grain(int n) { return std::max<size_t>(1, kParallelGrain / std::max(n, 1)); }

// Whether a pass runs its lines kLanes at a time: several lines of a length with a
// Stockham plan, not one long transform spread over the pool.
bool use_lanes(const Plan& plan, const Lines& lines, bool par) {
  return !plan.bluestein && !par && lines.count > 1;
}

// Groups of kLanes lines over the pool: fn(source offsets, destination offsets, count, re,
// im) with re and im n * kLanes floats each (lanes past the count zeroed) and 2 * n * kLanes
// floats of scratch after im. `line_len` (elements a line reads) sets the grain.
template <typename Fn>
void lane_groups(const Lines& lines, int n, int line_len, Fn fn) {
  constexpr int64_t G = kLanes;
  const int64_t groups = (lines.count + G - 1) / G;
  const size_t len = (size_t)n * G;
  parallel_for((size_t)groups, std::max<size_t>(1, line_grain(line_len) / G), [&](size_t b, size_t e) {
    float* re = thread_scratch(4 * len);
    int64_t os[G], od[G];
    for (size_t g = b; g < e; ++g) {
      const int64_t l0 = (int64_t)g * G, cnt = std::min<int64_t>(G, lines.count - l0);
      for (int64_t i = 0; i < cnt; ++i) lines.offsets(l0 + i, os[i], od[i]);
      if (cnt < G) std::memset(re, 0, sizeof(float) * 2 * len);
      fn(os, od, cnt, re, re + len);
    }
  });
}

// Complex transforms along `axis`: src has shape `shape` and strides `ss`, dst `ds`
// (src == dst is allowed: each line is read whole before it is written).
void complex_pass(const complex64_t* src, const Strides& ss, complex64_t* dst, const Strides& ds,
                  const Shape& shape, int axis, bool inverse) {
  const int n = shape[axis];
  auto plan = get_plan(n);
  Lines lines(shape, ss, ds, axis);
  const int64_t sa = ss[axis], da = ds[axis];
  const float sign = inverse ? -1.f : 1.f;
  // Lines along a strided axis go in groups of neighbours, so that each step along the
  // axis reads and writes a run of adjacent elements rather than one per cache line.
  const bool par = n >= kParallelFFT && lines.count < num_threads();
  if (use_lanes(*plan, lines, par)) {
    // kLanes lines at a time, interleaved (run_lanes)
    lane_groups(lines, n, n, [&](const int64_t* os, const int64_t* od, int64_t cnt, float* bre, float* bim) {
      constexpr int64_t G = kLanes;
      const float* in = reinterpret_cast<const float*>(src);
      // Lines along a contiguous axis are read one by one (each a single stream); along a
      // strided axis a step reads the neighbouring lines' elements together.
      if (sa == 1) {
        for (int64_t i = 0; i < cnt; ++i) {
          const float* q = in + 2 * os[i];
          for (int k = 0; k < n; ++k) bre[k * G + i] = q[2 * k], bim[k * G + i] = sign * q[2 * k + 1];
        }
      } else {
        for (int k = 0; k < n; ++k)
          for (int64_t i = 0; i < cnt; ++i) {
            const float* q = in + 2 * (os[i] + k * sa);
            bre[k * G + i] = q[0], bim[k * G + i] = sign * q[1];
          }
      }
      run_lanes(*plan, bre, bim, bim + (size_t)n * G);
      float* out = reinterpret_cast<float*>(dst);
      if (da == 1) {
        for (int64_t i = 0; i < cnt; ++i) {
          float* q = out + 2 * od[i];
          for (int k = 0; k < n; ++k) q[2 * k] = bre[k * G + i], q[2 * k + 1] = sign * bim[k * G + i];
        }
      } else {
        for (int k = 0; k < n; ++k)
          for (int64_t i = 0; i < cnt; ++i) {
            float* q = out + 2 * (od[i] + k * da);
            q[0] = bre[k * G + i], q[1] = sign * bim[k * G + i];
          }
      }
    });
    return;
  }
  const int64_t G = sa == 1 && da == 1 ? 1 : 8;
  const int64_t groups = (lines.count + G - 1) / G;
  auto work = [&](size_t b, size_t e) {
    float* buf = thread_scratch(2 * (size_t)n * G + plan->scratch());
    float* scr = buf + 2 * (size_t)n * G;
    int64_t os[8], od[8];
    for (size_t g = b; g < e; ++g) {
      const int64_t l0 = (int64_t)g * G, cnt = std::min<int64_t>(G, lines.count - l0);
      for (int64_t i = 0; i < cnt; ++i) lines.offsets(l0 + i, os[i], od[i]);
      const float* in = reinterpret_cast<const float*>(src);
      for (int k = 0; k < n; ++k)
        for (int64_t i = 0; i < cnt; ++i) {
          const float* p = in + 2 * (os[i] + k * sa);
          buf[2 * i * n + k] = p[0], buf[(2 * i + 1) * n + k] = sign * p[1];
        }
      for (int64_t i = 0; i < cnt; ++i) run(*plan, buf + 2 * i * n, buf + (2 * i + 1) * n, scr, par);
      float* out = reinterpret_cast<float*>(dst);
      for (int k = 0; k < n; ++k)
        for (int64_t i = 0; i < cnt; ++i) {
          float* p = out + 2 * (od[i] + k * da);
          p[0] = buf[2 * i * n + k], p[1] = sign * buf[(2 * i + 1) * n + k];
        }
    }
  };
  if (par)
    work(0, (size_t)groups);
  else
    parallel_for((size_t)groups, std::max<size_t>(1, line_grain(n) / G), work);
}

// Real forward transforms along `axis` (n real samples -> n/2 + 1 complex).
void real_forward_pass(const float* src, const Strides& ss, complex64_t* dst, const Strides& ds,
                       const Shape& in_shape, int axis) {
  const int n = in_shape[axis];
  const bool even = n % 2 == 0;
  const int len = even ? n / 2 : n;
  auto plan = get_plan(len);
  auto tw = even ? get_real_twiddles(n) : nullptr;
  Lines lines(in_shape, ss, ds, axis);
  const int64_t sa = ss[axis], da = ds[axis];
  const bool par = n >= kParallelFFT && lines.count < num_threads();
  if (even && use_lanes(*plan, lines, par)) {
    const int h = len;
    const float* wr = tw->wr.data();
    const float* wi = tw->wi.data();
    lane_groups(lines, h, 2 * h, [&](const int64_t* os, const int64_t* od, int64_t cnt, float* re, float* im) {
      constexpr int G = kLanes;
      for (int64_t i = 0; i < cnt; ++i) {
        const float* in = src + os[i];
        for (int k = 0; k < h; ++k) re[k * G + i] = in[2 * k * sa], im[k * G + i] = in[(2 * k + 1) * sa];
      }
      run_lanes(*plan, re, im, im + (size_t)h * G);
      float* outs[G];
      for (int64_t i = 0; i < cnt; ++i) outs[i] = reinterpret_cast<float*>(dst + od[i]);
      for (int k = 0; k <= h; ++k) {  // all lanes at once, then each lane's value to its line
        int kk = k == h ? 0 : k, kc = k == 0 ? 0 : h - k;
        f8 zr = ld(re + (size_t)kk * G), zi = ld(im + (size_t)kk * G);
        f8 cr = ld(re + (size_t)kc * G), ci = -ld(im + (size_t)kc * G);
        f8 er = 0.5f * (zr + cr), ei = 0.5f * (zi + ci);
        f8 or_ = 0.5f * (zi - ci), oi = -0.5f * (zr - cr);
        f8 yr = er + wr[k] * or_ - wi[k] * oi, yi = ei + wr[k] * oi + wi[k] * or_;
        for (int64_t i = 0; i < cnt; ++i) outs[i][2 * k * da] = yr[i], outs[i][2 * k * da + 1] = yi[i];
      }
    });
    return;
  }
  auto work = [&](size_t b, size_t e) {
    float* re = thread_scratch(2 * (size_t)len + plan->scratch());
    float* im = re + len;
    float* scr = im + len;
    for (size_t l = b; l < e; ++l) {
      int64_t os, od;
      lines.offsets((int64_t)l, os, od);
      const float* in = src + os;
      float* out = reinterpret_cast<float*>(dst + od);
      if (!even) {
        for (int k = 0; k < n; ++k) re[k] = in[k * sa], im[k] = 0.f;
        run(*plan, re, im, scr, par);
        for (int k = 0; k <= n / 2; ++k) out[2 * k * da] = re[k], out[2 * k * da + 1] = im[k];
        continue;
      }
      const int h = len;
      for (int k = 0; k < h; ++k) re[k] = in[2 * k * sa], im[k] = in[(2 * k + 1) * sa];
      run(*plan, re, im, scr, par);
      const float* wr = tw->wr.data();
      const float* wi = tw->wi.data();
      for (int k = 0; k <= h; ++k) {
        int kk = k == h ? 0 : k, kc = k == 0 ? 0 : h - k;
        float zr = re[kk], zi = im[kk], cr = re[kc], ci = -im[kc];  // Z_k and conj(Z_{h-k})
        float er = 0.5f * (zr + cr), ei = 0.5f * (zi + ci);
        // O_k = (Z_k - conj Z_{h-k}) / (2i)
        float dr = zr - cr, di = zi - ci;
        float or_ = 0.5f * di, oi = -0.5f * dr;
        out[2 * k * da] = er + wr[k] * or_ - wi[k] * oi;
        out[2 * k * da + 1] = ei + wr[k] * oi + wi[k] * or_;
      }
    }
  };
  if (par)
    work(0, (size_t)lines.count);
  else
    parallel_for((size_t)lines.count, line_grain(n), work);
}

// Real inverse transforms along `axis` (n/2 + 1 complex -> n real; the imaginary parts of
// the zero and Nyquist frequencies are ignored). `in_shape` has n/2 + 1 along the axis.
void real_inverse_pass(const complex64_t* src, const Strides& ss, float* dst, const Strides& ds,
                       const Shape& in_shape, int axis, int n) {
  const bool even = n % 2 == 0;
  const int len = even ? n / 2 : n;
  auto plan = get_plan(len);
  auto tw = even ? get_real_twiddles(n) : nullptr;
  Lines lines(in_shape, ss, ds, axis);
  const int64_t sa = ss[axis], da = ds[axis];
  const bool par = n >= kParallelFFT && lines.count < num_threads();
  if (even && use_lanes(*plan, lines, par)) {
    const int h = len;
    const float* wr = tw->wr.data();
    const float* wi = tw->wi.data();
    lane_groups(lines, h, 2 * h, [&](const int64_t* os, const int64_t* od, int64_t cnt, float* re, float* im) {
      constexpr int G = kLanes;
      const float* ins[G];
      for (int64_t i = 0; i < G; ++i)  // lanes past the count read line 0 (their results are dropped)
        ins[i] = reinterpret_cast<const float*>(src + os[i < cnt ? i : 0]);
      for (int k = 0; k < h; ++k) {  // as the one-line path below, all lanes at once
        const int kc = h - k;
        f8 xr, xi, cr, ci;
        for (int i = 0; i < G; ++i) {
          xr[i] = ins[i][2 * k * sa], xi[i] = ins[i][2 * k * sa + 1];
          cr[i] = ins[i][2 * kc * sa], ci[i] = -ins[i][2 * kc * sa + 1];
        }
        if (k == 0) xi = f8{}, ci = f8{};
        f8 sr = xr + cr, si = xi + ci, dr = xr - cr, di = xi - ci;
        f8 tr = wr[k] * dr + wi[k] * di, ti = wr[k] * di - wi[k] * dr;
        st(re + (size_t)k * G, sr - ti);
        st(im + (size_t)k * G, -(si + tr));
      }
      run_lanes(*plan, re, im, im + (size_t)h * G);
      for (int64_t i = 0; i < cnt; ++i) {
        float* out = dst + od[i];
        for (int k = 0; k < h; ++k) out[2 * k * da] = re[k * G + i], out[(2 * k + 1) * da] = -im[k * G + i];
      }
    });
    return;
  }
  auto work = [&](size_t b, size_t e) {
    float* re = thread_scratch(2 * (size_t)len + plan->scratch());
    float* im = re + len;
    float* scr = im + len;
    for (size_t l = b; l < e; ++l) {
      int64_t os, od;
      lines.offsets((int64_t)l, os, od);
      const float* in = reinterpret_cast<const float*>(src + os);
      float* out = dst + od;
      if (!even) {
        // The whole Hermitian spectrum, conjugated (for an inverse through the forward plan).
        re[0] = in[0], im[0] = 0.f;
        for (int k = 1; k <= n / 2; ++k) {
          float xr = in[2 * k * sa], xi = in[2 * k * sa + 1];
          re[k] = xr, im[k] = -xi;
          re[n - k] = xr, im[n - k] = xi;
        }
        run(*plan, re, im, scr, par);
        for (int k = 0; k < n; ++k) out[k * da] = re[k];
        continue;
      }
      const int h = len;
      const float* wr = tw->wr.data();
      const float* wi = tw->wi.data();
      for (int k = 0; k < h; ++k) {
        int kc = h - k;
        float xr = in[2 * k * sa], xi = k == 0 ? 0.f : in[2 * k * sa + 1];
        float cr = in[2 * kc * sa], ci = kc == h ? 0.f : -in[2 * kc * sa + 1];
        if (k == 0) ci = 0.f;
        float sr = xr + cr, si = xi + ci, dr = xr - cr, di = xi - ci;
        // Z_k = s + i conj(w_k) d, conjugated for the inverse through the forward plan.
        float tr = wr[k] * dr + wi[k] * di, ti = wr[k] * di - wi[k] * dr;  // conj(w) * d
        re[k] = sr - ti;
        im[k] = -(si + tr);
      }
      run(*plan, re, im, scr, par);
      for (int k = 0; k < h; ++k) out[2 * k * da] = re[k], out[(2 * k + 1) * da] = -im[k];
    }
  };
  if (par)
    work(0, (size_t)lines.count);
  else
    parallel_for((size_t)lines.count, line_grain(n), work);
}

}  // namespace

void FFT::eval_cpu(const std::vector<array>& inputs, array& out) {
  const array& in = inputs[0];
  cpu::alloc_out(out);
  if (out.size() == 0) return;
  const Strides ost = out.strides();
  if (!real_) {
    const complex64_t* src = in.data<complex64_t>();
    Strides sst = in.strides();
    for (int ax : axes_) {
      complex_pass(src, sst, out.data<complex64_t>(), ost, out.shape(), ax, inverse_);
      src = out.data<complex64_t>(), sst = ost;
    }
    return;
  }
  const int last = axes_.back();
  if (!inverse_) {
    real_forward_pass(in.data<float>(), in.strides(), out.data<complex64_t>(), ost, in.shape(), last);
    for (size_t i = 0; i + 1 < axes_.size(); ++i)
      complex_pass(out.data<complex64_t>(), ost, out.data<complex64_t>(), ost, out.shape(), axes_[i],
                   false);
    return;
  }
  if (in.shape(last) != out.shape(last) / 2 + 1)
    throw std::invalid_argument("[irfft] The input's real axis does not hold n / 2 + 1 frequencies.");
  const complex64_t* src = in.data<complex64_t>();
  Strides sst = in.strides();
  std::shared_ptr<Data> tmp;
  if (axes_.size() > 1) {
    tmp = cpu::alloc_bytes(in.size() * sizeof(complex64_t));
    complex64_t* t = static_cast<complex64_t*>(tmp->ptr);
    Strides tst = row_strides(in.shape());
    for (size_t i = 0; i + 1 < axes_.size(); ++i) {
      complex_pass(src, sst, t, tst, in.shape(), axes_[i], true);
      src = t, sst = tst;
    }
  }
  real_inverse_pass(src, sst, out.data<float>(), ost, in.shape(), last, out.shape()[last]);
}

}  // namespace ember
