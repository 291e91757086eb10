#include "ember/compile.h"

#include <atomic>
#include <cstdlib>
#include <memory>
#include <cstring>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "ember/compile_fuse.h"
#include "ember/ops/common.h"

namespace ember {

namespace {

using Arrays = std::vector<array>;

bool env_disabled() {
  const char* v = std::getenv("EMBER_DISABLE_COMPILE");
  return v && *v && std::strcmp(v, "0") != 0;
}
std::atomic<bool> g_enabled{!env_disabled()};
std::atomic<size_t> g_traces{0};

using Graph = TracedGraph;

struct Entry {
  std::vector<Dtype> dtypes;
  std::vector<Shape> shapes;  // ranks only when shapeless
  std::string signature;
  Graph graph;
};

std::mutex g_mutex;
std::unordered_map<std::uintptr_t, std::vector<std::shared_ptr<Entry>>> g_cache;

// Topological order of the nodes that produce `outputs` (placeholders and constants excluded).
Arrays build_tape(const Arrays& outputs) {
  Arrays tape;
  std::unordered_set<const void*> seen;
  std::vector<std::pair<array, size_t>> stack;
  for (auto& o : outputs) {
    if (!o.has_primitive() || seen.count(o.id())) continue;
    seen.insert(o.id());
    for (auto& s : o.siblings()) seen.insert(s.id());
    stack.emplace_back(o, 0);
    while (!stack.empty()) {
      auto& [node, i] = stack.back();
      auto& ins = node.inputs();
      if (i < ins.size()) {
        const array& in = ins[i++];
        if (in.has_primitive() && !seen.count(in.id())) {
          seen.insert(in.id());
          for (auto& s : in.siblings()) seen.insert(s.id());
          stack.emplace_back(in, 0);
        }
        continue;
      }
      tape.push_back(node);
      stack.pop_back();
    }
  }
  return tape;
}

// Key of a size-1 constant: dtype and bytes.
std::string constant_key(const array& a) {
  std::string k(1, (char)a.dtype());
  k.append(static_cast<const char*>(a.raw_ptr()), a.itemsize());
  return k;
}

// Common-subexpression elimination and constant deduplication, in one pass.
Graph simplify(Graph g) {
  std::unordered_map<const void*, array> subst;
  std::unordered_map<std::string, array> constants;
  auto map = [&](const array& a) -> array {
    auto it = subst.find(a.id());
    if (it != subst.end()) return it->second;
    if (!a.has_primitive() && a.is_available() && a.size() == 1 && a.ndim() == 0) {
      auto [c, inserted] = constants.emplace(constant_key(a), a);
      if (!inserted) return c->second;
    }
    return a;
  };
  // Candidates for CSE, keyed by primitive name and input identities.
  std::unordered_map<std::string, Arrays> seen;
  Arrays tape;
  for (auto& node : g.tape) {
    Arrays ins;
    std::string key = node.primitive().name();
    for (auto& in : node.inputs()) {
      ins.push_back(map(in));
      key += ":" + std::to_string((uintptr_t)ins.back().id());
    }
    Arrays outs = node.outputs();
    bool replaced = false;
    if (outs.size() == 1) {
      for (auto& cand : seen[key]) {
        if (cand.shape() == node.shape() && cand.dtype() == node.dtype() &&
            cand.primitive().is_equivalent(node.primitive())) {
          subst.emplace(node.id(), cand);
          replaced = true;
          break;
        }
      }
    }
    if (replaced) continue;
    bool changed = false;
    for (size_t i = 0; i < ins.size(); ++i) changed |= ins[i].id() != node.inputs()[i].id();
    Arrays new_outs = outs;
    if (changed) new_outs = remake(node, ins, subst);
    tape.push_back(new_outs[0]);
    if (new_outs.size() == 1) seen[key].push_back(new_outs[0]);
  }
  Arrays outputs;
  for (auto& o : g.outputs) outputs.push_back(map(o));
  g.tape = build_tape(outputs);
  g.outputs = outputs;
  return g;
}

// Shapeless traces: a Broadcast that an elementwise op made to bring its operands to their
// common shape gets those operands as extra inputs, so that a replay at new shapes derives
// its target from them rather than from the shape fixed at trace time; an addmm takes its c
// unbroadcast.
Graph link_broadcasts(Graph g) {
  std::unordered_map<const void*, array> subst;
  auto get = [&](const array& a) -> array {
    auto it = subst.find(a.id());
    return it != subst.end() ? it->second : a;
  };
  auto is_broadcast = [](const array& a) {
    return a.has_primitive() && a.inputs().size() == 1 && dynamic_cast<Broadcast*>(&a.primitive());
  };
  for (auto& node : g.tape) {
    Arrays ins, src;
    bool changed = false;
    for (auto& in : node.inputs()) {
      ins.push_back(get(in));
      changed |= ins.back().id() != in.id();
      src.push_back(is_broadcast(ins.back()) ? ins.back().inputs()[0] : ins.back());
    }
    if (ins.size() == 3 && is_broadcast(ins[2]) && dynamic_cast<Matmul*>(&node.primitive())) {
      // The c of an addmm follows the product's shape by itself.
      ins[2] = src[2];
      changed = true;
    } else if (ins.size() > 1 && dynamic_cast<Elementwise*>(&node.primitive())) {
      Shape common;
      for (auto& x : src) common = broadcast_shapes(common, x.shape());
      for (size_t k = 0; k < ins.size(); ++k) {
        if (!is_broadcast(ins[k]) || ins[k].shape() != common) continue;
        Arrays operands{src[k]};
        for (size_t j = 0; j < src.size(); ++j)
          if (j != k) operands.push_back(src[j]);
        ins[k] = array(ins[k].shape(), ins[k].dtype(), ins[k].primitive_ptr(), std::move(operands));
        changed = true;
      }
    }
    if (changed) remake(node, std::move(ins), subst);
  }
  for (auto& o : g.outputs) o = get(o);
  g.tape = build_tape(g.outputs);
  return g;
}

Graph trace(const Fn& fun, const Arrays& inputs, bool shapeless, bool fuse_kernels = true) {
  Graph g;
  for (auto& x : inputs) g.inputs.push_back(array(x.shape(), x.dtype(), nullptr, {}));
  g.outputs = fun(g.inputs);
  for (auto& o : g.outputs)
    if (!o.valid()) throw std::invalid_argument("[compile] The function must return arrays.");
  g.tape = build_tape(g.outputs);
  if (shapeless) g = link_broadcasts(std::move(g));
  g = simplify(std::move(g));
  const char* fuse = std::getenv("EMBER_COMPILE_FUSE");
  if (fuse_kernels && (!fuse || std::strcmp(fuse, "0") != 0)) fuse_elementwise(g.tape, g.outputs);
  return g;
}

Arrays replay(const Graph& g, const Arrays& inputs, bool shapeless) {
  std::unordered_map<const void*, array> env;
  for (size_t i = 0; i < inputs.size(); ++i) env.emplace(g.inputs[i].id(), inputs[i]);
  auto get = [&](const array& a) -> const array& {
    auto it = env.find(a.id());
    return it != env.end() ? it->second : a;
  };
  for (auto& node : g.tape) {
    // A node computed outside the function (captured from the caller) that has been
    // evaluated since the trace: its value stands for it.
    if (!node.has_primitive()) continue;
    Arrays ins;
    ins.reserve(node.inputs().size());
    for (auto& in : node.inputs()) ins.push_back(get(in));
    Arrays outs = node.outputs();
    std::vector<Shape> shapes;
    std::vector<Dtype> dtypes;
    if (shapeless) {
      shapes = node.primitive().replay_shapes(ins, node.inputs(), outs);
    } else {
      for (auto& o : outs) shapes.push_back(o.shape());
    }
    for (auto& o : outs) dtypes.push_back(o.dtype());
    Arrays fresh = array::make_arrays(std::move(shapes), std::move(dtypes), node.primitive_ptr(), std::move(ins));
    for (size_t j = 0; j < outs.size(); ++j) env.emplace(outs[j].id(), fresh[j]);
  }
  Arrays out;
  for (auto& o : g.outputs) out.push_back(get(o));
  return out;
}

bool matches(const Entry& e, const Arrays& inputs, bool shapeless, const std::string& sig) {
  if (e.signature != sig || e.dtypes.size() != inputs.size()) return false;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (e.dtypes[i] != inputs[i].dtype()) return false;
    if (shapeless ? (int)e.shapes[i].size() != inputs[i].ndim() : e.shapes[i] != inputs[i].shape())
      return false;
  }
  return true;
}

}  // namespace

