// Stream workers: each stream runs its tasks in order on its own thread.
#pragma once

#include <functional>

#include "ember/array.h"

namespace ember {

void eval(std::vector<array> outputs);
void async_eval(std::vector<array> outputs);
inline void eval(const array& a) { eval(std::vector<array>{a}); }
template <typename... Arrays,
          typename = std::enable_if_t<(sizeof...(Arrays) > 1) &&
                                      (std::is_convertible_v<Arrays, const array&> && ...)>>
void eval(const Arrays&... outputs) {
  eval(std::vector<array>{outputs...});
}

namespace scheduler {
// Waits until `a` has been computed (or failed) on its stream.
void wait_for(const array& a);
}  // namespace scheduler

}  // namespace ember
