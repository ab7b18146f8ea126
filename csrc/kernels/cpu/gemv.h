#pragma once
#include <cstdint>

namespace pyad::kernels::cpu {

// y = A x for a row-major rows x cols matrix A (leading dim lda) and contiguous x, y.
template <class T> void gemv_rows(const T* A, int64_t lda, int64_t rows, int64_t cols, const T* x, T* y);
// y = A^T g for the same A: y has cols entries, g has rows.
template <class T> void gemv_cols(const T* A, int64_t lda, int64_t rows, int64_t cols, const T* g, T* y);

}  // namespace pyad::kernels::cpu
