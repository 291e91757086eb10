// Scalar float32 approximations of exp, expm1, log, sin and cos, branch-free so that
// loops over them vectorise. Shared by the hand-written kernels and by generated
// (compiled) kernels, which receive this text verbatim: it has no includes of its own,
// expects <cmath>, <cstdint>, <cstring> and <type_traits>, and follows ember/half_impl.h.

// Bit casts, on those of half_impl.h (which always comes first).
inline float as_float(int32_t i) { return em_bits_f32((uint32_t)i); }
inline int32_t as_int(float f) { return (int32_t)em_f32_bits(f); }

// Round to nearest integer (valid for |x| < 2^51), vectorisable everywhere.
inline double rint_(double x) { return (x + 6755399441055744.0) - 6755399441055744.0; }

// 2^k as a float for an integer k in [-126, 127], built from its bits.
inline float pow2k(int32_t k) { return as_float((int32_t)(((uint32_t)k + 127u) << 23)); }

// (e^r - 1 - r) / r^2 for |r| <= ln2/2: near-minimax fits of degree 5 (under
// 0.2 ulp in e^r) and of degree 4 (under 0.5 ulp, for callers that round more
// coarsely anyway).
inline float expm1_q5(float r) {
  float p = 0.00019890980869750327f;
  p = p * r + 0.0013933641031986701f;
  p = p * r + 0.008333310934448869f;
  p = p * r + 0.04166646500604005f;
  p = p * r + 0.16666666681614256f;
  return p * r + 0.5000000013457727f;
}
inline float expm1_q4(float r) {
  float p = 0.001392617611993558f;
  p = p * r + 0.008363173074513711f;
  p = p * r + 0.041666554662050534f;
  p = p * r + 0.1666657702559799f;
  return p * r + 0.5f;
}

constexpr float kLn2Hi = 0.693145751953125f;
constexpr float kLn2Lo = 1.428606765330187e-06f;
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23

// Splits x = n ln2 + r with |r| <= ln2/2 (for |x| < 2^21); returns r and the
// integer n, read from the bits of the rounded sum instead of converting.
inline float exp_reduce(float x, int32_t& n) {
  float t = x * kLog2e + kRoundMagic;
  float nf = t - kRoundMagic;
  n = (int32_t)((uint32_t)as_int(t) - (uint32_t)as_int(kRoundMagic));
  float r = x - nf * kLn2Hi;
  return r - nf * kLn2Lo;
}

inline float exp1(float x) {
  int32_t n;
  float r = exp_reduce(x, n);  // out-of-range lanes are replaced below
  float p = (expm1_q5(r) * r) * r + r + 1.0f;
  // 2^n in two factors so that results in the subnormal range round once.
  int32_t m = n > -125 ? n : -125;
  float y = as_float((int32_t)((uint32_t)as_int(p) + ((uint32_t)m << 23))) *
            pow2k((int32_t)((uint32_t)n - (uint32_t)m));
  y = x >= 88.72283935546875f ? INFINITY : y;
  y = x < -104.0f ? 0.0f : y;
  return x != x ? x : y;
}

// e^x - 1 = 2 (2^(n-1) (e^r - 1) + 2^(n-1) - 1/2), exact in its last steps.
inline float expm1_1(float x) {
  int32_t n;
  float r = exp_reduce(x, n);
  float q = (expm1_q5(r) * r) * r + r;
  float h = pow2k((int32_t)((uint32_t)n - 1u));
  float y = 2.0f * (h * q + (h - 0.5f));
  y = x >= 88.72283935546875f ? INFINITY : y;
  y = x < -30.0f ? -1.0f : y;
  y = std::fabs(x) < 5.9604645e-08f ? x : y;  // expm1(x) rounds to x below 2^-24
  return x != x ? x : y;
}

