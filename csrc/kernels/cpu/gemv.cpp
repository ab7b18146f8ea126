// Matrix-vector products, our own: they are bound by memory bandwidth, and
// this streaming kernel reads at the machine's single-thread bandwidth where
// OpenBLAS's gemv did not (d = 8000, float64: 82-97 ms for the four products of
// benchmarks/bench_core.py against 108-119 ms through OpenBLAS). Large ones
// split across the kernel pool (Note [CPU kernel threads] in parallel.h).
#include <algorithm>
#include "kernels/cpu/gemv.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/parallel.h"

namespace pyad::kernels::cpu {

namespace {

// 32-byte vectors through GCC/Clang vector extensions: AVX where the target
// has it, pairs of SSE2 registers otherwise.
template <class T> struct Vec;
template <> struct Vec<double> {
  typedef double type __attribute__((vector_size(32), aligned(8)));
  static constexpr int n = 4;
};
template <> struct Vec<float> {
  typedef float type __attribute__((vector_size(32), aligned(4)));
  static constexpr int n = 8;
};

template <class T>
inline T hsum(typename Vec<T>::type v) {
  T s = 0;
  for (int i = 0; i < Vec<T>::n; ++i) s += v[i];
  return s;
}

// y[r] = A[r, :] . x for rows [r0, r1); A row-major with leading dim lda, x contiguous.
template <class T>
__attribute__((always_inline)) inline void rows_dot_body(const T* A, int64_t lda, const T* x, T* y, int64_t n,
                                                         int64_t r0, int64_t r1) {
  using V = typename Vec<T>::type;
  constexpr int W = Vec<T>::n;
  const int64_t nv = n / W * W;
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) {
    const T *a0 = A + r * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
    V s0 = {}, s1 = {}, s2 = {}, s3 = {};
    for (int64_t j = 0; j < nv; j += W) {
      V xv = *reinterpret_cast<const V*>(x + j);
      s0 += *reinterpret_cast<const V*>(a0 + j) * xv;
      s1 += *reinterpret_cast<const V*>(a1 + j) * xv;
      s2 += *reinterpret_cast<const V*>(a2 + j) * xv;
      s3 += *reinterpret_cast<const V*>(a3 + j) * xv;
    }
    T t0 = hsum<T>(s0), t1 = hsum<T>(s1), t2 = hsum<T>(s2), t3 = hsum<T>(s3);
    for (int64_t j = nv; j < n; ++j) {
      t0 += a0[j] * x[j];
      t1 += a1[j] * x[j];
      t2 += a2[j] * x[j];
      t3 += a3[j] * x[j];
    }
    y[r] = t0;
    y[r + 1] = t1;
    y[r + 2] = t2;
    y[r + 3] = t3;
  }
  for (; r < r1; ++r) {
    const T* a = A + r * lda;
    V s = {};
    for (int64_t j = 0; j < nv; j += W) s += *reinterpret_cast<const V*>(a + j) * *reinterpret_cast<const V*>(x + j);
    T t = hsum<T>(s);
    for (int64_t j = nv; j < n; ++j) t += a[j] * x[j];
    y[r] = t;
  }
}

// y[:] += sum over rows r in [r0, r1) of g[r] * A[r, :]  (y = A^T g restricted to those rows).
template <class T>
__attribute__((always_inline)) inline void rows_axpy_body(const T* A, int64_t lda, const T* g, T* y, int64_t n,
                                                          int64_t r0, int64_t r1) {
  using V = typename Vec<T>::type;
  constexpr int W = Vec<T>::n;
  const int64_t nv = n / W * W;
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) {
    const T *a0 = A + r * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
    const T g0 = g[r], g1 = g[r + 1], g2 = g[r + 2], g3 = g[r + 3];
    for (int64_t j = 0; j < nv; j += W) {
      V acc = *reinterpret_cast<V*>(y + j);
      acc += *reinterpret_cast<const V*>(a0 + j) * g0 + *reinterpret_cast<const V*>(a1 + j) * g1 +
             *reinterpret_cast<const V*>(a2 + j) * g2 + *reinterpret_cast<const V*>(a3 + j) * g3;
      *reinterpret_cast<V*>(y + j) = acc;
    }
    for (int64_t j = nv; j < n; ++j) y[j] += a0[j] * g0 + a1[j] * g1 + a2[j] * g2 + a3[j] * g3;
  }
  for (; r < r1; ++r) {
    const T* a = A + r * lda;
    const T gr = g[r];
    for (int64_t j = 0; j < n; ++j) y[j] += a[j] * gr;
  }
}

