// The .gguf format (version 2 and 3): a header of typed key-value metadata and tensor
// descriptions, then the aligned tensor data.
#include <cstring>

#include "ember/io/io.h"

namespace ember {

namespace {

enum GType : uint32_t {
  G_U8 = 0, G_I8 = 1, G_U16 = 2, G_I16 = 3, G_U32 = 4, G_I32 = 5, G_F32 = 6, G_BOOL = 7,
  G_STRING = 8, G_ARRAY = 9, G_U64 = 10, G_I64 = 11, G_F64 = 12,
};
// Tensor element types (ggml's numbering).
enum TType : uint32_t {
  T_F32 = 0, T_F16 = 1, T_Q4_0 = 2, T_Q4_1 = 3, T_Q8_0 = 8, T_I8 = 24, T_I16 = 25, T_I32 = 26,
  T_I64 = 27, T_F64 = 28, T_BF16 = 30,
};

bool meta_dtype(uint32_t g, Dtype& d) {
  switch (g) {
    case G_U8: d = uint8; return true;
    case G_I8: d = int8; return true;
    case G_U16: d = uint16; return true;
    case G_I16: d = int16; return true;
    case G_U32: d = uint32; return true;
    case G_I32: d = int32; return true;
    case G_F32: d = float32; return true;
    case G_BOOL: d = bool_; return true;
    case G_U64: d = uint64; return true;
    case G_I64: d = int64; return true;
    case G_F64: d = float64; return true;
  }
  return false;
}

bool meta_gtype(Dtype d, uint32_t& g) {
  for (uint32_t t : {G_U8, G_I8, G_U16, G_I16, G_U32, G_I32, G_F32, G_BOOL, G_U64, G_I64, G_F64}) {
    Dtype x;
    meta_dtype(t, x);
    if (x == d) return g = t, true;
  }
  return false;
}

bool tensor_dtype(uint32_t t, Dtype& d) {
  switch (t) {
    case T_F32: d = float32; return true;
    case T_F16: d = float16; return true;
    case T_BF16: d = bfloat16; return true;
    case T_F64: d = float64; return true;
    case T_I8: d = int8; return true;
    case T_I16: d = int16; return true;
    case T_I32: d = int32; return true;
    case T_I64: d = int64; return true;
  }
  return false;
}

// Sequential reads through a window, with every length checked against the file.
class Cursor {
 public:
  explicit Cursor(io::Reader& in) : in_(in), size_(in.size()) {}
  uint64_t pos() const { return pos_; }
  void bytes(void* dst, uint64_t n) {
    if (n > size_ - pos_) io::bad_file(in_.label(), "the header runs past the end of the file");
    char* p = static_cast<char*>(dst);
    while (n > 0) {
      if (pos_ < win_start_ || pos_ >= win_start_ + win_.size()) fill();
      uint64_t k = std::min<uint64_t>(n, win_start_ + win_.size() - pos_);
      std::memcpy(p, win_.data() + (pos_ - win_start_), k);
      p += k;
      n -= k;
      pos_ += k;
    }
  }
  template <typename T>
  T get() {
    T v;
    bytes(&v, sizeof v);
    return v;
  }
  std::string str() {
    uint64_t n = get<uint64_t>();
    if (n > size_ - pos_) io::bad_file(in_.label(), "a string runs past the end of the file");
    std::string s(n, '\0');
    bytes(s.data(), n);
    return s;
  }
  // A count of items of at least `item_bytes` each: bounded by what the file can hold.
  uint64_t count(uint64_t item_bytes) {
    uint64_t n = get<uint64_t>();
    if (item_bytes && n > (size_ - pos_) / item_bytes)
      io::bad_file(in_.label(), "a count of " + std::to_string(n) + " items is larger than the file");
    return n;
  }

