// Python bindings of the transformations. The traversals run in C++ (ember/transforms.h);
// this layer maps Python call signatures and nested containers onto them.
//
// What the transformed function sees of its arguments, as in MLX:
// - grad / value_and_grad: the caller's own lists and dicts, holding tracers where the
//   differentiated arrays were. What the function stores into them stays visible to the
//   caller; the tracers themselves are swapped back for the caller's arrays (same objects)
//   when the function returns.
// - custom_function: the caller's own arguments, untouched.
// - vmap, checkpoint, compile: copies; the caller's containers never change.
#include <algorithm>
#include <memory>

#include "gc_function.h"
#include "trees.h"

using namespace pybind11::literals;

namespace {

bool all_leaves_arrays(py::handle tree) {
  if (py::isinstance<array>(tree)) return true;
  if (PyList_Check(tree.ptr()) || PyTuple_Check(tree.ptr())) {
    for (auto item : py::reinterpret_borrow<py::sequence>(tree))
      if (!all_leaves_arrays(item)) return false;
    return true;
  }
  if (PyDict_Check(tree.ptr())) {
    for (auto item : py::reinterpret_borrow<py::dict>(tree))
      if (!all_leaves_arrays(item.second)) return false;
    return true;
  }
  return false;
}

std::string type_name(py::handle h) { return py::str(py::type::handle_of(h).attr("__name__")); }

// Flattens a function's return value into arrays.
std::vector<array> flat_outputs(const py::object& out, const char* who) {
  std::vector<array> arrs;
  tree_arrays(out, arrs);
  if (arrs.empty() || !all_leaves_arrays(out))
    throw py::value_error(std::string("[") + who + "] The function must return an array or a "
                          "(nested) list, tuple or dict of arrays; got " + type_name(out) + ".");
  return arrs;
}

std::vector<array> as_array_list(const py::object& obj, const char* who, const char* what) {
  if (py::isinstance<array>(obj)) return {obj.cast<array>()};
  if (PyList_Check(obj.ptr()) || PyTuple_Check(obj.ptr())) {
    std::vector<array> v;
    for (auto item : py::reinterpret_borrow<py::sequence>(obj)) {
      if (!py::isinstance<array>(item))
        throw py::type_error(std::string("[") + who + "] " + what + " must be arrays; got " +
                             type_name(item) + ".");
      v.push_back(item.cast<array>());
    }
    return v;
  }
  throw py::type_error(std::string("[") + who + "] " + what + " must be an array or a list/tuple "
                       "of arrays; got " + type_name(obj) + ".");
}

// Python objects captured by rules that the engine may release on a worker thread.
template <typename T>
std::shared_ptr<T> gil_safe(T obj) {
  return std::shared_ptr<T>(new T(std::move(obj)), [](T* p) {
    if (PyGILState_Check()) {
      delete p;
      return;
    }
    // On a worker thread: hand the objects to the interpreter's main thread. During
    // shutdown (or if the queue is full) they are left to the OS.
    if (!Py_IsInitialized() || _Py_IsFinalizing()) return;
    Py_AddPendingCall(
        [](void* q) -> int {
          delete static_cast<T*>(q);
          return 0;
        },
        p);
  });
}

// A single positional argument is passed to custom rules unwrapped.
py::object unwrap_single(const py::object& args) {
  if (PyTuple_Check(args.ptr()) && py::len(args) == 1) return args[py::int_(0)];
  return args;
}

// The top level of a tree as a list: its elements for a list or tuple, else [tree].
py::list as_list(const py::object& tree) {
  if (PyList_Check(tree.ptr()) || PyTuple_Check(tree.ptr())) return py::list(tree);
  py::list l;
  l.append(tree);
  return l;
}

py::list to_list(const std::vector<array>& v) {
  py::list l;
  for (auto& a : v) l.append(py::cast(a));
  return l;
}

// Results that mirror a flat sequence `like` (outputs of jvp/vjp, vjps of the primals):
// a list as in MLX, or `like`'s own type when it is a tuple subclass (a NamedTuple).
py::object like_sequence(py::handle like, const std::vector<array>& vals) {
  bool subclass = PyTuple_Check(like.ptr()) && !PyTuple_CheckExact(like.ptr());
  if (subclass && py::len(like) == vals.size()) return make_tuple_like(like, to_list(vals));
  return to_list(vals);
}

// ---------- grad / value_and_grad

struct GradSpec {
  std::vector<int> argnums;
  std::vector<std::string> argnames;
  bool single = false;
};

GradSpec parse_grad_spec(const py::object& argnums, const py::object& argnames, const char* who) {
  GradSpec g;
  auto bad = [&](const char* what, const char* want, py::handle got) {
    return py::type_error(std::string("[") + who + "] " + what + " must be " + want + "; got " +
                          type_name(got) + ".");
  };
  if (py::isinstance<py::str>(argnames)) {
    g.argnames.push_back(argnames.cast<std::string>());
  } else if (PyList_Check(argnames.ptr()) || PyTuple_Check(argnames.ptr())) {
    for (auto n : py::reinterpret_borrow<py::sequence>(argnames)) {
      if (!py::isinstance<py::str>(n)) throw bad("argnames", "a string or a sequence of strings", n);
      g.argnames.push_back(n.cast<std::string>());
    }
  } else if (!argnames.is_none()) {
    throw bad("argnames", "a string or a sequence of strings", argnames);
  }
  auto is_int = [](py::handle h) { return PyLong_Check(h.ptr()) && !PyBool_Check(h.ptr()); };
  if (argnums.is_none()) {
    if (g.argnames.empty()) {
      g.argnums = {0};
      g.single = true;
    }
  } else if (is_int(argnums)) {
    g.argnums = {argnums.cast<int>()};
    g.single = true;
  } else if (PyList_Check(argnums.ptr()) || PyTuple_Check(argnums.ptr())) {
    for (auto n : py::reinterpret_borrow<py::sequence>(argnums)) {
      if (!is_int(n)) throw bad("argnums", "an int or a sequence of ints", n);
      g.argnums.push_back(n.cast<int>());
    }
    std::sort(g.argnums.begin(), g.argnums.end());
    g.single = g.argnums.size() == 1;  // MLX returns the gradient itself for argnums=(i,)
  } else {
    throw bad("argnums", "an int or a sequence of ints", argnums);
  }
  if (g.argnums.empty() && g.argnames.empty())
    throw py::value_error(std::string("[") + who + "] Gradient wrt no argument requested.");
  for (size_t i = 0; i + 1 < g.argnums.size(); ++i)
    if (g.argnums[i] == g.argnums[i + 1])
      throw py::value_error(std::string("[") + who + "] Duplicate argnums.");
  return g;
}

py::object value_and_grad_call(const py::object& fun, const GradSpec& spec, const py::args& args,
                               const py::kwargs& kwargs, bool want_value) {
  size_t n = args.size();
  for (int a : spec.argnums)
    if (a < 0 || a >= (int)n)
      throw py::value_error("[grad] Can't compute the gradient of argument index " + std::to_string(a) +
                            " because the function is called with only " + std::to_string(n) +
                            " positional arguments.");
  std::vector<array> primals;
  // The differentiated arguments' structure as passed in: the gradients take this shape
  // even if the function rearranges the containers it is given.
  std::vector<py::object> shapes;
  for (int a : spec.argnums) {
    size_t before = primals.size();
    tree_arrays(args[a], primals);
    if (primals.size() == before)
      throw py::value_error("[grad] Argument " + std::to_string(a) + " holds no arrays to differentiate "
                            "(got " + type_name(args[a]) + ").");
    shapes.push_back(tree_snapshot(args[a]));
  }
  for (auto& name : spec.argnames) {
    if (!kwargs.contains(name.c_str()))
      throw py::value_error("[grad] Can't compute the gradient of keyword argument '" + name +
                            "' because the function was called without it.");
    tree_arrays(kwargs[name.c_str()], primals);
    shapes.push_back(tree_snapshot(kwargs[name.c_str()]));
  }
  py::object py_out;
  auto inner = [&](const std::vector<array>& tr) {
    py::list new_args(args);
    py::dict new_kwargs(kwargs);
    SwapRecord swapped;
    size_t idx = 0;
    for (int a : spec.argnums) new_args[a] = tree_fill_in_place(args[a], tr, idx, swapped);
    for (auto& name : spec.argnames)
      new_kwargs[name.c_str()] = tree_fill_in_place(kwargs[name.c_str()], tr, idx, swapped);
    auto restore = [&]() {
      for (int a : spec.argnums) tree_restore(args[a], swapped);
      for (auto& name : spec.argnames) tree_restore(kwargs[name.c_str()], swapped);
    };
    try {
      py_out = fun(*py::tuple(new_args), **new_kwargs);
    } catch (...) {
      try {
        restore();
      } catch (...) {
      }
      throw;
    }
    restore();
    array loss;
    if (py::isinstance<array>(py_out)) {
      loss = py_out.cast<array>();
    } else if ((PyList_Check(py_out.ptr()) || PyTuple_Check(py_out.ptr())) && py::len(py_out) > 0 &&
               py::isinstance<array>(py_out[py::int_(0)])) {
      loss = py_out[py::int_(0)].cast<array>();
    } else {
      throw py::value_error("[grad] The function must return a scalar array, or a tuple or list whose "
                            "first element is a scalar array; got " + type_name(py_out) + ".");
    }
    if (loss.size() != 1)
      throw py::value_error("[grad] The function must return a scalar (size-1) array as its loss; got "
                            "an array of shape " + std::string(py::str(py::cast(loss).attr("shape"))) + ".");
    return std::vector<array>{loss};
  };
  auto [outs, grads] = ember::vjp(inner, primals, {array(1.0f)});
  size_t idx = 0, k = 0;
  py::list pos;
  for (size_t i = 0; i < spec.argnums.size(); ++i) pos.append(tree_fill(shapes[k++], grads, idx));
  py::object g;
  if (spec.argnames.empty()) {
    g = spec.single ? pos[0] : py::object(py::tuple(pos));
  } else {
    py::dict kw;
    for (auto& name : spec.argnames) kw[name.c_str()] = tree_fill(shapes[k++], grads, idx);
    py::object p = spec.argnums.empty() ? py::object(py::none())
                                        : (spec.single ? py::object(pos[0]) : py::object(py::tuple(pos)));
    g = py::make_tuple(p, kw);
  }
  if (!want_value) return g;
  return py::make_tuple(py_out, g);
}

struct GradFunction : WrappedFunction {
  GradSpec spec;
  bool want_value = false;
  py::object call(py::args args, py::kwargs kwargs) override {
    return value_and_grad_call(fun, spec, args, kwargs, want_value);
  }
};

// ---------- vjp (the form without cotangents returns this as its vjp function)

struct VjpFunction : WrappedFunction {
  std::vector<array> primals;
  py::object primals_like;  // the primals as passed (their type shapes the result)
  py::object call(py::args cts, py::kwargs kwargs) override {
    if (kwargs.size() > 0) throw py::type_error("[vjp] The vjp function takes no keyword arguments.");
    std::vector<array> c;
    if (cts.size() == 1) c = as_array_list(cts[0], "vjp", "cotangents");
    else c = as_array_list(cts, "vjp", "cotangents");
    py::object f = fun;
    auto body = [f](const std::vector<array>& xs) {
      return flat_outputs(f(*py::tuple(to_list(xs))), "vjp");
    };
    auto res = ember::vjp(body, primals, c).second;
    py::object r = like_sequence(primals_like, res);
    return PyList_Check(r.ptr()) ? py::object(py::tuple(r)) : r;
  }
  int traverse(visitproc visit, void* arg) override {
    Py_VISIT(primals_like.ptr());
    return WrappedFunction::traverse(visit, arg);
  }
  void clear() override {
    primals_like = py::none();
    WrappedFunction::clear();
  }
};

// ---------- vmap

struct VmapFunction : WrappedFunction {
  py::object in_axes, out_axes;
  py::object call(py::args args, py::kwargs kwargs) override {
    if (kwargs.size() > 0) throw py::type_error("[vmap] Keyword arguments are not supported.");
    py::tuple args_t(args);
    std::vector<array> inputs;
    tree_arrays(args_t, inputs);
    std::vector<int> iax;
    bool seq = PyList_Check(in_axes.ptr()) || PyTuple_Check(in_axes.ptr());
    if (args.size() == 1 && (PyDict_Check(in_axes.ptr()) || (seq && py::len(in_axes) != 1))) {
      // One argument: in_axes may also describe that argument's own tree (as in MLX).
      tree_axes(args_t[0], in_axes, iax, "in_axes");
    } else {
      if (seq && py::len(in_axes) != args.size())
        throw py::value_error("[vmap] in_axes has " + std::to_string(py::len(in_axes)) +
                              " entries but the function was called with " +
                              std::to_string(args.size()) + " arguments.");
      tree_axes(args_t, in_axes, iax, "in_axes");
    }
    py::object out_tree;
    py::object f = fun;
    Fn body = [&](const std::vector<array>& ph) {
      size_t idx = 0;
      py::object a = tree_fill(args_t, ph, idx);
      out_tree = f(*a);
      return flat_outputs(out_tree, "vmap");
    };
    auto [ph, outs] = vmap_trace(body, inputs, iax);
    std::vector<int> oax;
    tree_axes(out_tree, out_axes, oax, "out_axes", false);
    auto res = vmap_replace(inputs, ph, outs, iax, oax);
    size_t idx = 0;
    return tree_fill(out_tree, res, idx);
  }
  int traverse(visitproc visit, void* arg) override {
    Py_VISIT(in_axes.ptr());
    Py_VISIT(out_axes.ptr());
    return WrappedFunction::traverse(visit, arg);
  }
  void clear() override {
    in_axes = py::none();
    out_axes = py::none();
    WrappedFunction::clear();
  }
};

// ---------- checkpoint

struct CheckpointFunction : WrappedFunction {
  py::object call(py::args args, py::kwargs kwargs) override {
    py::tuple args_t(args);
    std::vector<array> primals;
    tree_arrays(args_t, primals);
    struct Capture {
      py::object fun, args, kw, out_tree;
      int traverse(visitproc visit, void* arg) {
        for (auto* o : {&fun, &args, &kw, &out_tree}) Py_VISIT(o->ptr());
        return 0;
      }
    };
    // The backward pass calls the function again on the structure given now.
    auto c = gil_safe(Capture{fun, tree_snapshot(args_t), py::dict(kwargs), py::none()});
    note_traced_objects(c);
    Fn body = [c](const std::vector<array>& tr) {
      py::gil_scoped_acquire gil;
      size_t idx = 0;
      py::object a = tree_fill(c->args, tr, idx);
      c->out_tree = c->fun(*a, **c->kw);
      return flat_outputs(c->out_tree, "checkpoint");
    };
    auto outs = ember::checkpoint(body)(primals);
    size_t idx = 0;
    return tree_fill(c->out_tree, outs, idx);
  }
};

// ---------- custom_function
//
// Rules given to the constructor (custom_function(f, fun_vjp=..., ...)) see lists: the
// positional arguments, the outputs, their cotangents / tangents / axes, one entry each.
// Rules set with the decorators (@f.vjp, @f.jvp, @f.vmap) follow MLX: a function of one
// argument gets it unwrapped, of several a tuple; outputs keep the function's structure.

struct CustomFunction : WrappedFunction {
  py::object vjp_fn = py::none(), jvp_fn = py::none(), vmap_fn = py::none();
  bool vjp_lists = false, jvp_lists = false, vmap_lists = false;

