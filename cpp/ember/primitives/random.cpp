// Transformation rules of the random primitives that live outside the structural family.
#include "ember/ops.h"
#include "ember/primitives.h"

namespace ember {

// ---------- CovarianceRoot: the kernel already loops over leading axes.

std::pair<std::vector<array>, std::vector<int>> CovarianceRoot::vmap(const std::vector<array>& in,
                                                                     const std::vector<int>& axes) {
  array c = axes[0] > 0 ? moveaxis(in[0], axes[0], 0) : in[0];
  return {{array(c.shape(), c.dtype(), std::make_shared<CovarianceRoot>(stream()), {c})}, {0}};
}

}  // namespace ember
