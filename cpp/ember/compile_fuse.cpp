#include "ember/compile_fuse.h"

#include <dlfcn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "ember/backend/cpu/kernels.h"
#include "ember/ops/common.h"
#include "ember/primitives.h"
#include "ember/transforms.h"

namespace ember {

namespace jit {
extern const char* const kMathSource;
}

namespace {

namespace jit_math {
#include "ember/half_impl.h"
#include "ember/backend/cpu/simd_math_impl.h"
}  // namespace jit_math

using Arrays = std::vector<array>;
// Elementwise kernels take (inputs, outputs, n, 0, 0); reduction kernels take
// (inputs, outputs, rows, cols, row stride).
using KernelFn = void (*)(const void* const*, void* const*, int64_t, int64_t, int64_t);

// ---------- code generation

const char* ctype(Dtype t) {
  switch (t) {
    case Dtype::Bool: return "bool";
    case Dtype::UInt8: return "uint8_t";
    case Dtype::UInt16: return "uint16_t";
    case Dtype::UInt32: return "uint32_t";
    case Dtype::UInt64: return "uint64_t";
    case Dtype::Int8: return "int8_t";
    case Dtype::Int16: return "int16_t";
    case Dtype::Int32: return "int32_t";
    case Dtype::Int64: return "int64_t";
    case Dtype::Float32: return "float";
    case Dtype::Float64: return "double";
    case Dtype::Float16: return "float";  // computed in float, stored as 16 bits
    case Dtype::BFloat16: return "float";
    default: return nullptr;
  }
}

bool is_half(Dtype t) { return t == float16 || t == bfloat16; }
// Type of the kernel's pointers for `t`, and the conversions at loads, stores and
// after each half-precision op (rounded as the eager op rounds its result).
const char* storage_type(Dtype t) { return is_half(t) ? "uint16_t" : ctype(t); }
std::string load_as(Dtype t, const std::string& e) {
  return t == float16 ? "em_h2f(" + e + ")" : t == bfloat16 ? "em_b2f(" + e + ")" : e;
}
std::string store_as(Dtype t, const std::string& e) {
  return t == float16 ? "em_f2h(" + e + ")" : t == bfloat16 ? "em_f2b(" + e + ")" : e;
}
std::string round_as(Dtype t, const std::string& e) { return is_half(t) ? load_as(t, store_as(t, e)) : e; }

// C++ expression of one elementwise primitive over operand names; empty if unsupported.
std::string expression(const std::string& name, const std::vector<std::string>& a, Dtype in, Dtype out) {
  bool f32 = in == float32 || is_half(in), fl = is_floating_point(in);
  auto fn = [&](const char* vec, const char* std_) {
    return std::string(f32 ? vec : std_) + "(" + a[0] + ")";
  };
  if (name == "Add") return a[0] + " + " + a[1];
  if (name == "Subtract") return a[0] + " - " + a[1];
  if (name == "Multiply") return a[0] + " * " + a[1];
  if (name == "Divide") return a[0] + " / " + a[1];
  if (name == "Negative") return "-" + a[0];
  if (name == "Square") return a[0] + " * " + a[0];
  if (name == "Maximum")
    return fl ? "((" + a[0] + " > " + a[1] + " || " + a[0] + " != " + a[0] + ") ? " + a[0] + " : " + a[1] + ")"
              : "(" + a[0] + " > " + a[1] + " ? " + a[0] + " : " + a[1] + ")";
  if (name == "Minimum")
    return fl ? "((" + a[0] + " < " + a[1] + " || " + a[0] + " != " + a[0] + ") ? " + a[0] + " : " + a[1] + ")"
              : "(" + a[0] + " < " + a[1] + " ? " + a[0] + " : " + a[1] + ")";
  if (name == "Equal") return "(" + a[0] + " == " + a[1] + ")";
  if (name == "NotEqual") return "(" + a[0] + " != " + a[1] + ")";
  if (name == "Less") return "(" + a[0] + " < " + a[1] + ")";
  if (name == "LessEqual") return "(" + a[0] + " <= " + a[1] + ")";
  if (name == "Greater") return "(" + a[0] + " > " + a[1] + ")";
  if (name == "GreaterEqual") return "(" + a[0] + " >= " + a[1] + ")";
  if (name == "LogicalAnd") return "(" + a[0] + " && " + a[1] + ")";
  if (name == "LogicalOr") return "(" + a[0] + " || " + a[1] + ")";
  if (name == "LogicalNot") return "(!" + a[0] + ")";
  if (name == "Select") return "(" + a[0] + " ? " + a[1] + " : " + a[2] + ")";
  if (name == "AsType") {
    if (out == bool_) return "(" + a[0] + " != 0)";
    // A select rather than a widening cast of a bool: the vectoriser handles the former
    // (a mask blend) and gives up on the loop for the latter.
    if (in == bool_) return "(" + a[0] + " ? " + ctype(out) + "(1) : " + ctype(out) + "(0))";
    return std::string("static_cast<") + ctype(out) + ">(" + a[0] + ")";
  }
  if (!fl) {
    if (name == "Abs") return "(" + a[0] + " < 0 ? -" + a[0] + " : " + a[0] + ")";
    return "";
  }
  if (name == "Abs") return "std::fabs(" + a[0] + ")";
  if (name == "Exp") return fn("exp1", "std::exp");
  if (name == "Expm1") return fn("expm1_1", "std::expm1");
  if (name == "Log") return fn("log1", "std::log");
  if (name == "Log1p") return fn("em_log1p", "std::log1p");
  if (name == "Sin") return fn("sin1", "std::sin");
  if (name == "Cos") return fn("cos1", "std::cos");
  if (name == "Tanh") return fn("em_tanh_fast", "std::tanh");
  if (name == "Sigmoid") return f32 ? "em_sigmoid(" + a[0] + ")" : "(1.0 / (1.0 + std::exp(-" + a[0] + ")))";
  if (name == "Sqrt") return "std::sqrt(" + a[0] + ")";
  if (name == "Rsqrt") return "(1 / std::sqrt(" + a[0] + "))";
  if (name == "Reciprocal") return "(1 / " + a[0] + ")";
  if (name == "Floor") return "std::floor(" + a[0] + ")";
  if (name == "Ceil") return "std::ceil(" + a[0] + ")";
  if (name == "Round") return "std::nearbyint(" + a[0] + ")";
  if (name == "Power") return "std::pow(" + a[0] + ", " + a[1] + ")";
  if (name == "ArcTan2") return "std::atan2(" + a[0] + ", " + a[1] + ")";
  if (name == "Tan") return "std::tan(" + a[0] + ")";
  if (name == "Sinh") return "std::sinh(" + a[0] + ")";
  if (name == "Cosh") return "std::cosh(" + a[0] + ")";
  if (name == "ArcTan") return "std::atan(" + a[0] + ")";
  if (name == "Erf") return "std::erf(" + a[0] + ")";
  if (name == "IsNaN") return "(" + a[0] + " != " + a[0] + ")";
  return "";
}

bool fusable(const array& node) {
  auto* e = dynamic_cast<Elementwise*>(&node.primitive());
  if (!e || node.has_siblings() || !ctype(node.dtype())) return false;
  std::vector<std::string> names;
  for (auto& in : node.inputs()) {
    if (!ctype(in.dtype())) return false;
    names.push_back("x");
  }
  Dtype in = node.inputs().empty() ? node.dtype() : node.inputs().back().dtype();
  return !expression(node.primitive().name(), names, in, node.dtype()).empty();
}

// ---------- compiling and loading generated kernels

std::string hash_hex(const std::string& s) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", (unsigned long long)h);
  return buf;
}

struct KernelCache {
  std::mutex m;
  std::unordered_map<std::string, KernelFn> loaded;
  bool compiler_failed = false, warned = false;
};
KernelCache& kcache() {
  static KernelCache* c = new KernelCache();
  return *c;
}

// The compiler resolved by the last jit_compiler() call (kernels are built by it).
struct JitCompiler {
  std::mutex m;
  bool resolved = false;
  std::string env_cxx, env_path, command;
  std::function<std::string()> fallback;
  std::function<void(const std::string&)> on_missing;
  bool noted = false;
};
JitCompiler& jitc() {
  static JitCompiler* j = new JitCompiler();
  return *j;
}

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// Full path of an executable `name` (a path, or a name looked up on `path`); empty if none.
std::string find_executable(const std::string& name, const std::string& path) {
  if (name.empty()) return "";
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string full = dir + "/" + name;
    struct stat st;
    if (::stat(full.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(full.c_str(), X_OK) == 0) return full;
    start = end + 1;
  }
  return "";
}

// Command of the compiler that built the kernels of the current resolution.
std::string compiler() {
  auto& j = jitc();
  std::lock_guard<std::mutex> lk(j.m);
  return j.command;
}

KernelFn load_kernel(const std::string& source) {
  auto& kc = kcache();
  std::string flags = "-O3 -std=c++17 -fPIC -shared -fno-math-errno -fno-trapping-math";
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) flags += " -mavx2 -mfma";
#endif
  const std::string cxx = compiler();
  if (cxx.empty()) return nullptr;
  std::string key = hash_hex(source + flags + cxx);
  std::lock_guard<std::mutex> lk(kc.m);
  auto it = kc.loaded.find(key);
  if (it != kc.loaded.end()) return it->second;
  std::string dir = kernel_cache_dir();
  std::string lib = dir + "/ember_kernel_" + key + ".so";
  struct stat st;
  if (::stat(lib.c_str(), &st) != 0) {
    if (kc.compiler_failed) return nullptr;
    std::string tmp = dir + "/tmp_" + key + "_" + std::to_string(::getpid());
    {
      std::ofstream f(tmp + ".cpp");
      f << source;
      if (!f) return nullptr;
    }
    std::string cmd = cxx + " " + flags + " " + tmp + ".cpp -o " + tmp + ".so 2>/dev/null";
    // zig's `c++` links against a C++ runtime and compiler-rt that it builds on first use (a
    // minute or more); a kernel needs neither, so zig compiles an object and links it alone.
    const std::string zig_cxx = " c++";
    size_t w = cxx.find_first_of(' ');
    std::string first = cxx.substr(0, w);
    if (cxx.size() > zig_cxx.size() && cxx.compare(cxx.size() - zig_cxx.size(), zig_cxx.size(), zig_cxx) == 0 &&
        first.size() >= 3 && first.compare(first.size() - 3, 3, "zig") == 0) {
      std::string zig = cxx.substr(0, cxx.size() - zig_cxx.size());
      std::string compile_flags = flags;
      compile_flags.replace(compile_flags.find(" -shared"), 8, "");
      cmd = cxx + " " + compile_flags + " -c " + tmp + ".cpp -o " + tmp + ".o 2>/dev/null && " + zig +
            " cc -shared -nostdlib " + tmp + ".o -o " + tmp + ".so -lm 2>/dev/null; rc=$?; rm -f " + tmp +
            ".o; exit $rc";
    }
    int rc = std::system(cmd.c_str());
    if (std::getenv("EMBER_KEEP_KERNEL_SOURCE")) std::rename((tmp + ".cpp").c_str(), (dir + "/ember_kernel_" + key + ".cpp").c_str());
    else std::remove((tmp + ".cpp").c_str());
    if (rc != 0) {
      // A compiler that cannot run (127: not found) is not tried again; a kernel that
      // does not compile only runs unfused, with one note on stderr.
      if (rc == -1 || (WIFEXITED(rc) && WEXITSTATUS(rc) == 127)) {
        kc.compiler_failed = true;
      } else if (!kc.warned) {
        kc.warned = true;
        std::fprintf(stderr, "ember: a generated kernel did not compile (%s); running it unfused\n",
                     cxx.c_str());
      }
      std::remove((tmp + ".so").c_str());
      return nullptr;
    }
    // Publish atomically: concurrent processes may compile the same kernel.
    if (std::rename((tmp + ".so").c_str(), lib.c_str()) != 0) {
      std::remove((tmp + ".so").c_str());
      return nullptr;
    }
  }
  void* h = ::dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) return nullptr;
  auto fn = reinterpret_cast<KernelFn>(::dlsym(h, "ember_kernel"));
  kc.loaded.emplace(key, fn);
  return fn;
}

