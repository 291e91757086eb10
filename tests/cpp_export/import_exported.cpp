// Usage: import_exported <file from Python> <file to write>
// Imports the function that tests/test_export.py exported (f(x, *, w) with x (2, 3) and
// w (3, 4) float32, shapeless), runs it on inputs made here and prints the outputs' values;
// then exports a function of its own for Python to import. Exits non-zero on failure.
#include <cstdio>
#include <iostream>

#include "ember/ember.h"

namespace mx = ember;

int fail(const char* what) {
  std::cerr << "FAILED: " << what << std::endl;
  return 1;
}

void print(const char* label, mx::array a) {
  a = mx::astype(a, mx::float32);
  mx::eval(a);
  std::printf("%s", label);
  for (auto d : a.shape()) std::printf(" %d", d);
  std::printf(" :");
  const float* p = a.data<float>();
  for (size_t i = 0; i < a.size(); ++i) std::printf(" %.9g", p[i]);
  std::printf("\n");
}

int main(int argc, char** argv) {
  if (argc != 3) return fail("usage: import_exported <in> <out>");
  auto f = mx::import_function(argv[1]);
  if (f.metadata() != "from python") return fail("metadata");
  auto x = mx::reshape(mx::arange(6.0f), {2, 3}) / 4.0f;
  auto w = mx::reshape(mx::arange(12.0f), {3, 4}) - 5.0f;
  auto outs = f({x}, {{"w", w}});
  if (outs.size() != 2) return fail("two outputs");
  print("out0", outs[0]);
  print("out1", outs[1]);
  // Shapeless: other shapes of the same ranks.
  auto x2 = mx::reshape(mx::arange(8.0f), {4, 2}) / 8.0f;
  auto w2 = mx::ones({2, 5});
  print("shapeless0", f({x2}, {{"w", w2}})[0]);
  // A call that matches no trace raises std::invalid_argument.
  bool raised = false;
  try {
    f({x});
  } catch (const std::invalid_argument&) {
    raised = true;
  }
  if (!raised) return fail("missing keyword input raises");
  // Export from C++: g(a, b) = (softmax(a, -1) * b, cumsum(b)).
  mx::export_function(argv[2], [](const std::vector<mx::array>& in) {
    return std::vector<mx::array>{mx::softmax(in[0], std::vector<int>{-1}) * in[1], mx::cumsum(in[1], 0)};
  }, {mx::zeros({3}), mx::zeros({3})}, false, "from c++");
  std::printf("import_exported: all checks passed\n");
  return 0;
}
