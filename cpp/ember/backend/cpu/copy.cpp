// Copies, type conversion, views and joins.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "ember/backend/cpu/kernels.h"
#include "ember/primitives.h"

namespace ember {

using namespace cpu;

namespace {

void set_view(array& out, const array& in, const Strides& strides, int64_t offset) {
  Flags f = view_flags(out.shape(), strides);
  size_t dsize = f.contiguous ? out.size() : in.data_size();
  out.copy_shared_buffer(in, strides, f, dsize, offset);
}

}  // namespace

namespace cpu {

void copy_to_row_contiguous(const array& in, array& out) {
  alloc_out(out);
  if (out.size() == 0) return;
  dispatch_all(in.dtype(), [&](auto ti) {
    using In = typename decltype(ti)::type;
    dispatch_all(out.dtype(), [&](auto to) {
      using Out = typename decltype(to)::type;
      if (in.flags().row_contiguous) {
        const In* s = in.data<In>();
        Out* d = out.data<Out>();
        if constexpr (std::is_same_v<In, Out>) {
          flat_for(in.size(), [&](size_t b, size_t e) { std::memcpy(d + b, s + b, (e - b) * sizeof(In)); });
        } else {
          flat_for(in.size(), [&](size_t b, size_t e) { convert_span(s + b, d + b, e - b); });
        }
      } else {
        copy_general<In, Out>(in, out);
      }
    });
  });
}

void copy_into(const array& in, array& view) {
  if (in.size() == 0) return;
  Shape shape = in.shape();
  std::array<Strides, 2> st{in.strides(), view.strides()};
  collapse(shape, st);
  dispatch_all(in.dtype(), [&](auto ti) {
    using In = typename decltype(ti)::type;
    dispatch_all(view.dtype(), [&](auto to) {
      using Out = typename decltype(to)::type;
      const In* src = in.data<In>();
      Out* dst = view.data<Out>();
      for_each_row<2>(shape, st, [&](auto off, int64_t n, auto s) {
        for (int64_t i = 0; i < n; ++i) dst[off[1] + i * s[1]] = cast_to<Out>(src[off[0] + i * s[0]]);
      });
    });
  });
}

array ensure_row_contiguous(const array& a) {
  if (a.flags().row_contiguous) return a;
  array out(a.shape(), a.dtype(), nullptr, {});
  copy_to_row_contiguous(a, out);
  return out;
}

}  // namespace cpu

void Copy::eval_cpu(const std::vector<array>& in, array& out) {
  if (in[0].flags().row_contiguous && in[0].is_donatable()) {
    out.move_shared_buffer(in[0]);
    return;
  }
  copy_to_row_contiguous(in[0], out);
}

void AsType::eval_cpu(const std::vector<array>& in, array& out) {
  const array& a = in[0];
  if (a.flags().contiguous && a.data_size() == a.size() && !a.flags().row_contiguous) {
    // Keep a dense permuted layout.
    out.set_data(alloc_bytes(a.data_size() * out.itemsize()), a.data_size(), a.strides(), a.flags());
    dispatch_all(a.dtype(), [&](auto ti) {
      using In = typename decltype(ti)::type;
      dispatch_all(out.dtype(), [&](auto to) {
        using Out = typename decltype(to)::type;
        const In* s = a.data<In>();
        Out* d = out.data<Out>();
        flat_for(a.data_size(), [&](size_t b, size_t e) { convert_span(s + b, d + b, e - b); });
      });
    });
    return;
  }
  copy_to_row_contiguous(a, out);
}

void Arange::eval_cpu(const std::vector<array>&, array& out) {
  alloc_out(out);
  dispatch_real(out.dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    T* o = out.data<T>();
    if constexpr (std::is_integral_v<T>) {
      for (size_t i = 0; i < out.size(); ++i) o[i] = T((int64_t)start_ + (int64_t)i * (int64_t)step_);
    } else {
      for (size_t i = 0; i < out.size(); ++i) o[i] = T(start_ + (double)i * step_);
    }
  });
}

