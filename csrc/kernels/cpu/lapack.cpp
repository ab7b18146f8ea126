// Dense linear algebra on the CPU through the LAPACK that scipy-openblas32 ships (its LAPACKE, with the
// scipy_ prefix). Matrices arrive as contiguous row-major batches. The routines on the hot paths (LU, its
// solve and inverse, Cholesky) read a row-major matrix as the column-major transpose that it is and factor
// that, so no square matrix is ever transposed: only a solve's right-hand side is, when it has several columns.
// The others (QR, eigh, SVD) go through LAPACKE's row-major layout, which transposes in and out.
#include <cblas.h>
#include <lapacke.h>
#include <algorithm>
#include <vector>
#include "kernels/kernels.h"
#include "kernels/linalg_batch.h"

namespace pyad::kernels::cpu {

namespace {

// LAPACKE scans every input for NaN by default and reports it as a bad argument; torch lets NaN flow through
// to the results instead, and so do we.
struct NoNanCheck {
  NoNanCheck() { scipy_LAPACKE_set_nancheck(0); }
};
void no_nan_check() { static NoNanCheck once; }

constexpr int RM = LAPACK_ROW_MAJOR, CM = LAPACK_COL_MAJOR;

// The s/d entry points, picked by element type.
// Column-major calls on the row-major buffer: they factor A^T (see the file comment).
lapack_int getrf(lapack_int n, float* a, lapack_int* p) { return scipy_LAPACKE_sgetrf(CM, n, n, a, n, p); }
lapack_int getrf(lapack_int n, double* a, lapack_int* p) { return scipy_LAPACKE_dgetrf(CM, n, n, a, n, p); }
// b column-major (n x k, leading dim n)
lapack_int getrs(char t, lapack_int n, lapack_int k, const float* a, const lapack_int* p, float* b) {
  return scipy_LAPACKE_sgetrs(CM, t, n, k, a, n, p, b, n);
}
lapack_int getrs(char t, lapack_int n, lapack_int k, const double* a, const lapack_int* p, double* b) {
  return scipy_LAPACKE_dgetrs(CM, t, n, k, a, n, p, b, n);
}
lapack_int getri(lapack_int n, float* a, const lapack_int* p) { return scipy_LAPACKE_sgetri(CM, n, a, n, p); }
lapack_int getri(lapack_int n, double* a, const lapack_int* p) { return scipy_LAPACKE_dgetri(CM, n, a, n, p); }
// The upper factor of the column-major A^T = A (the row-major lower triangle) is, read row-major, L.
lapack_int potrf(lapack_int n, float* a) { return scipy_LAPACKE_spotrf(CM, 'U', n, a, n); }
lapack_int potrf(lapack_int n, double* a) { return scipy_LAPACKE_dpotrf(CM, 'U', n, a, n); }
void trsm(bool left, CBLAS_UPLO u, CBLAS_TRANSPOSE t, CBLAS_DIAG d, lapack_int n, lapack_int k, const float* a,
          float* b) {
  if (left) scipy_cblas_strsm(CblasRowMajor, CblasLeft, u, t, d, n, k, 1.0f, a, n, b, k);
  else scipy_cblas_strsm(CblasRowMajor, CblasRight, u, t, d, k, n, 1.0f, a, n, b, n);
}
void trsm(bool left, CBLAS_UPLO u, CBLAS_TRANSPOSE t, CBLAS_DIAG d, lapack_int n, lapack_int k, const double* a,
          double* b) {
  if (left) scipy_cblas_dtrsm(CblasRowMajor, CblasLeft, u, t, d, n, k, 1.0, a, n, b, k);
  else scipy_cblas_dtrsm(CblasRowMajor, CblasRight, u, t, d, k, n, 1.0, a, n, b, n);
}
lapack_int geqrf(lapack_int m, lapack_int n, float* a, float* tau) { return scipy_LAPACKE_sgeqrf(RM, m, n, a, n, tau); }
lapack_int geqrf(lapack_int m, lapack_int n, double* a, double* tau) {
  return scipy_LAPACKE_dgeqrf(RM, m, n, a, n, tau);
}
lapack_int orgqr(lapack_int m, lapack_int n, lapack_int k, float* a, const float* tau) {
  return scipy_LAPACKE_sorgqr(RM, m, n, k, a, n, tau);
}
lapack_int orgqr(lapack_int m, lapack_int n, lapack_int k, double* a, const double* tau) {
  return scipy_LAPACKE_dorgqr(RM, m, n, k, a, n, tau);
}
lapack_int syevd(char jobz, char uplo, lapack_int n, float* a, float* w) {
  return scipy_LAPACKE_ssyevd(RM, jobz, uplo, n, a, n, w);
}
lapack_int syevd(char jobz, char uplo, lapack_int n, double* a, double* w) {
  return scipy_LAPACKE_dsyevd(RM, jobz, uplo, n, a, n, w);
}
lapack_int gesdd(char jobz, lapack_int m, lapack_int n, float* a, float* s, float* u, lapack_int ldu, float* vt,
                 lapack_int ldvt) {
  return scipy_LAPACKE_sgesdd(RM, jobz, m, n, a, n, s, u, ldu, vt, ldvt);
}
lapack_int gesdd(char jobz, lapack_int m, lapack_int n, double* a, double* s, double* u, lapack_int ldu, double* vt,
                 lapack_int ldvt) {
  return scipy_LAPACKE_dgesdd(RM, jobz, m, n, a, n, s, u, ldu, vt, ldvt);
}

using linalg::batch;
using linalg::cols;
using linalg::rows;

// A negative info is a bad argument: a bug of ours, never the user's data.
void check_args(lapack_int info, const char* routine) {
  PYAD_CHECK(info >= 0, RuntimeError, "[linalg] LAPACK's ", routine, " rejected argument ", -info);
}

}  // namespace

void lu_factor(const Tensor& a, const Tensor& pivots, const Tensor& info) {
  no_nan_check();
  const lapack_int n = static_cast<lapack_int>(rows(a));
  std::vector<lapack_int> p(static_cast<size_t>(std::max<lapack_int>(n, 1)));
  PYAD_DISPATCH_FLOAT(a.dtype(), "linalg.lu_factor", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    for (int64_t i = 0; i < batch(a); ++i) {
      const lapack_int r = getrf(n, a.data<T>() + i * n * n, p.data());
      check_args(r, "getrf");
      info.data<int64_t>()[i] = r;
      std::copy(p.begin(), p.begin() + n, pivots.data<int64_t>() + i * n);
    }
  });
}

