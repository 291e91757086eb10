#include "ember/allocator.h"

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include <sys/mman.h>
#include <sys/sysinfo.h>

namespace ember {

namespace {

thread_local const char* current_op = "malloc";

// "1.5 GiB": the byte count again, for people.
std::string human_bytes(size_t n) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = (double)n;
  int u = 0;
  while (v >= 1024 && u < 6) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

[[noreturn]] void fail(size_t bytes, const std::string& why) {
  throw allocator::out_of_memory(std::string("[") + current_op + "] Unable to allocate " +
                                 std::to_string(bytes) + " bytes (" + human_bytes(bytes) + "): " + why);
}

// Larger requests are refused before any arithmetic on them: no machine maps 2^62 bytes,
// and the bucket and alignment rounding below then cannot overflow.
constexpr size_t kMaxRequest = size_t(1) << 62;

// Under AddressSanitizer (EMBER_SANITIZE) a buffer is exactly the size asked for, so its
// redzone starts at the first byte past the array: bucket slack would hide overruns.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kExactSizes = true;
#else
constexpr bool kExactSizes = false;
#endif

// Four buckets per power of two above 1 KiB, 64-byte granularity below.
size_t bucket_size(size_t n) {
  if (kExactSizes) return n;
  if (n <= 1024) return (n + 63) & ~size_t(63);
  int lg = 63 - __builtin_clzll(n - 1);  // n - 1 < 2^(lg+1)
  size_t quarter = size_t(1) << (lg - 1);
  return ((n + quarter - 1) / quarter) * quarter;
}

// Large buffers are aligned to 2 MiB and offered transparent huge pages: streaming
// kernels then miss the TLB far less and first touches fault 512 times less often.
void* raw_alloc(size_t b) {
  if (kExactSizes) {
    void* p = nullptr;
    return ::posix_memalign(&p, 64, b) == 0 ? p : nullptr;
  }
  constexpr size_t kHuge = size_t(2) << 20;
  if (b < 2 * kHuge) return std::aligned_alloc(64, b);
  size_t rounded = (b + kHuge - 1) & ~(kHuge - 1);
  void* p = std::aligned_alloc(kHuge, rounded);
#ifdef MADV_HUGEPAGE
  if (p) ::madvise(p, rounded, MADV_HUGEPAGE);
#endif
  return p;
}

size_t default_memory_limit() {
  struct sysinfo info;
  if (sysinfo(&info) == 0) return (size_t)info.totalram * info.mem_unit;
  return size_t(1) << 40;
}

struct Allocator {
  std::mutex mtx;
  std::unordered_map<size_t, std::vector<void*>> cache;
  size_t active = 0, peak = 0, cached = 0;
  size_t memory_limit = default_memory_limit();
  size_t cache_limit = default_memory_limit();

  void trim_cache(size_t target) {
    for (auto it = cache.begin(); it != cache.end() && cached > target;) {
      auto& v = it->second;
      while (!v.empty() && cached > target) {
        std::free(v.back());
        v.pop_back();
        cached -= it->first;
      }
      it = v.empty() ? cache.erase(it) : std::next(it);
    }
  }

  void* malloc(size_t bytes) {
    if (bytes == 0) return nullptr;
    if (bytes > kMaxRequest) fail(bytes, "larger than any address space.");
    size_t b = bucket_size(bytes);
    std::lock_guard<std::mutex> lk(mtx);
    auto it = cache.find(b);
    if (it != cache.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      cached -= b;
      active += b;
      if (active > peak) peak = active;
      return p;
    }
    if (active + b > memory_limit) {
      fail(bytes, std::to_string(active) + " bytes are in use and the memory limit is " +
                      std::to_string(memory_limit) + " bytes (set_memory_limit).");
    }
    if (active + cached + b > memory_limit) trim_cache(0);
    void* p = raw_alloc(b);
    if (!p) {
      trim_cache(0);
      p = raw_alloc(b);
    }
    if (!p) fail(bytes, "the system refused the allocation.");
    active += b;
    if (active > peak) peak = active;
    return p;
  }

  void free(void* p, size_t bytes) {
    if (!p) return;
    size_t b = bucket_size(bytes);
    std::lock_guard<std::mutex> lk(mtx);
    active -= b;
    if (cached + b <= cache_limit) {
      cache[b].push_back(p);
      cached += b;
    } else {
      std::free(p);
    }
  }
};

Allocator& alloc() {
  static Allocator* a = new Allocator();  // never destroyed: buffers may outlive statics
  return *a;
}

}  // namespace

namespace allocator {
void* malloc(size_t bytes) { return alloc().malloc(bytes); }
void free(void* ptr, size_t bytes) { alloc().free(ptr, bytes); }
OpScope::OpScope(const char* op) : prev_(current_op) { current_op = op; }
OpScope::~OpScope() { current_op = prev_; }
}  // namespace allocator

size_t get_active_memory() {
  std::lock_guard<std::mutex> lk(alloc().mtx);
  return alloc().active;
}
size_t get_peak_memory() {
  std::lock_guard<std::mutex> lk(alloc().mtx);
  return alloc().peak;
}
void reset_peak_memory() {
  std::lock_guard<std::mutex> lk(alloc().mtx);
  alloc().peak = alloc().active;
}
size_t get_cache_memory() {
  std::lock_guard<std::mutex> lk(alloc().mtx);
  return alloc().cached;
}
void clear_cache() {
  std::lock_guard<std::mutex> lk(alloc().mtx);
  alloc().trim_cache(0);
}
size_t set_memory_limit(size_t limit) {
  std::lock_guard<std::mutex> lk(alloc().mtx);
  size_t old = alloc().memory_limit;
  alloc().memory_limit = limit;
  return old;
}
size_t get_memory_limit() {
  std::lock_guard<std::mutex> lk(alloc().mtx);
  return alloc().memory_limit;
}
size_t set_cache_limit(size_t limit) {
  std::lock_guard<std::mutex> lk(alloc().mtx);
  size_t old = alloc().cache_limit;
  alloc().cache_limit = limit;
  alloc().trim_cache(limit);
  return old;
}
size_t set_wired_limit(size_t) { return 0; }

}  // namespace ember