// ---------- the fused primitive

class Compiled : public Primitive {
 public:
  // With `reduce` (a Reduce over trailing axes), the single output of the group is
  // reduced inside the kernel instead of being written out.
  Compiled(Stream s, Arrays ext_inputs, Arrays nodes, Arrays outs, std::shared_ptr<Primitive> reduce = nullptr)
      : Primitive(s), ext_(std::move(ext_inputs)), nodes_(std::move(nodes)), outs_(std::move(outs)),
        red_(std::move(reduce)) {}
  const char* name() const override { return "Compiled"; }

  void eval_cpu(const Arrays& inputs, Arrays& outputs) override {
    if (!eval_fused(inputs, outputs)) eval_unfused(inputs, outputs);
  }

  Arrays vjp(const Arrays& primals, const Arrays& cts, const std::vector<int>& argnums,
             const Arrays&) override {
    auto g = ember::vjp([this](const Arrays& x) { return expand(x); }, primals, cts).second;
    Arrays r;
    for (int a : argnums) r.push_back(g[a]);
    return r;
  }
  Arrays jvp(const Arrays& primals, const Arrays& tangents, const std::vector<int>& argnums) override {
    Arrays full;
    for (auto& p : primals) full.push_back(zeros_like(p));
    for (size_t k = 0; k < argnums.size(); ++k) full[argnums[k]] = tangents[k];
    return ember::jvp([this](const Arrays& x) { return expand(x); }, primals, full).second;
  }
  std::pair<Arrays, std::vector<int>> vmap(const Arrays& inputs, const std::vector<int>& axes) override {
    auto [ph, outs] = vmap_trace([this](const Arrays& x) { return expand(x); }, inputs, axes);
    std::vector<int> oax(outs.size(), 0);
    return {vmap_replace(inputs, ph, outs, axes, oax), oax};
  }
  std::vector<Shape> output_shapes(const Arrays& inputs) override {
    Shape s;
    for (auto& in : inputs) s = broadcast_shapes(s, in.shape());
    if (red_) s = reduce_prim().reduced_keepdims_shape(s);
    return std::vector<Shape>(outs_.size(), s);
  }