  int traverse(visitproc visit, void* arg) override {
    Py_VISIT(vjp_fn.ptr());
    Py_VISIT(jvp_fn.ptr());
    Py_VISIT(vmap_fn.ptr());
    return WrappedFunction::traverse(visit, arg);
  }
  void clear() override {
    vjp_fn = py::none();
    jvp_fn = py::none();
    vmap_fn = py::none();
    WrappedFunction::clear();
  }

  py::object call(py::args args, py::kwargs kwargs) override {
    py::tuple args_t(args);
    std::vector<array> primals;
    tree_arrays(args_t, primals);
    struct Capture {
      py::object fun, vjp, jvp, vmap;
      bool vjp_lists, jvp_lists, vmap_lists;
      py::object args;       // structure of the arguments, as passed
      py::object live_args;  // the caller's own arguments, for the first (direct) call
      std::vector<const void*> live_ids;
      py::object kw, out_tree;
      int traverse(visitproc visit, void* arg) {
        for (auto* o : {&fun, &vjp, &jvp, &vmap, &args, &live_args, &kw, &out_tree}) Py_VISIT(o->ptr());
        return 0;
      }
    };
    std::vector<const void*> ids;
    for (auto& p : primals) ids.push_back(p.id());
    auto c = gil_safe(Capture{fun, vjp_fn, jvp_fn, vmap_fn, vjp_lists, jvp_lists, vmap_lists,
                              tree_snapshot(args_t), args_t, std::move(ids), py::dict(kwargs),
                              py::none()});
    note_traced_objects(c);
    Fn body = [c](const std::vector<array>& tr) {
      py::gil_scoped_acquire gil;
      py::object a;
      if (c->live_args) {
        bool same = tr.size() == c->live_ids.size();
        for (size_t i = 0; same && i < tr.size(); ++i) same = tr[i].id() == c->live_ids[i];
        if (same) a = c->live_args;
        c->live_args = py::object();
      }
      if (!a) {
        size_t idx = 0;
        a = tree_fill(c->args, tr, idx);
      }
      c->out_tree = c->fun(*a, **c->kw);
      return flat_outputs(c->out_tree, "custom_function");
    };
    std::optional<VjpRule> vr;
    std::optional<JvpRule> jr;
    std::optional<VmapRule> mr;
    if (!vjp_fn.is_none()) {
      vr = [c](const std::vector<array>& ps, const std::vector<array>& cts, const std::vector<array>& outs) {
        py::gil_scoped_acquire gil;
        size_t i = 0, j = 0, k = 0;
        py::object a = tree_fill(c->args, ps, i);
        py::object ct = tree_fill(c->out_tree, cts, j);
        py::object o = tree_fill(c->out_tree, outs, k);
        py::object r = c->vjp_lists ? c->vjp(py::list(a), as_list(ct), as_list(o))
                                    : c->vjp(unwrap_single(a), ct, o);
        std::vector<array> g;
        tree_arrays(r, g);
        if (g.size() != ps.size())
          throw py::value_error("[custom_function] The vjp returned " + std::to_string(g.size()) +
                                " arrays but the function has " + std::to_string(ps.size()) +
                                " array inputs.");
        return g;
      };
    }
    if (!jvp_fn.is_none()) {
      jr = [c](const std::vector<array>& ps, const std::vector<array>& ts, const std::vector<int>& argnums) {
        py::gil_scoped_acquire gil;
        std::vector<array> full;
        for (auto& p : ps) full.push_back(zeros_like(p));
        for (size_t k = 0; k < argnums.size(); ++k) full[argnums[k]] = ts[k];
        size_t i = 0, j = 0;
        py::object a = tree_fill(c->args, ps, i);
        py::object t = tree_fill(c->args, full, j);
        py::object r = c->jvp_lists ? c->jvp(py::list(a), py::list(t))
                                    : c->jvp(unwrap_single(a), unwrap_single(t));
        return flat_outputs(r, "custom_function.jvp");
      };
    }
    if (!vmap_fn.is_none()) {
      mr = [c](const std::vector<array>& ins, const std::vector<int>& axes) {
        py::gil_scoped_acquire gil;
        size_t i = 0, j = 0;
        py::object a = tree_fill(c->args, ins, i);
        std::vector<py::object> axo;
        for (int v : axes) axo.push_back(v < 0 ? py::object(py::none()) : py::object(py::int_(v)));
        py::object ax = tree_fill_objects(c->args, axo, j);
        py::object r = c->vmap_lists ? c->vmap(py::list(a), py::list(ax))
                                     : c->vmap(unwrap_single(a), unwrap_single(ax));
        if (!PyTuple_Check(r.ptr()) || py::len(r) != 2)
          throw py::value_error("[custom_function] The vmap rule must return (outputs, axes).");
        py::object out = r[py::int_(0)], oaxes = r[py::int_(1)];
        // A single output may come with its axis in a one-entry list.
        if (py::isinstance<array>(out) && (PyList_Check(oaxes.ptr()) || PyTuple_Check(oaxes.ptr())) &&
            py::len(oaxes) == 1)
          oaxes = oaxes[py::int_(0)];
        std::vector<array> outs = flat_outputs(out, "custom_function.vmap");
        std::vector<int> oax;
        tree_axes(out, oaxes, oax, "out axes", false);
        for (auto& v : oax)
          if (v == kNoAxis) v = -1;
        return std::make_pair(outs, oax);
      };
    }
    std::vector<array> outs = ember::custom_function(body, vr, jr, mr)(primals);
    size_t idx = 0;
    return tree_fill(c->out_tree, outs, idx);
  }
};

// As a class attribute it binds like a function: instance.method(x) passes the instance.
py::object bind_method(py::object self, py::object obj, py::object /*type*/) {
  if (obj.is_none()) return self;
  return py::module_::import("types").attr("MethodType")(self, obj);
}

}  // namespace

