// Sorting and selection kernels.
//
// Every value is first mapped to an unsigned key whose integer order is the sort order:
// NaN above everything (all NaNs one key), -0.0 and 0.0 one key, complex numbers as
// (real key, imaginary key). Sorts are then a stable LSD radix sort of (key, position)
// records: rows run in parallel on the thread pool, and one long row splits each radix
// pass across the pool (per-thread histograms, then a parallel scatter). Partition uses
// nth_element on the records, top-k a running threshold over blocks of keys.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include "ember/backend/cpu/kernels.h"
#include "ember/primitives.h"

namespace ember {

using namespace cpu;

namespace {

// ---------- keys

template <typename U, typename F>
inline U bits_of(F v) {
  U b;
  std::memcpy(&b, &v, sizeof(U));
  return b;
}

// IEEE bits -> order-preserving unsigned key; `nan` and `zero` decided by the caller.
template <typename U>
inline U ieee_key(U b, bool nan, bool zero) {
  constexpr U top = U(1) << (sizeof(U) * 8 - 1);
  b = zero ? U(0) : b;
  U m = (b & top) ? U(~U(0)) : top;
  U k = b ^ m;
  return nan ? U(~U(0)) : k;
}

template <typename T>
struct KeyOf;

#define EMBER_UINT_KEY(T, K) \
  template <>                \
  struct KeyOf<T> {          \
    using K_t = K;           \
    static K_t key(T v) { return K_t(v); } \
  };
EMBER_UINT_KEY(bool, uint8_t)
EMBER_UINT_KEY(uint8_t, uint8_t)
EMBER_UINT_KEY(uint16_t, uint16_t)
EMBER_UINT_KEY(uint32_t, uint32_t)
EMBER_UINT_KEY(uint64_t, uint64_t)
#undef EMBER_UINT_KEY

#define EMBER_INT_KEY(T, K)                                                        \
  template <>                                                                      \
  struct KeyOf<T> {                                                                \
    using K_t = K;                                                                 \
    static K_t key(T v) { return K_t(K_t(v) ^ (K_t(1) << (sizeof(K_t) * 8 - 1))); } \
  };
EMBER_INT_KEY(int8_t, uint8_t)
EMBER_INT_KEY(int16_t, uint16_t)
EMBER_INT_KEY(int32_t, uint32_t)
EMBER_INT_KEY(int64_t, uint64_t)
#undef EMBER_INT_KEY

template <>
struct KeyOf<float> {
  using K_t = uint32_t;
  static K_t key(float v) { return ieee_key<uint32_t>(bits_of<uint32_t>(v), v != v, v == 0.0f); }
};
template <>
struct KeyOf<double> {
  using K_t = uint64_t;
  static K_t key(double v) { return ieee_key<uint64_t>(bits_of<uint64_t>(v), v != v, v == 0.0); }
};
template <>
struct KeyOf<float16_t> {
  using K_t = uint16_t;
  static K_t key(float16_t v) {
    uint16_t a = v.bits & 0x7fff;
    return ieee_key<uint16_t>(v.bits, a > 0x7c00, a == 0);
  }
};
template <>
struct KeyOf<bfloat16_t> {
  using K_t = uint16_t;
  static K_t key(bfloat16_t v) {
    uint16_t a = v.bits & 0x7fff;
    return ieee_key<uint16_t>(v.bits, a > 0x7f80, a == 0);
  }
};
template <>
struct KeyOf<complex64_t> {
  using K_t = uint64_t;
  static K_t key(complex64_t v) {
    return (uint64_t(KeyOf<float>::key(v.real())) << 32) | KeyOf<float>::key(v.imag());
  }
};

template <typename K>
struct Rec {
  K key;
  uint32_t idx;
};

// ---------- radix sort of records (stable)

template <typename K>
void insertion_sort(Rec<K>* a, size_t n) {
  for (size_t i = 1; i < n; ++i) {
    Rec<K> r = a[i];
    size_t j = i;
    while (j > 0 && a[j - 1].key > r.key) {
      a[j] = a[j - 1];
      --j;
    }
    a[j] = r;
  }
}

// Sorts a[0, n) using tmp as scratch; returns whichever of the two holds the result.
template <int BITS, typename K>
Rec<K>* radix_sort(Rec<K>* a, Rec<K>* tmp, size_t n) {
  constexpr int W = sizeof(K) * 8;
  constexpr int P = (W + BITS - 1) / BITS;
  constexpr size_t B = size_t(1) << BITS;
  constexpr K mask = K(B - 1);
  uint32_t hist[P * B];
  std::fill(hist, hist + P * B, 0u);
  for (size_t i = 0; i < n; ++i) {
    K k = a[i].key;
    for (int p = 0; p < P; ++p) ++hist[p * B + ((k >> (p * BITS)) & mask)];
  }
  for (int p = 0; p < P; ++p) {
    uint32_t* h = hist + p * B;
    int shift = p * BITS;
    if (h[(a[0].key >> shift) & mask] == n) continue;  // one digit value: nothing moves
    uint32_t sum = 0;
    for (size_t d = 0; d < B; ++d) {
      uint32_t c = h[d];
      h[d] = sum;
      sum += c;
    }
    for (size_t i = 0; i < n; ++i) tmp[h[(a[i].key >> shift) & mask]++] = a[i];
    std::swap(a, tmp);
  }
  return a;
}

template <typename K>
Rec<K>* sort_records(Rec<K>* a, Rec<K>* tmp, size_t n) {
  if (n <= 32) {
    insertion_sort(a, n);
    return a;
  }
  if constexpr (sizeof(K) >= 4) {
    if (n >= (1u << 16)) return radix_sort<11>(a, tmp, n);
  }
  return radix_sort<8>(a, tmp, n);
}

// One long row: each pass's histogram and scatter split across the pool. Chunk c of T
// covers [c n / T, (c + 1) n / T) in every pass, so the scatter keeps the order stable.
template <int BITS, typename K>
Rec<K>* radix_sort_parallel(Rec<K>* a, Rec<K>* tmp, size_t n, size_t T) {
  constexpr int W = sizeof(K) * 8;
  constexpr int P = (W + BITS - 1) / BITS;
  constexpr size_t B = size_t(1) << BITS;
  constexpr K mask = K(B - 1);
  std::vector<uint32_t> counts(T * B);
  auto lo = [&](size_t c) { return c * n / T; };
  for (int p = 0; p < P; ++p) {
    int shift = p * BITS;
    parallel_for(T, 1, [&](size_t cb, size_t ce) {
      for (size_t c = cb; c < ce; ++c) {
        uint32_t* h = counts.data() + c * B;
        std::fill(h, h + B, 0u);
        for (size_t i = lo(c), e = lo(c + 1); i < e; ++i) ++h[(a[i].key >> shift) & mask];
      }
    });
    size_t first = (a[0].key >> shift) & mask, same = 0;
    for (size_t c = 0; c < T; ++c) same += counts[c * B + first];
    if (same == n) continue;
    uint32_t sum = 0;
    for (size_t d = 0; d < B; ++d)
      for (size_t c = 0; c < T; ++c) {
        uint32_t v = counts[c * B + d];
        counts[c * B + d] = sum;
        sum += v;
      }
    parallel_for(T, 1, [&](size_t cb, size_t ce) {
      for (size_t c = cb; c < ce; ++c) {
        uint32_t* h = counts.data() + c * B;
        for (size_t i = lo(c), e = lo(c + 1); i < e; ++i) tmp[h[(a[i].key >> shift) & mask]++] = a[i];
      }
    });
    std::swap(a, tmp);
  }
  return a;
}

// One long row with wide keys: a parallel scatter on the top BITS bits, then every bucket
// (now a small, independent range) sorted on its own by the serial radix sort, buckets
// spread over the pool. Both steps are stable.
template <int BITS, typename K>
Rec<K>* msd_then_lsd_parallel(Rec<K>* a, Rec<K>* tmp, size_t n, size_t T) {
  constexpr int W = sizeof(K) * 8;
  constexpr size_t B = size_t(1) << BITS;
  constexpr int shift = W - BITS;
  std::vector<uint32_t> counts(T * B);
  auto lo = [&](size_t c) { return c * n / T; };
  parallel_for(T, 1, [&](size_t cb, size_t ce) {
    for (size_t c = cb; c < ce; ++c) {
      uint32_t* h = counts.data() + c * B;
      std::fill(h, h + B, 0u);
      for (size_t i = lo(c), e = lo(c + 1); i < e; ++i) ++h[a[i].key >> shift];
    }
  });
  std::vector<uint32_t> start(B + 1);
  uint32_t sum = 0;
  for (size_t d = 0; d < B; ++d) {
    start[d] = sum;
    for (size_t c = 0; c < T; ++c) {
      uint32_t v = counts[c * B + d];
      counts[c * B + d] = sum;
      sum += v;
    }
  }
  start[B] = sum;
  parallel_for(T, 1, [&](size_t cb, size_t ce) {
    for (size_t c = cb; c < ce; ++c) {
      uint32_t* h = counts.data() + c * B;
      for (size_t i = lo(c), e = lo(c + 1); i < e; ++i) tmp[h[a[i].key >> shift]++] = a[i];
    }
  });
  parallel_for(B, 1, [&](size_t db, size_t de) {
    for (size_t d = db; d < de; ++d) {
      size_t b = start[d], m = start[d + 1] - b;
      if (m < 2) continue;
      Rec<K>* r = sort_records(tmp + b, a + b, m);
      if (r != tmp + b) std::copy(r, r + m, tmp + b);
    }
  });
  return tmp;
}

template <typename K>
Rec<K>* sort_records_parallel(Rec<K>* a, Rec<K>* tmp, size_t n, size_t T) {
  if constexpr (sizeof(K) >= 4) return msd_then_lsd_parallel<11>(a, tmp, n, T);
  else if constexpr (sizeof(K) == 2) return msd_then_lsd_parallel<8>(a, tmp, n, T);
  else return radix_sort_parallel<8>(a, tmp, n, T);
}

// Partitions rec[0, n) around rank kth into out[0, n): one pass splits the records by
// their top key digit into those below, in and above the digit of rank kth (keeping input
// order), and nth_element finishes inside the middle group only.
template <typename K>
void partition_records(const Rec<K>* rec, Rec<K>* out, size_t n, size_t kth) {
  auto less = [](const Rec<K>& x, const Rec<K>& y) { return x.key < y.key; };
  if (n < 256) {
    std::copy(rec, rec + n, out);
    std::nth_element(out, out + kth, out + n, less);
    return;
  }
  constexpr int BITS = sizeof(K) == 1 ? 8 : 11;
  constexpr int shift = sizeof(K) * 8 - BITS;
  constexpr size_t B = size_t(1) << BITS;
  // Keys that all share their top bits (a narrow range of values) fall back to nth_element.
  uint32_t hist[B] = {};
  for (size_t i = 0; i < n; ++i) ++hist[rec[i].key >> shift];
  size_t below = 0, d = 0;
  while (below + hist[d] <= kth) below += hist[d++];
  size_t in = hist[d];
  // Branch-free: the group (0 below, 1 in, 2 above) picks the cursor.
  Rec<K>* cur[3] = {out, out + below, out + below + in};
  for (size_t i = 0; i < n; ++i) {
    size_t t = rec[i].key >> shift;
    size_t g = size_t(t >= d) + size_t(t > d);
    *cur[g]++ = rec[i];
  }
  std::nth_element(out + below, out + kth, out + below + in, less);
}

// ---------- row layout

struct Rows {
  int64_t outer = 1, len = 1, inner = 1;
  Rows(const Shape& shape, int axis) {
    for (int i = 0; i < axis; ++i) outer *= shape[i];
    len = shape[axis];
    for (int i = axis + 1; i < (int)shape.size(); ++i) inner *= shape[i];
  }
  Rows(int64_t o, int64_t l, int64_t i) : outer(o), len(l), inner(i) {}
  int64_t count() const { return outer * inner; }
  // Offset of element 0 of row `r` in a row-contiguous array whose axis has `n` entries.
  int64_t base(int64_t r, int64_t n) const { return (r / inner) * n * inner + r % inner; }
};

// Runs row_fn(row, scratch) over all rows in parallel, each chunk with its own scratch of
// `per_row` records.
template <typename R, typename F>
void for_rows(const Rows& rows, size_t per_row, F&& row_fn) {
  size_t grain = std::max<int64_t>(1, (int64_t)kParallelGrain / std::max<int64_t>(rows.len, 1));
  parallel_for(rows.count(), grain, [&](size_t b, size_t e) {
    std::vector<R> scratch(per_row);
    for (size_t r = b; r < e; ++r) row_fn(r, scratch.data());
  });
}

// Values of up to 32 bits travel in the record in place of their position, so that
// writing the sorted values needs no gather.
template <typename T>
constexpr bool value_payload = sizeof(T) <= 4;

template <typename T>
inline uint32_t payload_of(T v) {
  uint32_t p = 0;
  std::memcpy(&p, &v, sizeof(T));
  return p;
}

template <typename T, typename K>
void fill_records(Rec<K>* rec, const T* p, int64_t n, int64_t stride, bool arg = true) {
  if constexpr (value_payload<T>) {
    if (!arg) {
      for (int64_t i = 0; i < n; ++i) {
        T v = p[i * stride];
        rec[i] = {KeyOf<T>::key(v), payload_of(v)};
      }
      return;
    }
  }
  if (stride == 1) {
    for (int64_t i = 0; i < n; ++i) rec[i] = {KeyOf<T>::key(p[i]), (uint32_t)i};
  } else {
    for (int64_t i = 0; i < n; ++i) rec[i] = {KeyOf<T>::key(p[i * stride]), (uint32_t)i};
  }
}

// Writes the positions (arg) or the values of records rec[0, n) along a strided output row.
template <typename T, typename K>
void write_records(const Rec<K>* rec, int64_t n, const T* src, int64_t src_stride, void* out,
                   int64_t base, int64_t stride, bool arg, bool from_positions = false) {
  if (arg) {
    uint32_t* q = static_cast<uint32_t*>(out) + base;
    for (int64_t i = 0; i < n; ++i) q[i * stride] = rec[i].idx;
  } else {
    if constexpr (value_payload<T>) {
      if (!from_positions) {
        T* q = static_cast<T*>(out) + base;
        for (int64_t i = 0; i < n; ++i) std::memcpy(q + i * stride, &rec[i].idx, sizeof(T));
        return;
      }
    }
    T* q = static_cast<T*>(out) + base;
    for (int64_t i = 0; i < n; ++i) q[i * stride] = src[rec[i].idx * src_stride];
  }
}

}  // namespace

// [outer, A, B] -> [outer, B, A] through 16 x 16 tiles: each tile is read row by row
// into a local buffer and written out row by row, so every source and destination line is
// used whole at once (power-of-two strides would otherwise evict lines between uses).
template <typename U>
void swap_inner(const U* src, U* dst, int64_t outer, int64_t A, int64_t B) {
  constexpr int64_t TS = 16;
  int64_t ta = (A + TS - 1) / TS, tb = (B + TS - 1) / TS;
  parallel_for(outer * ta * tb, 64, [&](size_t b, size_t e) {
    U buf[TS][TS];
    for (size_t t = b; t < e; ++t) {
      int64_t o = t / (ta * tb), ia = (t / tb) % ta * TS, ib = t % tb * TS;
      int64_t na = std::min(A - ia, TS), nb = std::min(B - ib, TS);
      const U* s = src + o * A * B + ia * B + ib;
      U* d = dst + o * A * B + ib * A + ia;
      for (int64_t x = 0; x < na; ++x)
        for (int64_t y = 0; y < nb; ++y) buf[y][x] = s[x * B + y];
      for (int64_t y = 0; y < nb; ++y)
        for (int64_t x = 0; x < na; ++x) d[y * A + x] = buf[y][x];
    }
  });
}

void swap_inner_bytes(const void* src, void* dst, size_t itemsize, int64_t outer, int64_t A,
                      int64_t B) {
  switch (itemsize) {
    case 1: return swap_inner(static_cast<const uint8_t*>(src), static_cast<uint8_t*>(dst), outer, A, B);
    case 2: return swap_inner(static_cast<const uint16_t*>(src), static_cast<uint16_t*>(dst), outer, A, B);
    case 4: return swap_inner(static_cast<const uint32_t*>(src), static_cast<uint32_t*>(dst), outer, A, B);
    default: return swap_inner(static_cast<const uint64_t*>(src), static_cast<uint64_t*>(dst), outer, A, B);
  }
}

// Runs run(input, output, rows) on rows that are contiguous: an axis with elements after
// it is first moved last in a scratch copy, and the result (out_len entries along the
// axis) moved back, as strided rows would touch a new cache line per element.
template <typename T, typename F>
void on_rows(const array& a, array& out, const Rows& rows, int64_t out_len, F&& run) {
  const T* pa = a.data<T>();
  void* po = static_cast<void*>(out.data<uint8_t>());
  if (rows.inner == 1 || a.size() < 4096) {
    run(pa, po, rows);
    return;
  }
  std::unique_ptr<T[]> tin(new T[a.size()]);
  swap_inner_bytes(pa, tin.get(), sizeof(T), rows.outer, rows.len, rows.inner);
  std::vector<uint64_t> tout((out.nbytes() + 7) / 8);
  run(static_cast<const T*>(tin.get()), static_cast<void*>(tout.data()), Rows(rows.count(), rows.len, 1));
  swap_inner_bytes(tout.data(), po, out.itemsize(), rows.outer, rows.inner, out_len);
}

// ---------- Sort

void Sort::eval_cpu(const std::vector<array>& in, array& out) {
  array a = ensure_row_contiguous(in[0]);
  alloc_out(out);
  if (out.size() == 0) return;
  const Rows all_rows(a.shape(), axis_);
  const int64_t n = all_rows.len;
  dispatch_all(a.dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    using K = typename KeyOf<T>::K_t;
    on_rows<T>(a, out, all_rows, n, [&](const T* pa, void* po, const Rows& rows) {
    const int64_t inner = rows.inner;
    size_t T_ = (size_t)num_threads();
    if (n >= (1 << 17) && rows.count() < (int64_t)std::max<size_t>(T_, 2)) {
      // Few long rows: split each one across the pool.
      std::vector<Rec<K>> buf(2 * n);
      for (int64_t r = 0; r < rows.count(); ++r) {
        int64_t base = rows.base(r, n);
        const T* p = pa + base;
        Rec<K>* rec = buf.data();
        parallel_for(n, kParallelGrain, [&](size_t b, size_t e) {
          fill_records(rec + b, p + b * inner, e - b, inner, arg_);
          if (arg_ || !value_payload<T>)
            for (size_t i = b; i < e; ++i) rec[i].idx = (uint32_t)i;
        });
        Rec<K>* s = sort_records_parallel(rec, rec + n, n, T_);
        parallel_for(n, kParallelGrain, [&](size_t b, size_t e) {
          write_records<T, K>(s + b, e - b, p, inner, po, base + b * inner, inner, arg_);
        });
      }
      return;
    }
    for_rows<Rec<K>>(rows, 2 * n, [&](size_t r, Rec<K>* rec) {
      int64_t base = rows.base(r, n);
      fill_records(rec, pa + base, n, inner, arg_);
      Rec<K>* s = sort_records(rec, rec + n, n);
      write_records<T, K>(s, n, pa + base, inner, po, base, inner, arg_);
    });
    });
  });
}

