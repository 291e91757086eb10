// Exported functions: tracing, the file format, importing.
//
// File layout (little-endian):
//   magic "EMBERFN\0", u32 format version, u32 flags (0), u64 payload size,
//   u64 FNV-1a hash of the payload, then the payload:
//     string ember version, string metadata,
//     constants: u64 count, each dtype, shape, u64 byte count, row-major bytes;
//     traces: u64 count, each
//       u8 shapeless, u64 positional count, keyword names (u64 count, strings),
//       inputs (u64 count, each dtype and shape),
//       nodes (u64 count, each: string primitive name, parameters, u64 input count and
//              references, u64 output count and (dtype, shape) each),
//       outputs (u64 count, references).
//   A string is a u64 length and its bytes; a dtype one byte; a shape a u32 rank and i64
//   sizes; a reference a u8 kind (0: constant, 1: value of the trace: its inputs, then
//   every node output in order) and a u64 index; a parameter a u8 tag and its value.
//
// Reading checks the magic, the version, the size and the hash before parsing, and every
// count, rank, dimension, reference, dtype and parameter while parsing, so a damaged file
// raises. Building the graph then checks every node against its primitive (export_check.cpp):
// input counts and dtypes, parameters against the input shapes, and the output shapes and
// dtypes the file gives, so that a file altered on purpose with its hash recomputed raises
// too rather than handing a kernel buffers of the wrong size.
#include "ember/export.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "ember/ops.h"
#include "ember/scheduler.h"
#include "ember/version.h"

