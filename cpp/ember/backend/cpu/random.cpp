// Counter-based random bits (threefry2x32, 20 rounds).
#include "ember/backend/cpu/kernels.h"
#include "ember/primitives.h"

namespace ember {

using namespace cpu;

namespace {

inline uint32_t rotl(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

inline void threefry2x32(const uint32_t key[2], uint32_t& x0, uint32_t& x1) {
  static const int R[8] = {13, 15, 26, 6, 17, 29, 16, 24};
  uint32_t ks[3] = {key[0], key[1], 0x1BD11BDAu ^ key[0] ^ key[1]};
  x0 += ks[0];
  x1 += ks[1];
  for (int i = 0; i < 5; ++i) {
    for (int j = 0; j < 4; ++j) {
      x0 += x1;
      x1 = rotl(x1, R[(i % 2) * 4 + j]);
      x1 ^= x0;
    }
    x0 += ks[(i + 1) % 3];
    x1 += ks[(i + 2) % 3] + (uint32_t)(i + 1);
  }
}

}  // namespace

void RandomBits::eval_cpu(const std::vector<array>& in, array& out) {
  array keys = ensure_row_contiguous(in[0]);
  alloc_out(out);
  size_t nkeys = keys.size() / 2;
  size_t bytes_per_key = out.nbytes() / std::max<size_t>(nkeys, 1);
  const uint32_t* pk = keys.data<uint32_t>();
  uint8_t* po = static_cast<uint8_t*>(out.raw_ptr());
  for (size_t k = 0; k < nkeys; ++k) {
    const uint32_t* key = pk + 2 * k;
    uint8_t* dst = po + k * bytes_per_key;
    size_t words = (bytes_per_key + 3) / 4;
    size_t half = (words + 1) / 2;
    flat_for(half, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) {
        uint32_t x0 = (uint32_t)i, x1 = (uint32_t)(i + half);
        threefry2x32(key, x0, x1);
        uint32_t w[2] = {x0, x1};
        size_t pos[2] = {i, i + half};
        for (int q = 0; q < 2; ++q) {
          if (pos[q] >= words) continue;
          size_t off = pos[q] * 4;
          size_t nb = std::min<size_t>(4, bytes_per_key - off);
          std::memcpy(dst + off, &w[q], nb);
        }
      }
    });
  }
}

}  // namespace ember