// ---------- Partition

void Partition::eval_cpu(const std::vector<array>& in, array& out) {
  array a = ensure_row_contiguous(in[0]);
  alloc_out(out);
  if (out.size() == 0) return;
  const Rows all_rows(a.shape(), axis_);
  const int64_t n = all_rows.len;
  if (kth_ < 0 || kth_ >= n)
    throw std::invalid_argument("[partition] kth " + std::to_string(kth_) +
                                " is out of range for an axis of size " + std::to_string(n) + ".");
  dispatch_all(a.dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    using K = typename KeyOf<T>::K_t;
    on_rows<T>(a, out, all_rows, n, [&](const T* pa, void* po, const Rows& rows) {
      const int64_t inner = rows.inner;
      for_rows<Rec<K>>(rows, 2 * n, [&](size_t r, Rec<K>* rec) {
        int64_t base = rows.base(r, n);
        fill_records(rec, pa + base, n, inner, arg_);
        partition_records(rec, rec + n, n, kth_);
        write_records<T, K>(rec + n, n, pa + base, inner, po, base, inner, arg_);
      });
    });
  });
}

// ---------- TopK

namespace {

// "x ranks above y": a larger key, or an equal key at an earlier position.
template <typename K>
inline bool ranks_above(const Rec<K>& x, const Rec<K>& y) {
  return x.key > y.key || (x.key == y.key && x.idx < y.idx);
}

// The k best records of a row, best first. heap: scratch for at least k + 1 records.
template <typename T, typename K>
void top_records(const T* p, int64_t n, int64_t stride, int64_t k, Rec<K>* heap, Rec<K>* all) {
  auto cmp = [](const Rec<K>& x, const Rec<K>& y) { return ranks_above(x, y); };
  if (k == 0) return;
  if (k * 16 > n) {
    // Many of them: select, then order.
    fill_records(all, p, n, stride);
    std::nth_element(all, all + (k - 1), all + n, cmp);
    std::sort(all, all + k, cmp);
    std::copy(all, all + k, heap);
    return;
  }
  // A min-heap (under ranks_above) of the best k so far; an element enters only if its
  // key beats the heap's weakest, which after the first few blocks is rare, so each block
  // of keys is first checked against that threshold in one vectorisable pass.
  int64_t i = 0;
  for (; i < k; ++i) heap[i] = {KeyOf<T>::key(p[i * stride]), (uint32_t)i};
  std::make_heap(heap, heap + k, cmp);
  constexpr int64_t BLK = 64;
  K keys[BLK];
  while (i < n) {
    int64_t m = std::min(BLK, n - i);
    K hi = 0;
    const T* q = p + i * stride;
    if (stride == 1) {
      for (int64_t j = 0; j < m; ++j) keys[j] = KeyOf<T>::key(q[j]);
    } else {
      for (int64_t j = 0; j < m; ++j) keys[j] = KeyOf<T>::key(q[j * stride]);
    }
    for (int64_t j = 0; j < m; ++j) hi = std::max(hi, keys[j]);
    if (hi > heap[0].key) {
      for (int64_t j = 0; j < m; ++j) {
        // Later positions lose ties, so only a strictly larger key enters.
        if (keys[j] > heap[0].key) {
          std::pop_heap(heap, heap + k, cmp);
          heap[k - 1] = {keys[j], (uint32_t)(i + j)};
          std::push_heap(heap, heap + k, cmp);
        }
      }
    }
    i += m;
  }
  std::sort_heap(heap, heap + k, cmp);
}

}  // namespace

