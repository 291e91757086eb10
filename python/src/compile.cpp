// Python binding of compile: maps arguments, keyword arguments and captured state
// (inputs=/outputs=) onto the engine's graph cache.
#include <algorithm>
#include <sstream>
#include <unordered_map>

#include "gc_function.h"
#include "trees.h"

using namespace pybind11::literals;

namespace {

// Structure of a tree with array leaves marked, non-array leaves by value.
void describe(py::handle obj, std::string& out) {
  if (py::isinstance<array>(obj)) {
    out += "A";
  } else if (PyList_Check(obj.ptr()) || PyTuple_Check(obj.ptr())) {
    // Tuple subclasses (NamedTuples) are told apart by their type.
    if (PyTuple_Check(obj.ptr()) && !PyTuple_CheckExact(obj.ptr()))
      out += std::string(py::str(py::type::handle_of(obj).attr("__qualname__"))) + "@" +
             std::to_string((uintptr_t)Py_TYPE(obj.ptr()));
    out += PyList_Check(obj.ptr()) ? "[" : "(";
    for (auto item : py::reinterpret_borrow<py::sequence>(obj)) {
      describe(item, out);
      out += ",";
    }
    out += PyList_Check(obj.ptr()) ? "]" : ")";
  } else if (PyDict_Check(obj.ptr())) {
    out += "{";
    for (auto item : py::reinterpret_borrow<py::dict>(obj)) {
      out += std::string(py::repr(item.first)) + ":";
      describe(item.second, out);
      out += ",";
    }
    out += "}";
  } else if (obj.is_none() || PyBool_Check(obj.ptr()) || PyLong_Check(obj.ptr()) ||
             PyFloat_Check(obj.ptr()) || PyUnicode_Check(obj.ptr()) || PyComplex_Check(obj.ptr())) {
    out += std::string(py::str(py::type::handle_of(obj).attr("__name__"))) + "=" + std::string(py::repr(obj));
  } else {
    // Other objects take part by identity.
    out += "<" + std::string(py::str(py::type::handle_of(obj).attr("__name__"))) + "@" +
           std::to_string((uintptr_t)obj.ptr()) + ">";
  }
}

// Writes vals[idx...] into the array leaves of mutable containers, in place.
void assign_in_place(py::handle tree, const std::vector<array>& vals, size_t& idx) {
  if (PyList_Check(tree.ptr())) {
    auto l = py::reinterpret_borrow<py::list>(tree);
    for (size_t i = 0; i < l.size(); ++i) {
      if (py::isinstance<array>(l[i])) l[i] = py::cast(vals.at(idx++));
      else assign_in_place(l[i], vals, idx);
    }
  } else if (PyDict_Check(tree.ptr())) {
    auto d = py::reinterpret_borrow<py::dict>(tree);
    for (auto item : d) {
      if (py::isinstance<array>(item.second)) d[item.first] = py::cast(vals.at(idx++));
      else assign_in_place(item.second, vals, idx);
    }
  } else if (PyTuple_Check(tree.ptr())) {
    for (auto item : py::reinterpret_borrow<py::tuple>(tree)) {
      if (py::isinstance<array>(item))
        throw py::value_error("[compile] Captured state must hold its arrays in lists or dicts "
                              "(tuples cannot be updated in place).");
      assign_in_place(item, vals, idx);
    }
  } else if (py::isinstance<array>(tree)) {
    throw py::value_error("[compile] Captured state must be a list or dict of arrays, not a bare array.");
  }
}

// The (container, key) places of the array leaves of the mutable containers in `tree`, in
// flattening order, so arrays can be put back even after the function added entries.
void array_slots(py::handle tree, std::vector<std::pair<py::object, py::object>>& slots) {
  if (PyList_Check(tree.ptr())) {
    auto l = py::reinterpret_borrow<py::list>(tree);
    for (size_t i = 0; i < l.size(); ++i) {
      if (py::isinstance<array>(l[i])) slots.emplace_back(l, py::int_(i));
      else array_slots(l[i], slots);
    }
  } else if (PyDict_Check(tree.ptr())) {
    auto d = py::reinterpret_borrow<py::dict>(tree);
    for (auto item : d) {
      if (py::isinstance<array>(item.second)) slots.emplace_back(d, py::reinterpret_borrow<py::object>(item.first));
      else array_slots(item.second, slots);
    }
  } else if (PyTuple_Check(tree.ptr())) {
    for (auto item : py::reinterpret_borrow<py::tuple>(tree)) array_slots(item, slots);
  }
}

// Puts vals back into the slots that still hold an array (the function may have removed an
// entry or replaced it with a container: those places keep what the function left).
void restore_slots(const std::vector<std::pair<py::object, py::object>>& slots, const std::vector<array>& vals) {
  for (size_t i = 0; i < slots.size() && i < vals.size(); ++i) {
    auto& [container, key] = slots[i];
    if (PyDict_Check(container.ptr())) {
      auto d = py::reinterpret_borrow<py::dict>(container);
      if (!d.contains(key) || !py::isinstance<array>(d[key])) continue;
    } else {
      auto l = py::reinterpret_borrow<py::list>(container);
      if (key.cast<size_t>() >= l.size() || !py::isinstance<array>(l[key])) continue;
    }
    container[key] = py::cast(vals[i]);
  }
}

struct TraceInfo {
  py::object out_tree;
  size_t n_out = 0;
  // The function added or removed entries of its captured outputs state while traced (for
  // example an optimizer creating its state on the first step): such a trace is not reused.
  bool state_changed = false;
};

// Objects a traced graph holds from C++ (see note_traced_objects), remembered weakly.
struct TracedObjects {
  std::weak_ptr<void> held;
  void* ptr;
  int (*traverse)(void*, visitproc, void*);
};

struct CompiledFunction;
// The compiled functions being traced on this thread, innermost last.
thread_local std::vector<CompiledFunction*> tracing;

struct CompiledFunction : WrappedFunction {
  py::object inputs_state, outputs_state;
  bool shapeless = false;
  std::unordered_map<std::string, TraceInfo> traces;
  std::vector<TracedObjects> traced_objects;

