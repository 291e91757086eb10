// DLPack: array.__dlpack__ / __dlpack_device__ and mx.from_dlpack, zero-copy on the CPU.
// The structures follow the DLPack specification (legacy and versioned capsules).
#include "utils.h"

using namespace pybind11::literals;

namespace {

struct DLDevice {
  int32_t device_type;
  int32_t device_id;
};
struct DLDataType {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
};
struct DLTensor {
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;
  int64_t* strides;
  uint64_t byte_offset;
};
struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor*);
};
struct DLPackVersion {
  uint32_t major;
  uint32_t minor;
};
struct DLManagedTensorVersioned {
  DLPackVersion version;
  void* manager_ctx;
  void (*deleter)(DLManagedTensorVersioned*);
  uint64_t flags;
  DLTensor dl_tensor;
};

constexpr int32_t kDLCPU = 1, kDLCUDAHost = 3;
constexpr uint8_t kDLInt = 0, kDLUInt = 1, kDLFloat = 2, kDLBfloat = 4, kDLComplex = 5, kDLBool = 6;
constexpr uint64_t kReadOnly = 1;

DLDataType dl_type(Dtype t) {
  uint8_t bits = (uint8_t)(size_of(t) * 8);
  switch (kind(t)) {
    case DtypeKind::Bool: return {kDLBool, 8, 1};
    case DtypeKind::Unsigned: return {kDLUInt, bits, 1};
    case DtypeKind::Signed: return {kDLInt, bits, 1};
    case DtypeKind::Complex: return {kDLComplex, bits, 1};
    case DtypeKind::Floating: return {t == bfloat16 ? kDLBfloat : kDLFloat, bits, 1};
  }
  return {};
}

Dtype from_dl_type(DLDataType t) {
  if (t.lanes != 1) throw py::type_error("[from_dlpack] Vector element types (lanes > 1) are not supported.");
  for (int i = 0; i < kNumDtypes; ++i) {
    DLDataType c = dl_type((Dtype)i);
    if (c.code == t.code && c.bits == t.bits) return (Dtype)i;
  }
  throw py::type_error("[from_dlpack] Unsupported element type (code " + std::to_string(t.code) + ", " +
                       std::to_string(t.bits) + " bits).");
}

// What an exported capsule owns: the array (keeping its buffer alive) and the shape arrays.
struct Export {
  array a;
  std::vector<int64_t> shape, strides;
};

template <typename M>
void fill(M* m, Export* e) {
  auto& t = m->dl_tensor;
  t.data = e->a.raw_ptr();
  t.device = {kDLCPU, 0};
  t.ndim = e->a.ndim();
  t.dtype = dl_type(e->a.dtype());
  t.shape = e->shape.data();
  t.strides = e->strides.data();
  t.byte_offset = 0;
  m->manager_ctx = e;
}

template <typename M>
void delete_managed(M* m) {
  delete static_cast<Export*>(m->manager_ctx);
  delete m;
}

template <typename M>
void capsule_destructor(PyObject* cap, const char* name) {
  // A capsule nobody consumed still owns its tensor.
  if (PyCapsule_IsValid(cap, name)) {
    auto* m = static_cast<M*>(PyCapsule_GetPointer(cap, name));
    if (m && m->deleter) m->deleter(m);
  }
}

py::object to_dlpack(const array& self, const py::object& max_version, const py::object& dl_device,
                     const py::object& copy) {
  if (!dl_device.is_none()) {
    auto dev = dl_device.cast<std::pair<int, int>>();
    if (dev.first != kDLCPU)
      throw py::buffer_error("[__dlpack__] Ember arrays live on the CPU (device type 1); cannot export to device type " +
                             std::to_string(dev.first) + ".");
  }
  array a = self;
  a.eval();
  if (!copy.is_none() && copy.cast<bool>()) {
    a = ember::copy(a);
    a.eval();
  }
  auto* e = new Export{a, {}, {}};
  for (int i = 0; i < a.ndim(); ++i) {
    e->shape.push_back(a.shape(i));
    e->strides.push_back(a.strides(i));
  }
  bool versioned = false;
  if (!max_version.is_none()) {
    auto v = max_version.cast<std::pair<int, int>>();
    versioned = v.first >= 1;
  }
  if (versioned) {
    auto* m = new DLManagedTensorVersioned{};
    m->version = {1, 0};
    m->deleter = delete_managed<DLManagedTensorVersioned>;
    m->flags = kReadOnly;  // Ember arrays are values: consumers read them
    fill(m, e);
    return py::reinterpret_steal<py::object>(PyCapsule_New(m, "dltensor_versioned", [](PyObject* c) {
      capsule_destructor<DLManagedTensorVersioned>(c, "dltensor_versioned");
    }));
  }
  auto* m = new DLManagedTensor{};
  m->deleter = delete_managed<DLManagedTensor>;
  fill(m, e);
  return py::reinterpret_steal<py::object>(
      PyCapsule_New(m, "dltensor", [](PyObject* c) { capsule_destructor<DLManagedTensor>(c, "dltensor"); }));
}