 private:
  void fill() {
    win_start_ = pos_;
    win_.resize((size_t)std::min<uint64_t>(1 << 20, size_ - pos_));
    in_.read(win_.data(), win_.size(), win_start_);
  }
  io::Reader& in_;
  uint64_t size_, pos_ = 0, win_start_ = 0;
  std::vector<char> win_;
};

int gsize(uint32_t g) {
  switch (g) {
    case G_U8: case G_I8: case G_BOOL: return 1;
    case G_U16: case G_I16: return 2;
    case G_U32: case G_I32: case G_F32: return 4;
    case G_U64: case G_I64: case G_F64: return 8;
  }
  return 0;
}

GGUFValue read_value(Cursor& c, uint32_t type, const std::string& key, const std::string& label) {
  Dtype d;
  if (type == G_STRING) return c.str();
  if (meta_dtype(type, d)) {
    array a(Shape{}, d, nullptr, {});
    auto buf = std::make_shared<Data>(size_of(d));
    c.bytes(buf->ptr, size_of(d));
    a.set_data(std::move(buf));
    a.set_status(array::Status::available);
    return a;
  }
  if (type == G_ARRAY) {
    uint32_t et = c.get<uint32_t>();
    if (et == G_STRING) {
      uint64_t n = c.count(8);
      std::vector<std::string> v;
      v.reserve(n);
      for (uint64_t i = 0; i < n; ++i) v.push_back(c.str());
      return v;
    }
    if (!meta_dtype(et, d)) io::bad_file(label, "metadata '" + key + "' is an array of an unsupported type");
    uint64_t n = c.count(gsize(et));
    if (n > INT32_MAX) io::bad_file(label, "metadata '" + key + "' is too long");
    array a(Shape{(int32_t)n}, d, nullptr, {});
    auto buf = std::make_shared<Data>(std::max<uint64_t>(n * size_of(d), 1));
    c.bytes(buf->ptr, n * size_of(d));
    a.set_data(std::move(buf));
    a.set_status(array::Status::available);
    return a;
  }
  io::bad_file(label, "metadata '" + key + "' has the unknown type " + std::to_string(type));
}

// A ggml block-quantized tensor as affine-quantized weights with groups of 32.
void load_quantized(io::Reader& in, uint64_t offset, uint32_t type, const Shape& shape,
                    const std::string& name, ArrayMap& out) {
  int block_bytes = type == T_Q4_0 ? 18 : type == T_Q4_1 ? 20 : 34;
  int bits = type == T_Q8_0 ? 8 : 4;
  if (shape.empty() || shape.back() % 32 != 0)
    io::bad_file(in.label(), "tensor '" + name + "': a quantized row length must be a multiple of 32");
  int64_t rows = 1;
  for (size_t i = 0; i + 1 < shape.size(); ++i) rows *= shape[i];
  int64_t groups_per_row = shape.back() / 32;
  uint64_t n_blocks = (uint64_t)rows * groups_per_row;
  uint64_t bytes = n_blocks * block_bytes;
  if (offset > in.size() || bytes > in.size() - offset)
    io::bad_file(in.label(), "tensor '" + name + "' runs past the end of the file");
  std::vector<uint8_t> raw(bytes);
  in.read(raw.data(), bytes, offset);

  Shape ws = shape, ss = shape;
  ws.back() = shape.back() * bits / 32;
  ss.back() = (int32_t)groups_per_row;
  array w(ws, uint32, nullptr, {}), sc(ss, float16, nullptr, {}), bi(ss, float16, nullptr, {});
  auto wb = std::make_shared<Data>(std::max<size_t>(w.nbytes(), 1));
  auto sb = std::make_shared<Data>(std::max<size_t>(sc.nbytes(), 1));
  auto bb = std::make_shared<Data>(std::max<size_t>(bi.nbytes(), 1));
  auto* wp = static_cast<uint32_t*>(wb->ptr);
  auto* sp = static_cast<uint16_t*>(sb->ptr);
  auto* bp = static_cast<uint16_t*>(bb->ptr);
  for (uint64_t b = 0; b < n_blocks; ++b) {
    const uint8_t* blk = raw.data() + b * block_bytes;
    uint16_t dh;
    std::memcpy(&dh, blk, 2);
    float d = half_to_float(dh);
    uint8_t q[32];
    if (type == T_Q8_0) {
      for (int j = 0; j < 32; ++j) q[j] = (uint8_t)((int)(int8_t)blk[2 + j] + 128);
      sp[b] = dh;
      bp[b] = float_to_half(-128.0f * d);
    } else {
      const uint8_t* qs = blk + (type == T_Q4_0 ? 2 : 4);
      for (int j = 0; j < 16; ++j) {
        q[j] = qs[j] & 0x0f;
        q[j + 16] = qs[j] >> 4;
      }
      sp[b] = dh;
      if (type == T_Q4_0) {
        bp[b] = float_to_half(-8.0f * d);
      } else {
        std::memcpy(&bp[b], blk + 2, 2);
      }
    }
    // Values packed from the low bits up, 32 / bits per word.
    int per_word = 32 / bits;
    uint32_t* words = wp + b * (32 / per_word);
    for (int k = 0; k < 32 / per_word; ++k) {
      uint32_t v = 0;
      for (int j = 0; j < per_word; ++j) v |= (uint32_t)q[k * per_word + j] << (bits * j);
      words[k] = v;
    }
  }
  w.set_data(std::move(wb));
  sc.set_data(std::move(sb));
  bi.set_data(std::move(bb));
  for (auto* a : {&w, &sc, &bi}) a->set_status(array::Status::available);
  out.emplace(name, w);
  out.emplace(name + ".scales", sc);
  out.emplace(name + ".biases", bi);
}

}  // namespace

std::pair<ArrayMap, GGUFMeta> load_gguf(io::Reader& in) {
  const std::string label = in.label();
  Cursor c(in);
  char magic[4];
  if (in.size() < 24) io::bad_file(label, "too short for a .gguf file");
  c.bytes(magic, 4);
  if (std::memcmp(magic, "GGUF", 4) != 0) io::bad_file(label, "not a .gguf file (wrong magic)");
  uint32_t version = c.get<uint32_t>();
  if (version != 2 && version != 3) io::bad_file(label, "unsupported .gguf version " + std::to_string(version));
  uint64_t n_tensors = c.get<uint64_t>();
  uint64_t n_kv = c.get<uint64_t>();
  GGUFMeta meta;
  uint64_t alignment = 32;
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = c.str();
    uint32_t type = c.get<uint32_t>();
    GGUFValue v = read_value(c, type, key, label);
    if (key == "general.alignment" && std::holds_alternative<array>(v)) {
      array& a = std::get<array>(v);
      if (a.ndim() == 0 && a.dtype() == uint32) alignment = *a.data<uint32_t>();
      if (alignment == 0 || (alignment & (alignment - 1))) io::bad_file(label, "invalid general.alignment");
    }
    meta[key] = std::move(v);
  }
  struct Info {
    std::string name;
    Shape shape;
    uint32_t type;
    uint64_t offset;
  };
  std::vector<Info> infos;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    Info t;
    t.name = c.str();
    uint32_t nd = c.get<uint32_t>();
    if (nd > 16) io::bad_file(label, "tensor '" + t.name + "' has " + std::to_string(nd) + " dimensions");
    std::vector<uint64_t> dims(nd);
    for (auto& d : dims) d = c.get<uint64_t>();
    for (auto it = dims.rbegin(); it != dims.rend(); ++it) {  // innermost first in the file
      if (*it > INT32_MAX)
        throw std::overflow_error("[load] " + label + ": tensor '" + t.name + "' has dimension " +
                                  std::to_string(*it) + ", which does not fit in 32 bits.");
      t.shape.push_back((int32_t)*it);
    }
    t.type = c.get<uint32_t>();
    t.offset = c.get<uint64_t>();
    infos.push_back(std::move(t));
  }
  uint64_t data_start = (c.pos() + alignment - 1) / alignment * alignment;
  ArrayMap arrays;
  for (auto& t : infos) {
    if (t.offset > in.size() || data_start > in.size() - t.offset)
      io::bad_file(label, "tensor '" + t.name + "' has an offset outside the file");
    Dtype d;
    if (tensor_dtype(t.type, d)) {
      arrays.emplace(t.name, io::read_array(in, data_start + t.offset, t.shape, d, "tensor '" + t.name + "'"));
    } else if (t.type == T_Q4_0 || t.type == T_Q4_1 || t.type == T_Q8_0) {
      load_quantized(in, data_start + t.offset, t.type, t.shape, t.name, arrays);
    } else {
      io::bad_file(label, "tensor '" + t.name + "' has the unsupported type " + std::to_string(t.type));
    }
  }
  return {std::move(arrays), std::move(meta)};
}

