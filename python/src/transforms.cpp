// Python bindings of the transformations. The traversals run in C++ (ember/transforms.h);
// this layer maps Python call signatures and nested containers onto them.
#include <algorithm>
#include <memory>

#include "trees.h"

using namespace pybind11::literals;

namespace {

// Flattens a function's return value into arrays.
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

std::vector<array> flat_outputs(const py::object& out, const char* who) {
  std::vector<array> arrs;
  tree_arrays(out, arrs);
  if (arrs.empty() || !all_leaves_arrays(out))
    throw py::value_error(std::string("[") + who + "] The function must return an array or a "
                          "(nested) list, tuple or dict of arrays; got " +
                          std::string(py::str(py::type::handle_of(out))) + ".");
  return arrs;
}

std::vector<array> as_array_list(const py::object& obj, const char* who, const char* what) {
  if (py::isinstance<array>(obj)) return {obj.cast<array>()};
  if (PyList_Check(obj.ptr()) || PyTuple_Check(obj.ptr())) {
    std::vector<array> v;
    for (auto item : py::reinterpret_borrow<py::sequence>(obj)) {
      if (!py::isinstance<array>(item))
        throw py::type_error(std::string("[") + who + "] " + what + " must be arrays; got " +
                             std::string(py::str(py::type::handle_of(item))) + ".");
      v.push_back(item.cast<array>());
    }
    return v;
  }
  throw py::type_error(std::string("[") + who + "] " + what + " must be an array or a list/tuple of arrays.");
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

py::list to_list(const std::vector<array>& v) {
  py::list l;
  for (auto& a : v) l.append(py::cast(a));
  return l;
}

struct GradSpec {
  std::vector<int> argnums;
  std::vector<std::string> argnames;
  bool single = false;
};

GradSpec parse_grad_spec(const py::object& argnums, const py::object& argnames) {
  GradSpec g;
  if (py::isinstance<py::str>(argnames)) g.argnames.push_back(argnames.cast<std::string>());
  else if (!argnames.is_none()) g.argnames = argnames.cast<std::vector<std::string>>();
  if (argnums.is_none()) {
    if (g.argnames.empty()) {
      g.argnums = {0};
      g.single = true;
    }
  } else if (PyLong_Check(argnums.ptr())) {
    g.argnums = {argnums.cast<int>()};
    g.single = true;
  } else {
    g.argnums = argnums.cast<std::vector<int>>();
    std::sort(g.argnums.begin(), g.argnums.end());
  }
  if (g.argnums.empty() && g.argnames.empty())
    throw py::value_error("[grad] Gradient wrt no argument requested.");
  for (size_t i = 0; i < g.argnums.size(); ++i)
    for (size_t j = i + 1; j < g.argnums.size(); ++j)
      if (g.argnums[i] == g.argnums[j]) throw py::value_error("[grad] Duplicate argnums.");
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
  for (int a : spec.argnums) {
    size_t before = primals.size();
    tree_arrays(args[a], primals);
    if (primals.size() == before)
      throw py::value_error("[grad] Argument " + std::to_string(a) + " holds no arrays to differentiate "
                            "(got " + std::string(py::str(py::type::handle_of(args[a]))) + ").");
  }
  for (auto& name : spec.argnames) {
    if (!kwargs.contains(name.c_str()))
      throw py::value_error("[grad] Can't compute the gradient of keyword argument '" + name +
                            "' because the function was called without it.");
    tree_arrays(kwargs[name.c_str()], primals);
  }
  py::object py_out;
  auto inner = [&](const std::vector<array>& tr) {
    py::list new_args(args);
    py::dict new_kwargs(kwargs);
    size_t idx = 0;
    for (int a : spec.argnums) new_args[a] = tree_fill(args[a], tr, idx);
    for (auto& name : spec.argnames) new_kwargs[name.c_str()] = tree_fill(kwargs[name.c_str()], tr, idx);
    py_out = fun(*py::tuple(new_args), **new_kwargs);
    array loss;
    if (py::isinstance<array>(py_out)) {
      loss = py_out.cast<array>();
    } else if ((PyList_Check(py_out.ptr()) || PyTuple_Check(py_out.ptr())) && py::len(py_out) > 0 &&
               py::isinstance<array>(py_out[py::int_(0)])) {
      loss = py_out[py::int_(0)].cast<array>();
    } else {
      throw py::value_error("[grad] The function must return a scalar array, or a tuple or list whose "
                            "first element is a scalar array; got " +
                            std::string(py::str(py::type::handle_of(py_out))) + ".");
    }
    if (loss.size() != 1)
      throw py::value_error("[grad] The function must return a scalar (size-1) array as its loss; got "
                            "an array of shape " + std::string(py::str(py::cast(loss).attr("shape"))) + ".");
    return std::vector<array>{loss};
  };
  auto [outs, grads] = ember::vjp(inner, primals, {array(1.0f)});
  size_t idx = 0;
  py::list pos;
  for (int a : spec.argnums) pos.append(tree_fill(args[a], grads, idx));
  py::object g;
  if (spec.argnames.empty()) {
    g = spec.single ? pos[0] : py::object(py::tuple(pos));
  } else {
    py::dict kw;
    for (auto& name : spec.argnames) kw[name.c_str()] = tree_fill(kwargs[name.c_str()], grads, idx);
    py::object p = spec.argnums.empty() ? py::object(py::none()) : (spec.single ? py::object(pos[0]) : py::object(py::tuple(pos)));
    g = py::make_tuple(p, kw);
  }
  if (!want_value) return g;
  return py::make_tuple(py_out, g);
}

// ---------- custom_function

struct CustomFunction {
  py::object fun, vjp_fn, jvp_fn, vmap_fn;

  py::object call(const py::args& args, const py::kwargs& kwargs) {
    std::vector<array> primals;
    tree_arrays(args, primals);
    struct Capture {
      py::object fun, vjp, jvp, vmap, args, kw, out_tree;
    };
    auto c = gil_safe(Capture{fun, vjp_fn, jvp_fn, vmap_fn, py::tuple(args), py::dict(kwargs), py::none()});
    Fn body = [c](const std::vector<array>& tr) {
      py::gil_scoped_acquire gil;
      size_t idx = 0;
      py::object a = tree_fill(c->args, tr, idx);
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
        py::object a = unwrap_single(tree_fill(c->args, ps, i));
        py::object ct = tree_fill(c->out_tree, cts, j);
        py::object o = tree_fill(c->out_tree, outs, k);
        py::object r = c->vjp(a, ct, o);
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
        py::object a = unwrap_single(tree_fill(c->args, ps, i));
        py::object t = unwrap_single(tree_fill(c->args, full, j));
        py::object r = c->jvp(a, t);
        return flat_outputs(r, "custom_function.jvp");
      };
    }
    if (!vmap_fn.is_none()) {
      mr = [c](const std::vector<array>& ins, const std::vector<int>& axes) {
        py::gil_scoped_acquire gil;
        size_t i = 0;
        py::object a = unwrap_single(tree_fill(c->args, ins, i));
        py::list ax;
        for (int v : axes) ax.append(v < 0 ? py::object(py::none()) : py::object(py::int_(v)));
        py::object axo = axes.size() == 1 ? py::object(ax[0]) : py::object(py::tuple(ax));
        py::object r = c->vmap(a, axo);
        if (!PyTuple_Check(r.ptr()) || py::len(r) != 2)
          throw py::value_error("[custom_function] The vmap rule must return (outputs, axes).");
        std::vector<array> outs = flat_outputs(r[py::int_(0)], "custom_function.vmap");
        std::vector<int> oax;
        tree_axes(r[py::int_(0)], r[py::int_(1)], oax, "out axes", false);
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

}  // namespace

void init_transforms(py::module_& m) {
  m.def("value_and_grad", [](const py::object& fun, const py::object& argnums, const py::object& argnames) {
    GradSpec spec = parse_grad_spec(argnums, argnames);
    return py::cpp_function([fun, spec](py::args args, py::kwargs kwargs) {
      return value_and_grad_call(fun, spec, args, kwargs, true);
    });
  }, "fun"_a, "argnums"_a = py::none(), "argnames"_a = py::none(),
        "Returns a function computing (value, gradients) of `fun`.");
  m.def("grad", [](const py::object& fun, const py::object& argnums, const py::object& argnames) {
    GradSpec spec = parse_grad_spec(argnums, argnames);
    return py::cpp_function([fun, spec](py::args args, py::kwargs kwargs) {
      return value_and_grad_call(fun, spec, args, kwargs, false);
    });
  }, "fun"_a, "argnums"_a = py::none(), "argnames"_a = py::none(),
        "Returns a function computing the gradients of `fun`.");

  m.def("vjp", [](const py::object& fun, const py::object& primals, const py::object& cotangents) -> py::object {
    std::vector<array> ps = as_array_list(primals, "vjp", "primals");
    auto call = [fun](const std::vector<array>& xs) {
      py::object out = fun(*py::tuple(to_list(xs)));
      return flat_outputs(out, "vjp");
    };
    if (cotangents.is_none()) {
      // JAX style: (outputs, vjp_fn)
      py::object out = fun(*py::tuple(to_list(ps)));
      flat_outputs(out, "vjp");
      auto vjp_fn = py::cpp_function([call, ps](py::args cts) {
        std::vector<array> c;
        if (cts.size() == 1) c = as_array_list(cts[0], "vjp", "cotangents");
        else c = as_array_list(cts, "vjp", "cotangents");
        auto res = ember::vjp(call, ps, c).second;
        return py::tuple(to_list(res));
      });
      return py::make_tuple(out, vjp_fn);
    }
    std::vector<array> cs = as_array_list(cotangents, "vjp", "cotangents");
    auto [outs, grads] = ember::vjp(call, ps, cs);
    return py::make_tuple(to_list(outs), to_list(grads));
  }, "fun"_a, "primals"_a, "cotangents"_a = py::none(),
        "Vector-Jacobian product: returns (outputs, vjps).");

  m.def("jvp", [](const py::object& fun, const py::object& primals, const py::object& tangents) {
    std::vector<array> ps = as_array_list(primals, "jvp", "primals");
    std::vector<array> ts = as_array_list(tangents, "jvp", "tangents");
    auto call = [fun](const std::vector<array>& xs) {
      py::object out = fun(*py::tuple(to_list(xs)));
      return flat_outputs(out, "jvp");
    };
    auto [outs, jvps] = ember::jvp(call, ps, ts);
    return py::make_tuple(to_list(outs), to_list(jvps));
  }, "fun"_a, "primals"_a, "tangents"_a, "Jacobian-vector product: returns (outputs, jvps).");

  m.def("vmap", [](const py::object& fun, const py::object& in_axes, const py::object& out_axes) {
    return py::cpp_function([fun, in_axes, out_axes](py::args args) {
      py::tuple args_t(args);
      std::vector<array> inputs;
      tree_arrays(args_t, inputs);
      std::vector<int> iax;
      if ((PyList_Check(in_axes.ptr()) || PyTuple_Check(in_axes.ptr())) && py::len(in_axes) != args.size())
        throw py::value_error("[vmap] in_axes has " + std::to_string(py::len(in_axes)) +
                              " entries but the function was called with " + std::to_string(args.size()) +
                              " arguments.");
      tree_axes(args_t, in_axes, iax, "in_axes");
      py::object out_tree;
      Fn f = [&](const std::vector<array>& ph) {
        size_t idx = 0;
        py::object a = tree_fill(args_t, ph, idx);
        out_tree = fun(*a);
        return flat_outputs(out_tree, "vmap");
      };
      auto [ph, outs] = vmap_trace(f, inputs, iax);
      std::vector<int> oax;
      tree_axes(out_tree, out_axes, oax, "out_axes", false);
      auto res = vmap_replace(inputs, ph, outs, iax, oax);
      size_t idx = 0;
      return tree_fill(out_tree, res, idx);
    });
  }, "fun"_a, "in_axes"_a = 0, "out_axes"_a = 0, "Vectorise `fun` over the given axes.");

  py::class_<CustomFunction>(m, "custom_function")
      .def(py::init([](py::object fun, py::object v, py::object j, py::object vm) {
             return CustomFunction{fun, v, j, vm};
           }),
           "fun"_a, "fun_vjp"_a = py::none(), "fun_jvp"_a = py::none(), "fun_vmap"_a = py::none())
      .def("__call__", &CustomFunction::call)
      .def("vjp", [](CustomFunction& self, py::object f) {
        self.vjp_fn = f;
        return f;
      })
      .def("jvp", [](CustomFunction& self, py::object f) {
        self.jvp_fn = f;
        return f;
      })
      .def("vmap", [](CustomFunction& self, py::object f) {
        self.vmap_fn = f;
        return f;
      })
      .def("__get__", [](py::object self, py::object obj, py::object) -> py::object {
        if (obj.is_none()) return self;
        return py::module_::import("functools").attr("partial")(self, obj);
      });

  m.def("checkpoint", [](const py::object& fun) {
    return py::cpp_function([fun](py::args args, py::kwargs kwargs) {
      py::tuple args_t(args);
      py::dict kw(kwargs);
      std::vector<array> primals;
      tree_arrays(args_t, primals);
      struct Capture {
        py::object fun, args, kw, out_tree;
      };
      auto c = gil_safe(Capture{fun, args_t, kw, py::none()});
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
    });
  }, "fun"_a, "Recompute `fun` in the backward pass instead of storing its intermediates.");
}
