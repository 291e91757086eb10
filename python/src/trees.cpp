#include "trees.h"

static bool is_list(py::handle h) { return PyList_Check(h.ptr()); }
static bool is_tuple(py::handle h) { return PyTuple_Check(h.ptr()); }
static bool is_dict(py::handle h) { return PyDict_Check(h.ptr()); }

void tree_arrays(py::handle tree, std::vector<array>& out) {
  if (py::isinstance<array>(tree)) {
    out.push_back(tree.cast<array>());
  } else if (is_list(tree) || is_tuple(tree)) {
    for (auto item : py::reinterpret_borrow<py::sequence>(tree)) tree_arrays(item, out);
  } else if (is_dict(tree)) {
    for (auto item : py::reinterpret_borrow<py::dict>(tree)) tree_arrays(item.second, out);
  }
}

py::object tree_fill(py::handle tree, const std::vector<array>& vals, size_t& idx) {
  if (py::isinstance<array>(tree)) return py::cast(vals.at(idx++));
  if (is_list(tree)) {
    py::list l;
    for (auto item : py::reinterpret_borrow<py::list>(tree)) l.append(tree_fill(item, vals, idx));
    return l;
  }
  if (is_tuple(tree)) {
    auto t = py::reinterpret_borrow<py::tuple>(tree);
    py::tuple r(t.size());
    for (size_t i = 0; i < t.size(); ++i) r[i] = tree_fill(t[i], vals, idx);
    return r;
  }
  if (is_dict(tree)) {
    py::dict d;
    for (auto item : py::reinterpret_borrow<py::dict>(tree)) d[item.first] = tree_fill(item.second, vals, idx);
    return d;
  }
  return py::reinterpret_borrow<py::object>(tree);
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
        throw py::value_error(std::string("[vmap] ") + what + " " + std::to_string(ax) +
                              " is out of bounds for an array with " + std::to_string(a.ndim()) +
                              " dimensions.");
      out.push_back(v);
    }
    return;
  }
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
