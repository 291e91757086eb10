#include "trees.h"

#include <unordered_set>

static bool is_list(py::handle h) { return PyList_Check(h.ptr()); }
static bool is_tuple(py::handle h) { return PyTuple_Check(h.ptr()); }
static bool is_dict(py::handle h) { return PyDict_Check(h.ptr()); }

static std::string type_name(py::handle h) {
  return py::str(py::type::handle_of(h).attr("__name__"));
}

void check_callable(py::handle fun, const char* who, const char* what) {
  if (!PyCallable_Check(fun.ptr()))
    throw py::type_error(std::string("[") + who + "] Expected a callable for `" + what + "`; got " +
                         type_name(fun) + ".");
}

py::object make_tuple_like(py::handle like, const py::list& items) {
  if (PyTuple_CheckExact(like.ptr())) return py::tuple(items);
  py::handle type = py::type::handle_of(like);
  // NamedTuples take their fields as positional arguments, other tuple types an iterable.
  if (py::hasattr(type, "_fields")) return type(*items);
  return type(items);
}

void tree_arrays(py::handle tree, std::vector<array>& out) {
  if (py::isinstance<array>(tree)) {
    out.push_back(tree.cast<array>());
  } else if (is_list(tree) || is_tuple(tree)) {
    for (auto item : py::reinterpret_borrow<py::sequence>(tree)) tree_arrays(item, out);
  } else if (is_dict(tree)) {
    for (auto item : py::reinterpret_borrow<py::dict>(tree)) tree_arrays(item.second, out);
  }
}

// Rebuilds the containers of `tree`, mapping each leaf through `leaf`.
template <typename Leaf>
static py::object rebuild(py::handle tree, Leaf&& leaf) {
  if (is_list(tree)) {
    py::list l;
    for (auto item : py::reinterpret_borrow<py::list>(tree)) l.append(rebuild(item, leaf));
    return l;
  }
  if (is_tuple(tree)) {
    py::list items;
    for (auto item : py::reinterpret_borrow<py::tuple>(tree)) items.append(rebuild(item, leaf));
    return make_tuple_like(tree, items);
  }
  if (is_dict(tree)) {
    py::dict d;
    for (auto item : py::reinterpret_borrow<py::dict>(tree)) d[item.first] = rebuild(item.second, leaf);
    return d;
  }
  return leaf(tree);
}

py::object tree_fill(py::handle tree, const std::vector<array>& vals, size_t& idx) {
  return rebuild(tree, [&](py::handle h) -> py::object {
    if (py::isinstance<array>(h)) return py::cast(vals.at(idx++));
    return py::reinterpret_borrow<py::object>(h);
  });
}

py::object tree_fill_objects(py::handle tree, const std::vector<py::object>& vals, size_t& idx) {
  return rebuild(tree, [&](py::handle h) -> py::object {
    if (py::isinstance<array>(h)) return vals.at(idx++);
    return py::reinterpret_borrow<py::object>(h);
  });
}

py::object tree_snapshot(py::handle tree) {
  return rebuild(tree, [](py::handle h) { return py::reinterpret_borrow<py::object>(h); });
}

static void record(SwapRecord& sw, py::object now, py::handle orig) {
  sw.back[now.ptr()] = orig.ptr();
  sw.pairs.emplace_back(std::move(now), py::reinterpret_borrow<py::object>(orig));
}

py::object tree_fill_in_place(py::handle tree, const std::vector<array>& vals, size_t& idx,
                              SwapRecord& sw) {
  if (py::isinstance<array>(tree)) {
    py::object now = py::cast(vals.at(idx++));
    record(sw, now, tree);
    return now;
  }
  if (is_list(tree)) {
    auto l = py::reinterpret_borrow<py::list>(tree);
    for (size_t i = 0; i < l.size(); ++i) {
      py::object item = l[i];
      py::object now = tree_fill_in_place(item, vals, idx, sw);
      if (now.ptr() != item.ptr()) l[i] = now;
    }
    return l;
  }
  if (is_dict(tree)) {
    auto d = py::reinterpret_borrow<py::dict>(tree);
    std::vector<std::pair<py::object, py::object>> items;
    for (auto item : d)
      items.emplace_back(py::reinterpret_borrow<py::object>(item.first),
                         py::reinterpret_borrow<py::object>(item.second));
    for (auto& [k, v] : items) {
      py::object now = tree_fill_in_place(v, vals, idx, sw);
      if (now.ptr() != v.ptr()) d[k] = now;
    }
    return d;
  }
  if (is_tuple(tree)) {
    py::list items;
    bool changed = false;
    for (auto item : py::reinterpret_borrow<py::tuple>(tree)) {
      py::object now = tree_fill_in_place(item, vals, idx, sw);
      changed |= now.ptr() != item.ptr();
      items.append(now);
    }
    if (!changed) return py::reinterpret_borrow<py::object>(tree);
    py::object now = make_tuple_like(tree, items);
    record(sw, now, tree);
    return now;
  }
  return py::reinterpret_borrow<py::object>(tree);
}