// Natural log: x = m * 2^e with m in [sqrt(1/2), sqrt(2)), log(m) = 2 atanh(s).
inline float log1(float x) {
  bool sub = x < 1.17549435e-38f;
  float xs = sub ? x * 8388608.0f : x;  // scale subnormals by 2^23
  int32_t ix = as_int(xs);
  int32_t e = ((ix >> 23) & 0xff) - 127;
  float m = as_float((ix & 0x007fffff) | 0x3f800000);  // [1, 2)
  bool big = m > 1.41421356f;
  m = big ? m * 0.5f : m;
  float ef = (float)(e + (big ? 1 : 0)) - (sub ? 23.0f : 0.0f);
  float f = m - 1.0f;
  float s = f / (2.0f + f);
  float z = s * s;
  float p = 1.0f / 11.0f;
  p = p * z + 1.0f / 9.0f;
  p = p * z + 1.0f / 7.0f;
  p = p * z + 1.0f / 5.0f;
  p = p * z + 1.0f / 3.0f;
  float lm = 2.0f * s + 2.0f * s * z * p;
  float y = ef * kLn2Hi + (lm + ef * kLn2Lo);
  y = x == 0.0f ? -INFINITY : y;
  y = x < 0.0f ? NAN : y;
  y = x == INFINITY ? INFINITY : y;
  return x != x ? x : y;
}

constexpr double kTwoOverPi = 0.63661977236758134308;
constexpr double kPiOver2Hi = 1.5707963267341256;
constexpr double kPiOver2Lo = 6.077100506506192e-11;

inline float sin_poly(float r, float z) {
  float p = -1.0f / 39916800.0f;
  p = p * z + 1.0f / 362880.0f;
  p = p * z - 1.0f / 5040.0f;
  p = p * z + 1.0f / 120.0f;
  p = p * z - 1.0f / 6.0f;
  return r + r * z * p;
}
inline float cos_poly(float z) {
  float p = 1.0f / 479001600.0f;
  p = p * z - 1.0f / 3628800.0f;
  p = p * z + 1.0f / 40320.0f;
  p = p * z - 1.0f / 720.0f;
  p = p * z + 1.0f / 24.0f;
  p = p * z - 0.5f;
  return 1.0f + z * p;
}

// Quadrant and remainder, reduced in double.
inline float reduce(float x, int32_t& q) {
  double xd = x;
  xd = xd > 1.0e9 ? 0.0 : (xd < -1.0e9 ? 0.0 : xd);  // huge inputs take the scalar path
  double j = rint_(xd * kTwoOverPi);
  double r = (xd - j * kPiOver2Hi) - j * kPiOver2Lo;
  q = (int32_t)j;
  return (float)r;
}

// sin(x + shift * pi/2): shift 0 gives sin, 1 gives cos.
inline float sin_shifted(float x, int32_t shift) {
  int32_t q;
  float r = reduce(x, q);
  q += shift;
  float z = r * r;
  float s = sin_poly(r, z), c = cos_poly(z);
  float y = (q & 1) ? c : s;
  return (q & 2) ? -y : y;
}
inline float sin1(float x) { return sin_shifted(x, 0); }
inline float cos1(float x) { return sin_shifted(x, 1); }

constexpr float kTrigBig = 1.0e7f;


// tanh|x| = u / (u + 2) with u = e^(2|x|) - 1; |x| is capped at 9.5, where
// tanh rounds to 1, so that 2^n stays exact and no overflow handling is needed.
inline float em_tanh(float x) {
  float a = std::fabs(x);
  a = a > 9.5f ? 9.5f : a;
  int32_t n;
  float r = exp_reduce(a + a, n);
  float q = (expm1_q4(r) * r) * r + r;
  float p = pow2k(n);
  float u = p * q + (p - 1.0f);
  float y = u / (u + 2.0f);
  y = as_float(as_int(y) | (as_int(x) & (int32_t)0x80000000u));
  return x != x ? x : y;
}
// A cheaper tanh for generated kernels: x P(x^2) / Q(x^2), a rational fit of
// relative error 6e-8 on [0, 9] (tanh rounds to +-1 beyond), within 6 ulp after
// float rounding. Odd, so signs, zeros and NaN come out right without selects.
inline float em_tanh_fast(float x) {
  x = x > 9.0f ? 9.0f : x;
  x = x < -9.0f ? -9.0f : x;
  float z = x * x;
  float p = 1.8254701932463467e-11f;
  p = p * z - 1.2780224170032063e-08f;
  p = p * z + 9.267348116736581e-06f;
  p = p * z + 0.002920753853708498f;
  p = p * z + 0.12919221013846172f;
  p = p * z + 0.999999941142798f;
  float q = 0.0002280990963628842f;
  q = q * z + 0.02376313598108621f;
  q = q * z + 0.46252504861055327f;
  q = q * z + 1.0f;
  return (x * p) / q;
}

