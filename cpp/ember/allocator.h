// Buffer allocation with a size-bucketed cache, and the memory API.
#pragma once

#include <cstddef>
#include <new>
#include <stdexcept>
#include <string>

namespace ember {

namespace allocator {

// An allocation that cannot be served (the memory limit, or the system refusing it): a
// std::bad_alloc, so MemoryError in Python, whose message names the op and the bytes.
class out_of_memory : public std::bad_alloc {
 public:
  explicit out_of_memory(const std::string& msg) : msg_(msg) {}
  const char* what() const noexcept override { return msg_.what(); }

 private:
  std::runtime_error msg_;  // a copy that cannot throw
};

void* malloc(size_t bytes);  // throws out_of_memory when it cannot be served
void free(void* ptr, size_t bytes);

// While alive, failed allocations on this thread are reported under `op` (the scheduler
// names the primitive being evaluated; allocations outside any scope say "malloc").
class OpScope {
 public:
  explicit OpScope(const char* op);
  ~OpScope();
  OpScope(const OpScope&) = delete;
  OpScope& operator=(const OpScope&) = delete;

 private:
  const char* prev_;
};

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
