#include "ember/transforms.h"

#include <unordered_map>
#include <unordered_set>

#include "ember/ops/common.h"
#include "ember/scheduler.h"

namespace ember {

namespace {

using Arrays = std::vector<array>;
using Ids = std::unordered_set<const void*>;

// Nesting depth of transformations on this thread: tracer flags are cleared when the
// outermost one finishes, so evaluating its results frees intermediates as usual.
thread_local int g_depth = 0;
struct DepthGuard {
  DepthGuard() { ++g_depth; }
  ~DepthGuard() { --g_depth; }
};

// Clears the tracer flag on every traced node reachable from `roots`.
void untrace(const Arrays& roots) {
  if (g_depth > 1) return;
  std::vector<array> stack;
  for (auto& a : roots)
    if (a.valid() && a.is_tracer()) stack.push_back(a);
  while (!stack.empty()) {
    array a = std::move(stack.back());
    stack.pop_back();
    if (!a.is_tracer()) continue;
    a.set_tracer(false);
    for (auto& s : a.siblings()) s.set_tracer(false);
    for (auto& in : a.inputs())
      if (in.is_tracer()) stack.push_back(in);
  }
}

// Nodes reachable from `outputs` that depend on `sources`, in topological order
// (one entry per primitive application). Sources are leaves.
Arrays dependent_tape(const Arrays& outputs, const Ids& sources, Ids& depends, bool cut_stop_gradient) {
  Arrays tape;
  Ids visited;
  std::vector<std::pair<array, size_t>> stack;
  auto is_cut = [cut_stop_gradient](const array& a) {
    return cut_stop_gradient && dynamic_cast<StopGradient*>(&a.primitive()) != nullptr;
  };
  for (auto& o : outputs) {
    if (!o.valid() || visited.count(o.id())) continue;
    if (sources.count(o.id())) {
      depends.insert(o.id());
      continue;
    }
    if (!o.has_primitive()) continue;
    stack.emplace_back(o, 0);
    visited.insert(o.id());
    while (!stack.empty()) {
      auto& [node, i] = stack.back();
      auto& ins = node.inputs();
      if (i < ins.size()) {
        const array& in = ins[i++];
        if (sources.count(in.id())) {
          depends.insert(in.id());
        } else if (in.has_primitive() && !visited.count(in.id())) {
          visited.insert(in.id());
          for (auto& s : in.siblings()) visited.insert(s.id());
          stack.emplace_back(in, 0);
        }
        continue;
      }
      bool dep = false;
      if (!is_cut(node))
        for (auto& in : ins) dep |= depends.count(in.id()) > 0;
      if (dep) {
        for (auto& o2 : node.outputs()) depends.insert(o2.id());
        tape.push_back(node);
      }
      stack.pop_back();
    }
  }
  return tape;
}

// Sums a gradient over the dimensions its input was broadcast along.
array unbroadcast(const array& g, const Shape& shape) {
  int diff = g.ndim() - (int)shape.size();
  if (diff < 0) return broadcast_to(g, shape);
  std::vector<int> axes;
  for (int i = 0; i < g.ndim(); ++i)
    if (i < diff || (shape[i - diff] == 1 && g.shape()[i] != 1)) axes.push_back(i);
  array r = axes.empty() ? g : sum(g, axes, true);
  return reshape(r, shape);
}

Arrays make_tracers(const Arrays& primals) {
  Arrays tr;
  for (auto& p : primals) {
    array t = copy(p);
    t.set_tracer(true);
    tr.push_back(t);
  }
  return tr;
}

// Each `given[i]` must have the shape of `expected[i]`, and there must be as many.
void check_matching(const char* op, const char* exp_name, const Arrays& expected, const char* given_name,
                    const Arrays& given) {
  if (given.size() != expected.size())
    throw std::invalid_argument(std::string("[") + op + "] Number of " + exp_name + " (" +
                                std::to_string(expected.size()) + ") does not match number of " +
                                given_name + " (" + std::to_string(given.size()) + ").");
  for (size_t i = 0; i < expected.size(); ++i)
    if (given[i].shape() != expected[i].shape())
      throw std::invalid_argument(std::string("[") + op + "] " + exp_name + " " + std::to_string(i) +
                                  " has shape " + shape_str(expected[i].shape()) + " but its " +
                                  given_name + " has shape " + shape_str(given[i].shape()) + ".");
}

void check_arrays(const Arrays& xs, const char* what) {
  for (auto& x : xs)
    if (!x.valid()) throw std::invalid_argument(std::string(what) + " must be arrays.");
}

}  // namespace

// ---------- vjp

std::pair<Arrays, Arrays> vjp(const Fn& fun, const Arrays& primals, const Arrays& cotangents) {
  DepthGuard guard;
  check_arrays(primals, "[vjp] primals");
  Arrays tracers = make_tracers(primals);
  Arrays outputs = fun(tracers);
  check_arrays(outputs, "[vjp] The function's outputs");
  check_matching("vjp", "outputs", outputs, "cotangents", cotangents);
  Ids sources, depends;
  for (auto& t : tracers) sources.insert(t.id());
  Arrays tape = dependent_tape(outputs, sources, depends, true);

  std::unordered_map<const void*, array> cot;
  auto accumulate = [&](const array& target, const array& g) {
    auto it = cot.find(target.id());
    if (it == cot.end()) cot.emplace(target.id(), g);
    else it->second = add(it->second, g);
  };
  for (size_t i = 0; i < outputs.size(); ++i)
    if (depends.count(outputs[i].id())) accumulate(outputs[i], astype(cotangents[i], outputs[i].dtype()));

  for (auto it = tape.rbegin(); it != tape.rend(); ++it) {
    array& node = *it;
    Arrays outs = node.outputs();
    Arrays cts;
    bool any = false;
    for (auto& o : outs) {
      auto c = cot.find(o.id());
      if (c != cot.end()) {
        cts.push_back(c->second);
        any = true;
      } else {
        cts.push_back(zeros_like(o));
      }
    }
    if (!any) continue;
    const Arrays& ins = node.inputs();
    std::vector<int> argnums;
    for (size_t i = 0; i < ins.size(); ++i)
      if (depends.count(ins[i].id())) argnums.push_back((int)i);
    Arrays g = node.primitive().vjp(ins, cts, argnums, outs);
    for (size_t k = 0; k < argnums.size(); ++k) {
      const array& in = ins[argnums[k]];
      array gk = g[k];
      if (gk.shape() != in.shape()) gk = unbroadcast(gk, in.shape());
      if (gk.dtype() != in.dtype()) gk = astype(gk, in.dtype());
      accumulate(in, gk);
    }
    for (auto& o : outs) cot.erase(o.id());
  }
  Arrays grads;
  for (size_t i = 0; i < tracers.size(); ++i) {
    auto c = cot.find(tracers[i].id());
    grads.push_back(c != cot.end() ? c->second : zeros_like(primals[i]));
  }
  untrace(outputs);
  untrace(grads);
  untrace(tracers);
  return {outputs, grads};
}

std::pair<array, array> vjp(const UnaryFn& fun, const array& primal, const array& cotangent) {
  auto [o, g] = vjp([&](const Arrays& xs) { return Arrays{fun(xs[0])}; }, {primal}, {cotangent});
  return {o[0], g[0]};
}

// ---------- jvp

std::pair<Arrays, Arrays> jvp(const Fn& fun, const Arrays& primals, const Arrays& tangents) {
  DepthGuard guard;
  check_arrays(primals, "[jvp] primals");
  check_matching("jvp", "primals", primals, "tangents", tangents);
  Arrays tracers = make_tracers(primals);
  Arrays outputs = fun(tracers);
  check_arrays(outputs, "[jvp] The function's outputs");
  Ids sources, depends;
  for (auto& t : tracers) sources.insert(t.id());
  Arrays tape = dependent_tape(outputs, sources, depends, true);
  std::unordered_map<const void*, array> tan;
  for (size_t i = 0; i < tracers.size(); ++i)
    tan.emplace(tracers[i].id(), astype(tangents[i], primals[i].dtype()));
  for (auto& node : tape) {
    const Arrays& ins = node.inputs();
    std::vector<int> argnums;
    Arrays ts;
    for (size_t i = 0; i < ins.size(); ++i) {
      auto t = tan.find(ins[i].id());
      if (t != tan.end()) {
        argnums.push_back((int)i);
        ts.push_back(t->second);
      }
    }
    if (argnums.empty()) continue;
    Arrays outs = node.outputs();
    Arrays r = node.primitive().jvp(ins, ts, argnums);
    for (size_t j = 0; j < outs.size(); ++j) tan[outs[j].id()] = r[j];
  }
  Arrays result;
  for (auto& o : outputs) {
    auto t = tan.find(o.id());
    result.push_back(t != tan.end() ? t->second : zeros_like(o));
  }
  untrace(outputs);
  untrace(result);
  untrace(tracers);
  return {outputs, result};
}

std::pair<array, array> jvp(const UnaryFn& fun, const array& primal, const array& tangent) {
  auto [o, t] = jvp([&](const Arrays& xs) { return Arrays{fun(xs[0])}; }, {primal}, {tangent});
  return {o[0], t[0]};
}

// ---------- grad

ValueAndGradFn value_and_grad(const Fn& fun, const std::vector<int>& argnums) {
  if (argnums.empty()) throw std::invalid_argument("[grad] Must specify at least one argument.");
  return [fun, argnums](const Arrays& inputs) {
    for (int a : argnums)
      if (a < 0 || a >= (int)inputs.size())
        throw std::invalid_argument("[grad] Invalid argument number " + std::to_string(a) +
                                    " for a function called with " + std::to_string(inputs.size()) +
                                    " arguments.");
    Arrays primals;
    for (int a : argnums) primals.push_back(inputs[a]);
    Arrays all_outputs;
    auto inner = [&](const Arrays& ps) {
      Arrays args = inputs;
      for (size_t k = 0; k < argnums.size(); ++k) args[argnums[k]] = ps[k];
      all_outputs = fun(args);
      if (all_outputs.empty() || !all_outputs[0].valid())
        throw std::invalid_argument("[grad] The function must return at least one array.");
      if (all_outputs[0].size() != 1)
        throw std::invalid_argument("[grad] The function must return a scalar (size-1) array as "
                                    "its first output; got shape " +
                                    shape_str(all_outputs[0].shape()) + ".");
      return Arrays{all_outputs[0]};
    };
    auto [outs, grads] = vjp(inner, primals, {array(1.0f)});
    all_outputs[0] = outs[0];
    return std::make_pair(all_outputs, grads);
  };
}

Fn grad(const Fn& fun, const std::vector<int>& argnums) {
  auto vg = value_and_grad(fun, argnums);
  return [vg](const Arrays& inputs) { return vg(inputs).second; };
}

UnaryFn grad(const UnaryFn& fun) {
  auto g = grad([fun](const Arrays& xs) { return Arrays{fun(xs[0])}; }, {0});
  return [g](const array& x) { return g({x})[0]; };
}

// ---------- vmap

std::pair<Arrays, Arrays> vmap_trace(const Fn& fun, const Arrays& inputs,
                                     const std::vector<int>& in_axes) {
  if (in_axes.size() != inputs.size())
    throw std::invalid_argument("[vmap] The number of in axes (" + std::to_string(in_axes.size()) +
                                ") must match the number of arguments (" +
                                std::to_string(inputs.size()) + ").");
  int B = -1;
  Arrays placeholders;
  for (size_t i = 0; i < inputs.size(); ++i) {
    int ax = in_axes[i];
    if (ax == -1) {
      placeholders.push_back(inputs[i]);
      continue;
    }
    const array& x = inputs[i];
    if (ax < 0 || ax >= x.ndim())
      throw axis_error("[vmap] Axis " + std::to_string(ax) + " is out of bounds for input " +
                       std::to_string(i) + " with " + std::to_string(x.ndim()) + " dimensions.");
    if (B >= 0 && x.shape()[ax] != B)
      throw std::invalid_argument("[vmap] Inconsistent axis sizes: " + std::to_string(B) + " and " +
                                  std::to_string(x.shape()[ax]) + ".");
    B = x.shape()[ax];
    Shape s = x.shape();
    s.erase(s.begin() + ax);
    placeholders.push_back(array(s, x.dtype(), nullptr, {}));
  }
  if (B < 0) throw std::invalid_argument("[vmap] At least one argument must be batched.");
  return {placeholders, fun(placeholders)};
}

Arrays vmap_replace(const Arrays& inputs, const Arrays& placeholders, const Arrays& outputs,
                    const std::vector<int>& in_axes, const std::vector<int>& out_axes) {
  if (out_axes.size() != outputs.size())
    throw std::invalid_argument("[vmap] The number of out axes (" + std::to_string(out_axes.size()) +
                                ") must match the number of outputs (" +
                                std::to_string(outputs.size()) + ").");
  std::unordered_map<const void*, std::pair<array, int>> batched;
  Ids sources;
  int B = 1;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (in_axes[i] < 0) continue;
    batched.emplace(placeholders[i].id(), std::make_pair(inputs[i], in_axes[i]));
    sources.insert(placeholders[i].id());
    B = inputs[i].shape()[in_axes[i]];
  }
  Ids depends;
  Arrays tape = dependent_tape(outputs, sources, depends, false);
  for (auto& node : tape) {
    Arrays ins;
    std::vector<int> axes;
    for (auto& in : node.inputs()) {
      auto b = batched.find(in.id());
      if (b != batched.end()) {
        ins.push_back(b->second.first);
        axes.push_back(b->second.second);
      } else {
        ins.push_back(in);
        axes.push_back(-1);
      }
    }
    auto [outs, oax] = node.primitive().vmap(ins, axes);
    Arrays orig = node.outputs();
    for (size_t j = 0; j < orig.size(); ++j) batched.emplace(orig[j].id(), std::make_pair(outs[j], oax[j]));
  }
  Arrays result;
  for (size_t j = 0; j < outputs.size(); ++j) {
    auto b = batched.find(outputs[j].id());
    int oa = out_axes[j];
    if (b == batched.end()) {
      if (oa == kNoAxis) {
        result.push_back(outputs[j]);
        continue;
      }
      if (oa < 0) oa += outputs[j].ndim() + 1;
      if (oa < 0 || oa > outputs[j].ndim())
        throw axis_error("[vmap] out_axes " + std::to_string(out_axes[j]) +
                         " is out of bounds for an output with " +
                         std::to_string(outputs[j].ndim() + 1) + " dimensions.");
      array o = expand_dims(outputs[j], oa);
      Shape s = o.shape();
      s[oa] = B;
      result.push_back(broadcast_to(o, s));
      continue;
    }
    auto [arr, ax] = b->second;
    if (oa == kNoAxis)
      throw std::invalid_argument("[vmap] out_axes=None is only allowed for outputs that do not "
                                  "depend on the batched inputs.");
    if (oa < 0) oa += arr.ndim();
    if (oa < 0 || oa >= arr.ndim())
      throw axis_error("[vmap] out_axes " + std::to_string(out_axes[j]) +
                       " is out of bounds for an output with " + std::to_string(arr.ndim()) +
                       " dimensions.");
    result.push_back(ax == oa ? arr : moveaxis(arr, ax, oa));
  }
  return result;
}