void lu_solve(const Tensor& lu, const Tensor& pivots, const Tensor& b, bool adjoint) {
  no_nan_check();
  const lapack_int n = static_cast<lapack_int>(rows(lu)), k = static_cast<lapack_int>(cols(b));
  if (n == 0 || k == 0) return;
  std::vector<lapack_int> p(static_cast<size_t>(n));
  PYAD_DISPATCH_FLOAT(lu.dtype(), "linalg.lu_solve", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    // The factors are A^T's: A x = b is (A^T)^T x = b, getrs' 'T'; A^T x = b is its 'N'.
    const char trans = adjoint ? 'N' : 'T';
    std::vector<T> col(k > 1 ? static_cast<size_t>(n) * k : 0);  // b's columns, column-major
    for (int64_t i = 0; i < batch(b); ++i) {
      const int64_t* pi = pivots.data<int64_t>() + i * n;
      std::transform(pi, pi + n, p.begin(), [](int64_t v) { return static_cast<lapack_int>(v); });
      T* bi = b.data<T>() + i * n * k;
      T* work = k > 1 ? col.data() : bi;  // a single column is the same in both layouts
      if (k > 1)
        for (lapack_int r = 0; r < n; ++r)
          for (lapack_int c = 0; c < k; ++c) work[c * n + r] = bi[r * k + c];
      check_args(getrs(trans, n, k, lu.data<T>() + i * n * n, p.data(), work), "getrs");
      if (k > 1)
        for (lapack_int r = 0; r < n; ++r)
          for (lapack_int c = 0; c < k; ++c) bi[r * k + c] = work[c * n + r];
    }
  });
}

void lu_inverse(const Tensor& lu, const Tensor& pivots, const Tensor& info) {
  no_nan_check();
  const lapack_int n = static_cast<lapack_int>(rows(lu));
  std::vector<lapack_int> p(static_cast<size_t>(std::max<lapack_int>(n, 1)));
  PYAD_DISPATCH_FLOAT(lu.dtype(), "linalg.inv", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    for (int64_t i = 0; i < batch(lu); ++i) {
      if (info.data<int64_t>()[i] != 0) continue;  // singular: the caller raises
      const int64_t* pi = pivots.data<int64_t>() + i * n;
      std::transform(pi, pi + n, p.begin(), [](int64_t v) { return static_cast<lapack_int>(v); });
      // (A^T)^{-1} column-major is A^{-1} row-major
      const lapack_int r = getri(n, lu.data<T>() + i * n * n, p.data());
      check_args(r, "getri");
      info.data<int64_t>()[i] = r;
    }
  });
}

