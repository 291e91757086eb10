// A persistent pool of worker threads for splitting large kernels.
#pragma once

#include <cstddef>
#include <type_traits>

namespace ember {

int num_threads();

// Below this many elements a kernel runs on one thread.
constexpr size_t kParallelGrain = 1 << 16;

// The pool's entry point: call(ctx, begin, end) over [0, n) in contiguous chunks of at
// least `grain` items, on the pool and the calling thread; returns when all are done.
using ChunkFn = void (*)(void* ctx, size_t begin, size_t end);
void parallel_for_chunks(size_t n, size_t grain, ChunkFn call, void* ctx);

// Runs fn(begin, end) over [0, n). Small ranges call fn directly; nothing is allocated
// on either path (fn is passed by address, not wrapped in a std::function).
template <typename F>
inline void parallel_for(size_t n, size_t grain, F&& fn) {
  if (n == 0) return;
  if (n <= grain) {
    fn(size_t(0), n);
    return;
  }
  using Fn = std::remove_reference_t<F>;
  parallel_for_chunks(
      n, grain, [](void* c, size_t b, size_t e) { (*static_cast<Fn*>(c))(b, e); },
      const_cast<void*>(static_cast<const void*>(&fn)));
}

}  // namespace ember