Fn compile(const Fn& fun, std::uintptr_t fun_id, bool shapeless, std::string signature) {
  return [=](const Arrays& inputs) -> Arrays {
    if (!compile_enabled()) return fun(inputs);
    for (auto& x : inputs)
      if (!x.valid()) throw std::invalid_argument("[compile] Inputs must be arrays.");
    std::shared_ptr<Entry> entry;
    {
      std::lock_guard<std::mutex> lk(g_mutex);
      for (auto& e : g_cache[fun_id])
        if (matches(*e, inputs, shapeless, signature)) {
          entry = e;
          break;
        }
    }
    if (!entry) {
      entry = std::make_shared<Entry>();
      for (auto& x : inputs) {
        entry->dtypes.push_back(x.dtype());
        entry->shapes.push_back(x.shape());
      }
      entry->signature = signature;
      entry->graph = trace(fun, inputs, shapeless);
      ++g_traces;
      std::lock_guard<std::mutex> lk(g_mutex);
      g_cache[fun_id].push_back(entry);
    }
    return replay(entry->graph, inputs, shapeless);
  };
}

Fn compile(const Fn& fun, bool shapeless) {
  // The id is the address of a token that every copy of the returned function shares;
  // the last copy to go takes the cached graphs with it.
  struct Owner {
    ~Owner() { compile_clear_cache((std::uintptr_t)this); }
  };
  auto owner = std::make_shared<Owner>();
  Fn cached = compile(fun, (std::uintptr_t)owner.get(), shapeless);
  return [owner, cached](const Arrays& inputs) { return cached(inputs); };
}

TracedGraph trace_graph(const Fn& fun, const Arrays& inputs, bool shapeless) {
  return trace(fun, inputs, shapeless, false);
}

Arrays replay_graph(const TracedGraph& g, const Arrays& inputs, bool shapeless) {
  return replay(g, inputs, shapeless);
}

void disable_compile() { g_enabled = false; }
void enable_compile() { g_enabled = true; }
bool compile_enabled() { return g_enabled.load(); }
size_t compile_trace_count() { return g_traces.load(); }

void compile_clear_cache(std::uintptr_t fun_id) {
  std::lock_guard<std::mutex> lk(g_mutex);
  if (fun_id == 0) g_cache.clear();
  else g_cache.erase(fun_id);
}

}  // namespace ember