std::pair<ArrayMap, GGUFMeta> load_gguf(const std::string& path) {
  auto in = io::open_reader(path);
  return load_gguf(*in);
}

namespace {

class Out {
 public:
  explicit Out(io::Writer& w) : w_(w) {}
  void bytes(const void* p, size_t n) {
    w_.write(p, n);
    pos += n;
  }
  template <typename T>
  void put(T v) {
    bytes(&v, sizeof v);
  }
  void str(const std::string& s) {
    put<uint64_t>(s.size());
    bytes(s.data(), s.size());
  }
  void pad(uint64_t alignment) {
    static const char zeros[64] = {};
    uint64_t n = (alignment - pos % alignment) % alignment;
    bytes(zeros, n);
  }
  uint64_t pos = 0;

 private:
  io::Writer& w_;
};

uint32_t tensor_type(Dtype d, const std::string& name) {
  for (uint32_t t : {T_F32, T_F16, T_BF16, T_F64, T_I8, T_I16, T_I32, T_I64}) {
    Dtype x;
    tensor_dtype(t, x);
    if (x == d) return t;
  }
  throw std::invalid_argument(std::string("[save_gguf] Array '") + name + "' has dtype " + dtype_name(d) +
                              ", which .gguf files cannot hold.");
}

}  // namespace

