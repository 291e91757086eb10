// Reading and writing arrays in the common file formats: .npy, .safetensors, .gguf.
// (.npz archives are assembled by the Python layer from .npy members.)
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "ember/array.h"

namespace ember {

// A file that does not exist (FileNotFoundError in Python). Every other problem with a
// file's contents is a std::invalid_argument (ValueError) naming the file and the problem;
// failures of the system calls themselves are a std::system_error (OSError).
class file_not_found : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace io {

// A source of bytes with random access: a file, or anything the bindings adapt.
class Reader {
 public:
  virtual ~Reader() = default;
  virtual std::string label() const = 0;  // names the source in error messages
  virtual uint64_t size() = 0;
  // Exactly `n` bytes at `offset` into `dst`; a short read is an error naming the source.
  virtual void read(void* dst, size_t n, uint64_t offset) = 0;
};

class Writer {
 public:
  virtual ~Writer() = default;
  virtual std::string label() const = 0;
  virtual void write(const void* src, size_t n) = 0;
};

std::unique_ptr<Reader> open_reader(const std::string& path);
std::unique_ptr<Writer> open_writer(const std::string& path);
// A reader over bytes held in memory (`data` must outlive it).
std::unique_ptr<Reader> memory_reader(const void* data, size_t n, std::string label);

}  // namespace io

using ArrayMap = std::map<std::string, array>;
using StringMap = std::map<std::string, std::string>;

// ---------- .npy
array load_npy(io::Reader& in);
array load_npy(const std::string& path);
void save_npy(io::Writer& out, const array& a);
void save_npy(const std::string& path, const array& a);

// ---------- .safetensors
std::pair<ArrayMap, StringMap> load_safetensors(io::Reader& in);
std::pair<ArrayMap, StringMap> load_safetensors(const std::string& path);
void save_safetensors(io::Writer& out, const ArrayMap& arrays, const StringMap& metadata = {});
void save_safetensors(const std::string& path, const ArrayMap& arrays, const StringMap& metadata = {});

// ---------- .gguf
// A metadata value: a numeric scalar (0-d array) or numeric list (1-d array), a string, or a
// list of strings.
using GGUFValue = std::variant<array, std::string, std::vector<std::string>>;
using GGUFMeta = std::map<std::string, GGUFValue>;
// Quantized tensors (Q4_0, Q4_1, Q8_0) load as affine-quantized weights: `name` (packed
// uint32), `name.scales` and `name.biases` (float16), with groups of 32.
std::pair<ArrayMap, GGUFMeta> load_gguf(io::Reader& in);
std::pair<ArrayMap, GGUFMeta> load_gguf(const std::string& path);
void save_gguf(io::Writer& out, const ArrayMap& arrays, const GGUFMeta& metadata = {});
void save_gguf(const std::string& path, const ArrayMap& arrays, const GGUFMeta& metadata = {});

namespace io {
// Shared helpers of the formats.
[[noreturn]] void bad_file(const std::string& label, const std::string& what);
// An evaluated, row-contiguous array whose buffer is read straight from `in`.
array read_array(Reader& in, uint64_t offset, Shape shape, Dtype dtype, const std::string& what);
// `a` evaluated and row-contiguous (a copy when it is a strided view).
array contiguous_host(const array& a);
}  // namespace io

}  // namespace ember
