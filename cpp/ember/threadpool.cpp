#include "ember/threadpool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace ember {

namespace {

class Pool {
 public:
  Pool() {
    int n = (int)std::thread::hardware_concurrency();
    if (const char* env = std::getenv("EMBER_NUM_THREADS")) n = std::atoi(env);
    n = std::max(1, n);
    // A thread the system cannot start (no memory, a thread limit) leaves a smaller pool;
    // the calling thread always takes part, so even an empty pool runs every kernel.
    try {
      threads_.reserve(n - 1);
      for (int i = 1; i < n; ++i) threads_.emplace_back([this, i] { loop(i); });
    } catch (const std::exception&) {
    }
    n_ = (int)threads_.size() + 1;
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stop_.store(true);
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  int size() const { return n_; }

  void run(size_t n, size_t grain, ChunkFn call, void* ctx) {
    size_t chunks = std::min<size_t>(n_, (n + grain - 1) / grain);
    if (chunks <= 1 || busy_.exchange(true)) {
      // Nested or concurrent use runs inline.
      call(ctx, 0, n);
      return;
    }
    size_t per = (n + chunks - 1) / chunks;
    fn_.store(call);
    ctx_.store(ctx);
    total_.store(n);
    per_.store(per);
    nchunks_.store(chunks);
    pending_.store((int)chunks - 1);
    uint32_t gen = (uint32_t)generation_.load() + 1;
    ticket_.store(((uint64_t)gen << 32) | 1);  // chunk 0 is the caller's
    generation_.store(gen);
    // Workers that are still spinning see the new generation without a wake-up.
    if (sleepers_.load() > 0) {
      std::lock_guard<std::mutex> lk(m_);
      cv_.notify_all();
    }
    try {
      call(ctx, 0, std::min(per, n));
    } catch (...) {
      record(std::current_exception());
    }
    work(gen);
    spin_until([&] { return pending_.load() == 0; });
    if (pending_.load() != 0) {
      std::unique_lock<std::mutex> lk(m_);
      done_cv_.wait(lk, [&] { return pending_.load() == 0; });
    }
    // Every chunk has finished (the caller's context is no longer in use): a chunk's
    // exception, from whichever thread, now continues on the calling thread.
    std::exception_ptr err;
    {
      std::lock_guard<std::mutex> lk(err_m_);
      std::swap(err, error_);
    }
    busy_.store(false);
    if (err) std::rethrow_exception(err);
  }

 private:
  // Busy-waits up to ~50 us for `ready`: kernels often come in quick succession, and a
  // sleeping thread takes tens of microseconds to wake.
  template <typename Ready>
  static void spin_until(Ready ready) {
    auto start = std::chrono::steady_clock::now();
    for (int k = 0; !ready(); ++k) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#elif defined(__aarch64__)
      asm volatile("yield");
#endif
      if ((k & 63) == 63 && std::chrono::steady_clock::now() - start > std::chrono::microseconds(50)) return;
    }
  }

  // Claims and runs chunks of generation `gen` until none is left. The claim is a
  // compare-and-swap on (generation, next chunk), so a worker that is late for one run
  // can never take a chunk of the next with stale parameters.
  void work(uint32_t gen) {
    while (true) {
      uint64_t t = ticket_.load();
      if ((uint32_t)(t >> 32) != gen) return;
      size_t c = (uint32_t)t;
      if (c >= nchunks_.load()) return;
      if (!ticket_.compare_exchange_weak(t, t + 1)) continue;
      size_t per = per_.load();
      size_t b = c * per, e = std::min(total_.load(), b + per);
      try {
        fn_.load()(ctx_.load(), b, e);
      } catch (...) {
        record(std::current_exception());  // an exception must not leave a pool thread
      }
      if (pending_.fetch_sub(1) == 1) {
        std::lock_guard<std::mutex> lk(m_);
        done_cv_.notify_all();
      }
    }
  }
  void record(std::exception_ptr e) {
    std::lock_guard<std::mutex> lk(err_m_);
    if (!error_) error_ = std::move(e);
  }
  void loop(int) {
    size_t seen = 0;
    while (true) {
      spin_until([&] { return stop_.load() || generation_.load() != seen; });
      if (!stop_.load() && generation_.load() == seen) {
        std::unique_lock<std::mutex> lk(m_);
        sleepers_.fetch_add(1);
        cv_.wait(lk, [&] { return stop_.load() || generation_.load() != seen; });
        sleepers_.fetch_sub(1);
      }
      if (stop_.load()) return;
      seen = generation_.load();
      work((uint32_t)seen);
    }
  }

  int n_;
  std::vector<std::thread> threads_;
  std::mutex m_;
  std::condition_variable cv_, done_cv_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> generation_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<ChunkFn> fn_{nullptr};
  std::atomic<void*> ctx_{nullptr};
  std::atomic<size_t> total_{0}, per_{0}, nchunks_{0};
  std::atomic<uint64_t> ticket_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> busy_{false};
  std::mutex err_m_;
  std::exception_ptr error_;  // the first exception a chunk of the current run threw
};

Pool& pool() {
  static Pool* p = new Pool();
  return *p;
}

}  // namespace

int num_threads() { return pool().size(); }

void parallel_for_chunks(size_t n, size_t grain, ChunkFn call, void* ctx) {
  pool().run(n, std::max<size_t>(grain, 1), call, ctx);
}

}  // namespace ember