void cholesky(const Tensor& a, const Tensor& info) {
  no_nan_check();
  const lapack_int n = static_cast<lapack_int>(rows(a));
  PYAD_DISPATCH_FLOAT(a.dtype(), "linalg.cholesky", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    for (int64_t i = 0; i < batch(a); ++i) {
      T* m = a.data<T>() + i * n * n;
      const lapack_int r = potrf(n, m);
      check_args(r, "potrf");
      info.data<int64_t>()[i] = r;
      for (lapack_int row = 0; row < n; ++row) std::fill(m + row * n + row + 1, m + (row + 1) * n, T(0));
    }
  });
}

void triangular_solve(const Tensor& a, const Tensor& b, bool upper, bool transpose, bool unit, bool left) {
  const lapack_int n = static_cast<lapack_int>(rows(a));
  const lapack_int k = static_cast<lapack_int>(left ? cols(b) : rows(b));
  if (n == 0 || k == 0) return;
  const CBLAS_UPLO u = upper ? CblasUpper : CblasLower;
  const CBLAS_TRANSPOSE t = transpose ? CblasTrans : CblasNoTrans;
  const CBLAS_DIAG d = unit ? CblasUnit : CblasNonUnit;
  PYAD_DISPATCH_FLOAT(a.dtype(), "linalg.solve_triangular", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    for (int64_t i = 0; i < batch(b); ++i) trsm(left, u, t, d, n, k, a.data<T>() + i * n * n, b.data<T>() + i * n * k);
  });
}

void qr(const Tensor& a, const Tensor& q, const Tensor& r) {
  no_nan_check();
  const lapack_int m = static_cast<lapack_int>(rows(a)), n = static_cast<lapack_int>(cols(a));
  const lapack_int k = std::min(m, n), kq = static_cast<lapack_int>(cols(q)), kr = static_cast<lapack_int>(rows(r));
  const int64_t nb = linalg::qr_batch(q, r);
  PYAD_DISPATCH_FLOAT(a.dtype(), "linalg.qr", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    std::vector<T> tau(static_cast<size_t>(std::max<lapack_int>(k, 1)));
    for (int64_t i = 0; i < nb; ++i) {
      T* ai = a.data<T>() + i * m * n;
      if (k > 0) check_args(geqrf(m, n, ai, tau.data()), "geqrf");
      // R: the upper triangle of the first kr rows (zeros below it)
      T* ri = r.data<T>() + i * kr * n;
      for (lapack_int row = 0; row < kr; ++row)
        for (lapack_int c = 0; c < n; ++c) ri[row * n + c] = c >= row ? ai[row * n + c] : T(0);
      if (kq == 0 || m == 0) continue;
      // Q: the Householder vectors below the diagonal, expanded in a buffer with kq columns
      T* qi = q.data<T>() + i * m * kq;
      for (lapack_int row = 0; row < m; ++row)
        for (lapack_int c = 0; c < kq; ++c) qi[row * kq + c] = c < n ? ai[row * n + c] : T(0);
      check_args(orgqr(m, kq, k, qi, tau.data()), "orgqr");
    }
  });
}

void eigh(const Tensor& a, const Tensor& w, bool upper, bool vectors, const Tensor& info) {
  no_nan_check();
  const lapack_int n = static_cast<lapack_int>(rows(a));
  PYAD_DISPATCH_FLOAT(a.dtype(), "linalg.eigh", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    for (int64_t i = 0; i < batch(a); ++i) {
      const lapack_int r =
          syevd(vectors ? 'V' : 'N', upper ? 'U' : 'L', n, a.data<T>() + i * n * n, w.data<T>() + i * n);
      check_args(r, "syevd");
      info.data<int64_t>()[i] = r;
    }
  });
}

void svd(const Tensor& a, const Tensor& u, const Tensor& s, const Tensor& vh, bool full, const Tensor& info) {
  no_nan_check();
  const lapack_int m = static_cast<lapack_int>(rows(a)), n = static_cast<lapack_int>(cols(a));
  const lapack_int k = std::min(m, n);
  const bool values_only = u.numel() == 0;
  const char jobz = values_only ? 'N' : (full ? 'A' : 'S');
  const lapack_int ku = full ? m : k, kv = full ? n : k;
  PYAD_DISPATCH_FLOAT(a.dtype(), "linalg.svd", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    T dummy[1] = {T(0)};
    for (int64_t i = 0; i < batch(a); ++i) {
      T* ui = values_only ? dummy : u.data<T>() + i * m * ku;
      T* vi = values_only ? dummy : vh.data<T>() + i * kv * n;
      const lapack_int r = gesdd(jobz, m, n, a.data<T>() + i * m * n, s.data<T>() + i * k, ui, values_only ? 1 : ku, vi,
                                 values_only ? 1 : n);
      check_args(r, "gesdd");
      info.data<int64_t>()[i] = r;
    }
  });
}

}  // namespace pyad::kernels::cpu