namespace ember {

void register_builtin_primitive_exports();  // export_registry.cpp
void check_imported_node(const std::string& key, Primitive& prim, const std::vector<array>& ins,
                         const std::vector<Shape>& shapes, const std::vector<Dtype>& dtypes);  // export_check.cpp

namespace {

using Arrays = std::vector<array>;

// ---------- registry

struct RegistryEntry {
  std::string key;
  PrimitiveSaver save;
  PrimitiveLoader load;
};

struct Registry {
  std::mutex mutex;
  std::unordered_map<std::type_index, std::shared_ptr<RegistryEntry>> by_type;
  std::unordered_map<std::string, std::shared_ptr<RegistryEntry>> by_key;
};

Registry& registry_raw() {
  static Registry r;
  return r;
}

Registry& registry() {
  static std::once_flag once;
  std::call_once(once, [] { register_builtin_primitive_exports(); });
  return registry_raw();
}

std::shared_ptr<RegistryEntry> entry_of(const Primitive& p) {
  auto& r = registry();
  std::lock_guard<std::mutex> lk(r.mutex);
  auto it = r.by_type.find(typeid(p));
  return it == r.by_type.end() ? nullptr : it->second;
}

std::shared_ptr<RegistryEntry> entry_of(const std::string& key) {
  auto& r = registry();
  std::lock_guard<std::mutex> lk(r.mutex);
  auto it = r.by_key.find(key);
  return it == r.by_key.end() ? nullptr : it->second;
}

// ---------- dtypes as the file numbers them (fixed, whatever the enum's order)

const Dtype kFileDtypes[] = {bool_,  uint8, uint16,  uint32,   uint64,  int8,    int16,
                             int32,  int64, float16, bfloat16, float32, float64, complex64};
constexpr int kNumFileDtypes = sizeof(kFileDtypes) / sizeof(kFileDtypes[0]);

uint8_t dtype_code(Dtype t) {
  for (int i = 0; i < kNumFileDtypes; ++i)
    if (kFileDtypes[i] == t) return (uint8_t)i;
  throw std::invalid_argument(std::string("[export_function] Unsupported dtype ") + dtype_name(t) + ".");
}

// ---------- the in-memory form of a file

struct Ref {
  uint8_t kind = 1;  // 0: constant, 1: value
  uint64_t index = 0;
};

struct ValueType {
  Dtype dtype;
  Shape shape;
};

struct NodeRec {
  std::string key;
  std::vector<ExportField> fields;
  std::vector<Ref> inputs;
  std::vector<ValueType> outputs;
};

struct TraceRec {
  bool shapeless = false;
  uint64_t n_args = 0;
  std::vector<std::string> keywords;
  std::vector<ValueType> inputs;
  std::vector<NodeRec> nodes;
  std::vector<Ref> outputs;
};

struct FileRec {
  std::string version = EMBER_VERSION;
  std::string metadata;
  Arrays constants;  // evaluated, row-contiguous
  Arrays captured;   // the arrays the constants were made from (not written)
  std::vector<TraceRec> traces;
};

// ---------- writing

uint64_t fnv1a(const char* p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) {
    h ^= (uint8_t)p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

struct Out {
  std::string buf;
  template <typename T>
  void pod(T v) {
    buf.append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  void u8(uint8_t v) { pod(v); }
  void u32(uint32_t v) { pod(v); }
  void u64(uint64_t v) { pod(v); }
  void i64(int64_t v) { pod(v); }
  void str(const std::string& s) {
    u64(s.size());
    buf.append(s);
  }
  void dtype(Dtype t) { u8(dtype_code(t)); }
  void shape(const Shape& s) {
    u32((uint32_t)s.size());
    for (auto d : s) i64(d);
  }
  void ref(const Ref& r) {
    u8(r.kind);
    u64(r.index);
  }
  void field(const ExportField& f) {
    u8((uint8_t)f.index());
    std::visit([&](auto& v) {
      using T = std::decay_t<decltype(v)>;
      if constexpr (std::is_same_v<T, bool>) u8(v);
      else if constexpr (std::is_same_v<T, int64_t>) i64(v);
      else if constexpr (std::is_same_v<T, double>) pod(v);
      else if constexpr (std::is_same_v<T, std::string>) str(v);
      else if constexpr (std::is_same_v<T, Dtype>) dtype(v);
      else {
        u64(v.size());
        for (auto x : v) pod(x);
      }
    }, f);
  }
};

std::string encode(const FileRec& f) {
  Out o;
  o.str(f.version);
  o.str(f.metadata);
  o.u64(f.constants.size());
  for (auto& c : f.constants) {
    o.dtype(c.dtype());
    o.shape(c.shape());
    o.u64(c.nbytes());
    o.buf.append(static_cast<const char*>(c.raw_ptr()), c.nbytes());
  }
  o.u64(f.traces.size());
  for (auto& t : f.traces) {
    o.u8(t.shapeless);
    o.u64(t.n_args);
    o.u64(t.keywords.size());
    for (auto& k : t.keywords) o.str(k);
    o.u64(t.inputs.size());
    for (auto& v : t.inputs) {
      o.dtype(v.dtype);
      o.shape(v.shape);
    }
    o.u64(t.nodes.size());
    for (auto& n : t.nodes) {
      o.str(n.key);
      o.u64(n.fields.size());
      for (auto& fld : n.fields) o.field(fld);
      o.u64(n.inputs.size());
      for (auto& r : n.inputs) o.ref(r);
      o.u64(n.outputs.size());
      for (auto& v : n.outputs) {
        o.dtype(v.dtype);
        o.shape(v.shape);
      }
    }
    o.u64(t.outputs.size());
    for (auto& r : t.outputs) o.ref(r);
  }
  Out head;
  head.buf = std::string("EMBERFN\0", 8);
  head.u32(kExportFormatVersion);
  head.u32(0);
  head.u64(o.buf.size());
  head.u64(fnv1a(o.buf.data(), o.buf.size()));
  return head.buf + o.buf;
}

void write_file(const std::string& file, const FileRec& f) {
  std::string bytes = encode(f);
  std::ofstream os(file, std::ios::binary | std::ios::trunc);
  if (!os) throw std::runtime_error("[export_function] Failed to open " + file + " for writing.");
  os.write(bytes.data(), (std::streamsize)bytes.size());
  os.close();
  if (!os) throw std::runtime_error("[export_function] Failed to write " + file + ".");
}

// ---------- reading

struct In {
  const std::string& file;
  const char* p;
  size_t left;

  [[noreturn]] void corrupt(const std::string& what) const {
    throw std::runtime_error("[import_function] " + file + " is corrupted: " + what + ".");
  }
  void need(size_t n) const {
    if (n > left) corrupt("it ends in the middle of the graph");
  }
  template <typename T>
  T pod() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, p, sizeof(T));
    p += sizeof(T);
    left -= sizeof(T);
    return v;
  }
  uint8_t u8() { return pod<uint8_t>(); }
  uint32_t u32() { return pod<uint32_t>(); }
  uint64_t u64() { return pod<uint64_t>(); }
  int64_t i64() { return pod<int64_t>(); }
  // A count of items of at least `min_bytes` each: bounded by what is left.
  uint64_t count(size_t min_bytes) {
    uint64_t n = u64();
    if (min_bytes && n > left / min_bytes) corrupt("a count exceeds the file's size");
    return n;
  }
  std::string str() {
    uint64_t n = count(1);
    std::string s(p, n);
    p += n;
    left -= n;
    if (!valid_utf8(s)) corrupt("a string is not valid UTF-8");
    return s;
  }
  static bool valid_utf8(const std::string& s) {
    size_t i = 0, n = s.size();
    while (i < n) {
      uint8_t c = (uint8_t)s[i];
      int len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
      if (len == 0 || (len == 2 && c < 0xc2) || i + len > n) return false;
      uint32_t cp = len == 1 ? c : c & (0x7f >> len);
      for (int k = 1; k < len; ++k) {
        uint8_t d = (uint8_t)s[i + k];
        if ((d & 0xc0) != 0x80) return false;
        cp = (cp << 6) | (d & 0x3f);
      }
      if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return false;
      i += len;
    }
    return true;
  }
  Dtype dtype() {
    uint8_t c = u8();
    if (c >= kNumFileDtypes) corrupt("unknown dtype code " + std::to_string(c));
    return kFileDtypes[c];
  }
  Shape shape() {
    uint32_t nd = u32();
    if (nd > left / 8) corrupt("a rank exceeds the file's size");
    Shape s;
    for (uint32_t i = 0; i < nd; ++i) {
      int64_t d = i64();
      if (d < 0 || d > std::numeric_limits<int32_t>::max()) corrupt("a dimension is out of range");
      s.push_back((int32_t)d);
    }
    return s;
  }
  ValueType value_type() {
    ValueType v;
    v.dtype = dtype();
    v.shape = shape();
    try {
      checked_size(v.shape, v.dtype, "import_function");
    } catch (const std::exception&) {
      corrupt("a shape is too large");
    }
    return v;
  }
  Ref ref() {
    Ref r;
    r.kind = u8();
    if (r.kind > 1) corrupt("unknown reference kind");
    r.index = u64();
    return r;
  }
  ExportField field() {
    uint8_t tag = u8();
    switch (tag) {
      case 0: {
        uint8_t b = u8();
        if (b > 1) corrupt("a boolean parameter is neither 0 nor 1");
        return ExportField(std::in_place_index<0>, b == 1);
      }
      case 1: return ExportField(std::in_place_index<1>, i64());
      case 2: return ExportField(std::in_place_index<2>, pod<double>());
      case 3: return ExportField(std::in_place_index<3>, str());
      case 4: {
        uint64_t n = count(8);
        std::vector<int64_t> v(n);
        for (auto& x : v) x = i64();
        return ExportField(std::in_place_index<4>, std::move(v));
      }
      case 5: {
        uint64_t n = count(8);
        std::vector<double> v(n);
        for (auto& x : v) x = pod<double>();
        return ExportField(std::in_place_index<5>, std::move(v));
      }
      case 6: return ExportField(std::in_place_index<6>, dtype());
    }
    corrupt("unknown parameter tag " + std::to_string(tag));
  }
};

FileRec parse(const std::string& file, const std::string& bytes) {
  const size_t kHeader = 32;
  if (bytes.size() < 8 || std::memcmp(bytes.data(), "EMBERFN\0", 8) != 0) {
    if (bytes.size() < 8 && std::memcmp(bytes.data(), "EMBERFN\0", bytes.size()) == 0)
      throw std::runtime_error("[import_function] " + file + " is truncated: it has " +
                               std::to_string(bytes.size()) + " bytes, the header alone " +
                               std::to_string(kHeader) + ".");
    throw std::runtime_error("[import_function] " + file + " is not an exported Ember function "
                             "(its first bytes are not the format's magic).");
  }
  if (bytes.size() < kHeader)
    throw std::runtime_error("[import_function] " + file + " is truncated: it has " +
                             std::to_string(bytes.size()) + " bytes, the header alone " +
                             std::to_string(kHeader) + ".");
  In head{file, bytes.data() + 8, kHeader - 8};
  uint32_t version = head.u32();
  uint32_t flags = head.u32();
  uint64_t size = head.u64();
  uint64_t hash = head.u64();
  if (version > kExportFormatVersion)
    throw std::runtime_error("[import_function] " + file + " was written in format version " +
                             std::to_string(version) + ", newer than this build of Ember reads (up to " +
                             std::to_string(kExportFormatVersion) + "): update Ember to import it.");
  if (version == 0) throw std::runtime_error("[import_function] " + file + " has an invalid format version 0.");
  if (flags != 0) head.corrupt("unknown header flags");
  if (size != bytes.size() - kHeader) {
    if (size > bytes.size() - kHeader)
      throw std::runtime_error("[import_function] " + file + " is truncated: its header announces " +
                               std::to_string(size) + " bytes of graph, the file holds " +
                               std::to_string(bytes.size() - kHeader) + ".");
    head.corrupt("it has " + std::to_string(bytes.size() - kHeader - size) + " bytes after the graph");
  }
  if (fnv1a(bytes.data() + kHeader, size) != hash) head.corrupt("its checksum does not match its contents");

  In in{file, bytes.data() + kHeader, size};
  FileRec f;
  f.version = in.str();
  f.metadata = in.str();
  uint64_t nc = in.count(1 + 4 + 8);
  for (uint64_t i = 0; i < nc; ++i) {
    ValueType t = in.value_type();
    uint64_t nbytes = in.u64();
    if (nbytes != (uint64_t)shape_size(t.shape) * size_of(t.dtype)) in.corrupt("a constant's size does not match its shape");
    in.need(nbytes);
    array c(in.p, t.shape, t.dtype, t.dtype);
    in.p += nbytes;
    in.left -= nbytes;
    f.constants.push_back(std::move(c));
  }
  uint64_t nt = in.count(1 + 8 * 5);
  for (uint64_t ti = 0; ti < nt; ++ti) {
    TraceRec t;
    uint8_t sl = in.u8();
    if (sl > 1) in.corrupt("a trace's shapeless flag is neither 0 nor 1");
    t.shapeless = sl;
    t.n_args = in.u64();
    uint64_t nk = in.count(8);
    for (uint64_t i = 0; i < nk; ++i) t.keywords.push_back(in.str());
    uint64_t ni = in.count(1 + 4);
    if (t.n_args + nk != ni) in.corrupt("a trace's input count does not match its arguments");
    for (uint64_t i = 0; i < ni; ++i) t.inputs.push_back(in.value_type());
    uint64_t nn = in.count(8 * 4);
    uint64_t nvalues = ni;
    auto check = [&](const Ref& r) {
      if (r.kind == 0 ? r.index >= f.constants.size() : r.index >= nvalues)
        in.corrupt("a node reads a value that does not exist (yet)");
    };
    for (uint64_t i = 0; i < nn; ++i) {
      NodeRec n;
      n.key = in.str();
      uint64_t nf = in.count(2);
      for (uint64_t j = 0; j < nf; ++j) n.fields.push_back(in.field());
      uint64_t nin = in.count(9);
      for (uint64_t j = 0; j < nin; ++j) {
        n.inputs.push_back(in.ref());
        check(n.inputs.back());
      }
      uint64_t nout = in.count(1 + 4);
      if (nout == 0) in.corrupt("a node has no outputs");
      for (uint64_t j = 0; j < nout; ++j) n.outputs.push_back(in.value_type());
      nvalues += nout;
      t.nodes.push_back(std::move(n));
    }
    uint64_t no = in.count(9);
    for (uint64_t i = 0; i < no; ++i) {
      t.outputs.push_back(in.ref());
      check(t.outputs.back());
    }
    f.traces.push_back(std::move(t));
  }
  if (in.left != 0) in.corrupt("unread bytes after the last trace");
  return f;
}

// ---------- tracing

std::string shape_str(const Shape& s) {
  std::string r = "(";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + ")";
}

// Compile stays off while a function is traced for export, so compiled functions it calls
// are traced through (their fused kernels have no portable form).
struct CompileOff {
  bool was = compile_enabled();
  CompileOff() { disable_compile(); }
  ~CompileOff() {
    if (was) enable_compile();
  }
};

struct Traced {
  TracedGraph graph;
  size_t n_args;
  std::vector<std::string> keywords;
};

Traced trace_for_export(const KwargsFn& fun, const Arrays& args, const Kwargs& kwargs, bool shapeless) {
  Traced t;
  t.n_args = args.size();
  Arrays inputs = args;
  for (auto& [k, v] : kwargs) {
    t.keywords.push_back(k);
    inputs.push_back(v);
  }
  for (auto& x : inputs)
    if (!x.valid()) throw std::invalid_argument("[export_function] Inputs must be arrays.");
  Fn flat = [&](const Arrays& ph) {
    Arrays a(ph.begin(), ph.begin() + t.n_args);
    Kwargs kw;
    for (size_t i = 0; i < t.keywords.size(); ++i) kw.emplace(t.keywords[i], ph[t.n_args + i]);
    return fun(a, kw);
  };
  CompileOff off;
  t.graph = trace_graph(flat, inputs, shapeless);
  return t;
}

// Adds the trace to `f`, its captured arrays (evaluated) to f's constants; `const_ids`
// maps the arrays already there to their index.
TraceRec record(const Traced& tr, bool shapeless, FileRec& f,
                std::unordered_map<const void*, uint64_t>& const_ids) {
  const TracedGraph& g = tr.graph;
  TraceRec t;
  t.shapeless = shapeless;
  t.n_args = tr.n_args;
  t.keywords = tr.keywords;
  std::unordered_map<const void*, uint64_t> values;
  for (auto& x : g.inputs) {
    values.emplace(x.id(), values.size());
    t.inputs.push_back({x.dtype(), x.shape()});
  }
  // Nodes that read no input (directly or not) are computed now and kept as constants.
  std::unordered_set<const void*> dependent;
  for (auto& x : g.inputs) dependent.insert(x.id());
  Arrays nodes, to_eval;
  std::unordered_set<const void*> pending;
  auto need_constant = [&](const array& a) {
    if (dependent.count(a.id()) || const_ids.count(a.id()) || pending.count(a.id())) return;
    pending.insert(a.id());
    to_eval.push_back(a);
  };
  for (auto& node : g.tape) {
    bool dep = false;
    for (auto& in : node.inputs()) dep |= dependent.count(in.id()) > 0;
    if (!dep) continue;
    for (auto& o : node.outputs()) dependent.insert(o.id());
    nodes.push_back(node);
  }
  for (auto& node : nodes)
    for (auto& in : node.inputs()) need_constant(in);
  for (auto& o : g.outputs) need_constant(o);
  if (!to_eval.empty()) eval(to_eval);
  for (auto& c : to_eval) {
    array v = c.flags().row_contiguous ? c : contiguous(c);
    if (!v.is_available()) v.eval();
    const_ids.emplace(c.id(), f.constants.size());
    f.constants.push_back(v);
    // `c` stays alive with the record, so that its id is not reused by another array.
    f.captured.push_back(c);
  }
  auto ref = [&](const array& a) {
    auto it = values.find(a.id());
    if (it != values.end()) return Ref{1, it->second};
    return Ref{0, const_ids.at(a.id())};
  };
  for (auto& node : nodes) {
    const Primitive& p = node.primitive();
    auto e = entry_of(p);
    if (!e)
      throw std::invalid_argument(std::string("[export_function] Unable to serialize primitive ") + p.name() +
                                  ": it has no export support (register it in export_registry.cpp).");
    NodeRec n;
    n.key = e->key;
    Writer w;
    e->save(p, w);
    n.fields = std::move(w.fields);
    for (auto& in : node.inputs()) n.inputs.push_back(ref(in));
    for (auto& o : node.outputs()) {
      n.outputs.push_back({o.dtype(), o.shape()});
      values.emplace(o.id(), values.size());
    }
    t.nodes.push_back(std::move(n));
  }
  for (auto& o : g.outputs) t.outputs.push_back(ref(o));
  return t;
}

// ---------- importing

struct ImportedTrace {
  bool shapeless;
  size_t n_args;
  std::vector<std::string> keywords;
  TracedGraph graph;
};

ImportedTrace build(const std::string& file, const TraceRec& t, const Arrays& constants) {
  ImportedTrace it;
  it.shapeless = t.shapeless;
  it.n_args = t.n_args;
  it.keywords = t.keywords;
  Arrays values;
  for (auto& v : t.inputs) values.push_back(array(v.shape, v.dtype, nullptr, {}));
  it.graph.inputs = values;
  auto get = [&](const Ref& r) { return r.kind == 0 ? constants[r.index] : values[r.index]; };
  Stream s = default_stream(Device(Device::cpu));
  size_t node_index = 0;
  for (auto& n : t.nodes) {
    ++node_index;
    auto e = entry_of(n.key);
    if (!e)
      throw std::runtime_error("[import_function] " + file + " uses the primitive " + n.key +
                               ", which this build of Ember does not know.");
    std::shared_ptr<Primitive> prim;
    try {
      Reader r(n.fields, n.key);
      prim = e->load(s, r);
    } catch (const std::exception& ex) {
      throw std::runtime_error("[import_function] " + file + ": " + ex.what());
    }
    Arrays ins;
    for (auto& r : n.inputs) ins.push_back(get(r));
    std::vector<Shape> shapes;
    std::vector<Dtype> dtypes;
    for (auto& o : n.outputs) {
      shapes.push_back(o.shape);
      dtypes.push_back(o.dtype);
    }
    try {
      check_imported_node(n.key, *prim, ins, shapes, dtypes);
    } catch (const std::exception& ex) {
      throw std::runtime_error("[import_function] " + file + " is invalid: node " + std::to_string(node_index) +
                               " (primitive " + n.key + "): " + ex.what() + ".");
    }
    Arrays outs = array::make_arrays(std::move(shapes), std::move(dtypes), prim, std::move(ins));
    it.graph.tape.push_back(outs[0]);
    values.insert(values.end(), outs.begin(), outs.end());
  }
  for (auto& r : t.outputs) it.graph.outputs.push_back(get(r));
  return it;
}

std::string describe_signature(const ImportedTrace& t) {
  std::ostringstream os;
  os << "Function with " << t.n_args << " positional inputs and " << t.keywords.size() << " keyword inputs:\n";
  for (size_t i = 0; i < t.graph.inputs.size(); ++i) {
    auto& x = t.graph.inputs[i];
    if (i < t.n_args) os << "   " << i + 1 << ": ";
    else os << "   \"" << t.keywords[i - t.n_args] << "\": ";
    if (t.shapeless) os << "rank " << x.ndim();
    else os << shape_str(x.shape());
    os << " " << dtype_name(x.dtype()) << "\n";
  }
  return os.str();
}

}  // namespace

// ---------- registry API

void register_primitive_export(std::type_index type, const std::string& key, PrimitiveSaver save,
                               PrimitiveLoader load) {
  auto& r = registry_raw();
  std::lock_guard<std::mutex> lk(r.mutex);
  if (r.by_key.count(key))
    throw std::invalid_argument("[export] A primitive is already registered under the name " + key + ".");
  auto e = std::make_shared<RegistryEntry>(RegistryEntry{key, std::move(save), std::move(load)});
  r.by_type[type] = e;
  r.by_key[key] = e;
}

bool primitive_exportable(const Primitive& p) { return entry_of(p) != nullptr; }

void Reader::finish() const {
  if (pos_ != fields_.size()) fail("it has more parameters than the primitive takes");
}

void Reader::fail(const std::string& what) const {
  throw std::runtime_error("the parameters of primitive " + primitive_ + " are invalid: " + what + ".");
}

// ---------- export

struct ImportedFunction::Data {
  std::string file, metadata;
  std::vector<ImportedTrace> traces;
};

struct FunctionExporter::Impl {
  std::string file;
  KwargsFn fun;
  bool shapeless;
  bool closed = false;
  FileRec rec;
  std::unordered_map<const void*, uint64_t> const_ids;
  std::vector<std::string> signatures;

