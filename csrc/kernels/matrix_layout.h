#pragma once
// How a row-major BLAS (OpenBLAS, or cuBLAS on the transposed problem) can
// read a strided matrix without a copy: as it is, or through the transpose flag.
#include <algorithm>
#include <cstdint>
#include <vector>
#include "kernels/strided_loop.h"

namespace pyad::kernels {

struct MatLayout {
  bool ok;
  bool trans;
  int64_t ld;
};

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

// A matmul problem as the op hands it to a backend: a (..., m, k) @ b (..., k, n) into a contiguous
// out (..., m, n), with broadcast batch dims.
struct MatmulDims {
  int64_t m, n, k;
  Shape batch;
  MatmulDims(const Tensor& a, const Tensor& out)
      : m(out.shape()[out.ndim() - 2]),
        n(out.shape()[out.ndim() - 1]),
        k(a.shape()[a.ndim() - 1]),
        batch(out.shape().begin(), out.shape().end() - 2) {}
  // Element strides of t's batch dims (all but its last two) broadcast to `batch`.
  std::vector<int64_t> batch_strides(const Tensor& t) const {
    Tensor v = make_view(t, Shape(t.shape().begin(), t.shape().end() - 2),
                         Shape(t.strides().begin(), t.strides().end() - 2), t->offset);
    return broadcast_strides(v, batch);
  }
};

}  // namespace pyad::kernels
