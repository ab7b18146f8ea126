#pragma once
// How a row-major BLAS (OpenBLAS, or cuBLAS on the transposed problem) can
// read a strided matrix without a copy: as it is, or through the transpose flag.
#include <algorithm>
#include <cstdint>

namespace pyad::kernels {

struct MatLayout { bool ok; bool trans; int64_t ld; };

// A rows x cols matrix with element strides (rs, cs).
inline MatLayout layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  if (cs == 1 || cols == 1) {
    int64_t ld = rows == 1 ? std::max<int64_t>(1, cols) : rs;
    if (ld >= std::max<int64_t>(1, cols)) return {true, false, ld};
  }
  if (rs == 1 || rows == 1) {
    int64_t ld = cols == 1 ? std::max<int64_t>(1, rows) : cs;
    if (ld >= std::max<int64_t>(1, rows)) return {true, true, ld};
  }
  return {false, false, 0};
}

}  // namespace pyad::kernels