// Each body compiled twice, for AVX2 + FMA and for the baseline target, chosen at run time (Note [Run-time ISA
// dispatch]), so the kernels cannot fault on a CPU without AVX2.
#if PYAD_X86_DISPATCH
template <class T>
PYAD_TARGET_AVX2 void rows_dot_avx2(const T* A, int64_t lda, const T* x, T* y, int64_t n, int64_t r0, int64_t r1) {
  rows_dot_body<T>(A, lda, x, y, n, r0, r1);
}
template <class T>
PYAD_TARGET_AVX2 void rows_axpy_avx2(const T* A, int64_t lda, const T* g, T* y, int64_t n, int64_t r0, int64_t r1) {
  rows_axpy_body<T>(A, lda, g, y, n, r0, r1);
}
#endif

template <class T>
void rows_dot(const T* A, int64_t lda, const T* x, T* y, int64_t n, int64_t r0, int64_t r1) {
#if PYAD_X86_DISPATCH
  if (has_avx2_fma()) return rows_dot_avx2<T>(A, lda, x, y, n, r0, r1);
#endif
  rows_dot_body<T>(A, lda, x, y, n, r0, r1);
}

template <class T>
void rows_axpy(const T* A, int64_t lda, const T* g, T* y, int64_t n, int64_t r0, int64_t r1) {
#if PYAD_X86_DISPATCH
  if (has_avx2_fma()) return rows_axpy_avx2<T>(A, lda, g, y, n, r0, r1);
#endif
  rows_axpy_body<T>(A, lda, g, y, n, r0, r1);
}

}  // namespace

// Rows split in blocks of four (rows_dot's unroll), so each y[r] is computed as on one thread.
template <class T>
void gemv_rows(const T* A, int64_t lda, int64_t rows, int64_t cols, const T* x, T* y) {
  const int64_t blocks = (rows + 3) / 4;
  auto body = [&](int64_t b, int64_t e) { rows_dot<T>(A, lda, x, y, cols, 4 * b, std::min(rows, 4 * e)); };
  const int nt = threads_for(rows * cols * static_cast<int64_t>(sizeof(T)), blocks);
  if (nt <= 1) return body(0, blocks);
  parallel_pieces(nt, blocks, body);
}

// Columns split in blocks of a vector width's multiple: each thread owns its part of y (no partial sums
// to add, no write sharing) and every y[j] sums its rows in the one-thread order.
constexpr int64_t kColumnBlock = 64;
template <class T>
void gemv_cols(const T* A, int64_t lda, int64_t rows, int64_t cols, const T* g, T* y) {
  const int64_t blocks = (cols + kColumnBlock - 1) / kColumnBlock;
  auto body = [&](int64_t b, int64_t e) {
    const int64_t c0 = b * kColumnBlock, c1 = std::min(cols, e * kColumnBlock);
    std::fill(y + c0, y + c1, T(0));
    rows_axpy<T>(A + c0, lda, g, y + c0, c1 - c0, 0, rows);
  };
  const int nt = threads_for(rows * cols * static_cast<int64_t>(sizeof(T)), blocks);
  if (nt <= 1) return body(0, blocks);
  parallel_pieces(nt, blocks, body);
}

template void gemv_rows<float>(const float*, int64_t, int64_t, int64_t, const float*, float*);
template void gemv_rows<double>(const double*, int64_t, int64_t, int64_t, const double*, double*);
template void gemv_cols<float>(const float*, int64_t, int64_t, int64_t, const float*, float*);
template void gemv_cols<double>(const double*, int64_t, int64_t, int64_t, const double*, double*);

}  // namespace pyad::kernels::cpu
