#pragma once
#include <cstdint>
#include <string>
#include "core/error.h"

namespace pyad {

enum class DType : uint8_t { Bool = 0, Int64 = 1, Float32 = 2, Float64 = 3 };

inline size_t itemsize(DType t) {
  switch (t) {
    case DType::Bool: return 1;
    case DType::Int64: return 8;
    case DType::Float32: return 4;
    case DType::Float64: return 8;
  }
  return 0;
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::Bool: return "bool";
    case DType::Int64: return "int64";
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
  }
  return "?";
}

inline bool is_floating(DType t) { return t == DType::Float32 || t == DType::Float64; }

// Type promotion between two tensors, as torch: the higher category wins
// (bool < int64 < float32 < float64).
inline DType promote(DType a, DType b) { return static_cast<uint8_t>(a) > static_cast<uint8_t>(b) ? a : b; }

inline DType default_float() { return DType::Float32; }

// The float dtype an op that needs floats computes in (int/bool -> float32).
inline DType to_floating(DType t) { return is_floating(t) ? t : default_float(); }

}  // namespace pyad

// Run the generic lambda (taking a typed null pointer) given last for the C++ type of dtype.
#define PYAD_DISPATCH_FLOAT(dtype, op, ...)                                                            \
  [&] {                                                                                                \
    switch (dtype) {                                                                                   \
      case ::pyad::DType::Float32: return (__VA_ARGS__)(static_cast<float*>(nullptr));                 \
      case ::pyad::DType::Float64: return (__VA_ARGS__)(static_cast<double*>(nullptr));                \
      default:                                                                                         \
        throw ::pyad::TypeError(                                                                       \
            ::pyad::cat_str("[", op, "] expected a floating dtype, got ", ::pyad::dtype_name(dtype))); \
    }                                                                                                  \
  }()

#define PYAD_DISPATCH_ALL(dtype, op, ...)                                               \
  [&] {                                                                                 \
    switch (dtype) {                                                                    \
      case ::pyad::DType::Float32: return (__VA_ARGS__)(static_cast<float*>(nullptr));  \
      case ::pyad::DType::Float64: return (__VA_ARGS__)(static_cast<double*>(nullptr)); \
      case ::pyad::DType::Int64: return (__VA_ARGS__)(static_cast<int64_t*>(nullptr));  \
      case ::pyad::DType::Bool: return (__VA_ARGS__)(static_cast<bool*>(nullptr));      \
    }                                                                                   \
    throw ::pyad::TypeError(::pyad::cat_str("[", op, "] unknown dtype"));               \
  }()