 private:
  // A view of `x` broadcast to `shape` (no copy), computed eagerly.
  array materialize(const array& x, const Shape& shape) const {
    if (x.shape() == shape) return x;
    array v = x.ndim() == 0 ? array(Shape(shape.size(), 1), x.dtype(), nullptr, {}) : x;
    if (x.ndim() == 0) v.copy_shared_buffer(x, Strides(shape.size(), 0), Flags{false, false, false}, 1);
    array b(shape, x.dtype(), nullptr, {});
    Broadcast bp(stream(), shape);
    bp.eval_cpu({v}, b);
    return b;
  }

  // Walks the group's nodes on new inputs; make(node, inputs, shape) gives each value.
  template <typename Make>
  std::unordered_map<const void*, array> walk(const Arrays& inputs, Make make) const {
    std::unordered_map<const void*, array> env;
    for (size_t i = 0; i < ext_.size(); ++i) env.emplace(ext_[i].id(), inputs[i]);
    for (auto& n : nodes_) {
      Arrays ins;
      for (auto& in : n.inputs()) {
        auto it = env.find(in.id());
        ins.push_back(it != env.end() ? it->second : in);
      }
      Shape s;
      for (auto& x : ins) s = broadcast_shapes(s, x.shape());
      env.emplace(n.id(), make(n, ins, s));
    }
    return env;
  }

  Reduce& reduce_prim() const { return static_cast<Reduce&>(*red_); }

  // The group as ordinary lazy nodes on new inputs.
  Arrays expand(const Arrays& inputs) const {
    auto env = walk(inputs, [](const array& n, const Arrays& ins, const Shape& s) {
      return array(s, n.dtype(), n.primitive_ptr(), ins);
    });
    Arrays r;
    for (auto& o : outs_) r.push_back(env.at(o.id()));
    if (red_) r[0] = array(reduce_prim().reduced_keepdims_shape(r[0].shape()), r[0].dtype(), red_, {r[0]});
    return r;
  }

  void eval_unfused(const Arrays& inputs, Arrays& outputs) {
    auto env = walk(inputs, [](const array& n, const Arrays& ins, const Shape& s) {
      Arrays o{array(s, n.dtype(), nullptr, {})};
      n.primitive().eval_cpu(ins, o);
      return o[0];
    });
    if (red_) {
      Shape full;
      for (auto& x : inputs) full = broadcast_shapes(full, x.shape());
      const array& v = env.at(outs_[0].id());
      red_->eval_cpu(Arrays{v.shape() == full ? v : materialize(v, full)}, outputs);
      return;
    }
    for (size_t j = 0; j < outs_.size(); ++j) {
      const array& v = env.at(outs_[j].id());
      if (v.shape() == outputs[j].shape()) outputs[j].copy_shared_buffer(v);
      else cpu::copy_to_row_contiguous(materialize(v, outputs[j].shape()), outputs[j]);
    }
  }

