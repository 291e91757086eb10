// The .safetensors format: an 8-byte little-endian header length, a JSON header naming each
// tensor's dtype, shape and byte range, then the data.
#include <cstring>

#include "ember/io/io.h"
#include "ember/io/json.h"

namespace ember {

namespace {

const char* st_name(Dtype t) {
  switch (t) {
    case bool_: return "BOOL";
    case uint8: return "U8";
    case uint16: return "U16";
    case uint32: return "U32";
    case uint64: return "U64";
    case int8: return "I8";
    case int16: return "I16";
    case int32: return "I32";
    case int64: return "I64";
    case float16: return "F16";
    case bfloat16: return "BF16";
    case float32: return "F32";
    case float64: return "F64";
    case complex64: return "C64";
  }
  return "";
}

// The header may not exceed this (as the format's reference reader requires).
constexpr uint64_t kMaxHeader = 100ull << 20;

}  // namespace

std::pair<ArrayMap, StringMap> load_safetensors(io::Reader& in) {
  const std::string label = in.label();
  if (in.size() < 8) io::bad_file(label, "too short for a .safetensors file");
  uint8_t lenb[8];
  in.read(lenb, 8, 0);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | lenb[i];
  if (n > kMaxHeader) io::bad_file(label, "the header length " + std::to_string(n) + " is too large");
  if (n > in.size() - 8) io::bad_file(label, "the header length is larger than the file");
  std::string text(n, '\0');
  in.read(text.data(), n, 8);
  io::Json h = io::parse_json(text, label);
  if (h.kind != io::Json::Kind::Object) io::bad_file(label, "the header is not a JSON object");
  uint64_t data_start = 8 + n, data_size = in.size() - data_start;
  ArrayMap arrays;
  StringMap meta;
  for (auto& [name, t] : h.members) {
    if (name == "__metadata__") {
      if (t.kind == io::Json::Kind::Null) continue;  // some writers put null for none
      if (t.kind != io::Json::Kind::Object) io::bad_file(label, "__metadata__ is not an object");
      for (auto& [k, v] : t.members) {
        if (v.kind != io::Json::Kind::String)
          io::bad_file(label, "metadata value of '" + k + "' is not a string");
        meta[k] = v.string;
      }
      continue;
    }
    std::string what = "tensor '" + name + "'";
    const io::Json* dt = t.find("dtype");
    const io::Json* shape = t.find("shape");
    const io::Json* offs = t.find("data_offsets");
    if (t.kind != io::Json::Kind::Object || !dt || !shape || !offs || dt->kind != io::Json::Kind::String ||
        shape->kind != io::Json::Kind::Array || offs->kind != io::Json::Kind::Array || offs->items.size() != 2)
      io::bad_file(label, what + " lacks a valid dtype, shape or data_offsets");
    Dtype dtype = float32;
    bool found = false;
    for (int i = 0; i < kNumDtypes && !found; ++i)
      if (dt->string == st_name((Dtype)i)) dtype = (Dtype)i, found = true;
    // FP8 (E4M3) checkpoints load as their raw bytes, for from_fp8 to decode (as MLX does).
    if (!found && dt->string == "F8_E4M3") dtype = uint8, found = true;
    if (!found) io::bad_file(label, what + " has the unsupported dtype '" + dt->string + "'");
    Shape s;
    for (auto& d : shape->items) {
      if (d.kind != io::Json::Kind::Number || !d.integral || d.integer < 0)
        io::bad_file(label, what + " has an invalid dimension");
      if (d.integer > INT32_MAX)
        throw std::overflow_error("[load] " + label + ": " + what + " has dimension " +
                                  std::to_string(d.integer) + ", which does not fit in 32 bits.");
      s.push_back((int32_t)d.integer);
    }
    for (auto& o : offs->items)
      if (o.kind != io::Json::Kind::Number || !o.integral || o.integer < 0)
        io::bad_file(label, what + " has invalid data_offsets");
    uint64_t b = (uint64_t)offs->items[0].integer, e = (uint64_t)offs->items[1].integer;
    if (b > e || e > data_size) io::bad_file(label, what + " has data_offsets outside the data");
    int64_t count = checked_size(s, dtype, "load");
    if ((uint64_t)count * size_of(dtype) != e - b)
      io::bad_file(label, what + ": its byte range does not match its shape and dtype");
    arrays.emplace(name, io::read_array(in, data_start + b, s, dtype, what));
  }
  return {std::move(arrays), std::move(meta)};
}

std::pair<ArrayMap, StringMap> load_safetensors(const std::string& path) {
  auto in = io::open_reader(path);
  return load_safetensors(*in);
}

void save_safetensors(io::Writer& out, const ArrayMap& arrays, const StringMap& metadata) {
  std::vector<std::pair<const std::string*, array>> items;
  for (auto& [k, a] : arrays) items.emplace_back(&k, io::contiguous_host(a));
  std::string h = "{";
  if (!metadata.empty()) {
    h += "\"__metadata__\":{";
    bool first = true;
    for (auto& [k, v] : metadata) {
      if (!first) h += ",";
      first = false;
      h += io::json_quote(k) + ":" + io::json_quote(v);
    }
    h += "}";
  }
  uint64_t off = 0;
  for (auto& [k, a] : items) {
    if (h.size() > 1) h += ",";
    h += io::json_quote(*k) + ":{\"dtype\":\"" + st_name(a.dtype()) + "\",\"shape\":[";
    for (int i = 0; i < a.ndim(); ++i) h += (i ? "," : "") + std::to_string(a.shape(i));
    h += "],\"data_offsets\":[" + std::to_string(off) + "," + std::to_string(off + a.nbytes()) + "]}";
    off += a.nbytes();
  }
  h += "}";
  h.append((8 - h.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  uint8_t lenb[8];
  for (int i = 0; i < 8; ++i) lenb[i] = (uint8_t)((uint64_t)h.size() >> (8 * i));
  out.write(lenb, 8);
  out.write(h.data(), h.size());
  for (auto& [k, a] : items) out.write(a.raw_ptr(), a.nbytes());
}

void save_safetensors(const std::string& path, const ArrayMap& arrays, const StringMap& metadata) {
  ArrayMap ready;
  for (auto& [k, a] : arrays) ready.emplace(k, io::contiguous_host(a));
  auto out = io::open_writer(path);
  save_safetensors(*out, ready, metadata);
}

}  // namespace ember