Fn vmap(const Fn& fun, const std::vector<int>& in_axes_in, const std::vector<int>& out_axes_in) {
  return [=](const Arrays& inputs) {
    DepthGuard guard;
    std::vector<int> in_axes = in_axes_in.empty() ? std::vector<int>(inputs.size(), 0) : in_axes_in;
    auto [ph, outs] = vmap_trace(fun, inputs, in_axes);
    std::vector<int> out_axes = out_axes_in.empty() ? std::vector<int>(outs.size(), 0) : out_axes_in;
    return vmap_replace(inputs, ph, outs, in_axes, out_axes);
  };
}

UnaryFn vmap(const UnaryFn& fun, int in_axis, int out_axis) {
  auto f = vmap([fun](const Arrays& xs) { return Arrays{fun(xs[0])}; }, {in_axis}, {out_axis});
  return [f](const array& x) { return f({x})[0]; };
}

// ---------- custom rules

namespace {

class CustomTransforms : public Primitive {
 public:
  CustomTransforms(Stream s, int num_primals, Fn fun, std::optional<VjpRule> vjp_rule,
                   std::optional<JvpRule> jvp_rule, std::optional<VmapRule> vmap_rule)
      : Primitive(s), n_(num_primals), fun_(std::move(fun)), vjp_(std::move(vjp_rule)),
        jvp_(std::move(jvp_rule)), vmap_(std::move(vmap_rule)) {}
  const char* name() const override { return "CustomTransforms"; }