  // How input x (broadcast to `full`) is read when `full` is seen as rows = dims [0, k)
  // by cols = dims [k, n): 's' one value, 'v' dense, 'r' one value per row (a view that
  // repeats along the columns), 'c' one row shared by all rows; 0 if none applies.
  static char input_kind(const array& x, const Shape& full, int k) {
    if (x.size() == 1) return 's';
    if (x.shape() == full && x.flags().row_contiguous) return 'v';
    if (x.ndim() != (int)full.size()) return 0;
    const Shape& sh = x.shape();
    const Strides& st = x.strides();
    bool row_like = true, col_like = true;
    int64_t er = 1, ec = 1;  // expected strides of the compact per-row / per-column data
    for (int d = (int)full.size() - 1; d >= 0; --d) {
      bool one = sh[d] == 1 || full[d] == 1;
      if (d >= k) {
        row_like &= one || st[d] == 0;
        col_like &= full[d] == 1 || (sh[d] == full[d] && st[d] == ec);
        ec *= full[d];
      } else {
        col_like &= one || st[d] == 0;
        row_like &= full[d] == 1 || (sh[d] == full[d] && st[d] == er);
        er *= full[d];
      }
    }
    return row_like ? 'r' : col_like ? 'c' : 0;
  }

  // Inputs with their kinds for a split at k; inputs of no kind are made dense.
  std::pair<Arrays, std::string> prepare(const Arrays& inputs, const Shape& full, int k) const {
    Arrays ins;
    std::string pattern;
    for (auto& x : inputs) {
      char c = input_kind(x, full, k);
      if (c == 0) {
        array d(full, x.dtype(), nullptr, {});
        cpu::copy_to_row_contiguous(materialize(x, full), d);
        ins.push_back(d);
        c = 'v';
      } else {
        ins.push_back(x);
      }
      pattern += c;
    }
    return {ins, pattern};
  }

  // Runs `fn` over rows x cols: rows split across threads when there are enough of
  // them, otherwise each row's columns, in num_threads() parts at most for reductions:
  // part p of a row writes to part(p), and after_row(r) combines them.
  template <typename Part, typename AfterRow>
  void launch(KernelFn fn, const Arrays& ins, const std::string& pattern, Arrays& outs, int64_t rows,
              int64_t cols, bool reduce, Part part, AfterRow after_row) {
    auto in_ptrs = [&](int64_t r, int64_t c) {
      std::vector<const void*> ip(ins.size());
      for (size_t k = 0; k < ins.size(); ++k) {
        char kind = pattern[k];
        int64_t off = kind == 'v' ? r * cols + c : kind == 'r' ? r : kind == 'c' ? c : 0;
        ip[k] = static_cast<const char*>(ins[k].raw_ptr()) + off * ins[k].itemsize();
      }
      return ip;
    };
    auto out_ptrs = [&](int64_t r, int64_t c) {
      std::vector<void*> op(outs.size());
      for (size_t j = 0; j < outs.size(); ++j)
        op[j] = static_cast<char*>(outs[j].raw_ptr()) + (reduce ? r : r * cols + c) * outs[j].itemsize();
      return op;
    };
    int nt = num_threads();
    if (rows >= 2 * nt || rows * cols < (int64_t)kParallelGrain || (reduce && cols < (int64_t)kParallelGrain)) {
      parallel_for(rows, std::max<int64_t>(1, kParallelGrain / cols), [&](size_t b, size_t e) {
        auto ip = in_ptrs(b, 0);
        auto op = out_ptrs(b, 0);
        fn(ip.data(), op.data(), (int64_t)(e - b), cols, cols);
      });
      return;
    }
    int64_t parts = reduce ? nt : std::max<int64_t>(1, std::min<int64_t>(nt, cols / (int64_t)kParallelGrain));
    int64_t per = (cols + parts - 1) / parts;
    for (int64_t r = 0; r < rows; ++r) {
      parallel_for(parts, 1, [&](size_t b, size_t e) {
        for (size_t p = b; p < e; ++p) {
          int64_t c0 = std::min<int64_t>(cols, p * per), c1 = std::min<int64_t>(cols, c0 + per);
          auto ip = in_ptrs(r, c0);
          auto op = reduce ? std::vector<void*>{part(p)} : out_ptrs(r, c0);
          if (c1 > c0) fn(ip.data(), op.data(), 1, c1 - c0, cols);
        }
      });
      after_row(r, parts, per);
    }
  }

  // Generated kernel over dense, scalar, per-row and per-column inputs.
  bool eval_fused(const Arrays& inputs, Arrays& outputs) {
    if (red_) return eval_fused_reduce(inputs, outputs[0]);
    Shape full = outputs[0].shape();
    int64_t n = shape_size(full);
    // Rows of the whole array unless a broadcast input asks for a split.
    int k = 0;
    for (auto& x : inputs)
      if (input_kind(x, full, 0) == 0) {
        for (int kk = 1; kk < (int)full.size(); ++kk) {
          bool all = true;
          for (auto& y : inputs) all &= input_kind(y, full, kk) != 0;
          if (all) {
            k = kk;
            break;
          }
        }
        break;
      }
    int64_t rows = 1;
    for (int d = 0; d < k; ++d) rows *= full[d];
    int64_t cols = rows ? n / rows : 0;
    if (n == 0) {
      for (auto& o : outputs) cpu::alloc_out(o);
      return true;
    }
    auto [ins, pattern] = prepare(inputs, full, k);
    std::string key = pattern;
    std::vector<double> expo = exponents(inputs, pattern, key);
    KernelFn fn = kernel_for(key, pattern, expo);
    if (!fn) return false;
    for (auto& o : outputs) cpu::alloc_out(o);
    launch(fn, ins, pattern, outputs, rows, cols, false, [](int64_t) { return (void*)nullptr; },
           [](int64_t, int64_t, int64_t) {});
    return true;
  }

