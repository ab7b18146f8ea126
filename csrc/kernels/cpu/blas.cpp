// Matrix products through OpenBLAS (scipy-openblas32). A 2-d operand whose
// rows or columns are unit-stride is passed as is, with the transpose flag
// saying which: views such as x.T are never copied. Matrix-vector shapes go
// to gemv, which streams the matrix once.
#include <cblas.h>
#include "kernels/kernels.h"
#include "kernels/matrix_layout.h"
#include "kernels/cpu/gemv.h"
#include "kernels/cpu/loops.h"
#include "kernels/cpu/parallel.h"

namespace pyad::kernels::cpu {

namespace {

// OpenBLAS reads its own variables when it loads; from the first product on it follows pyad's one thread
// setting (Note [CPU kernel threads] in parallel.h).
void sync_blas_threads() {
  static const bool synced = [] {
    scipy_openblas_set_num_threads(num_threads());
    return true;
  }();
  (void)synced;
}

// y = op(a) x with a stored row-major (rows x cols, leading dim lda); op = transpose when `trans`.
// Contiguous vectors take our bandwidth-bound kernels (gemv.cpp), strided ones OpenBLAS.
template <class T>
void gemv(bool trans, int64_t rows, int64_t cols, const T* a, int64_t lda, const T* x, int64_t incx, T* y) {
  if (incx == 1) {
    if (trans) gemv_cols<T>(a, lda, rows, cols, x, y);
    else gemv_rows<T>(a, lda, rows, cols, x, y);
    return;
  }
  auto TA = trans ? CblasTrans : CblasNoTrans;
  sync_blas_threads();
  if constexpr (std::is_same_v<T, double>)
    scipy_cblas_dgemv(CblasRowMajor, TA, rows, cols, 1.0, a, lda, x, incx, 0.0, y, 1);
  else scipy_cblas_sgemv(CblasRowMajor, TA, rows, cols, 1.0f, a, lda, x, incx, 0.0f, y, 1);
}

template <class T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb, T* c) {
  sync_blas_threads();
  auto TA = ta ? CblasTrans : CblasNoTrans;
  auto TB = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, double>)
    scipy_cblas_dgemm(CblasRowMajor, TA, TB, m, n, k, 1.0, a, lda, b, ldb, 0.0, c, n);
  else scipy_cblas_sgemm(CblasRowMajor, TA, TB, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n);
}

}  // namespace

void matmul(const Tensor& a, const Tensor& b, const Tensor& out) {
  const MatmulDims dims(a, out);
  const int64_t m = dims.m, n = dims.n, k = dims.k;
  if (out.numel() == 0) return;
  if (k == 0) {
    fill(out, 0.0);
    return;
  }
  // An operand BLAS cannot read as it is (no unit stride in either matrix dim) is copied once.
  auto readable = [](const Tensor& t) {
    int64_t r = t.ndim();
    if (layout(t.shape()[r - 2], t.shape()[r - 1], t.strides()[r - 2], t.strides()[r - 1]).ok) return t;
    Tensor c = empty(t.shape(), t.dtype());
    copy(t, c);
    return c;
  };
  const Tensor A = readable(a), B = readable(b);
  const int64_t ra = A.ndim(), rb = B.ndim();
  const int64_t a_rs = A.strides()[ra - 2], a_cs = A.strides()[ra - 1];
  const int64_t b_rs = B.strides()[rb - 2], b_cs = B.strides()[rb - 1];
  const MatLayout LA = layout(m, k, a_rs, a_cs), LB = layout(k, n, b_rs, b_cs);

  const Shape& batch = dims.batch;
  const auto sa = dims.batch_strides(A), sb = dims.batch_strides(B);
  const int64_t nbatch = numel_of(batch);

  PYAD_DISPATCH_FLOAT(out.dtype(), "matmul", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    for (int64_t bi = 0; bi < nbatch; ++bi) {
      int64_t oa = 0, ob = 0, rem = bi;
      for (int64_t d = static_cast<int64_t>(batch.size()) - 1; d >= 0; --d) {
        int64_t i = rem % batch[d];
        rem /= batch[d];
        oa += i * sa[d];
        ob += i * sb[d];
      }
      const T* pa = A.data<T>() + oa;
      const T* pb = B.data<T>() + ob;
      T* pc = out.data<T>() + bi * m * n;
      if (n == 1 && (b_rs != 0 || k == 1)) {
        // y = A x; A stored transposed is a k x m row-major matrix read with Trans.
        gemv<T>(LA.trans, LA.trans ? k : m, LA.trans ? m : k, pa, LA.ld, pb, k == 1 ? 1 : b_rs, pc);
      } else if (m == 1 && (a_cs != 0 || k == 1)) {
        // y = x B = B^T x.
        gemv<T>(!LB.trans, LB.trans ? n : k, LB.trans ? k : n, pb, LB.ld, pa, k == 1 ? 1 : a_cs, pc);
      } else {
        gemm<T>(LA.trans, LB.trans, m, n, k, pa, LA.ld, pb, LB.ld, pc);
      }
    }
  });
}

}  // namespace pyad::kernels::cpu

namespace pyad::kernels {

// One setting for OpenBLAS and pyad's own kernel pool.
void set_blas_threads(int n) {
  cpu::sync_blas_threads();
  cpu::set_num_threads(n);
  scipy_openblas_set_num_threads(n);
}
int blas_threads() { return cpu::num_threads(); }
int64_t set_parallel_min_bytes(int64_t bytes) { return cpu::set_parallel_min_bytes(bytes); }

}  // namespace pyad::kernels