  void add(const Arrays& args, const Kwargs& kwargs) {
    if (closed) throw std::runtime_error("[export_function] Attempting to write after exporting is closed.");
    std::string sig = std::to_string(args.size()) + "|";
    auto add_sig = [&](const array& a) {
      if (!a.valid()) throw std::invalid_argument("[export_function] Inputs must be arrays.");
      sig += std::to_string((int)a.dtype()) + ":" + (shapeless ? std::to_string(a.ndim()) : shape_str(a.shape())) + ";";
    };
    for (auto& a : args) add_sig(a);
    for (auto& [k, v] : kwargs) {
      sig += k + "=";
      add_sig(v);
    }
    if (std::find(signatures.begin(), signatures.end(), sig) != signatures.end())
      throw std::runtime_error("[export_function] Attempting to export a function twice with the same signature is not allowed.");
    Traced tr = trace_for_export(fun, args, kwargs, shapeless);
    FileRec next = rec;
    auto ids = const_ids;
    next.traces.push_back(record(tr, shapeless, next, ids));
    write_file(file, next);
    rec = std::move(next);
    const_ids = std::move(ids);
    signatures.push_back(sig);
  }
};

FunctionExporter::FunctionExporter(const std::string& file, KwargsFn fun, bool shapeless,
                                   const std::string& metadata)
    : impl_(std::make_shared<Impl>()) {
  impl_->file = file;
  impl_->fun = std::move(fun);
  impl_->shapeless = shapeless;
  impl_->rec.metadata = metadata;
  write_file(file, impl_->rec);
}

void FunctionExporter::operator()(const Arrays& args, const Kwargs& kwargs) { impl_->add(args, kwargs); }

void FunctionExporter::close() {
  impl_->closed = true;
  impl_->rec = FileRec{};
  impl_->const_ids.clear();
}

bool FunctionExporter::closed() const { return impl_->closed; }

FunctionExporter exporter(const std::string& file, const KwargsFn& fun, bool shapeless, const std::string& metadata) {
  return FunctionExporter(file, fun, shapeless, metadata);
}

FunctionExporter exporter(const std::string& file, const Fn& fun, bool shapeless, const std::string& metadata) {
  return FunctionExporter(file, [fun](const Arrays& a, const Kwargs& kw) {
    if (!kw.empty()) throw std::invalid_argument("[export_function] This function takes no keyword inputs.");
    return fun(a);
  }, shapeless, metadata);
}

void export_function(const std::string& file, const KwargsFn& fun, const Arrays& args, const Kwargs& kwargs,
                     bool shapeless, const std::string& metadata) {
  // Traced before the file is opened, so a function that raises leaves no file behind.
  Traced tr = trace_for_export(fun, args, kwargs, shapeless);
  FileRec f;
  f.metadata = metadata;
  std::unordered_map<const void*, uint64_t> ids;
  f.traces.push_back(record(tr, shapeless, f, ids));
  write_file(file, f);
}

void export_function(const std::string& file, const Fn& fun, const Arrays& args, bool shapeless,
                     const std::string& metadata) {
  export_function(file, [&](const Arrays& a, const Kwargs&) { return fun(a); }, args, Kwargs{}, shapeless, metadata);
}

namespace {
std::string value_name(size_t i) {
  std::string s;
  ++i;
  while (i > 0) {
    --i;
    s.insert(s.begin(), (char)('A' + i % 26));
    i /= 26;
  }
  return s;
}
}  // namespace

void export_function(const ExportCallback& callback, const KwargsFn& fun, const Arrays& args,
                     const Kwargs& kwargs, bool shapeless) {
  Traced tr = trace_for_export(fun, args, kwargs, shapeless);
  FileRec f;
  std::unordered_map<const void*, uint64_t> ids;
  TraceRec t = record(tr, shapeless, f, ids);
  // Names: inputs first, then outputs (as the caller reads them first), constants, nodes.
  std::vector<ValueType> types = t.inputs;
  for (auto& node : t.nodes) types.insert(types.end(), node.outputs.begin(), node.outputs.end());
  std::vector<std::string> value_names(types.size());
  std::vector<std::string> const_names(f.constants.size());
  size_t next = 0;
  auto name_of = [&](const Ref& r) -> std::string& {
    std::string& s = r.kind == 0 ? const_names[r.index] : value_names[r.index];
    if (s.empty()) s = value_name(next++);
    return s;
  };
  ExportedGraph g;
  for (size_t i = 0; i < t.inputs.size(); ++i)
    g.inputs.push_back({name_of(Ref{1, i}), t.inputs[i].shape, t.inputs[i].dtype});
  for (size_t i = 0; i < t.keywords.size(); ++i)
    g.keywords.emplace_back(t.keywords[i], g.inputs[t.n_args + i].name);
  auto value = [&](const Ref& r) {
    if (r.kind == 0) return ExportedValue{name_of(r), f.constants[r.index].shape(), f.constants[r.index].dtype()};
    return ExportedValue{name_of(r), types[r.index].shape, types[r.index].dtype};
  };
  for (auto& r : t.outputs) g.outputs.push_back(value(r));
  for (size_t i = 0; i < f.constants.size(); ++i) g.constants.emplace_back(name_of(Ref{0, i}), f.constants[i]);
  uint64_t vi = t.inputs.size();
  for (auto& node : t.nodes) {
    ExportedNode en;
    en.primitive = node.key;
    en.arguments = node.fields;
    for (auto& r : node.inputs) en.inputs.push_back(value(r));
    for (size_t j = 0; j < node.outputs.size(); ++j) en.outputs.push_back(value(Ref{1, vi++}));
    g.nodes.push_back(std::move(en));
  }
  callback(g);
}

// ---------- import

ImportedFunction import_function(const std::string& file) {
  std::ifstream is(file, std::ios::binary);
  if (!is) throw std::runtime_error("[import_function] Failed to open " + file + ".");
  std::ostringstream ss;
  ss << is.rdbuf();
  if (is.bad()) throw std::runtime_error("[import_function] Failed to read " + file + ".");
  std::string bytes = ss.str();
  FileRec f = parse(file, bytes);
  auto d = std::make_shared<ImportedFunction::Data>();
  d->file = file;
  d->metadata = f.metadata;
  for (auto& t : f.traces) d->traces.push_back(build(file, t, f.constants));
  return ImportedFunction(std::move(d));
}

const std::string& ImportedFunction::metadata() const { return d_->metadata; }
size_t ImportedFunction::num_traces() const { return d_->traces.size(); }

Arrays ImportedFunction::operator()(const Arrays& args) const { return (*this)(args, Kwargs{}); }

Arrays ImportedFunction::operator()(const Arrays& args, const Kwargs& kwargs) const {
  Arrays inputs = args;
  for (auto& [k, v] : kwargs) inputs.push_back(v);
  for (auto& x : inputs)
    if (!x.valid()) throw std::invalid_argument("[import_function::call] Inputs must be arrays.");
  for (auto& t : d_->traces) {
    // A trace without keyword inputs also takes keywords as the positional inputs after the
    // given ones, in the order of their names.
    bool as_positional = t.keywords.empty() && !kwargs.empty();
    if (as_positional ? t.n_args != inputs.size()
                      : t.n_args != args.size() || t.keywords.size() != kwargs.size())
      continue;
    bool ok = true;
    size_t i = 0;
    if (!as_positional)
      for (auto& [k, v] : kwargs) ok &= t.keywords[i++] == k;
    for (size_t j = 0; ok && j < inputs.size(); ++j) {
      auto& ph = t.graph.inputs[j];
      ok &= ph.dtype() == inputs[j].dtype() &&
            (t.shapeless ? ph.ndim() == inputs[j].ndim() : ph.shape() == inputs[j].shape());
    }
    if (ok) return replay_graph(t.graph, inputs, t.shapeless);
  }
  std::ostringstream os;
  os << "[import_function::call] No imported function found which matches the given positional and "
        "keyword arguments. Possible functions include:\n";
  for (size_t i = 0; i < d_->traces.size(); ++i) os << " " << i + 1 << ". " << describe_signature(d_->traces[i]);
  os << "\nCalled with " << args.size() << " positional inputs and " << kwargs.size() << " keyword inputs:\n";
  size_t j = 0;
  for (auto& a : args) os << "  " << ++j << ": " << shape_str(a.shape()) << " " << dtype_name(a.dtype()) << "\n";
  for (auto& [k, v] : kwargs) os << "  \"" << k << "\": " << shape_str(v.shape()) << " " << dtype_name(v.dtype()) << "\n";
  throw std::invalid_argument(os.str());
}

}  // namespace ember