static void restore(py::handle tree, const SwapRecord& sw, std::unordered_set<PyObject*>& seen) {
  auto original = [&](py::handle h) -> PyObject* {
    auto it = sw.back.find(h.ptr());
    return it == sw.back.end() ? nullptr : it->second;
  };
  if (is_list(tree)) {
    if (!seen.insert(tree.ptr()).second) return;
    auto l = py::reinterpret_borrow<py::list>(tree);
    for (size_t i = 0; i < l.size(); ++i) {
      py::object item = l[i];
      if (PyObject* o = original(item)) {
        item = py::reinterpret_borrow<py::object>(o);
        l[i] = item;
      }
      restore(item, sw, seen);
    }
  } else if (is_dict(tree)) {
    if (!seen.insert(tree.ptr()).second) return;
    auto d = py::reinterpret_borrow<py::dict>(tree);
    std::vector<std::pair<py::object, py::object>> items;
    for (auto item : d)
      items.emplace_back(py::reinterpret_borrow<py::object>(item.first),
                         py::reinterpret_borrow<py::object>(item.second));
    for (auto& [k, v] : items) {
      if (PyObject* o = original(v)) {
        v = py::reinterpret_borrow<py::object>(o);
        d[k] = v;
      }
      restore(v, sw, seen);
    }
  } else if (is_tuple(tree)) {
    if (!seen.insert(tree.ptr()).second) return;
    for (auto item : py::reinterpret_borrow<py::tuple>(tree)) restore(item, sw, seen);
  }
}

void tree_restore(py::handle tree, const SwapRecord& sw) {
  std::unordered_set<PyObject*> seen;
  restore(tree, sw, seen);
}

void tree_axes(py::handle tree, py::handle prefix, std::vector<int>& out, const char* what,
               bool normalize) {
  if (prefix.is_none() || PyLong_Check(prefix.ptr())) {
    std::vector<array> arrs;
    tree_arrays(tree, arrs);
    for (auto& a : arrs) {
      if (prefix.is_none()) {
        out.push_back(normalize ? -1 : kNoAxis);
        continue;
      }
      int ax = prefix.cast<int>();
      if (!normalize) {
        out.push_back(ax);
        continue;
      }
      int v = ax < 0 ? ax + a.ndim() : ax;
      if (v < 0 || v >= a.ndim())
        throw axis_error(std::string("[vmap] ") + what + " " + std::to_string(ax) +
                         " is out of bounds for an array with " + std::to_string(a.ndim()) +
                         " dimensions.");  // IndexError (as MLX) and ValueError
      out.push_back(v);
    }
    return;
  }
  if (!is_list(prefix) && !is_tuple(prefix) && !is_dict(prefix))
    throw py::value_error(std::string("[vmap] ") + what + " must hold ints or None (possibly in "
                          "lists, tuples or dicts); got " + type_name(prefix) + ".");
  if ((is_list(prefix) || is_tuple(prefix)) && (is_list(tree) || is_tuple(tree))) {
    auto t = py::reinterpret_borrow<py::sequence>(tree);
    auto p = py::reinterpret_borrow<py::sequence>(prefix);
    if (py::len(t) != py::len(p))
      throw py::value_error(std::string("[vmap] ") + what + " has " + std::to_string(py::len(p)) +
                            " entries but the matching argument has " + std::to_string(py::len(t)) + ".");
    for (size_t i = 0; i < py::len(t); ++i) tree_axes(t[i], p[i], out, what, normalize);
    return;
  }
  if (is_dict(prefix) && is_dict(tree)) {
    auto t = py::reinterpret_borrow<py::dict>(tree);
    auto p = py::reinterpret_borrow<py::dict>(prefix);
    for (auto item : t) {
      if (!p.contains(item.first))
        throw py::value_error(std::string("[vmap] ") + what + " is missing the key " +
                              std::string(py::str(item.first)) + ".");
      tree_axes(item.second, p[item.first], out, what, normalize);
    }
    return;
  }
  throw py::value_error(std::string("[vmap] ") + what + " does not match the structure of the arguments.");
}
