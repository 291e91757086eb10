// The .npy format: a magic string, a version, a Python-literal header dict, raw data.
#include <algorithm>
#include <cctype>
#include <cstring>

#include "ember/io/io.h"
#include "ember/ops.h"

namespace ember {

namespace {

constexpr char kMagic[] = "\x93NUMPY";

struct NpyHeader {
  std::string descr;
  bool fortran = false;
  std::vector<int64_t> shape;
  bool has_descr = false, has_fortran = false, has_shape = false;
};

// The header is a Python dict literal with three keys; this reads exactly that subset
// (strings, True/False, integers, tuples), and anything else is a malformed header.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& label) : s_(text), label_(label) {}

  NpyHeader parse() {
    NpyHeader h;
    expect('{');
    while (true) {
      skip();
      if (peek() == '}') break;
      std::string key = string();
      expect(':');
      if (key == "descr") {
        skip();
        if (peek() == '[') fail("structured dtypes are not supported");
        h.descr = string();
        h.has_descr = true;
      } else if (key == "fortran_order") {
        h.fortran = boolean();
        h.has_fortran = true;
      } else if (key == "shape") {
        h.shape = tuple();
        h.has_shape = true;
      } else {
        fail("unknown header key '" + key + "'");
      }
      skip();
      if (peek() == ',') ++i_;
    }
    if (!h.has_descr || !h.has_fortran || !h.has_shape)
      fail("the header lacks 'descr', 'fortran_order' or 'shape'");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) { io::bad_file(label_, "malformed .npy header: " + what); }
  void skip() {
    while (i_ < s_.size() && std::isspace((unsigned char)s_[i_])) ++i_;
  }
  char peek() {
    if (i_ >= s_.size()) fail("it ends early");
    return s_[i_];
  }
  void expect(char c) {
    skip();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  std::string string() {
    skip();
    char q = peek();
    if (q != '\'' && q != '"') fail("expected a string");
    size_t end = s_.find(q, i_ + 1);
    if (end == std::string::npos) fail("unterminated string");
    std::string r = s_.substr(i_ + 1, end - i_ - 1);
    i_ = end + 1;
    return r;
  }
  bool boolean() {
    skip();
    if (s_.compare(i_, 4, "True") == 0) return i_ += 4, true;
    if (s_.compare(i_, 5, "False") == 0) return i_ += 5, false;
    fail("expected True or False");
  }
  std::vector<int64_t> tuple() {
    expect('(');
    std::vector<int64_t> r;
    while (true) {
      skip();
      if (peek() == ')') {
        ++i_;
        return r;
      }
      if (!std::isdigit((unsigned char)peek())) fail("expected a dimension");
      int64_t v = 0;
      while (i_ < s_.size() && std::isdigit((unsigned char)s_[i_])) {
        if (v > (INT64_MAX - 9) / 10) fail("a dimension is too large");
        v = v * 10 + (s_[i_++] - '0');
      }
      r.push_back(v);
      skip();
      if (peek() == ',') ++i_;
      else if (peek() != ')') fail("expected ',' or ')' in the shape");
    }
  }

  const std::string& s_;
  const std::string& label_;
  size_t i_ = 0;
};

// numpy's type code of each dtype (bfloat16 has none in numpy: a two-byte void, as is usual).
const char* npy_code(Dtype t) {
  switch (t) {
    case bool_: return "b1";
    case uint8: return "u1";
    case uint16: return "u2";
    case uint32: return "u4";
    case uint64: return "u8";
    case int8: return "i1";
    case int16: return "i2";
    case int32: return "i4";
    case int64: return "i8";
    case float16: return "f2";
    case bfloat16: return "V2";
    case float32: return "f4";
    case float64: return "f8";
    case complex64: return "c8";
  }
  return "";
}

void byteswap(void* p, size_t count, int width) {
  auto* b = static_cast<uint8_t*>(p);
  for (size_t i = 0; i < count; ++i, b += width)
    for (int j = 0; j < width / 2; ++j) std::swap(b[j], b[width - 1 - j]);
}

}  // namespace

array load_npy(io::Reader& in) {
  const std::string& label = in.label();
  char pre[12];
  if (in.size() < 10) io::bad_file(label, "too short for a .npy file");
  in.read(pre, 10, 0);
  if (std::memcmp(pre, kMagic, 6) != 0) io::bad_file(label, "not a .npy file (wrong magic)");
  int major = (uint8_t)pre[6];
  uint64_t header_len, data_start;
  if (major == 1) {
    header_len = (uint8_t)pre[8] | ((uint8_t)pre[9] << 8);
    data_start = 10 + header_len;
  } else if (major == 2 || major == 3) {
    if (in.size() < 12) io::bad_file(label, "too short for a .npy file");
    in.read(pre, 12, 0);
    header_len = (uint32_t)(uint8_t)pre[8] | ((uint32_t)(uint8_t)pre[9] << 8) |
                 ((uint32_t)(uint8_t)pre[10] << 16) | ((uint32_t)(uint8_t)pre[11] << 24);
    data_start = 12 + header_len;
  } else {
    io::bad_file(label, "unsupported .npy version " + std::to_string(major));
  }
  if (data_start > in.size()) io::bad_file(label, "the header length is larger than the file");
  std::string text(header_len, '\0');
  in.read(text.data(), header_len, data_start - header_len);
  NpyHeader h = HeaderParser(text, label).parse();

  // descr: a byte-order character and a type code.
  std::string d = h.descr;
  char order = '|';
  if (!d.empty() && (d[0] == '<' || d[0] == '>' || d[0] == '|' || d[0] == '=')) {
    order = d[0];
    d = d.substr(1);
  }
  Dtype dtype = float32;
  bool found = false;
  for (int i = 0; i < kNumDtypes && !found; ++i)
    if (d == npy_code((Dtype)i)) dtype = (Dtype)i, found = true;
  if (!found) {
    if (d == "b") dtype = bool_, found = true;  // older writers
    else if (d == "?") dtype = bool_, found = true;
  }
  if (!found) io::bad_file(label, "unsupported dtype '" + h.descr + "'");
  bool swap = order == '>' && size_of(dtype) > 1;

  Shape shape;
  for (auto v : h.shape) {
    if (v > INT32_MAX)
      throw std::overflow_error("[load] " + label + ": dimension " + std::to_string(v) +
                                " does not fit in 32 bits.");
    shape.push_back((int32_t)v);
  }
  // Fortran order: the data is the transpose's row-major layout.
  Shape stored = shape;
  if (h.fortran) std::reverse(stored.begin(), stored.end());
  array out = io::read_array(in, data_start, stored, dtype, "the array");
  if (swap) {
    if (dtype == complex64) byteswap(out.raw_ptr(), out.size() * 2, 4);
    else byteswap(out.raw_ptr(), out.size(), size_of(dtype));
  }
  if (h.fortran && shape.size() > 1) {
    std::vector<int> perm(shape.size());
    for (size_t i = 0; i < perm.size(); ++i) perm[i] = (int)(perm.size() - 1 - i);
    out = transpose(out, perm);
  }
  return out;
}

array load_npy(const std::string& path) {
  auto in = io::open_reader(path);
  return load_npy(*in);
}

void save_npy(io::Writer& out, const array& a) {
  array x = io::contiguous_host(a);
  std::string header = "{'descr': '";
  header += size_of(x.dtype()) == 1 ? '|' : '<';
  header += npy_code(x.dtype());
  header += "', 'fortran_order': False, 'shape': (";
  for (int i = 0; i < x.ndim(); ++i) header += (i ? ", " : "") + std::to_string(x.shape(i));
  if (x.ndim() == 1) header += ",";  // a one-element tuple
  header += "), }";
  // Pad so the data starts on a 64-byte boundary; the header ends with a newline.
  size_t pre = header.size() + 1 + 10 <= 65535 + 10 ? 10 : 12;
  size_t total = pre + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string head(kMagic, 6);
  if (pre == 10) {
    head += '\x01';
    head += '\x00';
    head += (char)(header.size() & 0xff);
    head += (char)((header.size() >> 8) & 0xff);
  } else {
    head += '\x02';
    head += '\x00';
    for (int i = 0; i < 4; ++i) head += (char)((header.size() >> (8 * i)) & 0xff);
  }
  out.write(head.data(), head.size());
  out.write(header.data(), header.size());
  out.write(x.raw_ptr(), x.nbytes());
}

void save_npy(const std::string& path, const array& a) {
  array x = io::contiguous_host(a);  // evaluate before creating the file
  auto out = io::open_writer(path);
  save_npy(*out, x);
}

}  // namespace ember