  // Scalar exponents of Power that have a multiplication form are built into the
  // kernel by value: expo[k] is the value of such an input k (NaN for others), and
  // `key` gains them.
  std::vector<double> exponents(const Arrays& inputs, const std::string& pattern, std::string& key) const {
    std::vector<double> expo(ext_.size(), NAN);
    for (auto& node : nodes_) {
      if (std::string(node.primitive().name()) != "Power" || !is_floating_point(node.dtype())) continue;
      for (size_t k = 0; k < ext_.size(); ++k) {
        if (pattern[k] != 's' || ext_[k].id() != node.inputs()[1].id()) continue;
        const array& x = inputs[k];
        double v = x.dtype() == float32 ? (double)x.data<float>()[0]
                 : x.dtype() == float64 ? x.data<double>()[0] : NAN;
        if (jit_math::em_pow_kind(v) != 0 && std::isnan(expo[k])) {
          expo[k] = v;
          key += "|" + std::to_string(k) + "^" + std::to_string(v);
        }
      }
    }
    return expo;
  }

  KernelFn kernel_for(const std::string& key, const std::string& pattern, const std::vector<double>& expo) {
    {
      std::lock_guard<std::mutex> lk(m_);
      auto it = kernels_.find(key);
      if (it != kernels_.end()) return it->second;
    }
    std::string src = source(pattern, expo);
    KernelFn fn = src.empty() ? nullptr : load_kernel(src);
    std::lock_guard<std::mutex> lk(m_);
    kernels_[key] = fn;
    return fn;
  }

  // `expo[k]`: the value of scalar input k where it is a Power exponent built into the
  // kernel (NaN otherwise).
  // Kernel source. Input kinds in `pattern`: 's' one value for all, 'v' one per element
  // (dense), 'r' one per row (reduction kernels only).
  std::string source(const std::string& pattern, const std::vector<double>& expo) const {
    std::ostringstream s;
    s << "#include <cmath>\n#include <cstdint>\n#include <cstring>\n#include <type_traits>\n";
    s << jit::kMathSource << "\n";
    s << "extern \"C\" void ember_kernel(const void* const* in, void* const* out, int64_t n, int64_t cols, "
         "int64_t stride) {\n";
    for (size_t k = 0; k < ext_.size(); ++k) {
      Dtype d = ext_[k].dtype();
      const char* t = storage_type(d);
      std::string v = "in" + std::to_string(k);
      if (pattern[k] == 's')
        s << "  const " << ctype(d) << " " << v << " = "
          << load_as(d, std::string("static_cast<const ") + t + "*>(in[" + std::to_string(k) + "])[0]") << ";\n";
      else
        s << "  const " << t << "* __restrict " << v << "_p = static_cast<const " << t << "*>(in[" << k << "]);\n";
    }
    for (size_t j = 0; j < outs_.size(); ++j) {
      const char* t = storage_type(outs_[j].dtype());
      s << "  " << t << "* __restrict out" << j << " = static_cast<" << t << "*>(out[" << j << "]);\n";
    }
    // The vectorised body; where float32 sin/cos met a huge argument, the span is redone
    // with the exact body.
    std::string body = element_body(pattern, expo, false);
    if (body.empty()) return "";
    bool trig = has_vector_trig();
    std::string exact = trig ? element_body(pattern, expo, true) : "";
    auto row_loads = [&] {
      for (size_t k = 0; k < ext_.size(); ++k)
        if (pattern[k] == 'r')
          s << "    const " << ctype(ext_[k].dtype()) << " in" << k << " = "
            << load_as(ext_[k].dtype(), "in" + std::to_string(k) + "_p[row]") << ";\n";
    };
    s << "  int big = 0;\n";
    if (!red_) {
      auto loops = [&](const std::string& b) {
        s << "  for (int64_t row = 0; row < n; ++row) {\n";
        row_loads();
        s << "    const int64_t base = row * stride;\n";
        s << "    for (int64_t j = 0; j < cols; ++j) {\n" << b;
        for (size_t j = 0; j < outs_.size(); ++j)
          s << "      out" << j << "[base + j] = " << store_as(outs_[j].dtype(), value_name(outs_[j])) << ";\n";
        s << "    }\n  }\n";
      };
      loops(body);
      if (trig) {
        s << "  if (big) {\n";
        loops(exact);
        s << "  }\n";
      }
      s << "  (void)big;\n}\n";
      return s.str();
    }
    // Reduction: each row's values go through a block buffer that stays in L1, so that
    // both the elementwise loop and the lane-wise reduction vectorise.
    const char* t = ctype(outs_[0].dtype());
    ReduceType rt = reduce_prim().type_;
    bool sum = rt == ReduceType::Sum, prod = rt == ReduceType::Prod;
    const char* acc = (sum || prod) ? "double" : t;
    const char* init = sum ? "0" : prod ? "1" : rt == ReduceType::Max ? "-INFINITY" : "INFINITY";
    s << "  " << t << " buf[256];\n";
    s << "  for (int64_t row = 0; row < n; ++row) {\n";
    row_loads();
    s << "    " << acc << " total = " << init << ";\n";
    s << "    for (int64_t j0 = 0; j0 < cols; j0 += 256) {\n";
    s << "      const int64_t w = cols - j0 < 256 ? cols - j0 : 256;\n";
    auto fill = [&](const std::string& b) {
      s << "      for (int64_t jj = 0; jj < w; ++jj) {\n";
      s << "      const int64_t j = j0 + jj;\n" << b;
      s << "        buf[jj] = " << value_name(outs_[0]) << ";\n      }\n";
    };
    fill(body);
    if (trig) {
      s << "      if (big) {\n";
      fill(exact);
      s << "      big = 0;\n      }\n";
    }
    if (sum || prod) {
      const char* op = sum ? "+" : "*";
      s << "      " << t << " lanes[16];\n";
      s << "      for (int l = 0; l < 16; ++l) lanes[l] = " << init << ";\n";
      s << "      int64_t j = 0;\n";
      s << "      for (; j + 16 <= w; j += 16)\n";
      s << "        for (int l = 0; l < 16; ++l) lanes[l] = lanes[l] " << op << " buf[j + l];\n";
      s << "      " << t << " part = " << init << ";\n";
      s << "      for (int l = 0; l < 16; ++l) part = part " << op << " lanes[l];\n";
      s << "      for (; j < w; ++j) part = part " << op << " buf[j];\n";
      s << "      total = total " << op << " (double)part;\n";
    } else {
      // The block's max/min by the shared vector-type helper; NaN wins.
      bool mx = rt == ReduceType::Max;
      const char* cmp = mx ? ">" : "<";
      s << "      bool nan = false;\n";
      s << "      const " << t << " m = em_extremum<" << t << ", " << (mx ? "true" : "false") << ">(buf, w, &nan);\n";
      s << "      total = (nan || total != total) ? (" << t << ")NAN : (m " << cmp << " total ? m : total);\n";
    }
    s << "    }\n    out0[row] = (" << t << ")total;\n  }\n  (void)big;\n}\n";
    return s.str();
  }

