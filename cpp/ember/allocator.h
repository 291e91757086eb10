// Buffer allocation with a size-bucketed cache, and the memory API.
#pragma once

#include <cstddef>

namespace ember {

namespace allocator {
void* malloc(size_t bytes);  // throws std::runtime_error when it cannot be served
void free(void* ptr, size_t bytes);
}  // namespace allocator

size_t get_active_memory();
size_t get_peak_memory();
void reset_peak_memory();
size_t get_cache_memory();
void clear_cache();
size_t set_memory_limit(size_t limit);  // returns the previous limit
size_t get_memory_limit();
size_t set_cache_limit(size_t limit);
size_t set_wired_limit(size_t limit);

}  // namespace ember