  // Outputs are the values computed by `fun`, passed in after the primals.
  void eval_cpu(const Arrays& inputs, Arrays& outputs) override {
    for (size_t i = 0; i < outputs.size(); ++i) outputs[i].copy_shared_buffer(inputs[n_ + i]);
  }

  Arrays vjp(const Arrays& inputs, const Arrays& cts, const std::vector<int>& argnums,
             const Arrays& outputs) override {
    Arrays primals(inputs.begin(), inputs.begin() + n_);
    Arrays g;
    if (vjp_) {
      g = (*vjp_)(primals, cts, outputs);
      if (g.size() != primals.size())
        throw std::invalid_argument("[custom_function] The vjp must return one cotangent per primal.");
    } else {
      g = ember::vjp(fun_, primals, cts).second;
    }
    Arrays r;
    for (int a : argnums) r.push_back(a < n_ ? g[a] : zeros_like(inputs[a]));
    return r;
  }

  Arrays jvp(const Arrays& inputs, const Arrays& tangents, const std::vector<int>& argnums) override {
    Arrays primals(inputs.begin(), inputs.begin() + n_);
    std::vector<int> an;
    Arrays ts;
    for (size_t k = 0; k < argnums.size(); ++k)
      if (argnums[k] < n_) {
        an.push_back(argnums[k]);
        ts.push_back(tangents[k]);
      }
    if (jvp_) return (*jvp_)(primals, ts, an);
    Arrays full;
    for (int i = 0; i < n_; ++i) full.push_back(zeros_like(primals[i]));
    for (size_t k = 0; k < an.size(); ++k) full[an[k]] = ts[k];
    return ember::jvp(fun_, primals, full).second;
  }