  // Name of the kernel variable holding node `a`'s value inside the loop body.
  std::string value_name(const array& a) const {
    for (size_t k = 0; k < ext_.size(); ++k)
      if (ext_[k].id() == a.id()) return "in" + std::to_string(k);
    for (size_t i = 0; i < nodes_.size(); ++i)
      if (nodes_[i].id() == a.id()) return "t" + std::to_string(i);
    return "";
  }

  // Loads of the per-element inputs (element j of row `row`, `base` = row * stride),
  // then one statement per group node.
  // `exact`: float32 sin and cos call the library (for huge arguments); otherwise they
  // use the vectorised forms and `big` records whether an argument was out of their range.
  std::string element_body(const std::string& pattern, const std::vector<double>& expo, bool exact) const {
    std::ostringstream s;
    for (size_t k = 0; k < ext_.size(); ++k)
      if (pattern[k] == 'v' || pattern[k] == 'c')
        s << "      const " << ctype(ext_[k].dtype()) << " in" << k << " = "
          << load_as(ext_[k].dtype(), "in" + std::to_string(k) + "_p[" +
                                          (pattern[k] == 'v' ? "row * stride + j" : "j") + "]")
          << ";\n";
    for (size_t i = 0; i < nodes_.size(); ++i) {
      const array& node = nodes_[i];
      std::vector<std::string> args;
      for (auto& in : node.inputs()) {
        args.push_back(value_name(in));
        if (args.back().empty()) return "";
      }
      Dtype in_t = node.inputs().back().dtype();
      std::string e = expression(node.primitive().name(), args, in_t, node.dtype());
      if (std::string(node.primitive().name()) == "Power")
        for (size_t k = 0; k < ext_.size(); ++k)
          if (!std::isnan(expo[k]) && ext_[k].id() == node.inputs()[1].id()) {
            std::string x = args[0];
            e = jit_math::em_pow_kind(expo[k]) == 1
                    ? "em_powi(" + x + ", " + std::to_string((int)expo[k]) + ")"
                    : "em_pow_half(" + x + ", " + (expo[k] < 0 ? "true" : "false") + ")";
          }
      if (e.empty()) return "";
      bool trig = vector_trig(node);
      if (trig && exact) e = std::string(node.primitive().name()) == "Sin" ? "std::sin(" + args[0] + ")"
                                                                         : "std::cos(" + args[0] + ")";
      s << "    const " << ctype(node.dtype()) << " t" << i << " = "
        << round_as(node.dtype(), std::string("static_cast<") + ctype(node.dtype()) + ">(" + e + ")") << ";\n";
      if (trig && !exact) s << "    big |= !(std::fabs(" << args[0] << ") < kTrigBig);\n";
    }
    return s.str();
  }

  static bool vector_trig(const array& node) {
    std::string n = node.primitive().name();
    return (n == "Sin" || n == "Cos") && (node.dtype() == float32 || is_half(node.dtype()));
  }
  bool has_vector_trig() const {
    for (auto& n : nodes_)
      if (vector_trig(n)) return true;
    return false;
  }

  // Reduction kernel: the group's value reduced over trailing axes, rows in parallel
  // (or, for few long rows, each row split across threads and the parts combined).
  bool eval_fused_reduce(const Arrays& inputs, array& out) {
    Shape full;
    for (auto& x : inputs) full = broadcast_shapes(full, x.shape());
    const auto& axes = reduce_prim().axes_;
    int k = axes.empty() ? (int)full.size() : axes.front();
    int64_t rows = 1, cols = 1;
    for (int d = 0; d < (int)full.size(); ++d) (d < k ? rows : cols) *= full[d];
    if (rows * cols == 0 || cols == 1) return false;
    auto [ins, pattern] = prepare(inputs, full, k);
    std::string key = pattern + "/R" + std::to_string((int)reduce_prim().type_);
    std::vector<double> expo = exponents(inputs, pattern, key);
    KernelFn fn = kernel_for(key, pattern, expo);
    if (!fn) return false;
    cpu::alloc_out(out);
    size_t item = out.itemsize();
    std::vector<char> part_buf(num_threads() * item);
    Arrays outs{out};
    ReduceType rt = reduce_prim().type_;
    auto part = [&](int64_t p) { return (void*)(part_buf.data() + p * item); };
    // Column parts of a long row are combined here, in double for sums and products.
    auto combine = [&](int64_t r, int64_t parts, int64_t per) {
      double total = rt == ReduceType::Sum ? 0.0 : rt == ReduceType::Prod ? 1.0
                   : rt == ReduceType::Max ? -INFINITY : INFINITY;
      for (int64_t p = 0; p < parts && p * per < cols; ++p) {
        double v = out.dtype() == float32 ? (double)reinterpret_cast<float*>(part_buf.data())[p]
                                          : reinterpret_cast<double*>(part_buf.data())[p];
        if (rt == ReduceType::Sum) total += v;
        else if (rt == ReduceType::Prod) total *= v;
        else if (rt == ReduceType::Max) total = (v > total || v != v) ? v : total;
        else total = (v < total || v != v) ? v : total;
      }
      if (out.dtype() == float32) reinterpret_cast<float*>(out.raw_ptr())[r] = (float)total;
      else reinterpret_cast<double*>(out.raw_ptr())[r] = total;
    };
    launch(fn, ins, pattern, outs, rows, cols, true, part, combine);
    return true;
  }

