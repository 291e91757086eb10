// Scatter: updates combined into a copy of the input at index positions.
#include <algorithm>

#include "ember/backend/cpu/scatter.h"
#include "ember/primitives.h"

namespace ember {

using namespace cpu;

namespace {

// How an update meets the value already in place. Max and min keep the current value only
// when it wins strictly (so a NaN update replaces it); complex numbers compare
// lexicographically.
template <Scatter::Kind K, typename T>
inline T combine(T cur, T upd) {
  using C = compute_t<T>;
  if constexpr (K == Scatter::Kind::None) {
    return upd;
  } else if constexpr (K == Scatter::Kind::Sum) {
    if constexpr (std::is_same_v<T, bool>) return cur || upd;
    else return T(static_cast<C>(cur) + static_cast<C>(upd));
  } else if constexpr (K == Scatter::Kind::Prod) {
    if constexpr (std::is_same_v<T, bool>) return cur && upd;
    else return T(static_cast<C>(cur) * static_cast<C>(upd));
  } else {
    constexpr bool max = K == Scatter::Kind::Max;
    if constexpr (is_complex_v<T>) {
      bool gt = cur.real() > upd.real() || (cur.real() == upd.real() && cur.imag() > upd.imag());
      bool lt = cur.real() < upd.real() || (cur.real() == upd.real() && cur.imag() < upd.imag());
      return (max ? gt : lt) ? cur : upd;
    } else {
      C c = static_cast<C>(cur), u = static_cast<C>(upd);
      return (max ? c > u : c < u) ? cur : upd;
    }
  }
}

template <Scatter::Kind K, typename T>
void apply_updates(T* out, const T* upd, const std::vector<int64_t>& bases,
                   const std::vector<int64_t>& owner, int64_t own_lo, int64_t own_hi,
                   const BlockRows& rows, int64_t slice_size) {
  const int64_t n = rows.inner, s = rows.inner_stride;
  const size_t np = bases.size();
  for (size_t p = 0; p < np; ++p) {
    if (!owner.empty() && (owner[p] < own_lo || owner[p] >= own_hi)) continue;
    T* dst = out + bases[p];
    const T* src = upd + (int64_t)p * slice_size;
    for (int64_t off : rows.offsets) {
      T* d = dst + off;
      if (s == 1) {
        for (int64_t i = 0; i < n; ++i) d[i] = combine<K>(d[i], src[i]);
      } else {
        for (int64_t i = 0; i < n; ++i) d[i * s] = combine<K>(d[i * s], src[i]);
      }
      src += n;
    }
  }
}

}  // namespace

const char* Scatter::name() const {
  switch (kind_) {
    case Kind::None: return "Scatter";
    case Kind::Sum: return "ScatterAdd";
    case Kind::Prod: return "ScatterProd";
    case Kind::Max: return "ScatterMax";
    case Kind::Min: return "ScatterMin";
  }
  return "Scatter";
}

void Scatter::eval_cpu(const std::vector<array>& in, array& out) {
  const array& a = in[0];
  if (a.flags().row_contiguous && a.is_donatable() && a.buffer())
    out.move_shared_buffer(a);
  else
    copy_to_row_contiguous(a, out);
  array upd = ensure_row_contiguous(in.back());
  if (upd.size() == 0) return;
  auto idx = read_indices(in, 1, axes_.size());
  const size_t n_idx = idx.empty() ? 1 : idx[0].size();
  Shape slice = out.shape();
  for (int ax : axes_) slice[ax] = 1;
  const int64_t slice_size = shape_size(slice);
  BlockRows rows(slice, out.strides());

  // Where each update's block starts, checked before anything is written.
  std::vector<int64_t> bases(n_idx, 0);
  for (size_t k = 0; k < axes_.size(); ++k) {
    const int64_t n = out.shape()[axes_[k]], st = out.strides()[axes_[k]];
    const auto& ik = idx[k];
    for (size_t p = 0; p < n_idx; ++p) bases[p] += wrap_index(ik[p], n, "scatter") * st;
  }

  // Large scatters split over threads by the position along the longest indexed axis: each
  // thread owns a range of positions and applies, in order, the updates that land there.
  // Blocks are one element thick along every indexed axis, so updates at different
  // positions never overlap, and the result equals the sequential one.
  std::vector<int64_t> owner;
  int64_t n_own = 1;
  const int threads = num_threads();
  if (!axes_.empty() && threads > 1 && (int64_t)n_idx * slice_size >= (int64_t)kParallelGrain) {
    size_t k = 0;
    for (size_t j = 1; j < axes_.size(); ++j)
      if (out.shape()[axes_[j]] > out.shape()[axes_[k]]) k = j;
    n_own = out.shape()[axes_[k]];
    if (n_own > 1) {
      owner.resize(n_idx);
      for (size_t p = 0; p < n_idx; ++p) owner[p] = idx[k][p] < 0 ? idx[k][p] + n_own : idx[k][p];
    }
  }
  idx.clear();
  dispatch_all(out.dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    T* po = out.data<T>();
    const T* pu = upd.data<T>();
    auto run = [&](int64_t lo, int64_t hi) {
      switch (kind_) {
        case Kind::None: apply_updates<Kind::None>(po, pu, bases, owner, lo, hi, rows, slice_size); break;
        case Kind::Sum: apply_updates<Kind::Sum>(po, pu, bases, owner, lo, hi, rows, slice_size); break;
        case Kind::Prod: apply_updates<Kind::Prod>(po, pu, bases, owner, lo, hi, rows, slice_size); break;
        case Kind::Max: apply_updates<Kind::Max>(po, pu, bases, owner, lo, hi, rows, slice_size); break;
        case Kind::Min: apply_updates<Kind::Min>(po, pu, bases, owner, lo, hi, rows, slice_size); break;
      }
    };
    if (owner.empty()) {
      run(0, 1);
      return;
    }
    const int64_t chunks = std::min<int64_t>(n_own, threads);
    parallel_for((size_t)chunks, 1, [&](size_t b, size_t e) {
      for (size_t c = b; c < e; ++c) run(n_own * (int64_t)c / chunks, n_own * (int64_t)(c + 1) / chunks);
    });
  });
}

}  // namespace ember