  int traverse(visitproc visit, void* arg) override {
    Py_VISIT(inputs_state.ptr());
    Py_VISIT(outputs_state.ptr());
    for (auto& [key, info] : traces) Py_VISIT(info.out_tree.ptr());
    // The collector holds the GIL: an object seen alive here is not freed before it is
    // visited (a worker thread dropping the last reference defers the release to the GIL).
    for (auto& t : traced_objects)
      if (!t.held.expired())
        if (int r = t.traverse(t.ptr, visit, arg)) return r;
    return WrappedFunction::traverse(visit, arg);
  }
  // Breaking a cycle also drops the traced graphs: they may hold what the function read.
  void clear() override {
    inputs_state = py::none();
    outputs_state = py::none();
    traces.clear();
    traced_objects.clear();
    compile_clear_cache((uintptr_t)this);
    WrappedFunction::clear();
  }

  py::object call(py::args args, py::kwargs kwargs) override {
    if (!compile_enabled()) return fun(*args, **kwargs);
    py::tuple args_t(args);
    py::dict kw(kwargs);
    std::vector<array> arrays;
    tree_arrays(args_t, arrays);
    size_t n_args = arrays.size();
    tree_arrays(kw, arrays);
    size_t n_kw = arrays.size() - n_args;
    std::vector<array> state_in;
    if (!inputs_state.is_none()) tree_arrays(inputs_state, state_in);
    arrays.insert(arrays.end(), state_in.begin(), state_in.end());

    std::string sig;
    describe(args_t, sig);
    sig += "|";
    describe(kw, sig);
    sig += "|";
    if (!inputs_state.is_none()) describe(inputs_state, sig);
    sig += "|";
    if (!outputs_state.is_none()) describe(outputs_state, sig);
    std::string key = sig;
    for (auto& a : arrays) {
      key += ";" + std::to_string((int)a.dtype()) + ":";
      if (shapeless) key += std::to_string(a.ndim());
      else
        for (auto d : a.shape()) key += std::to_string(d) + ",";
    }

    TraceInfo* info = nullptr;
    auto it = traces.find(key);
    if (it != traces.end()) info = &it->second;
    TraceInfo fresh;
    Fn body = [&](const std::vector<array>& ph) {
      size_t idx = 0;
      py::object a = tree_fill(args_t, ph, idx);
      py::object k = tree_fill(kw, ph, idx);
      // The function reads the captured state as placeholders while it is traced.
      std::vector<array> state_ph(ph.begin() + n_args + n_kw, ph.end());
      std::vector<std::pair<py::object, py::object>> in_slots;
      if (!inputs_state.is_none()) array_slots(inputs_state, in_slots);
      size_t sidx = 0;
      if (!inputs_state.is_none()) assign_in_place(inputs_state, state_ph, sidx);
      std::string out_before;
      if (!outputs_state.is_none()) describe(outputs_state, out_before);
      py::object out;
      tracing.push_back(this);
      struct Pop {
        ~Pop() { tracing.pop_back(); }
      } pop;
      try {
        out = fun(*a, **k);
      } catch (...) {
        restore_slots(in_slots, state_in);
        throw;
      }
      std::vector<array> outs;
      tree_arrays(out, outs);
      if (outs.empty() && !out.is_none()) {
        restore_slots(in_slots, state_in);
        throw py::value_error("[compile] The function must return arrays (or nested lists, tuples or "
                              "dicts of arrays); got " + std::string(py::str(py::type::handle_of(out))) + ".");
      }
      fresh.out_tree = out;
      fresh.n_out = outs.size();
      std::vector<array> st;
      if (!outputs_state.is_none()) {
        tree_arrays(outputs_state, st);
        std::string out_after;
        describe(outputs_state, out_after);
        fresh.state_changed = out_after != out_before;
      }
      outs.insert(outs.end(), st.begin(), st.end());
      // The caller's arrays go back where they were; entries the function added keep what it
      // put there until the outputs below replace them.
      restore_slots(in_slots, state_in);
      return outs;
    };
    std::vector<array> results = ember::compile(body, (uintptr_t)this, shapeless, key)(arrays);
    if (!info) {
      // A trace happened on this call (or the engine found the graph while this object had none).
      if (fresh.out_tree.ptr() == nullptr) {
        // Engine cache hit without local info: trace again to learn the output structure.
        compile_clear_cache((uintptr_t)this);
        results = ember::compile(body, (uintptr_t)this, shapeless, key)(arrays);
      }
      if (fresh.state_changed) {
        // The traced graph reads the state as it was before the function grew it: a later call
        // with that structure must run the function again, so the graph is not kept.
        compile_clear_cache((uintptr_t)this);
        info = &fresh;
      } else {
        info = &traces.emplace(key, fresh).first->second;
      }
    }
    if (!outputs_state.is_none()) {
      std::vector<array> st(results.begin() + info->n_out, results.end());
      size_t idx = 0;
      assign_in_place(outputs_state, st, idx);
    }
    std::vector<array> outs(results.begin(), results.begin() + info->n_out);
    size_t idx = 0;
    return tree_fill(info->out_tree, outs, idx);
  }
  ~CompiledFunction() { compile_clear_cache((uintptr_t)this); }
};

struct CompileSwitch {
  bool previous;
};

}  // namespace

