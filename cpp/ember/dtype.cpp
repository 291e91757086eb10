#include "ember/dtype.h"

#include <stdexcept>

namespace ember {

int size_of(Dtype t) {
  static const int sizes[kNumDtypes] = {1, 1, 2, 4, 8, 1, 2, 4, 8, 2, 2, 4, 8, 8};
  return sizes[(int)t];
}

DtypeKind kind(Dtype t) {
  switch (t) {
    case Dtype::Bool: return DtypeKind::Bool;
    case Dtype::UInt8: case Dtype::UInt16: case Dtype::UInt32: case Dtype::UInt64:
      return DtypeKind::Unsigned;
    case Dtype::Int8: case Dtype::Int16: case Dtype::Int32: case Dtype::Int64:
      return DtypeKind::Signed;
    case Dtype::Complex64: return DtypeKind::Complex;
    default: return DtypeKind::Floating;
  }
}

const char* dtype_name(Dtype t) {
  static const char* names[kNumDtypes] = {
      "bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16",
      "int32", "int64", "float16", "bfloat16", "float32", "float64", "complex64"};
  return names[(int)t];
}

// The promotion lattice: bool < unsigned/signed integers < floating < complex.
Dtype promote_types(Dtype a, Dtype b) {
  if (a == b) return a;
  DtypeKind ka = kind(a), kb = kind(b);
  if (ka == DtypeKind::Bool) return b;
  if (kb == DtypeKind::Bool) return a;
  if (ka == DtypeKind::Complex || kb == DtypeKind::Complex) return complex64;
  if (ka == DtypeKind::Floating && kb == DtypeKind::Floating) {
    if (a == float64 || b == float64) return float64;
    if (a == float32 || b == float32) return float32;
    return float32;  // float16 with bfloat16
  }
  if (ka == DtypeKind::Floating) return a;
  if (kb == DtypeKind::Floating) return b;
  if (ka == kb) return size_of(a) >= size_of(b) ? a : b;
  // one signed, one unsigned
  Dtype s = ka == DtypeKind::Signed ? a : b;
  Dtype u = ka == DtypeKind::Signed ? b : a;
  if (size_of(s) > size_of(u)) return s;
  switch (size_of(u)) {
    case 1: return int16;
    case 2: return int32;
    case 4: return int64;
    default: return float32;
  }
}

}  // namespace ember