  std::pair<Arrays, std::vector<int>> vmap(const Arrays& inputs, const std::vector<int>& axes) override {
    Arrays primals(inputs.begin(), inputs.begin() + n_);
    std::vector<int> pax(axes.begin(), axes.begin() + n_);
    if (vmap_) return (*vmap_)(primals, pax);
    auto [ph, outs] = vmap_trace(fun_, primals, pax);
    std::vector<int> oax(outs.size(), 0);
    return {vmap_replace(primals, ph, outs, pax, oax), oax};
  }

 private:
  int n_;
  Fn fun_;
  std::optional<VjpRule> vjp_;
  std::optional<JvpRule> jvp_;
  std::optional<VmapRule> vmap_;
};

}  // namespace

Fn custom_function(const Fn& fun, std::optional<VjpRule> vjp_rule, std::optional<JvpRule> jvp_rule,
                   std::optional<VmapRule> vmap_rule) {
  return [=](const Arrays& primals) {
    Arrays outs = fun(primals);
    check_arrays(outs, "[custom_function] The function's outputs");
    Arrays inputs = primals;
    std::vector<Shape> shapes;
    std::vector<Dtype> dtypes;
    for (auto& o : outs) {
      inputs.push_back(stop_gradient(o));
      shapes.push_back(o.shape());
      dtypes.push_back(o.dtype());
    }
    auto prim = std::make_shared<CustomTransforms>(to_stream({}), (int)primals.size(), fun, vjp_rule,
                                                   jvp_rule, vmap_rule);
    return array::make_arrays(shapes, dtypes, prim, inputs);
  };
}

Fn custom_vjp(const Fn& fun, const VjpRule& vjp_rule) {
  return custom_function(fun, vjp_rule);
}

Fn checkpoint(const Fn& fun) {
  VjpRule rule = [fun](const Arrays& primals, const Arrays& cts, const Arrays&) {
    return vjp(fun, primals, cts).second;
  };
  return custom_function(fun, rule);
}

}  // namespace ember
