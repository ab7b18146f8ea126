#pragma once
// Shapes, strides and broadcasting. Strides are in elements, as torch's.
#include <cstdint>
#include <string>
#include <vector>
#include "core/error.h"

namespace pyad {

using Shape = std::vector<int64_t>;

inline int64_t numel_of(const Shape& s) {
  int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

inline Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (int i = static_cast<int>(s.size()) - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= s[i] > 1 ? s[i] : 1;
  }
  return st;
}

// NumPy broadcasting of two shapes; `op` names the caller in the error.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// Wrap a possibly negative dim into [0, ndim); IndexError names the op.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);

// The set of dims to reduce (empty `dims` means all); duplicates raise.
std::vector<bool> reduce_mask(const std::vector<int64_t>& dims, int64_t ndim, const char* op);

}  // namespace pyad