  Arrays ext_, nodes_, outs_;
  std::shared_ptr<Primitive> red_;
  std::mutex m_;
  std::unordered_map<std::string, KernelFn> kernels_;
};

}  // namespace

std::string kernel_cache_dir() {
  std::string base;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) base = x;
  else if (const char* h = std::getenv("HOME"); h && *h) base = std::string(h) + "/.cache";
  else base = "/tmp";
  std::string dir = base + "/ember";
  ::mkdir(base.c_str(), 0755);
  ::mkdir(dir.c_str(), 0755);
  return dir;
}

std::string jit_compiler() {
  auto& j = jitc();
  std::string cxx = env_or_empty("EMBER_CXX"), path = env_or_empty("PATH");
  std::function<std::string()> fallback;
  {
    std::lock_guard<std::mutex> lk(j.m);
    if (j.resolved && j.env_cxx == cxx && j.env_path == path) return j.command;
    fallback = j.fallback;
  }
  // Resolved without the lock: the fallback may run Python code.
  std::string cmd;
  if (!cxx.empty()) {
    size_t b = cxx.find_first_not_of(' ');
    std::string first = b == std::string::npos ? "" : cxx.substr(b, cxx.find(' ', b) - b);
    if (!find_executable(first, path).empty()) cmd = cxx;
  } else {
    for (const char* name : {"c++", "g++", "clang++"}) {
      std::string full = find_executable(name, path);
      if (full.empty()) continue;
      cmd = full.find_first_of(" '\"$`\\") == std::string::npos ? full : "'" + full + "'";
      break;
    }
    if (cmd.empty() && fallback) cmd = fallback();
  }
  bool changed;
  {
    std::lock_guard<std::mutex> lk(j.m);
    changed = j.command != cmd;
    j.resolved = true;
    j.env_cxx = cxx;
    j.env_path = path;
    j.command = cmd;
  }
  if (changed) {
    // A new compiler gets its own chance to run.
    auto& kc = kcache();
    std::lock_guard<std::mutex> lk(kc.m);
    kc.compiler_failed = false;
  }
  return cmd;
}

void set_jit_compiler_fallback(std::function<std::string()> find) {
  auto& j = jitc();
  std::lock_guard<std::mutex> lk(j.m);
  j.fallback = std::move(find);
  j.resolved = false;
}

void set_jit_missing_handler(std::function<void(const std::string&)> handler) {
  auto& j = jitc();
  std::lock_guard<std::mutex> lk(j.m);
  j.on_missing = std::move(handler);
}

bool jit_fusion_available() {
  if (jit_compiler().empty()) return false;
  auto& kc = kcache();
  std::lock_guard<std::mutex> lk(kc.m);
  return !kc.compiler_failed;
}

namespace {
// Says once per process that compile runs unfused for want of a compiler.
void note_jit_missing() {
  auto& j = jitc();
  std::function<void(const std::string&)> handler;
  {
    std::lock_guard<std::mutex> lk(j.m);
    if (j.noted) return;
    j.noted = true;
    handler = j.on_missing;
  }
  std::string msg =
      "ember: no C++ compiler found for the fused kernels of compile (EMBER_CXX, c++, g++ or clang++ "
      "on PATH, or the ziglang package); compiled functions run unfused, as fast as without compile. "
      "For fused kernels: pip install \"ember[jit]\" (a C++ compiler from PyPI), or set EMBER_CXX.";
  if (handler) handler(msg);
  else std::fprintf(stderr, "%s\n", msg.c_str());
}
}  // namespace

namespace {
// The distinct inputs of a group's nodes that come from outside the group, in order.
Arrays outside_inputs(const Arrays& nodes) {
  std::unordered_set<const void*> inside, seen;
  for (auto& n : nodes) inside.insert(n.id());
  Arrays ext;
  for (auto& n : nodes)
    for (auto& in : n.inputs())
      if (!inside.count(in.id()) && seen.insert(in.id()).second) ext.push_back(in);
  return ext;
}
}  // namespace

