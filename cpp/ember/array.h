// The array: a cheap handle to a node of the lazy graph.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <iterator>
#include <iosfwd>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "ember/device.h"
#include "ember/dtype.h"

namespace ember {

using Shape = std::vector<int32_t>;
using Strides = std::vector<int64_t>;

class Primitive;
class array;

namespace allocator {
struct Buffer;
}

// An owned block of memory; returned to the allocator's cache when the last view goes.
struct Data {
  void* ptr = nullptr;
  size_t bytes = 0;
  explicit Data(size_t nbytes);
  // Memory owned elsewhere (an exporter such as a DLPack producer): `release` hands it back.
  // Such a buffer is never lent to an op's output, so Ember never writes into it.
  Data(void* external, size_t nbytes, std::function<void()> release);
  ~Data();
  bool external() const { return (bool)release_; }
  Data(const Data&) = delete;
  Data& operator=(const Data&) = delete;

 private:
  std::function<void()> release_;
};

struct Flags {
  bool contiguous = true;      // elements occupy a dense span [ptr, ptr + data_size)
  bool row_contiguous = true;  // C order
  bool col_contiguous = true;  // Fortran order
};

// The dtype a C++ value makes when none is given, as in MLX: a double makes float32 (like
// a Python float); every other type makes its own dtype.
template <typename T>
struct default_dtype_of {
  static constexpr Dtype value = dtype_of<T>::value;
};
template <>
struct default_dtype_of<double> {
  static constexpr Dtype value = float32;
};

int64_t shape_size(const Shape& s);
// The element count of `s` holding `dtype`, for a shape about to become an array: a
// negative dimension raises std::invalid_argument, and an element count or byte size that
// int64 cannot hold raises std::overflow_error, both naming `op`.
int64_t checked_size(const Shape& s, Dtype dtype, const char* op);
Strides row_strides(const Shape& s);
// Layout flags of a view with the given shape and strides (size-1 axes don't count).
Flags view_flags(const Shape& shape, const Strides& strides);

class array {
 public:
  enum class Status : uint8_t { unscheduled, scheduled, available };

  array() = default;
  // Scalars and initializer lists (default dtypes as in MLX: see default_dtype_of).
  template <typename T, typename = std::enable_if_t<std::is_arithmetic_v<T> ||
                                                    std::is_same_v<T, complex64_t>>>
  explicit array(T v, Dtype dtype = default_dtype_of<T>::value);
  template <typename T>
  array(std::initializer_list<T> data, Dtype dtype = default_dtype_of<T>::value);
  template <typename T>
  array(std::initializer_list<T> data, Shape shape, Dtype dtype = default_dtype_of<T>::value);
  // shape_size(shape) elements read from an iterator (a pointer, vector.begin(), ...).
  template <typename It, typename V = typename std::iterator_traits<It>::value_type,
            typename = std::enable_if_t<std::is_arithmetic_v<V> || std::is_same_v<V, complex64_t>>>
  array(It data, Shape shape, Dtype dtype = default_dtype_of<V>::value);
  // Raw data of dtype `from`, converted to `dtype`.
  array(const void* data, Shape shape, Dtype from, Dtype dtype);
  // An unevaluated node.
  array(Shape shape, Dtype dtype, std::shared_ptr<Primitive> prim, std::vector<array> inputs);
  // A view of the evaluated array `src` (its buffer from `offset_elems` on, with the given shape
  // and strides), itself evaluated: no primitive, nothing to schedule.
  static array view(const array& src, Shape shape, Strides strides, int64_t offset_elems);
  // Several outputs of one primitive.
  static std::vector<array> make_arrays(std::vector<Shape> shapes, std::vector<Dtype> dtypes,
                                        std::shared_ptr<Primitive> prim,
                                        std::vector<array> inputs);

  // ---- metadata
  const Shape& shape() const { return d().shape; }
  int32_t shape(int dim) const;
  const Strides& strides() const { return d().strides; }
  int64_t strides(int dim) const;
  Dtype dtype() const { return d().dtype; }
  size_t size() const { return d().size; }
  int ndim() const { return (int)d().shape.size(); }
  size_t itemsize() const { return size_of(dtype()); }
  size_t nbytes() const { return size() * itemsize(); }
  const Flags& flags() const { return d().flags; }
  size_t data_size() const { return d().data_size; }
  bool valid() const { return (bool)desc_; }

