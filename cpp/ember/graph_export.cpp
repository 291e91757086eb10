#include "ember/graph_export.h"

#include "ember/primitive.h"

#include <cstdint>
#include <unordered_set>

namespace ember {

namespace {

std::string shape_text(const Shape& s) {
  std::string r = "(";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) r += ", ";
    r += std::to_string(s[i]);
  }
  return r + (s.size() == 1 ? ",)" : ")");
}

// DOT string literal contents: quotes and backslashes escaped, line breaks as \n.
std::string escape(const std::string& s) {
  std::string r;
  for (char ch : s) {
    if (ch == '\n') {
      r += "\\n";
      continue;
    }
    if (ch == '"' || ch == '\\') r += '\\';
    r += ch;
  }
  return r;
}

}  // namespace

void export_to_dot(std::ostream& os, const std::vector<array>& outputs, const ArrayNames& names) {
  // A node is keyed by its array or, for a primitive with several outputs, by the
  // primitive and its inputs (all the siblings share them).
  auto key = [](const array& a) {
    auto ptr = [](const void* p) { return std::to_string(reinterpret_cast<std::uintptr_t>(p)); };
    if (!a.has_primitive() || !a.has_siblings()) return ptr(a.id());
    std::string k = ptr(a.primitive_ptr().get());
    for (auto& in : a.inputs()) k += ":" + ptr(in.id());
    return k;
  };
  std::unordered_map<std::string, std::string> node_ids;
  std::unordered_set<const void*> roots;
  for (auto& o : outputs)
    if (o.valid()) roots.insert(o.id());
  auto label_of = [&](const array& a) {
    std::string r;
    auto it = names.find(a.id());
    if (it != names.end()) r = it->second + ": ";
    return r + shape_text(a.shape()) + " " + dtype_name(a.dtype());
  };

  os << "digraph ember {\n  node [fontname=\"Helvetica\"];\n";
  // Post-order walk with an explicit stack: a node is written once all its inputs are.
  std::vector<std::pair<array, size_t>> stack;
  auto visit = [&](const array& a) {
    if (!node_ids.count(key(a))) stack.emplace_back(a, 0);
  };
  for (auto& o : outputs) {
    if (!o.valid()) continue;
    visit(o);
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      if (node_ids.count(key(node))) {  // reached twice before it was written
        stack.pop_back();
        continue;
      }
      // Step 1: descend into the next input not written yet.
      if (node.has_primitive() && next < node.inputs().size()) {
        const array& in = node.inputs()[next++];
        visit(in);
        continue;
      }
      // Step 2: all inputs written; write the node and the edges into it.
      array a = node;
      stack.pop_back();
      std::string id = "n" + std::to_string(node_ids.size());
      node_ids.emplace(key(a), id);
      bool is_root = false;
      if (!a.has_primitive()) {
        is_root = roots.count(a.id()) > 0;
        os << "  " << id << " [label=\"" << escape(label_of(a)) << "\", shape=ellipse"
           << (is_root ? ", peripheries=2" : "") << "];\n";
        continue;
      }
      std::string label = a.primitive().name();
      auto outs = a.outputs();
      for (size_t k = 0; k < outs.size(); ++k) {
        label += "\n" + (outs.size() > 1 ? std::to_string(k) + ": " : std::string()) + label_of(outs[k]);
        is_root |= roots.count(outs[k].id()) > 0;
      }
      os << "  " << id << " [label=\"" << escape(label) << "\", shape=box"
         << (is_root ? ", peripheries=2" : "") << "];\n";
      for (auto& in : a.inputs()) {
        os << "  " << node_ids.at(key(in)) << " -> " << id;
        if (in.has_primitive() && in.has_siblings())
          os << " [label=\"" << in.sibling_position() << "\"]";
        os << ";\n";
      }
    }
  }
  os << "}\n";
}

}  // namespace ember