// ---------- the shared wrapper type

void init_wrapped_function(py::module_& m) {
  py::class_<WrappedFunction>(m, "TransformedFunction", wrapped_function_setup<WrappedFunction>(),
                              "A function under a transformation (grad, vmap, compile, checkpoint).")
      .def("__call__", &WrappedFunction::call)
      .def("__get__", &bind_method, "obj"_a, "type"_a = py::none());
}

py::object wrap_function(std::unique_ptr<WrappedFunction> w) { return py::cast(std::move(w)); }

void init_transforms(py::module_& m) {
  init_wrapped_function(m);

  auto make_grad = [](const char* who, bool want_value) {
    return [who, want_value](const py::object& fun, const py::object& argnums, const py::object& argnames) {
      check_callable(fun, who);
      auto g = std::make_unique<GradFunction>();
      g->fun = fun;
      g->spec = parse_grad_spec(argnums, argnames, who);
      g->want_value = want_value;
      return wrap_function(std::move(g));
    };
  };
  m.def("value_and_grad", make_grad("value_and_grad", true), "fun"_a, "argnums"_a = py::none(),
        py::arg_v("argnames", py::list(), "[]"), "Returns a function computing (value, gradients) of `fun`.");
  m.def("grad", make_grad("grad", false), "fun"_a, "argnums"_a = py::none(), py::arg_v("argnames", py::list(), "[]"),
        "Returns a function computing the gradients of `fun`.");

  m.def("vjp", [](const py::object& fun, const py::object& primals, const py::object& cotangents) -> py::object {
    check_callable(fun, "vjp");
    std::vector<array> ps = as_array_list(primals, "vjp", "primals");
    if (cotangents.is_none()) {
      // JAX style: (outputs, vjp_fn)
      py::object out = fun(*py::tuple(to_list(ps)));
      flat_outputs(out, "vjp");
      auto v = std::make_unique<VjpFunction>();
      v->fun = fun;
      v->primals = ps;
      v->primals_like = primals;
      return py::make_tuple(out, wrap_function(std::move(v)));
    }
    std::vector<array> cs = as_array_list(cotangents, "vjp", "cotangents");
    py::object out_tree;
    auto call = [&](const std::vector<array>& xs) {
      out_tree = fun(*py::tuple(to_list(xs)));
      return flat_outputs(out_tree, "vjp");
    };
    auto [outs, grads] = ember::vjp(call, ps, cs);
    return py::make_tuple(like_sequence(out_tree, outs), like_sequence(primals, grads));
  }, "fun"_a, "primals"_a, "cotangents"_a = py::none(),
        "Vector-Jacobian product: returns (outputs, vjps).");

  m.def("jvp", [](const py::object& fun, const py::object& primals, const py::object& tangents) {
    check_callable(fun, "jvp");
    std::vector<array> ps = as_array_list(primals, "jvp", "primals");
    std::vector<array> ts = as_array_list(tangents, "jvp", "tangents");
    py::object out_tree;
    auto call = [&](const std::vector<array>& xs) {
      out_tree = fun(*py::tuple(to_list(xs)));
      return flat_outputs(out_tree, "jvp");
    };
    auto [outs, jvps] = ember::jvp(call, ps, ts);
    return py::make_tuple(like_sequence(out_tree, outs), like_sequence(out_tree, jvps));
  }, "fun"_a, "primals"_a, "tangents"_a, "Jacobian-vector product: returns (outputs, jvps).");

  m.def("vmap", [](const py::object& fun, const py::object& in_axes, const py::object& out_axes) {
    check_callable(fun, "vmap");
    auto v = std::make_unique<VmapFunction>();
    v->fun = fun;
    v->in_axes = in_axes;
    v->out_axes = out_axes;
    return wrap_function(std::move(v));
  }, "fun"_a, "in_axes"_a = 0, "out_axes"_a = 0, "Vectorise `fun` over the given axes.");

  auto set_rule = [](const char* what, py::object CustomFunction::*slot, bool CustomFunction::*lists) {
    return [what, slot, lists](py::object self, py::object f) {
      check_callable(f, what, "f");
      auto& cf = self.cast<CustomFunction&>();
      cf.*slot = f;
      cf.*lists = false;
      return self;
    };
  };
  py::class_<CustomFunction, WrappedFunction>(m, "custom_function", wrapped_function_setup<CustomFunction>(),
                                              "A function with custom vjp / jvp / vmap rules.")
      .def(py::init([](py::object fun, py::object v, py::object j, py::object vm) {
             check_callable(fun, "custom_function");
             if (!v.is_none()) check_callable(v, "custom_function", "fun_vjp");
             if (!j.is_none()) check_callable(j, "custom_function", "fun_jvp");
             if (!vm.is_none()) check_callable(vm, "custom_function", "fun_vmap");
             auto cf = std::make_unique<CustomFunction>();
             cf->fun = fun;
             cf->vjp_fn = v;
             cf->jvp_fn = j;
             cf->vmap_fn = vm;
             cf->vjp_lists = cf->jvp_lists = cf->vmap_lists = true;
             return cf;
           }),
           "fun"_a, "fun_vjp"_a = py::none(), "fun_jvp"_a = py::none(), "fun_vmap"_a = py::none())
      .def("vjp", set_rule("custom_function.vjp", &CustomFunction::vjp_fn, &CustomFunction::vjp_lists), "f"_a)
      .def("jvp", set_rule("custom_function.jvp", &CustomFunction::jvp_fn, &CustomFunction::jvp_lists), "f"_a)
      .def("vmap", set_rule("custom_function.vmap", &CustomFunction::vmap_fn, &CustomFunction::vmap_lists),
           "f"_a);

  m.def("checkpoint", [](const py::object& fun) {
    check_callable(fun, "checkpoint");
    auto c = std::make_unique<CheckpointFunction>();
    c->fun = fun;
    return wrap_function(std::move(c));
  }, "fun"_a, "Recompute `fun` in the backward pass instead of storing its intermediates.");
}
