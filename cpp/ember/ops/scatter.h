// Scatter with a combining rule, masked scatter, and slices at positions held in arrays.
#pragma once

#include "ember/ops.h"

namespace ember {

// Like scatter_add: updates have shape broadcast(indices) + a.shape with the indexed axes
// of size 1, and are combined with what is already there (repeated indices accumulate).
array scatter_prod(const array& a, const std::vector<array>& indices, const array& updates,
                   const std::vector<int>& axes, S s = {});
array scatter_max(const array& a, const std::vector<array>& indices, const array& updates,
                  const std::vector<int>& axes, S s = {});
array scatter_min(const array& a, const std::vector<array>& indices, const array& updates,
                  const std::vector<int>& axes, S s = {});

// a[mask] = source: `mask` has the shape of a's leading axes. A source with no more
// dimensions than the remaining axes is broadcast into every selected position; a source
// with one more dimension supplies its rows to the selected positions in order.
array masked_scatter(const array& a, const array& mask, const array& source, S s = {});

// The block of a with sizes `slice_size` whose corner along `axes` is read from the integer
// array `start` (one entry per axis; negative entries count from the end; a block that would
// run past the end is moved back inside the array).
array dynamic_slice(const array& a, const array& start, const std::vector<int>& axes,
                    const Shape& slice_size, S s = {});
// a with the block at `start` (along `axes`) replaced by `update`.
array dynamic_slice_update(const array& a, const array& update, const array& start,
                           const std::vector<int>& axes, S s = {});

}  // namespace ember