void fuse_elementwise(Arrays& tape, Arrays& outputs) {
  // Group of each fusable node, grown greedily in tape order. A node joins (and merges)
  // the groups of its same-shaped fusable inputs when that cannot create a cycle: every
  // outside input of the merged group must be older than the group's first node.
  std::unordered_map<const void*, int> group_of;
  std::unordered_map<const void*, size_t> index;
  for (size_t i = 0; i < tape.size(); ++i) index[tape[i].id()] = i;
  std::vector<Arrays> groups;
  std::vector<size_t> group_start;
  std::vector<long> group_max_ext;  // newest outside input of each group (-1: none)
  auto idx_of = [&](const array& a) -> long {
    auto it = index.find(a.id());
    return it == index.end() ? -1 : (long)it->second;
  };
  for (size_t i = 0; i < tape.size(); ++i) {
    const array& node = tape[i];
    if (!fusable(node)) continue;
    std::vector<int> cands;
    for (auto& in : node.inputs()) {
      auto it = group_of.find(in.id());
      if (it != group_of.end() && in.shape() == node.shape() &&
          std::find(cands.begin(), cands.end(), it->second) == cands.end())
        cands.push_back(it->second);
    }
    bool ok = !cands.empty();
    size_t start = i;
    long max_ext = -1;
    for (int g : cands) {
      start = std::min(start, group_start[g]);
      max_ext = std::max(max_ext, group_max_ext[g]);
    }
    for (auto& in : node.inputs()) {
      auto it = group_of.find(in.id());
      if (it != group_of.end() && std::find(cands.begin(), cands.end(), it->second) != cands.end()) continue;
      max_ext = std::max(max_ext, idx_of(in));
    }
    if (ok && max_ext >= (long)start) ok = false;
    int g;
    if (ok) {
      g = cands[0];
      for (size_t k = 1; k < cands.size(); ++k) {
        for (auto& m : groups[cands[k]]) {
          group_of[m.id()] = g;
          groups[g].push_back(m);
        }
        groups[cands[k]].clear();
      }
      group_start[g] = start;
      group_max_ext[g] = max_ext;
    } else {
      g = (int)groups.size();
      groups.emplace_back();
      group_start.push_back(i);
      long me = -1;
      for (auto& in : node.inputs()) me = std::max(me, idx_of(in));
      group_max_ext.push_back(me);
    }
    groups[g].push_back(node);
    group_of[node.id()] = g;
  }
  // Members in tape order (merges appended them out of order).
  for (auto& grp : groups)
    std::sort(grp.begin(), grp.end(), [&](const array& a, const array& b) { return index[a.id()] < index[b.id()]; });
  // Uses of each node outside its group.
  std::unordered_set<const void*> used_outside;
  for (auto& node : tape)
    for (auto& in : node.inputs()) {
      auto a = group_of.find(in.id());
      auto b = group_of.find(node.id());
      if (a != group_of.end() && (b == group_of.end() || a->second != b->second)) used_outside.insert(in.id());
    }
  for (auto& o : outputs) used_outside.insert(o.id());

  // Groups that feed one float reduction over trailing axes and nothing else are fused
  // into that reduction (prologue[g] is the Reduce node).
  std::unordered_map<const void*, int> uses;
  for (auto& node : tape)
    for (auto& in : node.inputs()) ++uses[in.id()];
  for (auto& o : outputs) ++uses[o.id()];
  std::unordered_map<int, array> prologue;
  std::unordered_map<const void*, int> reduce_of;  // Reduce node -> group
  for (auto& node : tape) {
    auto* r = dynamic_cast<Reduce*>(&node.primitive());
    if (!r || node.inputs().size() != 1) continue;
    if (r->type_ != ReduceType::Sum && r->type_ != ReduceType::Prod && r->type_ != ReduceType::Max &&
        r->type_ != ReduceType::Min)
      continue;
    const array& x = node.inputs()[0];
    if ((x.dtype() != float32 && x.dtype() != float64) || node.dtype() != x.dtype()) continue;
    auto g = group_of.find(x.id());
    if (g == group_of.end() || uses[x.id()] != 1 || prologue.count(g->second)) continue;
    bool trailing = !r->axes_.empty();
    for (size_t k = 0; k < r->axes_.size(); ++k)
      trailing &= r->axes_[k] == x.ndim() - (int)r->axes_.size() + (int)k;
    if (!trailing) continue;
    bool single = true;
    for (auto& m : groups[g->second]) single &= m.id() == x.id() || !used_outside.count(m.id());
    if (!single) continue;
    prologue.emplace(g->second, node);
    reduce_of[node.id()] = g->second;
  }

  // Without a compiler nothing changes: the graph runs node by node, as eagerly.
  bool wanted = !prologue.empty();
  for (auto& grp : groups) wanted |= grp.size() >= 2;
  if (!wanted) return;
  if (!jit_fusion_available()) {
    note_jit_missing();
    return;
  }

  // Rebuild the tape in order. A fused node stands where its group's first member
  // stood: the joining rule keeps every outside input of a group older than that.
  std::unordered_map<const void*, array> map;
  auto get = [&](const array& a) -> array {
    auto it = map.find(a.id());
    return it != map.end() ? it->second : a;
  };
  std::vector<char> fused_group(groups.size(), 0);
  Arrays new_tape;
  bool any = false;
  for (auto& node : tape) {
    auto g = group_of.find(node.id());
    if (g != group_of.end() && prologue.count(g->second)) continue;  // emitted with its reduction
    if (auto rg = reduce_of.find(node.id()); rg != reduce_of.end()) {
      auto& nodes = groups[rg->second];
      Arrays ext = outside_inputs(nodes), ins;
      for (auto& e : ext) ins.push_back(get(e));
      auto prim = std::make_shared<Compiled>(node.primitive().stream(), ext, nodes, Arrays{node.inputs()[0]},
                                             node.primitive_ptr());
      array fused(node.shape(), node.dtype(), prim, ins);
      map[node.id()] = fused;
      new_tape.push_back(fused);
      any = true;
      continue;
    }
    if (g != group_of.end() && groups[g->second].size() >= 2) {
      auto& nodes = groups[g->second];
      if (node.id() != nodes.front().id()) {
        if (fused_group[g->second]) continue;
      } else {
        Arrays ext = outside_inputs(nodes), outs;
        for (auto& n : nodes)
          if (used_outside.count(n.id())) outs.push_back(n);
        if (!outs.empty()) {
          Arrays ins;
          for (auto& e : ext) ins.push_back(get(e));
          std::vector<Shape> shapes;
          std::vector<Dtype> dtypes;
          for (auto& o : outs) {
            shapes.push_back(o.shape());
            dtypes.push_back(o.dtype());
          }
          auto prim = std::make_shared<Compiled>(node.primitive().stream(), ext, nodes, outs);
          Arrays fused = array::make_arrays(shapes, dtypes, prim, ins);
          for (size_t k = 0; k < outs.size(); ++k) map[outs[k].id()] = fused[k];
          new_tape.push_back(fused[0]);
          fused_group[g->second] = 1;
          any = true;
          continue;
        }
      }
    }
    Arrays ins;
    bool changed = false;
    for (auto& in : node.inputs()) {
      ins.push_back(get(in));
      changed |= ins.back().id() != in.id();
    }
    new_tape.push_back(changed ? remake(node, std::move(ins), map)[0] : node);
  }
  if (!any) return;
  for (auto& o : outputs) o = get(o);
  tape = std::move(new_tape);
}

}  // namespace ember