// 1 / (1 + e^-x), through e^-|x| so that large negative x keeps its tiny result.
inline float em_sigmoid(float x) {
  float e = exp1(-std::fabs(x));
  float d = 1.0f / (1.0f + e);
  return x < 0.0f ? e * d : d;
}
// log1p(x) = log(u) * x / (u - 1) with u = 1 + x, exact to a few ulp.
inline float em_log1p(float x) {
  float u = 1.0f + x;
  float c = (u == 1.0f) ? x : log1(u) * (x / (u - 1.0f));
  return (u == INFINITY) ? u : c;
}

// x^e for an integer e with |e| <= 4 that is the same for every element, so that
// the selects below are loop invariants: products of squares, then one division
// (exactly rounded for float inputs when F is double).
template <typename F>
inline F em_powi(F x, int e) {
  int a = e < 0 ? -e : e;
  F x2 = x * x;
  F p = (a & 1) ? x : F(1);
  p = (a & 2) ? p * x2 : p;
  p = (a & 4) ? p * (x2 * x2) : p;
  return e < 0 ? F(1) / p : p;
}
// x^0.5 (x^-0.5 when neg) with pow's special cases: pow(-0, 0.5) = +0 and pow(-inf, 0.5) = inf.
template <typename F>
inline F em_pow_half(F x, bool neg) {
  F r = std::sqrt(x) + F(0);
  r = x == -F(INFINITY) ? F(INFINITY) : r;
  return neg ? F(1) / r : r;
}
// The exponents handled by em_powi (1) and em_pow_half (2); 0 for others.
inline int em_pow_kind(double e) {
  if (e == 0.5 || e == -0.5) return 2;
  return (e == (double)(int)e && e >= -4.0 && e <= 4.0) ? 1 : 0;
}

// Max (Max = true) or min of n contiguous float or double values with vector types,
// because compilers do not vectorise a select-based reduction of floats. NaN is
// ignored in the result and reported through *nan.
template <typename F, bool Max>
F em_extremum(const F* x, int64_t n, bool* nan) {
  typedef F V __attribute__((vector_size(32)));
  typedef typename std::conditional<sizeof(F) == 4, int32_t, int64_t>::type I;
  typedef I M __attribute__((vector_size(32)));
  constexpr int W = 32 / sizeof(F);
  const F init = Max ? -F(INFINITY) : F(INFINITY);
  V acc[4];
  for (auto& a : acc) a = V{} + init;
  M bad = M{};
  int64_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W)
    for (int k = 0; k < 4; ++k) {
      V v;
      std::memcpy(&v, x + i + k * W, sizeof(V));
      M take = Max ? (v > acc[k]) : (v < acc[k]);
      acc[k] = (V)((take & (M)v) | (~take & (M)acc[k]));
      bad |= (v != v);
    }
  F r = init;
  bool any = false;
  for (int k = 0; k < 4; ++k)
    for (int l = 0; l < W; ++l) {
      r = (Max ? acc[k][l] > r : acc[k][l] < r) ? acc[k][l] : r;
      any |= bad[l] != 0;
    }
  for (; i < n; ++i) {
    r = (Max ? x[i] > r : x[i] < r) ? x[i] : r;
    any |= x[i] != x[i];
  }
  if (nan) *nan = any;
  return r;
}
