// A persistent pool of worker threads for splitting large kernels.
#pragma once

#include <cstddef>
#include <functional>

namespace ember {

int num_threads();
// Runs fn(begin, end) over [0, n) in contiguous chunks of at least `grain` items,
// on the pool and the calling thread; returns when all chunks are done.
void parallel_for(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn);

// Below this many elements a kernel runs on one thread.
constexpr size_t kParallelGrain = 1 << 16;

}  // namespace ember
