#include "ember/threadpool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
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
    n_ = std::max(1, n);
    for (int i = 1; i < n_; ++i) threads_.emplace_back([this, i] { loop(i); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  int size() const { return n_; }

  void run(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn) {
    size_t chunks = std::min<size_t>(n_, (n + grain - 1) / grain);
    if (chunks <= 1 || busy_.exchange(true)) {
      // Nested or concurrent use runs inline.
      fn(0, n);
      return;
    }
    size_t per = (n + chunks - 1) / chunks;
    {
      std::lock_guard<std::mutex> lk(m_);
      fn_ = &fn;
      total_ = n;
      per_ = per;
      nchunks_ = chunks;
      next_.store(1);
      pending_.store((int)chunks - 1);
      ++generation_;
    }
    cv_.notify_all();
    fn(0, std::min(per, n));
    work();
    std::unique_lock<std::mutex> lk(m_);
    done_cv_.wait(lk, [&] { return pending_.load() == 0; });
    fn_ = nullptr;
    busy_.store(false);
  }

 private:
  void work() {
    while (true) {
      size_t c = next_.fetch_add(1);
      if (c >= nchunks_) return;
      size_t b = c * per_, e = std::min(total_, b + per_);
      (*fn_)(b, e);
      if (pending_.fetch_sub(1) == 1) {
        std::lock_guard<std::mutex> lk(m_);
        done_cv_.notify_all();
      }
    }
  }
  void loop(int) {
    size_t seen = 0;
    while (true) {
      {
        std::unique_lock<std::mutex> lk(m_);
        cv_.wait(lk, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
      }
      work();
    }
  }

  int n_;
  std::vector<std::thread> threads_;
  std::mutex m_;
  std::condition_variable cv_, done_cv_;
  bool stop_ = false;
  size_t generation_ = 0;
  const std::function<void(size_t, size_t)>* fn_ = nullptr;
  size_t total_ = 0, per_ = 0, nchunks_ = 0;
  std::atomic<size_t> next_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> busy_{false};
};

Pool& pool() {
  static Pool* p = new Pool();
  return *p;
}

}  // namespace

int num_threads() { return pool().size(); }

void parallel_for(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn) {
  if (n == 0) return;
  if (n <= grain) {
    fn(0, n);
    return;
  }
  pool().run(n, std::max<size_t>(grain, 1), fn);
}

}  // namespace ember
