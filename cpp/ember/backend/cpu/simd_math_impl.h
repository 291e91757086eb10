// Scalar float32 approximations of exp, expm1, log, sin and cos, branch-free so that
// loops over them vectorise. Shared by the hand-written kernels and by generated
// (compiled) kernels, which receive this text verbatim: it has no includes of its own
// and expects <cmath>, <cstdint> and <cstring>.

inline float as_float(int32_t i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}
inline int32_t as_int(float f) {
  int32_t i;
  std::memcpy(&i, &f, 4);
  return i;
}

inline float clampf(float x, float lo, float hi) {
  x = x < lo ? lo : x;
  return x > hi ? hi : x;
}
// Round to nearest integer (valid for |x| < 2^22), vectorisable everywhere.
inline float rintf_(float x) { return (x + 12582912.0f) - 12582912.0f; }
inline double rint_(double x) { return (x + 6755399441055744.0) - 6755399441055744.0; }

// y * 2^n for integer-valued n in [-252, 254], in two steps so that neither
// factor overflows nor underflows.
inline float scale2(float y, float n) {
  float h = rintf_(n * 0.5f - 0.25f);
  float l = n - h;
  return (y * as_float(((int32_t)h + 127) << 23)) * as_float(((int32_t)l + 127) << 23);
}
inline float pow2i(float n) { return as_float(((int32_t)n + 127) << 23); }

// e^r - 1 for |r| <= ln2/2.
inline float expm1_poly(float r) {
  float p = 1.0f / 40320.0f;
  p = p * r + 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  return (p * r) * r + r;
}

constexpr float kLn2Hi = 0.693145751953125f;
constexpr float kLn2Lo = 1.428606765330187e-06f;
constexpr float kLog2e = 1.4426950408889634f;

inline float exp1(float x) {
  float xc = clampf(x, -104.0f, 89.0f);
  float n = rintf_(xc * kLog2e);
  float r = xc - n * kLn2Hi;
  r = r - n * kLn2Lo;
  float y = scale2(expm1_poly(r) + 1.0f, n);
  y = x > 88.72283935546875f ? INFINITY : y;
  y = x < -103.97208f ? 0.0f : y;
  return x != x ? x : y;
}

inline float expm1_1(float x) {
  float xc = clampf(x, -30.0f, 89.0f);
  float n = rintf_(xc * kLog2e);
  float r = xc - n * kLn2Hi;
  r = r - n * kLn2Lo;
  // n <= 128 here; 2^n - 1 is formed in two steps for n = 128.
  float y = scale2(expm1_poly(r) + 1.0f, n) - 1.0f;
  float p = pow2i(n < 127.0f ? n : 127.0f);
  float y2 = p * expm1_poly(r) + (p - 1.0f);
  y = n < 127.0f ? y2 : y;
  y = x > 88.72283935546875f ? INFINITY : y;
  y = x == 0.0f ? x : y;
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

inline float sin1(float x) {
  int32_t q;
  float r = reduce(x, q);
  float z = r * r;
  float s = sin_poly(r, z), c = cos_poly(z);
  float y = (q & 1) ? c : s;
  return (q & 2) ? -y : y;
}

inline float cos1(float x) {
  int32_t q;
  float r = reduce(x, q);
  float z = r * r;
  float s = sin_poly(r, z), c = cos_poly(z);
  float y = (q & 1) ? s : c;
  return ((q + 1) & 2) ? -y : y;
}

constexpr float kTrigBig = 1.0e7f;


inline float em_tanh(float x) {
  float a = std::fabs(x);
  a = a > 9.5f ? 9.5f : a;
  float t = expm1_1(2.0f * a);
  float y = t / (t + 2.0f);
  return x != x ? x : std::copysign(y, x);
}
inline float em_sigmoid(float x) { return 1.0f / (1.0f + exp1(-x)); }
// log1p(x) = log(u) * x / (u - 1) with u = 1 + x, exact to a few ulp.
inline float em_log1p(float x) {
  float u = 1.0f + x;
  float c = (u == 1.0f) ? x : log1(u) * (x / (u - 1.0f));
  return (u == INFINITY) ? u : c;
}
