// The Convolution primitive's rules. Both gradients are convolutions of the same primitive
// (with strides, dilations, padding and flip rearranged), so they compose to any depth.
#include "ember/ops/common.h"
#include "ember/ops/conv.h"
#include "ember/primitives/conv_grad.h"

namespace ember {

namespace {

using Arrays = std::vector<array>;
using Axes = std::vector<int>;

// Axes 0..n-1 in order.
Axes iota_axes(int n) {
  Axes a(n);
  for (int i = 0; i < n; ++i) a[i] = i;
  return a;
}

// d/dx: the cotangent (dilated by the stride) convolved with the kernel, its channel axes
// swapped within each group and flipped spatially; stride and input dilation trade places.
array grad_input(const array& x, const array& w, const array& ct, const ConvParams& p, Stream s) {
  int sp = x.ndim() - 2;
  int G = p.groups;
  int cout = w.shape(0), cig = w.shape().back();
  int cog = cout / G;
  // (C_out, K..., C_in/G) -> (G, C_out/G, K..., C_in/G) -> (G, C_in/G, K..., C_out/G) -> (C_in, K..., C_out/G)
  Shape split{G, cog};
  for (int i = 0; i < sp; ++i) split.push_back(w.shape(i + 1));
  split.push_back(cig);
  Axes perm{0, sp + 2};
  for (int i = 0; i < sp; ++i) perm.push_back(i + 2);
  perm.push_back(1);
  array wt = transpose(reshape(w, split, s), perm, s);
  Shape merged{G * cig};
  for (int i = 0; i < sp; ++i) merged.push_back(w.shape(i + 1));
  merged.push_back(cog);
  wt = reshape(wt, merged, s);
  ConvParams q;
  q.groups = G;
  q.flip = !p.flip;
  q.stride = p.input_dilation;
  q.input_dilation = p.stride;
  q.kernel_dilation = p.kernel_dilation;
  for (int i = 0; i < sp; ++i) {
    int64_t kspan = (int64_t)p.kernel_dilation[i] * (w.shape(i + 1) - 1);
    int64_t ct_span = (int64_t)(ct.shape(i + 1) - 1) * p.stride[i] + 1;
    int64_t lo = kspan - p.pad_lo[i];
    int64_t hi = (int64_t)(x.shape(i + 1) - 1) * p.input_dilation[i] + kspan + 1 - ct_span - lo;
    q.pad_lo.push_back((int)lo);
    q.pad_hi.push_back((int)hi);
  }
  return conv_node(ct, wt, q, s);
}

// d/dw: one node that correlates the input's patches with the cotangent (a GEMM over every
// output pixel of the batch, in the kernel's layout).
array grad_weight(const array& x, const array& w, const array& ct, const ConvParams& p, Stream s) {
  std::vector<int> kernel(w.shape().begin() + 1, w.shape().end() - 1);
  return conv_weight_grad(x, ct, p, kernel, s);
}

}  // namespace

Arrays Convolution::vjp(const Arrays& p, const Arrays& ct, const Axes& argnums, const Arrays&) {
  Arrays r;
  for (int i : argnums) {
    if (i == 0) r.push_back(grad_input(p[0], p[1], ct[0], p_, stream()));
    else r.push_back(grad_weight(p[0], p[1], ct[0], p_, stream()));
  }
  return r;
}

Arrays Convolution::jvp(const Arrays& p, const Arrays& t, const Axes& argnums) {
  array total;
  for (size_t k = 0; k < argnums.size(); ++k) {
    array d = argnums[k] == 0 ? conv_node(t[k], p[1], p_, stream()) : conv_node(p[0], t[k], p_, stream());
    total = total.valid() ? add(total, d, stream()) : d;
  }
  return {total};
}

// Batching: a batched input folds into N; a batched kernel into the output channels; both
// batched, into the groups.
std::pair<Arrays, Axes> Convolution::vmap(const Arrays& in, const Axes& axes) {
  Stream s = stream();
  int G = p_.groups;
  const array& x0 = in[0];
  const array& w0 = in[1];
  if (axes[1] < 0) {
    // x (B, N, L..., C) -> (B*N, L..., C)
    array x = axes[0] == 0 ? x0 : moveaxis(x0, axes[0], 0, s);
    int B = x.shape(0);
    Shape sh(x.shape().begin() + 1, x.shape().end());
    sh[0] *= B;
    array o = conv_node(reshape(x, sh, s), w0, p_, s);
    Shape os = o.shape();
    os[0] /= std::max(B, 1);
    if (B == 0) os[0] = x.shape(1);
    os.insert(os.begin(), B);
    return {{reshape(o, os, s)}, {0}};
  }
  array w = axes[1] == 0 ? w0 : moveaxis(w0, axes[1], 0, s);  // (B, C_out, K..., C_in/G)
  int B = w.shape(0);
  int cout = w.shape(1);
  int cog = cout / G;
  int wnd = w.ndim();
  if (axes[0] < 0) {
    // w (B, G, C_out/G, K..., Cig) -> (G, B, C_out/G, K..., Cig) -> (G*B*C_out/G, K..., Cig)
    Shape split{B, G, cog};
    split.insert(split.end(), w.shape().begin() + 2, w.shape().end());
    Axes perm = iota_axes(wnd + 1);
    std::swap(perm[0], perm[1]);
    array wt = transpose(reshape(w, split, s), perm, s);
    Shape merged{G * B * cog};
    merged.insert(merged.end(), w.shape().begin() + 2, w.shape().end());
    array o = conv_node(x0, reshape(wt, merged, s), p_, s);  // (N, O..., G*B*cog)
    int ond = o.ndim();
    Shape os(o.shape().begin(), o.shape().end() - 1);
    os.insert(os.end(), {G, B, cog});
    o = reshape(o, os, s);  // (N, O..., G, B, cog)
    o = moveaxis(o, ond, 0, s);  // (B, N, O..., G, cog)
    Shape fs(o.shape().begin(), o.shape().end() - 2);
    fs.push_back(cout);
    return {{reshape(o, fs, s)}, {0}};
  }
  // Both batched: x (B, N, L..., C_in) -> (N, L..., B*C_in), w -> (B*C_out, K..., Cig).
  array x = axes[0] == 0 ? x0 : moveaxis(x0, axes[0], 0, s);
  int xnd = x.ndim();
  x = moveaxis(x, 0, xnd - 2, s);  // (N, L..., B, C_in)
  Shape xs(x.shape().begin(), x.shape().end() - 2);
  xs.push_back(B * x.shape().back());
  Shape ws(w.shape().begin() + 1, w.shape().end());
  ws[0] *= B;
  ConvParams q = p_;
  q.groups = G * B;
  if (B == 0) {
    // An empty batch: nothing to convolve.
    array xb = axes[0] == 0 ? x0 : moveaxis(x0, axes[0], 0, s);
    Shape os = p_.output_shape(Shape(xb.shape().begin() + 1, xb.shape().end()),
                               Shape(w.shape().begin() + 1, w.shape().end()));
    os.insert(os.begin(), 0);
    return {{zeros(os, x0.dtype(), s)}, {0}};
  }
  array o = conv_node(reshape(x, xs, s), reshape(w, ws, s), q, s);  // (N, O..., B*C_out)
  int ond = o.ndim();
  Shape os(o.shape().begin(), o.shape().end() - 1);
  os.insert(os.end(), {B, cout});
  o = reshape(o, os, s);
  return {{moveaxis(o, ond - 1, 0, s)}, {0}};
}

bool Convolution::is_equivalent(const Primitive& o) const {
  auto* c = dynamic_cast<const Convolution*>(&o);
  return c && c->p_ == p_;
}

std::vector<Shape> Convolution::output_shapes(const std::vector<array>& in) {
  return {p_.output_shape(in[0].shape(), in[1].shape())};
}

// ---------- ConvWeightGrad: dw = WG(x, ct), bilinear, with <WG(x, ct), v> = <ct, conv(x, v)>.

Shape ConvWeightGrad::weight_shape(const Shape& x, const Shape& ct) const {
  Shape w{ct.back()};
  for (int k : kernel_) w.push_back(k);
  w.push_back(x.back() / p_.groups);
  return w;
}

std::vector<Shape> ConvWeightGrad::output_shapes(const std::vector<array>& in) {
  return {weight_shape(in[0].shape(), in[1].shape())};
}

bool ConvWeightGrad::is_equivalent(const Primitive& o) const {
  auto* c = dynamic_cast<const ConvWeightGrad*>(&o);
  return c && c->p_ == p_ && c->kernel_ == kernel_;
}

Arrays ConvWeightGrad::vjp(const Arrays& p, const Arrays& ct, const Axes& argnums, const Arrays&) {
  // p = {x, cotangent of the convolution}; ct[0] has the weight's shape.
  Arrays r;
  for (int i : argnums) {
    if (i == 0) r.push_back(grad_input(p[0], ct[0], p[1], p_, stream()));
    else r.push_back(conv_node(p[0], ct[0], p_, stream()));
  }
  return r;
}

Arrays ConvWeightGrad::jvp(const Arrays& p, const Arrays& t, const Axes& argnums) {
  array total;
  for (size_t k = 0; k < argnums.size(); ++k) {
    array d = argnums[k] == 0 ? conv_weight_grad(t[k], p[1], p_, kernel_, stream())
                              : conv_weight_grad(p[0], t[k], p_, kernel_, stream());
    total = total.valid() ? add(total, d, stream()) : d;
  }
  return {total};
}

// Batching: both operands batched (an unbatched one is broadcast), the batch folds into the
// groups: x (B, N, L..., C_in) -> (N, L..., B*C_in), ct likewise, groups G*B; the result
// (B*C_out, K..., C_in/G) splits back into (B, C_out, K..., C_in/G).
std::pair<Arrays, Axes> ConvWeightGrad::vmap(const Arrays& in, const Axes& axes) {
  Stream s = stream();
  int B = axes[0] >= 0 ? in[0].shape(axes[0]) : in[1].shape(axes[1]);
  auto batched = [&](const array& a, int ax) {
    if (ax >= 0) return ax == 0 ? a : moveaxis(a, ax, 0, s);
    Shape sh = a.shape();
    sh.insert(sh.begin(), B);
    return broadcast_to(a, sh, s);
  };
  array x = batched(in[0], axes[0]), c = batched(in[1], axes[1]);
  if (B == 0) {
    Shape os = weight_shape(Shape(x.shape().begin() + 1, x.shape().end()),
                            Shape(c.shape().begin() + 1, c.shape().end()));
    os.insert(os.begin(), 0);
    return {{zeros(os, x.dtype(), s)}, {0}};
  }
  auto fold = [&](const array& a) {  // (B, N, L..., C) -> (N, L..., B*C)
    array m = moveaxis(a, 0, a.ndim() - 2, s);
    Shape sh(m.shape().begin(), m.shape().end() - 2);
    sh.push_back(B * a.shape().back());
    return reshape(m, sh, s);
  };
  ConvParams q = p_;
  q.groups = p_.groups * B;
  array r = conv_weight_grad(fold(x), fold(c), q, kernel_, s);  // (B*C_out, K..., Cig)
  Shape sh = r.shape();
  sh[0] /= B;
  sh.insert(sh.begin(), B);
  return {{reshape(r, sh, s)}, {0}};
}

// ---------- TileMax and its gradient

namespace {

// sum over each tile of t * mask / count, mask the tile's maxima of x: the tangent of the
// tile max along t (and the adjoint of TileMaxGrad in its cotangent), with generic ops.
array tile_shared_sum(const array& x, const array& t, const std::vector<int>& kernel, Stream s) {
  int sp = (int)kernel.size();
  Shape split{x.shape(0)};
  Axes axes;
  for (int i = 0; i < sp; ++i) {
    split.push_back(x.shape(i + 1) / kernel[i]);
    split.push_back(kernel[i]);
    axes.push_back(2 + 2 * i);
  }
  split.push_back(x.shape().back());
  array xr = reshape(x, split, s), tr = reshape(t, split, s);
  array mask = astype(equal(xr, max(xr, axes, true, s), s), t.dtype(), s);
  return divide(sum(multiply(mask, tr, s), axes, false, s), sum(mask, axes, false, s), s);
}

// Arrays batched along axis 0 (an unbatched one broadcast) with the batch folded into N.
std::pair<Arrays, int> fold_batch(const Arrays& in, const Axes& axes, Stream s) {
  int B = 1;
  for (size_t i = 0; i < in.size(); ++i)
    if (axes[i] >= 0) B = in[i].shape(axes[i]);
  Arrays r;
  for (size_t i = 0; i < in.size(); ++i) {
    array a = in[i];
    if (axes[i] >= 0) {
      a = axes[i] == 0 ? a : moveaxis(a, axes[i], 0, s);
    } else {
      Shape sh = a.shape();
      sh.insert(sh.begin(), B);
      a = broadcast_to(a, sh, s);
    }
    Shape f(a.shape().begin() + 1, a.shape().end());
    f[0] *= B;
    r.push_back(reshape(a, f, s));
  }
  return {r, B};
}

array unfold_batch(const array& a, int B, Stream s) {
  Shape sh = a.shape();
  sh[0] = B == 0 ? 0 : sh[0] / B;
  sh.insert(sh.begin(), B);
  return reshape(a, sh, s);
}

}  // namespace

std::vector<Shape> TileMax::output_shapes(const std::vector<array>& in) {
  Shape out = in[0].shape();
  for (size_t i = 0; i < kernel_.size(); ++i) out[i + 1] /= kernel_[i];
  return {out};
}

bool TileMax::is_equivalent(const Primitive& o) const {
  auto* c = dynamic_cast<const TileMax*>(&o);
  return c && c->kernel_ == kernel_;
}

Arrays TileMax::vjp(const Arrays& p, const Arrays& ct, const Axes&, const Arrays&) {
  return {tile_max_grad(p[0], ct[0], kernel_, stream())};
}

Arrays TileMax::jvp(const Arrays& p, const Arrays& t, const Axes&) {
  return {tile_shared_sum(p[0], t[0], kernel_, stream())};
}

std::pair<Arrays, Axes> TileMax::vmap(const Arrays& in, const Axes& axes) {
  auto [f, B] = fold_batch(in, axes, stream());
  return {{unfold_batch(tile_max(f[0], kernel_, stream()), B, stream())}, {0}};
}

std::vector<Shape> TileMaxGrad::output_shapes(const std::vector<array>& in) { return {in[0].shape()}; }

bool TileMaxGrad::is_equivalent(const Primitive& o) const {
  auto* c = dynamic_cast<const TileMaxGrad*>(&o);
  return c && c->kernel_ == kernel_;
}

// Linear in ct; piecewise constant in x (its derivative there is zero).
Arrays TileMaxGrad::vjp(const Arrays& p, const Arrays& ct, const Axes& argnums, const Arrays&) {
  Arrays r;
  for (int i : argnums)
    r.push_back(i == 0 ? zeros_like(p[0], stream()) : tile_shared_sum(p[0], ct[0], kernel_, stream()));
  return r;
}

Arrays TileMaxGrad::jvp(const Arrays& p, const Arrays& t, const Axes& argnums) {
  for (size_t k = 0; k < argnums.size(); ++k)
    if (argnums[k] == 1) return {tile_max_grad(p[0], t[k], kernel_, stream())};
  return {zeros_like(p[0], stream())};
}

std::pair<Arrays, Axes> TileMaxGrad::vmap(const Arrays& in, const Axes& axes) {
  auto [f, B] = fold_batch(in, axes, stream());
  return {{unfold_batch(tile_max_grad(f[0], f[1], kernel_, stream()), B, stream())}, {0}};
}

}  // namespace ember