  // ---- graph
  bool has_primitive() const { return (bool)d().prim; }
  Primitive& primitive() const { return *d().prim; }
  const std::shared_ptr<Primitive>& primitive_ptr() const { return d().prim; }
  std::vector<array>& inputs() const { return d().inputs; }
  std::vector<array> outputs() const;  // this array and its siblings, in primitive order
  std::vector<array> siblings() const;
  int sibling_position() const { return d().position; }
  bool has_siblings() const { return d().siblings && d().siblings->size() > 1; }
  Status status() const { return d().status.load(std::memory_order_acquire); }
  void set_status(Status s) const { d().status.store(s, std::memory_order_release); }
  bool is_available() const { return status() == Status::available; }
  const void* id() const { return desc_.get(); }
  // Arrays traced by a transformation keep their graph when evaluated.
  bool is_tracer() const { return d().tracer; }
  void set_tracer(bool t) const { d().tracer = t; }
  long use_count() const { return desc_.use_count(); }

  // ---- data
  void eval();
  template <typename T>
  T item();
  template <typename T>
  T item() const {
    return array(*this).item<T>();
  }
  template <typename T>
  T* data() { return static_cast<T*>(d().ptr); }
  template <typename T>
  const T* data() const { return static_cast<const T*>(d().ptr); }
  void* raw_ptr() const { return d().ptr; }
  const std::shared_ptr<Data>& buffer() const { return d().data; }

  // Kernels use these to give an output its memory.
  void set_data(std::shared_ptr<Data> buf);  // row-contiguous over the whole shape
  void set_data(std::shared_ptr<Data> buf, size_t data_size, Strides strides, Flags flags,
                int64_t offset_elems = 0);
  void copy_shared_buffer(const array& other, const Strides& strides, Flags flags,
                          size_t data_size, int64_t offset_elems = 0);
  void copy_shared_buffer(const array& other);
  // An input whose buffer nothing else can see may lend it to an output.
  bool is_donatable() const;
  void move_shared_buffer(const array& other);

  // Drop the primitive and inputs after evaluation.
  void detach();
  void set_error(std::exception_ptr e);
  std::exception_ptr error() const { return d().error; }

  struct Desc {
    Shape shape;
    Strides strides;
    Dtype dtype = float32;
    size_t size = 0;
    size_t data_size = 0;
    Flags flags;
    std::shared_ptr<Data> data;
    void* ptr = nullptr;
    std::shared_ptr<Primitive> prim;
    std::vector<array> inputs;
    // All outputs of a multi-output primitive, held weakly (null for one output).
    std::shared_ptr<std::vector<std::weak_ptr<Desc>>> siblings;
    std::shared_ptr<std::vector<std::pair<Shape, Dtype>>> sibling_meta;
    int position = 0;
    bool tracer = false;
    std::atomic<Status> status{Status::unscheduled};
    std::exception_ptr error;
    ~Desc();
    Desc(Shape s, Dtype t);
    Desc(Shape s, Strides st, Dtype t);
  };
  std::shared_ptr<Desc> desc_;

 private:
  Desc& d() const {
    if (!desc_) throw std::invalid_argument("[array] Use of an empty (uninitialised) array.");
    return *desc_;
  }
  void init_from(const void* data, Dtype from);
};

// ---------- printing

// An array's text as MLX prints it, e.g. "array([1, 2], dtype=int32)" (evaluates the
// array). Booleans read True/False in Python's spelling, true/false in C++'s, as in MLX.
std::string array_to_string(const array& a, bool python_bools = false);
std::ostream& operator<<(std::ostream& os, const array& a);
std::ostream& operator<<(std::ostream& os, Dtype t);
std::ostream& operator<<(std::ostream& os, const Shape& s);  // (2,3), as MLX writes shapes

// ---------- templates

void convert_scalar_to(const void* src, Dtype from, void* dst, Dtype to);

template <typename T, typename>
array::array(T v, Dtype dtype) : desc_(std::make_shared<Desc>(Shape{}, dtype)) {
  init_from(&v, dtype_of<T>::value);
}

template <typename T>
array::array(std::initializer_list<T> data, Dtype dtype)
    : desc_(std::make_shared<Desc>(Shape{(int32_t)data.size()}, dtype)) {
  init_from(data.begin(), dtype_of<T>::value);
}

template <typename T>
array::array(std::initializer_list<T> data, Shape shape, Dtype dtype)
    : desc_(std::make_shared<Desc>(std::move(shape), dtype)) {
  if ((size_t)shape_size(this->shape()) != data.size())
    throw std::invalid_argument("[array] Data size does not match the shape.");
  init_from(data.begin(), dtype_of<T>::value);
}

template <typename It, typename V, typename>
array::array(It data, Shape shape, Dtype dtype) : desc_(std::make_shared<Desc>(std::move(shape), dtype)) {
  std::unique_ptr<V[]> v(new V[this->size()]);
  for (size_t i = 0; i < this->size(); ++i) v[i] = *data++;
  init_from(v.get(), dtype_of<V>::value);
}

template <typename T>
T array::item() {
  if (size() != 1) throw std::invalid_argument("[item] Only size-1 arrays can be converted to scalars.");
  eval();
  T out;
  convert_scalar_to(raw_ptr(), dtype(), &out, dtype_of<T>::value);
  return out;
}

}  // namespace ember
