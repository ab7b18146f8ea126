#pragma once
// cuBLAS as matmul.cu loads it at run time (kernels/cuda/dynlib.h; pyad never links it), declared by hand so the
// build needs no cuBLAS headers: matmul.cu's GEMMs and linalg.cu's triangular solves go through it. The enums'
// values and the entry points' signatures are cuBLAS's own (cublas_api.h); a C enum is passed as an int.
#include "kernels/cuda/common.cuh"

namespace pyad::gpu {

using Handle = void*;
using Status = int;
enum { kOpN = 0, kOpT = 1 };                  // cublasOperation_t
enum { kFillLower = 0, kFillUpper = 1 };      // cublasFillMode_t
enum { kSideLeft = 0, kSideRight = 1 };       // cublasSideMode_t
enum { kDiagNonUnit = 0, kDiagUnit = 1 };     // cublasDiagType_t

struct Cublas {
  Status (*create)(Handle*);
  Status (*set_stream)(Handle, cudaStream_t);
  Status (*sgemm)(Handle, int, int, int, int, int, const float*, const float*, int, const float*, int, const float*,
                  float*, int);
  Status (*dgemm)(Handle, int, int, int, int, int, const double*, const double*, int, const double*, int, const double*,
                  double*, int);
  Status (*sgemm_batched)(Handle, int, int, int, int, int, const float*, const float*, int, long long, const float*,
                          int, long long, const float*, float*, int, long long, int);
  Status (*dgemm_batched)(Handle, int, int, int, int, int, const double*, const double*, int, long long, const double*,
                          int, long long, const double*, double*, int, long long, int);
  // side, uplo, trans, diag, m, n, alpha, A, lda, B, ldb
  Status (*strsm)(Handle, int, int, int, int, int, int, const float*, const float*, int, float*, int);
  Status (*dtrsm)(Handle, int, int, int, int, int, int, const double*, const double*, int, double*, int);
  Handle handles[64] = {};
};

// The cuBLAS handle of the current device, on our stream, in *h. Null where cuBLAS is not loaded, or where
// `for_matmul` and matrix products were sent to pyad's own kernel (set_matmul_backend("pyad")).
Cublas* cublas_for_current_device(Handle* h, bool for_matmul = true);

}  // namespace pyad::gpu