// Views the producer's memory; the producer's deleter runs when the last view goes.
template <typename M>
array view_managed(M* m) {
  DLTensor& t = m->dl_tensor;
  if (t.device.device_type != kDLCPU && t.device.device_type != kDLCUDAHost) {
    m->deleter(m);
    throw py::value_error("[from_dlpack] Only CPU tensors can be imported (device type " +
                          std::to_string(t.device.device_type) + ").");
  }
  Dtype dtype;
  try {
    dtype = from_dl_type(t.dtype);
  } catch (...) {
    m->deleter(m);
    throw;
  }
  Shape shape;
  Strides strides;
  for (int i = 0; i < t.ndim; ++i) {
    if (t.shape[i] > INT32_MAX) {
      m->deleter(m);
      throw std::overflow_error("[from_dlpack] Dimension " + std::to_string(t.shape[i]) + " does not fit in 32 bits.");
    }
    shape.push_back((int32_t)t.shape[i]);
  }
  Strides row = row_strides(shape);
  for (int i = 0; i < t.ndim; ++i) strides.push_back(t.strides ? t.strides[i] : row[i]);
  int64_t lo = 0, hi = 0, n = shape_size(shape);
  for (int i = 0; i < t.ndim; ++i) {
    if (shape[i] == 0) continue;
    int64_t span = (int64_t)(shape[i] - 1) * strides[i];
    (span < 0 ? lo : hi) += span;
  }
  size_t item = size_of(dtype);
  char* base = static_cast<char*>(t.data) + t.byte_offset + lo * (int64_t)item;
  size_t data_size = n == 0 ? 0 : (size_t)(hi - lo + 1);
  auto release = [m]() {
    if (!Py_IsInitialized() || _Py_IsFinalizing()) return;
    py::gil_scoped_acquire gil;
    m->deleter(m);
  };
  auto buf = std::make_shared<Data>(base, data_size * item, release);
  array out(shape, dtype, nullptr, {});
  out.set_data(buf, data_size, strides, view_flags(shape, strides), -lo);
  out.set_status(array::Status::available);
  return out;
}

array from_dlpack(const py::object& x, const py::object& copy) {
  if (!py::hasattr(x, "__dlpack__"))
    throw py::type_error("[from_dlpack] Expected an object with __dlpack__; got " +
                         std::string(py::str(py::type::handle_of(x).attr("__name__"))) + ".");
  if (py::hasattr(x, "__dlpack_device__")) {
    auto dev = x.attr("__dlpack_device__")().cast<std::pair<int, int>>();
    if (dev.first != kDLCPU && dev.first != kDLCUDAHost)
      throw py::value_error("[from_dlpack] Only CPU tensors can be imported (device type " +
                            std::to_string(dev.first) + ").");
  }
  py::object cap;
  try {
    cap = x.attr("__dlpack__")("max_version"_a = py::make_tuple(1, 0));
  } catch (py::error_already_set& e) {
    if (!e.matches(PyExc_TypeError)) throw;
    cap = x.attr("__dlpack__")();
  }
  array out;
  if (PyCapsule_IsValid(cap.ptr(), "dltensor_versioned")) {
    auto* m = static_cast<DLManagedTensorVersioned*>(PyCapsule_GetPointer(cap.ptr(), "dltensor_versioned"));
    PyCapsule_SetName(cap.ptr(), "used_dltensor_versioned");
    if (m->version.major > 1) {
      m->deleter(m);
      throw py::value_error("[from_dlpack] Unsupported DLPack version " + std::to_string(m->version.major) + ".");
    }
    out = view_managed(m);
  } else if (PyCapsule_IsValid(cap.ptr(), "dltensor")) {
    auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(cap.ptr(), "dltensor"));
    PyCapsule_SetName(cap.ptr(), "used_dltensor");
    out = view_managed(m);
  } else {
    throw py::type_error("[from_dlpack] __dlpack__ did not return a DLPack capsule.");
  }
  if (!copy.is_none() && copy.cast<bool>()) {
    out = ember::copy(out);
    out.eval();
  }
  return out;
}

}  // namespace

void init_dlpack(py::module_& m) {
  auto cls = py::reinterpret_borrow<py::class_<array>>(m.attr("array"));
  cls.def("__dlpack__",
          [](const array& a, const py::object& /*stream*/, const py::object& max_version,
             const py::object& dl_device, const py::object& copy) {
            return to_dlpack(a, max_version, dl_device, copy);
          },
          py::kw_only(), "stream"_a = py::none(), "max_version"_a = py::none(), "dl_device"_a = py::none(),
          "copy"_a = py::none(), "Export the array through DLPack (CPU memory, read-only, zero-copy).");
  cls.def("__dlpack_device__", [](const array&) { return py::make_tuple(kDLCPU, 0); },
          "The DLPack device of the array: (1, 0), the CPU.");
  m.def("from_dlpack", &from_dlpack, "x"_a, py::pos_only(), py::kw_only(), "copy"_a = py::none(),
        "Create an array from an object that supports DLPack, sharing its memory unless copy=True.");
}