void note_traced_objects(std::weak_ptr<void> held, void* ptr, int (*traverse)(void*, visitproc, void*)) {
  if (tracing.empty()) return;
  auto& list = tracing.back()->traced_objects;
  list.erase(std::remove_if(list.begin(), list.end(), [](const TracedObjects& t) { return t.held.expired(); }),
             list.end());
  list.push_back({std::move(held), ptr, traverse});
}

void init_compile(py::module_& m) {
  m.def("compile", [](py::object fun, py::object inputs, py::object outputs, bool shapeless) {
    check_callable(fun, "compile");
    auto cf = std::make_unique<CompiledFunction>();
    cf->fun = fun;
    cf->inputs_state = inputs;
    cf->outputs_state = outputs;
    cf->shapeless = shapeless;
    return wrap_function(std::move(cf));
  }, "fun"_a, "inputs"_a = py::none(), "outputs"_a = py::none(), "shapeless"_a = false,
        "Compile `fun` into a cached, simplified graph.");

  py::class_<CompileSwitch>(m, "_CompileSwitch")
      .def("__enter__", [](CompileSwitch&) {})
      .def("__exit__", [](CompileSwitch& s, py::args) {
        if (s.previous) enable_compile();
        else disable_compile();
      });
  m.def("disable_compile", []() {
    CompileSwitch s{compile_enabled()};
    disable_compile();
    return s;
  }, "Disable compilation globally (also usable as a context manager).");
  m.def("enable_compile", []() {
    CompileSwitch s{compile_enabled()};
    enable_compile();
    return s;
  }, "Enable compilation globally (also usable as a context manager).");
  m.def("_compile_trace_count", &compile_trace_count);
  m.def("_compile_clear_cache", []() { compile_clear_cache(0); });
}