void save_gguf(io::Writer& w, const ArrayMap& arrays, const GGUFMeta& metadata) {
  // Check and prepare everything before the first byte is written.
  std::vector<std::pair<std::string, array>> items;
  for (auto& [k, a] : arrays) {
    tensor_type(a.dtype(), k);
    items.emplace_back(k, io::contiguous_host(a));
  }
  std::vector<std::pair<std::string, array>> meta_arrays;
  for (auto& [k, v] : metadata)
    if (auto* a = std::get_if<array>(&v)) {
      uint32_t g;
      if (a->ndim() > 1)
        throw std::invalid_argument("[save_gguf] Metadata '" + k + "' has more than one dimension.");
      if (!meta_gtype(a->dtype(), g))
        throw std::invalid_argument("[save_gguf] Metadata '" + k + "' has dtype " + dtype_name(a->dtype()) +
                                    ", which .gguf metadata cannot hold.");
      meta_arrays.emplace_back(k, io::contiguous_host(*a));
    }
  Out o(w);
  o.bytes("GGUF", 4);
  o.put<uint32_t>(3);
  o.put<uint64_t>(items.size());
  o.put<uint64_t>(metadata.size());
  size_t mi = 0;
  for (auto& [k, v] : metadata) {
    o.str(k);
    if (auto* s = std::get_if<std::string>(&v)) {
      o.put<uint32_t>(G_STRING);
      o.str(*s);
    } else if (auto* l = std::get_if<std::vector<std::string>>(&v)) {
      o.put<uint32_t>(G_ARRAY);
      o.put<uint32_t>(G_STRING);
      o.put<uint64_t>(l->size());
      for (auto& s : *l) o.str(s);
    } else {
      const array& a = meta_arrays[mi++].second;
      uint32_t g;
      meta_gtype(a.dtype(), g);
      if (a.ndim() == 0) {
        o.put<uint32_t>(g);
      } else {
        o.put<uint32_t>(G_ARRAY);
        o.put<uint32_t>(g);
        o.put<uint64_t>(a.size());
      }
      o.bytes(a.raw_ptr(), a.nbytes());
    }
  }
  const uint64_t alignment = 32;
  uint64_t off = 0;
  for (auto& [k, a] : items) {
    o.str(k);
    o.put<uint32_t>((uint32_t)a.ndim());
    for (int i = a.ndim() - 1; i >= 0; --i) o.put<uint64_t>((uint64_t)a.shape(i));
    o.put<uint32_t>(tensor_type(a.dtype(), k));
    o.put<uint64_t>(off);
    off += (a.nbytes() + alignment - 1) / alignment * alignment;
  }
  o.pad(alignment);
  for (auto& [k, a] : items) {
    o.bytes(a.raw_ptr(), a.nbytes());
    o.pad(alignment);
  }
}

void save_gguf(const std::string& path, const ArrayMap& arrays, const GGUFMeta& metadata) {
  ArrayMap ready;
  for (auto& [k, a] : arrays) {
    tensor_type(a.dtype(), k);
    ready.emplace(k, io::contiguous_host(a));
  }
  auto out = io::open_writer(path);
  save_gguf(*out, ready, metadata);
}

}  // namespace ember
