// Sorting and selection ops: sort, partition, top-k, binary search, unique, median,
// count_nonzero and minmax.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ember/array.h"

namespace ember {

// Stable sorts along an axis (NaN last); the flattened array without one.
array sort(const array& a, int axis, StreamOrDevice s = {});
array sort(const array& a, StreamOrDevice s = {});
array argsort(const array& a, int axis, StreamOrDevice s = {});
array argsort(const array& a, StreamOrDevice s = {});

// The element of sorted rank kth (negative counts from the end) in place.
array partition(const array& a, int kth, int axis, StreamOrDevice s = {});
array partition(const array& a, int kth, StreamOrDevice s = {});
array argpartition(const array& a, int kth, int axis, StreamOrDevice s = {});
array argpartition(const array& a, int kth, StreamOrDevice s = {});

// The k largest elements along an axis (largest first).
array topk(const array& a, int k, int axis, StreamOrDevice s = {});
array topk(const array& a, int k, StreamOrDevice s = {});

// Insertion points of `values` in the 1-D ascending `sorted`; side "left" or "right".
array searchsorted(const array& sorted, const array& values, const std::string& side = "left",
                   StreamOrDevice s = {});

// The `size` smallest unique elements of the flattened array, then (as asked) the index of
// each one's first occurrence, the inverse (a's shape) and the counts. Entries past the
// last unique element hold fill_value (default: the first unique element).
std::vector<array> unique(const array& a, int size, bool return_index = false,
                          bool return_inverse = false, bool return_counts = false,
                          const std::optional<array>& fill_value = std::nullopt,
                          StreamOrDevice s = {});

array median(const array& a, const std::vector<int>& axes, bool keepdims = false,
             StreamOrDevice s = {});
array median(const array& a, bool keepdims = false, StreamOrDevice s = {});

array count_nonzero(const array& a, const std::vector<int>& axes, bool keepdims = false,
                    StreamOrDevice s = {});
array count_nonzero(const array& a, bool keepdims = false, StreamOrDevice s = {});

// (min, max) over the axes.
std::pair<array, array> minmax(const array& a, const std::vector<int>& axes,
                               bool keepdims = false, StreamOrDevice s = {});
std::pair<array, array> minmax(const array& a, bool keepdims = false, StreamOrDevice s = {});

}  // namespace ember