// Strides that let `out` view `a` when the reshape only adds or removes size-1 axes
// (squeeze, expand_dims, integer indexing); false otherwise.
static bool unit_axes_view(const array& a, const Shape& out, Strides& st) {
  const Shape& in = a.shape();
  st.assign(out.size(), 0);
  int j = (int)in.size() - 1;
  int64_t acc = 1;
  for (int i = (int)out.size() - 1; i >= 0; --i) {
    if (out[i] == 1) {
      st[i] = acc;
      continue;
    }
    while (j >= 0 && in[j] == 1) --j;
    if (j < 0 || in[j] != out[i]) return false;
    st[i] = a.strides()[j];
    acc = st[i] * out[i];
    --j;
  }
  while (j >= 0 && in[j] == 1) --j;
  return j < 0;
}

void Reshape::eval_cpu(const std::vector<array>& in, array& out) {
  const array& a = in[0];
  if (a.flags().row_contiguous) {
    out.copy_shared_buffer(a, row_strides(out.shape()), view_flags(out.shape(), row_strides(out.shape())),
                           a.size());
    return;
  }
  Strides st;
  if (unit_axes_view(a, out.shape(), st)) {
    Flags f = view_flags(out.shape(), st);
    f.contiguous = f.contiguous && a.flags().contiguous;
    out.copy_shared_buffer(a, st, f, f.contiguous ? out.size() : a.data_size());
    return;
  }
  array tmp(a.shape(), a.dtype(), nullptr, {});
  copy_to_row_contiguous(a, tmp);
  out.copy_shared_buffer(tmp, row_strides(out.shape()), view_flags(out.shape(), row_strides(out.shape())),
                         a.size());
}

void Transpose::eval_cpu(const std::vector<array>& in, array& out) {
  const array& a = in[0];
  Strides st(axes_.size());
  for (size_t i = 0; i < axes_.size(); ++i) st[i] = a.strides()[axes_[i]];
  Flags f = view_flags(out.shape(), st);
  f.contiguous = f.contiguous && a.flags().contiguous && a.data_size() == a.size();
  out.copy_shared_buffer(a, st, f, a.data_size());
}

void Broadcast::eval_cpu(const std::vector<array>& in, array& out) {
  const array& a = in[0];
  int diff = out.ndim() - a.ndim();
  Strides st(out.ndim(), 0);
  for (int i = 0; i < a.ndim(); ++i)
    st[i + diff] = (a.shape()[i] == 1 && out.shape()[i + diff] != 1) ? 0 : a.strides()[i];
  Flags f = view_flags(out.shape(), st);
  bool same = out.size() == a.size();
  f.contiguous = f.contiguous && same && a.flags().contiguous;
  f.row_contiguous = f.row_contiguous && same;
  f.col_contiguous = f.col_contiguous && same;
  out.copy_shared_buffer(a, st, f, a.data_size());
}

void Slice::eval_cpu(const std::vector<array>& in, array& out) {
  const array& a = in[0];
  Strides st(a.ndim());
  int64_t offset = 0;
  for (int i = 0; i < a.ndim(); ++i) {
    offset += (int64_t)start_[i] * a.strides()[i];
    st[i] = a.strides()[i] * strides_[i];
  }
  if (out.size() == 0) offset = 0;
  set_view(out, a, st, offset);
}

void AsStrided::eval_cpu(const std::vector<array>& in, array& out) {
  set_view(out, in[0], strides_, (int64_t)offset_);
}

void SliceUpdate::eval_cpu(const std::vector<array>& in, array& out) {
  const array& src = in[0];
  const array& upd = in[1];
  if (src.flags().row_contiguous && src.is_donatable())
    out.move_shared_buffer(src);
  else
    copy_to_row_contiguous(src, out);
  if (upd.size() == 0) return;
  Strides st(out.ndim());
  int64_t offset = 0;
  for (int i = 0; i < out.ndim(); ++i) {
    offset += (int64_t)start_[i] * out.strides()[i];
    st[i] = out.strides()[i] * strides_[i];
  }
  array view(upd.shape(), out.dtype(), nullptr, {});
  view.copy_shared_buffer(out, st, Flags{false, false, false}, out.data_size(), offset);
  copy_into(upd, view);
}

void Concatenate::eval_cpu(const std::vector<array>& in, array& out) {
  alloc_out(out);
  int64_t pos = 0;
  for (auto& a : in) {
    if (a.size() > 0) {
      array view(a.shape(), out.dtype(), nullptr, {});
      view.copy_shared_buffer(out, out.strides(), Flags{false, false, false}, out.data_size(),
                              pos * out.strides()[axis_]);
      copy_into(a, view);
    }
    pos += a.shape()[axis_];
  }
}

}  // namespace ember