void TopK::eval_cpu(const std::vector<array>& in, array& out) {
  array a = ensure_row_contiguous(in[0]);
  alloc_out(out);
  if (out.size() == 0) return;
  const Rows all_rows(a.shape(), axis_);
  const int64_t n = all_rows.len, k = k_;
  if (k > n)
    throw std::invalid_argument("[topk] k=" + std::to_string(k) +
                                " is larger than an axis of size " + std::to_string(n) + ".");
  dispatch_all(a.dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    using K = typename KeyOf<T>::K_t;
    bool big = k * 16 > n;
    on_rows<T>(a, out, all_rows, k, [&](const T* pa, void* po, const Rows& rows) {
      const int64_t inner = rows.inner;
      for_rows<Rec<K>>(rows, big ? n + k : k + 1, [&](size_t r, Rec<K>* scratch) {
        int64_t base = rows.base(r, n);
        int64_t obase = (r / inner) * k * inner + r % inner;
        Rec<K>* best = scratch;
        top_records(pa + base, n, inner, k, best, scratch + k);
        write_records<T, K>(best, k, pa + base, inner, po, obase, inner, arg_, true);
      });
    });
  });
}

// ---------- SearchSorted

void SearchSorted::eval_cpu(const std::vector<array>& in, array& out) {
  array seq = ensure_row_contiguous(in[0]);
  array vals = ensure_row_contiguous(in[1]);
  alloc_out(out);
  if (out.size() == 0) return;
  int64_t n = seq.size();
  dispatch_all(seq.dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    using K = typename KeyOf<T>::K_t;
    std::vector<K> keys(n);
    const T* ps = seq.data<T>();
    for (int64_t i = 0; i < n; ++i) keys[i] = KeyOf<T>::key(ps[i]);
    const T* pv = vals.data<T>();
    uint32_t* po = out.data<uint32_t>();
    bool right = right_;
    parallel_for(out.size(), 4096, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) {
        K v = KeyOf<T>::key(pv[i]);
        auto it = right ? std::upper_bound(keys.begin(), keys.end(), v)
                        : std::lower_bound(keys.begin(), keys.end(), v);
        po[i] = (uint32_t)(it - keys.begin());
      }
    });
  });
}

}  // namespace ember
