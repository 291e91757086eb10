// Contractions and diagonals, composed from existing ops and the Diagonal view primitive.
// einsum works in three stages:
// parse the subscripts into integer labels per operand (the ellipsis expanded into labels of
// its own), choose a contraction order greedily (the same choices and costs as MLX reports),
// then lower each step to diagonals, sums, transposes, reshapes and one matmul.
#include "ember/ops/einsum.h"

#include <algorithm>
#include <array>
#include <bitset>
#include <cctype>
#include <numeric>

#include "ember/ops/common.h"

namespace ember {

namespace {

// ---------- parsing

// Letters label themselves; ellipsis dims take kEll + their position in the broadcast
// ellipsis shape, so they sort after every letter.
constexpr int kEll = 128;
constexpr int kLabels = 256;
using LabelSet = std::bitset<kLabels>;
using Labels = std::vector<int>;

struct Parsed {
  std::vector<Labels> inputs;
  Labels output;
  std::array<int64_t, kLabels> size{};  // broadcast size of each label
};

std::string compact_shape(const Shape& s) {
  std::string r = "(";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + ")";
}

// One term: letters, and -1 for the ellipsis.
Labels parse_term(const std::string& term) {
  Labels out;
  bool ellipsis = false;
  for (size_t i = 0; i < term.size(); ++i) {
    char c = term[i];
    if (c == '.' && term.compare(i, 3, "...") == 0) {
      if (ellipsis)
        op_error("einsum", "Only one ellipsis per subscript is allowed but found more in '" + term + "'.");
      ellipsis = true;
      out.push_back(-1);
      i += 2;
      continue;
    }
    if (!std::isalpha(static_cast<unsigned char>(c)))
      op_error("einsum", std::string("Subscripts must be letters, but got '") + c + "'.");
    out.push_back(c);
  }
  return out;
}

Parsed parse(const std::string& subscripts, const std::vector<array>& ops) {
  if (ops.empty()) op_error("einsum", "At least one operand is required.");
  std::string text;
  for (char c : subscripts)
    if (!std::isspace(static_cast<unsigned char>(c))) text += c;
  auto arrow = text.find("->");
  bool implicit = arrow == std::string::npos;
  std::string lhs = implicit ? text : text.substr(0, arrow);
  std::vector<std::string> terms;
  for (size_t start = 0;;) {
    auto comma = lhs.find(',', start);
    terms.push_back(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (terms.size() != ops.size())
    op_error("einsum", "Number of operands, " + std::to_string(ops.size()) +
                           ", does not match number of input subscripts, " +
                           std::to_string(terms.size()));

  Parsed p;
  std::vector<Labels> raw;
  int ell_ndim = 0;
  for (size_t i = 0; i < terms.size(); ++i) {
    raw.push_back(parse_term(terms[i]));
    const Labels& t = raw.back();
    bool has_ell = std::find(t.begin(), t.end(), -1) != t.end();
    int letters = (int)t.size() - (has_ell ? 1 : 0);
    int nd = ops[i].ndim();
    if (has_ell ? letters > nd : letters != nd)
      op_error("einsum", "Invalid number of subscripts " + std::to_string(letters) + " for input " +
                             std::to_string(i) + " with " + std::to_string(nd) + " dimensions.");
    if (has_ell) ell_ndim = std::max(ell_ndim, nd - letters);
  }
  if (ell_ndim >= kLabels - kEll) op_error("einsum", "Too many dimensions under the ellipsis.");
  // Expand each ellipsis into the trailing labels of the broadcast ellipsis shape.
  for (size_t i = 0; i < raw.size(); ++i) {
    Labels t;
    int letters = 0;
    for (int l : raw[i]) letters += l != -1;
    for (int l : raw[i]) {
      if (l != -1) {
        t.push_back(l);
        continue;
      }
      int e = ops[i].ndim() - letters;
      for (int k = 0; k < e; ++k) t.push_back(kEll + ell_ndim - e + k);
    }
    p.inputs.push_back(std::move(t));
  }
  // Sizes: a label repeated within one operand must have one size there; across operands a
  // size of 1 broadcasts.
  std::array<bool, kLabels> seen{};
  for (size_t i = 0; i < p.inputs.size(); ++i) {
    const Labels& t = p.inputs[i];
    const Shape& sh = ops[i].shape();
    for (size_t d = 0; d < t.size(); ++d)
      for (size_t e = d + 1; e < t.size(); ++e)
        if (t[d] == t[e] && sh[d] != sh[e])
          op_error("einsum", "Dimensions of repeated subscripts do not have the same size (" +
                                 std::to_string(sh[d]) + " != " + std::to_string(sh[e]) + ").");
    for (size_t d = 0; d < t.size(); ++d) {
      int64_t& sz = p.size[t[d]];
      if (!seen[t[d]] || sz == 1) {
        sz = sh[d];
        seen[t[d]] = true;
      } else if (sh[d] != sz && sh[d] != 1) {
        op_error("einsum", "Cannot broadcast dimension " + std::to_string(d) + " of input " +
                               std::to_string(i) + " with shape " + compact_shape(sh) +
                               " to size " + std::to_string(sz) + ".");
      }
    }
  }
  // The output: as written, or the ellipsis then the letters occurring once, sorted.
  if (implicit) {
    for (int k = 0; k < ell_ndim; ++k) p.output.push_back(kEll + k);
    std::array<int, kLabels> count{};
    for (auto& t : p.inputs)
      for (int l : t) ++count[l];
    for (int l = 0; l < kEll; ++l)
      if (count[l] == 1) p.output.push_back(l);
  } else {
    Labels t = parse_term(text.substr(arrow + 2));
    for (int l : t) {
      if (l == -1) {
        for (int k = 0; k < ell_ndim; ++k) p.output.push_back(kEll + k);
        continue;
      }
      if (std::find(p.output.begin(), p.output.end(), l) != p.output.end())
        op_error("einsum", "Repeat indices not allowed in output.");
      if (!seen[l])
        op_error("einsum", std::string("Output subscript '") + (char)l +
                               "' does not appear in the input subscripts.");
      p.output.push_back(l);
    }
  }
  return p;
}

// ---------- the contraction order

LabelSet to_set(const Labels& t) {
  LabelSet s;
  for (int l : t) s.set(l);
  return s;
}

struct Costs {
  const std::array<int64_t, kLabels>& size;
  uint64_t elements(const LabelSet& s) const {
    uint64_t n = 1;
    for (int l = 0; l < kLabels; ++l)
      if (s[l]) n *= (uint64_t)size[l];
    return n;
  }
  // Multiply-adds of one contraction of `terms` operands over the labels `all`: one
  // operation per extra operand (at least one), one more when some label is summed away.
  uint64_t flops(const LabelSet& all, bool summed, size_t terms) const {
    uint64_t factor = std::max<uint64_t>(1, terms - 1) + (summed ? 1 : 0);
    return elements(all) * factor;
  }
};

struct Plan {
  std::vector<std::vector<int>> steps;
  uint64_t naive_flops = 0, opt_flops = 0;
  int naive_scaling = 0, opt_scaling = 0;
};

// Greedy: at each step, among the pairs sharing a label (all pairs when none do), take the
// contraction whose result removes the most elements (ties: the cheaper, then the earlier
// found), skipping results larger than the largest operand or output and paths costlier than
// the naive contraction; when nothing qualifies, contract the rest at once.
Plan plan_path(const Parsed& p) {
  Costs c{p.size};
  std::vector<LabelSet> terms;
  LabelSet all;
  for (auto& t : p.inputs) {
    terms.push_back(to_set(t));
    all |= terms.back();
  }
  LabelSet out = to_set(p.output);
  Plan plan;
  plan.naive_scaling = (int)all.count();
  plan.naive_flops = c.flops(all, (all & ~out).any(), terms.size());
  if (terms.size() <= 2) {
    std::vector<int> pos(terms.size());
    std::iota(pos.begin(), pos.end(), 0);
    plan.steps.push_back(pos);
    plan.opt_flops = plan.naive_flops;
    plan.opt_scaling = plan.naive_scaling;
    return plan;
  }
  // The size limit counts a repeated label once per occurrence (as MLX does).
  uint64_t size_limit = c.elements(out);
  for (auto& t : p.inputs) {
    uint64_t n = 1;
    for (int l : t) n *= (uint64_t)p.size[l];
    size_limit = std::max(size_limit, n);
  }

  struct Candidate {
    int64_t removed;
    uint64_t cost;
    int scaling, x, y;
  };
  std::vector<Candidate> cands;
  std::vector<std::pair<int, int>> pairs;
  for (int i = 0; i < (int)terms.size(); ++i)
    for (int j = i + 1; j < (int)terms.size(); ++j) pairs.emplace_back(i, j);
  uint64_t cost = 0;
  int scaling = 0;
  auto consider = [&](int x, int y) {
    LabelSet both = terms[x] | terms[y], rest = out;
    for (int k = 0; k < (int)terms.size(); ++k)
      if (k != x && k != y) rest |= terms[k];
    LabelSet result = both & rest;
    uint64_t n = c.elements(result);
    if (n > size_limit) return;
    uint64_t f = c.flops(both, both.count() > result.count(), 2);
    if (cost + f > plan.naive_flops) return;
    int64_t removed = (int64_t)(c.elements(terms[x]) + c.elements(terms[y])) - (int64_t)n;
    cands.push_back({removed, f, (int)both.count(), x, y});
  };
  for (size_t step = 0; step + 1 < p.inputs.size(); ++step) {
    for (auto [x, y] : pairs)
      if ((terms[x] & terms[y]).any()) consider(x, y);
    if (cands.empty())
      for (auto [x, y] : pairs) consider(x, y);
    if (cands.empty()) {
      std::vector<int> pos(terms.size());
      std::iota(pos.begin(), pos.end(), 0);
      plan.steps.push_back(pos);
      LabelSet rem;
      for (auto& t : terms) rem |= t;
      cost += c.flops(rem, (rem & ~out).any(), terms.size());
      scaling = std::max(scaling, (int)rem.count());
      break;
    }
    Candidate best = cands[0];
    for (auto& k : cands)
      if (k.removed > best.removed || (k.removed == best.removed && k.cost < best.cost)) best = k;
    scaling = std::max(scaling, best.scaling);
    cost += best.cost;
    plan.steps.push_back({best.x, best.y});
    LabelSet rest = out;
    for (int k = 0; k < (int)terms.size(); ++k)
      if (k != best.x && k != best.y) rest |= terms[k];
    LabelSet merged = (terms[best.x] | terms[best.y]) & rest;
    terms.erase(terms.begin() + best.y);
    terms.erase(terms.begin() + best.x);
    terms.push_back(merged);
    // Candidates not touching the merged pair stay, renumbered; new pairs are with the result.
    std::vector<Candidate> kept;
    for (auto k : cands) {
      if (k.x == best.x || k.x == best.y || k.y == best.x || k.y == best.y) continue;
      k.x -= (k.x > best.x) + (k.x > best.y);
      k.y -= (k.y > best.x) + (k.y > best.y);
      kept.push_back(k);
    }
    cands = std::move(kept);
    pairs.clear();
    for (int k = 0; k + 1 < (int)terms.size(); ++k) pairs.emplace_back(k, (int)terms.size() - 1);
  }
  plan.opt_flops = cost;
  plan.opt_scaling = scaling;
  return plan;
}

// ---------- lowering

struct Term {
  array a;
  Labels labels;
};

bool contains(const Labels& t, int l) { return std::find(t.begin(), t.end(), l) != t.end(); }

array permuted(const array& a, const std::vector<int>& perm, S s) {
  for (size_t i = 0; i < perm.size(); ++i)
    if (perm[i] != (int)i) return transpose(a, perm, s);
  return a;
}

// Take the diagonals of repeated labels, then sum away labels no one else needs.
Term reduce_single(Term t, const LabelSet& needed, S s) {
  for (bool again = true; again;) {
    again = false;
    for (size_t i = 0; i < t.labels.size() && !again; ++i)
      for (size_t j = i + 1; j < t.labels.size() && !again; ++j)
        if (t.labels[i] == t.labels[j]) {
          int l = t.labels[i];
          t.a = diagonal(t.a, 0, (int)i, (int)j, s);
          t.labels.erase(t.labels.begin() + j);
          t.labels.erase(t.labels.begin() + i);
          t.labels.push_back(l);
          again = true;
        }
  }
  std::vector<int> axes;
  Labels kept;
  for (size_t i = 0; i < t.labels.size(); ++i) {
    if (needed[t.labels[i]]) kept.push_back(t.labels[i]);
    else axes.push_back((int)i);
  }
  if (!axes.empty()) {
    t.a = sum(t.a, axes, false, s);
    t.labels = kept;
  }
  return t;
}

// Broadcast the size-1 dims of labels whose size is larger elsewhere.
Term widen(Term t, const std::array<int64_t, kLabels>& size, S s) {
  Shape sh = t.a.shape();
  bool change = false;
  for (size_t i = 0; i < sh.size(); ++i)
    if (sh[i] != size[t.labels[i]]) {
      sh[i] = (int32_t)size[t.labels[i]];
      change = true;
    }
  if (change) t.a = broadcast_to(t.a, sh, s);
  return t;
}

// Two reduced operands: labels in both and kept are batch, in both and not kept are summed
// by the matmul, the others stay on their side. The result is ordered batch, left, right.
Term contract_pair(Term x, Term y, const LabelSet& keep, const std::array<int64_t, kLabels>& size,
                   S s) {
  LabelSet other_y = to_set(y.labels), other_x = to_set(x.labels);
  x = widen(reduce_single(std::move(x), keep | other_y, s), size, s);
  y = widen(reduce_single(std::move(y), keep | other_x, s), size, s);
  Labels batch, left, right, inner;
  for (int l : x.labels) {
    if (contains(y.labels, l)) (keep[l] ? batch : inner).push_back(l);
    else left.push_back(l);
  }
  for (int l : y.labels)
    if (!contains(x.labels, l)) right.push_back(l);
  auto where_in = [](const Labels& t, int l) {
    return (int)(std::find(t.begin(), t.end(), l) - t.begin());
  };
  auto dims = [&](const Labels& ls) {
    Shape r;
    for (int l : ls) r.push_back((int32_t)size[l]);
    return r;
  };
  auto count = [&](const Labels& ls) {
    int64_t n = 1;
    for (int l : ls) n *= size[l];
    return n;
  };
  Labels out_labels = batch;
  out_labels.insert(out_labels.end(), left.begin(), left.end());
  out_labels.insert(out_labels.end(), right.begin(), right.end());
  Shape out_shape = dims(out_labels);

  if (inner.empty()) {
    // Nothing summed: a broadcasting multiply, x as (batch, left, 1...) and y as (batch, 1..., right).
    std::vector<int> px, py;
    for (int l : batch) px.push_back(where_in(x.labels, l));
    for (int l : left) px.push_back(where_in(x.labels, l));
    for (int l : batch) py.push_back(where_in(y.labels, l));
    for (int l : right) py.push_back(where_in(y.labels, l));
    Shape sx = dims(batch), sy = dims(batch);
    for (int l : left) sx.push_back((int32_t)size[l]), sy.push_back(1);
    for (int l : right) sx.push_back(1), sy.push_back((int32_t)size[l]);
    array ax = reshape(permuted(x.a, px, s), sx, s);
    array ay = reshape(permuted(y.a, py, s), sy, s);
    return {multiply(ax, ay, s), out_labels};
  }
  auto c32 = [](int64_t n) { return checked_dim(n, "einsum"); };
  auto cat = [](Labels a, const Labels& b, const Labels& c) {
    a.insert(a.end(), b.begin(), b.end());
    a.insert(a.end(), c.begin(), c.end());
    return a;
  };
  if (left.empty() && right.empty()) {
    // Dot products only: an elementwise product summed, cheaper than 1x1 matmuls.
    std::vector<int> px, py, axes;
    for (int l : cat(batch, {}, inner)) {
      px.push_back(where_in(x.labels, l));
      py.push_back(where_in(y.labels, l));
    }
    for (size_t k = 0; k < inner.size(); ++k) axes.push_back((int)(batch.size() + k));
    array prod = multiply(permuted(x.a, px, s), permuted(y.a, py, s), s);
    array r = sum(prod, axes, false, s);
    // Keep the product's dtype, as the matmul would (sum widens small integers and bool).
    return {r.dtype() == prod.dtype() ? r : astype(r, prod.dtype(), s), out_labels};
  }
  // Each side becomes a batch of matrices. An operand already laid out as (batch, rows, cols)
  // or (batch, cols, rows) is reshaped as it is (the second as a transposed view, which the
  // matmul reads without a copy); otherwise it is transposed first.
  auto as_matrices = [&](const Term& t, const Labels& rows, const Labels& cols) {
    Shape rc{c32(count(rows)), c32(count(cols))}, cr{rc[1], rc[0]};
    if (!batch.empty()) {
      rc.insert(rc.begin(), c32(count(batch)));
      cr.insert(cr.begin(), rc[0]);
    }
    if (t.labels == cat(batch, rows, cols)) return reshape(t.a, rc, s);
    if (t.labels == cat(batch, cols, rows)) return swapaxes(reshape(t.a, cr, s), -1, -2, s);
    std::vector<int> perm;
    for (int l : cat(batch, rows, cols)) perm.push_back(where_in(t.labels, l));
    return reshape(transpose(t.a, perm, s), rc, s);
  };
  array r = matmul(as_matrices(x, left, inner), as_matrices(y, inner, right), s);
  return {reshape(r, out_shape, s), out_labels};
}

std::string path_info(const std::string& subscripts, const Plan& plan) {
  return "  Complete contraction:  " + subscripts + "\n" +
         "         Naive scaling:  " + std::to_string(plan.naive_scaling) + "\n" +
         "     Optimized scaling:  " + std::to_string(plan.opt_scaling) + "\n" +
         "      Naive FLOP count:  " + std::to_string(plan.naive_flops) + "\n" +
         "  Optimized FLOP count:  " + std::to_string(plan.opt_flops) + "\n";
}

}  // namespace

EinsumPath einsum_path(const std::string& subscripts, const std::vector<array>& operands) {
  Parsed p = parse(subscripts, operands);
  Plan plan = plan_path(p);
  return {plan.steps, path_info(subscripts, plan)};
}

array einsum(const std::string& subscripts, const std::vector<array>& operands, S s) {
  Parsed p = parse(subscripts, operands);
  Plan plan = plan_path(p);
  std::vector<Term> terms;
  for (size_t i = 0; i < operands.size(); ++i) terms.push_back({operands[i], p.inputs[i]});
  LabelSet out = to_set(p.output);
  for (auto& step : plan.steps) {
    std::vector<int> pos = step;
    std::sort(pos.begin(), pos.end());
    std::vector<Term> taken;
    for (int k : pos) taken.push_back(terms[k]);
    for (auto it = pos.rbegin(); it != pos.rend(); ++it) terms.erase(terms.begin() + *it);
    // Labels the rest of the computation still needs.
    LabelSet keep = out;
    for (auto& t : terms) keep |= to_set(t.labels);
    Term acc = taken[0];
    if (taken.size() == 1) acc = reduce_single(std::move(acc), keep, s);
    for (size_t k = 1; k < taken.size(); ++k) {
      LabelSet k_keep = keep;
      for (size_t j = k + 1; j < taken.size(); ++j) k_keep |= to_set(taken[j].labels);
      acc = contract_pair(std::move(acc), taken[k], k_keep, p.size, s);
    }
    terms.push_back(std::move(acc));
  }
  Term& r = terms.back();
  // Labels the output skips (an ellipsis left out of it) are summed here.
  r = reduce_single(std::move(r), out, s);
  std::vector<int> perm;
  for (int l : p.output)
    perm.push_back((int)(std::find(r.labels.begin(), r.labels.end(), l) - r.labels.begin()));
  return permuted(r.a, perm, s);
}

// ---------- the small contractions

array tensordot(const array& a, const array& b, const std::vector<int>& axes_a,
                const std::vector<int>& axes_b, S s) {
  if (axes_a.size() != axes_b.size()) op_error("tensordot", "axes must have the same size.");
  std::vector<int> xa, xb;
  for (int v : axes_a) xa.push_back(normalize_axis(v, a.ndim(), "tensordot"));
  for (int v : axes_b) xb.push_back(normalize_axis(v, b.ndim(), "tensordot"));
  for (size_t i = 0; i < xa.size(); ++i) {
    if (a.shape()[xa[i]] != b.shape()[xb[i]])
      op_error("tensordot", "a and b must have the same shape on the contracted axes.");
    for (size_t j = 0; j < i; ++j)
      if (xa[i] == xa[j] || xb[i] == xb[j]) op_error("tensordot", "Received repeated axes.");
  }
  std::vector<int> pa, pb = xb;
  Shape out;
  int64_t k = 1, m = 1, n = 1;
  for (int i = 0; i < a.ndim(); ++i)
    if (std::find(xa.begin(), xa.end(), i) == xa.end()) {
      pa.push_back(i);
      out.push_back(a.shape()[i]);
      m *= a.shape()[i];
    }
  pa.insert(pa.end(), xa.begin(), xa.end());
  for (int v : xa) k *= a.shape()[v];
  for (int i = 0; i < b.ndim(); ++i)
    if (std::find(xb.begin(), xb.end(), i) == xb.end()) {
      pb.push_back(i);
      out.push_back(b.shape()[i]);
      n *= b.shape()[i];
    }
  array am = reshape(permuted(a, pa, s), {checked_dim(m, "tensordot"), checked_dim(k, "tensordot")}, s);
  array bm = reshape(permuted(b, pb, s), {checked_dim(k, "tensordot"), checked_dim(n, "tensordot")}, s);
  return reshape(matmul(am, bm, s), out, s);
}

array vecdot(const array& a, const array& b, int axis, S s) {
  if (a.ndim() == 0 || b.ndim() == 0) op_error("vecdot", "inputs must be at least 1D.");
  int nd = std::max(a.ndim(), b.ndim());
  if (axis < -nd || axis >= nd) throw axis_error("[vecdot] axis is out of bounds.");
  if (axis < 0) axis += nd;
  if (axis >= a.ndim() || axis >= b.ndim()) op_error("vecdot", "axis is out of bounds.");
  if (a.shape()[axis] != b.shape()[axis])
    op_error("vecdot", "a and b must have the same size along axis.");
  array x = is_complex(a.dtype()) ? conjugate(a, s) : a;
  return sum(multiply(x, b, s), {axis}, false, s);
}

array matrix_transpose(const array& a, S s) {
  if (a.ndim() < 2) op_error("matrix_transpose", "Input array must have at least 2 dimensions.");
  return swapaxes(a, -1, -2, s);
}

array kron(const array& a, const array& b, S s) {
  if (a.size() == 0 || b.size() == 0) op_error("kron", "Input arrays cannot be empty.");
  int nd = std::max(a.ndim(), b.ndim());
  Shape sa(nd - a.ndim(), 1), sb(nd - b.ndim(), 1);
  sa.insert(sa.end(), a.shape().begin(), a.shape().end());
  sb.insert(sb.end(), b.shape().begin(), b.shape().end());
  // a as (a0, 1, a1, 1, ...) times b as (1, b0, 1, b1, ...), then each pair merged.
  Shape ia, ib, out;
  for (int d = 0; d < nd; ++d) {
    ia.push_back(sa[d]), ia.push_back(1);
    ib.push_back(1), ib.push_back(sb[d]);
    out.push_back(checked_dim((int64_t)sa[d] * sb[d], "kron"));
  }
  return reshape(multiply(reshape(a, ia, s), reshape(b, ib, s), s), out, s);
}

array diagonal(const array& a, int offset, int axis1, int axis2, S s) {
  if (a.ndim() < 2)
    op_error("diagonal", "Array must have at least two dimensions, but got " +
                             std::to_string(a.ndim()) + " dimensions.");
  auto norm = [&](int ax, const char* name) {
    if (ax < -a.ndim() || ax >= a.ndim())
      throw axis_error(std::string("[diagonal] Invalid ") + name + " " + std::to_string(ax) +
                       " for array with " + std::to_string(a.ndim()) + " dimensions.");
    return ax < 0 ? ax + a.ndim() : ax;
  };
  int ax1 = norm(axis1, "axis1"), ax2 = norm(axis2, "axis2");
  if (ax1 == ax2) op_error("diagonal", "axis1 and axis2 cannot be the same axis");
  return make_node<Diagonal>(Diagonal::shape_for(a.shape(), offset, ax1, ax2), a.dtype(), {a}, s,
                             offset, ax1, ax2);
}

array diag(const array& a, int k, S s) {
  if (a.ndim() == 2) return diagonal(a, k, 0, 1, s);
  if (a.ndim() != 1)
    op_error("diag", "array must be 1-D or 2-D, got array with " + std::to_string(a.ndim()) +
                         " dimensions.");
  int64_t n = a.shape()[0], ak = k < 0 ? -(int64_t)k : k;
  int N = checked_dim(n + ak, "diag");
  // Entry (r, r + k) is a[r] for k >= 0 (a indexed by row), a[c] for k < 0 (by column).
  array padded = pad(a, {{0, (int)ak}}, array(0, a.dtype()), s);
  array vals = reshape(padded, k >= 0 ? Shape{N, 1} : Shape{1, N}, s);
  return where(eye(N, N, k, bool_, s), vals, array(0, a.dtype()), s);
}

array trace(const array& a, int offset, int axis1, int axis2, std::optional<Dtype> dtype, S s) {
  if (a.ndim() < 2)
    op_error("trace", "Array must have at least two dimensions, but got " +
                          std::to_string(a.ndim()) + " dimensions.");
  array d = diagonal(a, offset, axis1, axis2, s);
  if (dtype) d = astype(d, *dtype, s);
  return sum(d, {-1}, false, s);
}

std::vector<array> meshgrid(const std::vector<array>& arrays, bool sparse,
                            const std::string& indexing, S s) {
  if (indexing != "xy" && indexing != "ij")
    op_error("meshgrid", "Invalid indexing value. Valid values are 'xy' and 'ij'.");
  int n = (int)arrays.size();
  std::vector<array> flat;
  Shape full;
  for (auto& x : arrays) {
    flat.push_back(reshape(x, {-1}, s));
    full.push_back(flat.back().shape()[0]);
  }
  bool swap = indexing == "xy" && n >= 2;
  if (swap) std::swap(full[0], full[1]);
  std::vector<array> out;
  for (int i = 0; i < n; ++i) {
    int at = swap && i < 2 ? 1 - i : i;
    Shape sh(n, 1);
    sh[at] = flat[i].shape()[0];
    array r = reshape(flat[i], sh, s);
    out.push_back(sparse ? r : broadcast_to(r, full, s));
  }
  return out;
}

}  // namespace ember
