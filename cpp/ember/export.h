// Exported functions: a function traced once per input signature (as compile traces it),
// written to a portable, versioned file or handed to a callback, and read back as a
// callable that replays the graph.
//
// Every primitive that may appear in an exported graph is registered with a way to write
// its parameters (a Writer) and to make it again from them (a Reader): see
// export_registry.cpp, where one line registers a primitive whose constructor takes its
// parameters in the order of its members.
#pragma once

#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeindex>
#include <variant>
#include <vector>

#include "ember/compile.h"
#include "ember/primitive.h"

namespace ember {

// ---------- primitive parameters

// One parameter of a primitive as the file holds it.
using ExportField =
    std::variant<bool, int64_t, double, std::string, std::vector<int64_t>, std::vector<double>, Dtype>;

// The number of values of an enum a primitive keeps (a Reader rejects codes outside it).
// Specialise it next to the registration of a primitive with an enum parameter.
template <typename E>
struct export_enum_size;

class Writer {
 public:
  template <typename T>
  Writer& operator<<(const T& v) {
    if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, Dtype> || std::is_same_v<T, std::string>) {
      fields.emplace_back(v);
    } else if constexpr (std::is_enum_v<T>) {
      fields.emplace_back((int64_t)v);
    } else if constexpr (std::is_integral_v<T>) {
      fields.emplace_back((int64_t)v);
    } else if constexpr (std::is_floating_point_v<T>) {
      fields.emplace_back((double)v);
    } else {
      using E = typename T::value_type;
      if constexpr (std::is_integral_v<E>) {
        fields.emplace_back(std::vector<int64_t>(v.begin(), v.end()));
      } else {
        static_assert(std::is_floating_point_v<E>, "Writer: unsupported parameter type");
        fields.emplace_back(std::vector<double>(v.begin(), v.end()));
      }
    }
    return *this;
  }
  std::vector<ExportField> fields;
};

// Reads the parameters back in the order they were written; a missing parameter, one of
// another type or out of range raises std::runtime_error naming the primitive.
class Reader {
 public:
  Reader(const std::vector<ExportField>& fields, std::string primitive)
      : fields_(fields), primitive_(std::move(primitive)) {}

  template <typename T>
  T get() {
    if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, Dtype> || std::is_same_v<T, std::string>) {
      return take<T>();
    } else if constexpr (std::is_enum_v<T>) {
      int64_t v = take<int64_t>();
      if (v < 0 || v >= (int64_t)export_enum_size<T>::value) fail("an enum value is out of range");
      return (T)v;
    } else if constexpr (std::is_integral_v<T>) {
      return narrow<T>(take<int64_t>());
    } else if constexpr (std::is_floating_point_v<T>) {
      return (T)take<double>();
    } else {
      using E = typename T::value_type;
      T out;
      if constexpr (std::is_integral_v<E>) {
        for (int64_t v : take<std::vector<int64_t>>()) out.push_back(narrow<E>(v));
      } else {
        for (double v : take<std::vector<double>>()) out.push_back((E)v);
      }
      return out;
    }
  }
  template <typename T>
  Reader& operator>>(T& v) {
    v = get<T>();
    return *this;
  }
  // Raises when parameters are left over.
  void finish() const;
  [[noreturn]] void fail(const std::string& what) const;

 private:
  template <typename T>
  T take() {
    if (pos_ >= fields_.size()) fail("a parameter is missing");
    const T* v = std::get_if<T>(&fields_[pos_]);
    if (!v) fail("parameter " + std::to_string(pos_) + " has the wrong type");
    ++pos_;
    return *v;
  }
  template <typename T>
  T narrow(int64_t v) {
    bool ok = std::is_unsigned_v<T> ? v >= 0 && (uint64_t)v <= (uint64_t)std::numeric_limits<T>::max()
                                    : v >= (int64_t)std::numeric_limits<T>::min() &&
                                          v <= (int64_t)std::numeric_limits<T>::max();
    if (!ok) fail("an integer parameter is out of range");
    return (T)v;
  }
  const std::vector<ExportField>& fields_;
  std::string primitive_;
  size_t pos_ = 0;
};

using PrimitiveSaver = std::function<void(const Primitive&, Writer&)>;
using PrimitiveLoader = std::function<std::shared_ptr<Primitive>(Stream, Reader&)>;

