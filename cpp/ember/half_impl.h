// float16 / bfloat16 <-> float conversions without branches, so that loops over them
// vectorise: round to nearest even, overflow to infinity, NaN kept (quiet). Shared by
// dtype.h and, as source text, by generated kernels; it expects <cstdint> and <cstring>.

inline uint32_t em_f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float em_bits_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline float em_h2f(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t em = h & 0x7fffu;
  // Exponent and mantissa moved into place; times 2^112 rebiases normals and scales
  // subnormals exactly. Infinities and NaN keep an all-ones exponent.
  uint32_t bits = em_f32_bits(em_bits_f32(em << 13) * 5.192296858534828e+33f);
  bits = em >= 0x7c00u ? (0x7f800000u | ((em & 0x3ffu) << 13)) : bits;
  return em_bits_f32(bits | sign);
}
inline uint16_t em_f2h(float f) {
  uint32_t x = em_f32_bits(f);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t ax = x & 0x7fffffffu;
  // Normal halves: rebias the exponent (-112 << 23) and round the 13 dropped bits.
  uint32_t normal = (ax + 0xc8000fffu + ((ax >> 13) & 1u)) >> 13;
  // Subnormal halves: adding 0.5 lets the float unit round at the half's last place.
  uint32_t sub = em_f32_bits(em_bits_f32(ax) + 0.5f) - 0x3f000000u;
  uint32_t h = ax < 0x38800000u ? sub : normal;
  h = ax >= 0x477ff000u ? 0x7c00u : h;
  h = ax > 0x7f800000u ? 0x7e00u : h;
  return (uint16_t)(h | sign);
}
inline float em_b2f(uint16_t b) { return em_bits_f32((uint32_t)b << 16); }
inline uint16_t em_f2b(float f) {
  uint32_t x = em_f32_bits(f);
  uint32_t r = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
  r = (x & 0x7fffffffu) > 0x7f800000u ? ((x >> 16) | 0x40u) : r;
  return (uint16_t)r;
}