// Registers the primitive class `type` under `key` (the name the file holds). A class whose
// instances go by several names (Reduce: Sum, Max, ...) registers once, the variant among
// its parameters.
void register_primitive_export(std::type_index type, const std::string& key, PrimitiveSaver save,
                               PrimitiveLoader load);
// Whether instances of `p`'s class can be exported.
bool primitive_exportable(const Primitive& p);

// Registers P under `key`, its parameters being the given members, which P's constructor
// takes in this order after the stream.
template <typename P, typename... M>
void register_primitive_fields(const std::string& key, M P::*... members) {
  register_primitive_export(
      typeid(P), key,
      [=](const Primitive& p, Writer& w) {
        auto& q = static_cast<const P&>(p);
        ((void)(w << q.*members), ...);
      },
      [](Stream s, Reader& r) -> std::shared_ptr<Primitive> {
        // Braced initialisation reads the parameters in order.
        std::tuple<std::decay_t<M>...> v{r.template get<std::decay_t<M>>()...};
        r.finish();
        return std::apply([&](auto&&... a) { return std::make_shared<P>(s, std::move(a)...); }, std::move(v));
      });
}

// ---------- exporting and importing

using Kwargs = std::map<std::string, array>;
using KwargsFn = std::function<std::vector<array>(const std::vector<array>&, const Kwargs&)>;

// The traced graph as an export callback sees it. Every value has a name ("A", "B", ...).
struct ExportedValue {
  std::string name;
  Shape shape;
  Dtype dtype;
};
struct ExportedNode {
  std::string primitive;                // the registered name
  std::vector<ExportField> arguments;   // its parameters
  std::vector<ExportedValue> inputs, outputs;
};
struct ExportedGraph {
  std::vector<ExportedValue> inputs;  // positional inputs, then keyword inputs by name
  std::vector<std::pair<std::string, std::string>> keywords;  // (keyword, input name)
  std::vector<ExportedValue> outputs;
  std::vector<std::pair<std::string, array>> constants;
  std::vector<ExportedNode> nodes;  // in topological order
};
using ExportCallback = std::function<void(const ExportedGraph&)>;

// Traces `fun` on inputs shaped like args / kwargs and writes the graph to `file`. With
// `shapeless`, the imported function accepts inputs of other shapes of the same ranks.
void export_function(const std::string& file, const Fn& fun, const std::vector<array>& args,
                     bool shapeless = false, const std::string& metadata = "");
void export_function(const std::string& file, const KwargsFn& fun, const std::vector<array>& args,
                     const Kwargs& kwargs, bool shapeless = false, const std::string& metadata = "");
void export_function(const ExportCallback& callback, const KwargsFn& fun, const std::vector<array>& args,
                     const Kwargs& kwargs, bool shapeless = false);

// Writes several traces of one function (one per input signature) to one file; the file is
// complete after each call.
class FunctionExporter {
 public:
  FunctionExporter(const std::string& file, KwargsFn fun, bool shapeless = false,
                   const std::string& metadata = "");
  void operator()(const std::vector<array>& args, const Kwargs& kwargs = {});
  void close();
  bool closed() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};
FunctionExporter exporter(const std::string& file, const KwargsFn& fun, bool shapeless = false,
                          const std::string& metadata = "");
FunctionExporter exporter(const std::string& file, const Fn& fun, bool shapeless = false,
                          const std::string& metadata = "");

// A function read from a file: called with arrays matching one of its traces (by count,
// keyword names, dtypes, and shapes or, for shapeless traces, ranks), it returns the
// outputs as lazy arrays.
class ImportedFunction {
 public:
  std::vector<array> operator()(const std::vector<array>& args) const;
  std::vector<array> operator()(const std::vector<array>& args, const Kwargs& kwargs) const;
  const std::string& metadata() const;
  size_t num_traces() const;

  struct Data;
  explicit ImportedFunction(std::shared_ptr<const Data> d) : d_(std::move(d)) {}

 private:
  std::shared_ptr<const Data> d_;
};
ImportedFunction import_function(const std::string& file);

// The format version this build writes (and the newest it reads).
constexpr uint32_t kExportFormatVersion = 1;

}  // namespace ember
