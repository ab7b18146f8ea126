// CUDA matrix products: our own tiled kernel, always there, and cuBLAS when
// it can be loaded at run time (dlopen; pyad never links it). Both read
// strided operands in place: cuBLAS through its transpose flags, our kernel
// through the strides themselves, so x.T and batched views are never copied.
#include <mutex>
#include "kernels/matrix_layout.h"
#include "kernels/cuda/cublas.cuh"
#include "kernels/cuda/dynlib.h"
#include "kernels/cuda/matmul_backend.h"

namespace pyad::gpu {

namespace {
std::mutex g_mutex;
Cublas* g_cublas = nullptr;
std::string g_error = "not loaded yet";
bool g_use_cublas = true;
}  // namespace

Cublas* cublas_for_current_device(Handle* h, bool for_matmul) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_cublas || (for_matmul && !g_use_cublas)) return nullptr;
  int dev = 0;
  PYAD_CUDA_CHECK(cudaGetDevice(&dev));
  *h = device_handle(*g_cublas, dev, stream(), "cuda", "cuBLAS");
  return g_cublas;
}

bool load_cublas(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_cublas) return true;
  void* lib = open_library(path, {"libcublas.so.13", "libcublas.so.12", "libcublas.so"}, &g_error);
  if (!lib) return false;
  auto* c = new Cublas();
  auto sym = [&](const char* name, auto& out) { return find_symbol(lib, name, "cuBLAS", out, &g_error); };
  if (!sym("cublasCreate_v2", c->create) || !sym("cublasSetStream_v2", c->set_stream) ||
      !sym("cublasSgemm_v2", c->sgemm) || !sym("cublasDgemm_v2", c->dgemm) ||
      !sym("cublasSgemmStridedBatched", c->sgemm_batched) || !sym("cublasDgemmStridedBatched", c->dgemm_batched) ||
      !sym("cublasStrsm_v2", c->strsm) || !sym("cublasDtrsm_v2", c->dtrsm)) {
    delete c;
    return false;
  }
  g_cublas = c;
  g_error.clear();
  return true;
}

std::string cublas_error() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_error;
}

std::string matmul_backend() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_cublas && g_use_cublas ? "cublas" : "pyad";
}

void set_matmul_backend(const std::string& name) {
  PYAD_CHECK(name == "pyad" || name == "cublas", ValueError,
             "[cuda.set_matmul_backend] expected 'pyad' or 'cublas', got '", name, "'");
  std::lock_guard<std::mutex> lock(g_mutex);
  PYAD_CHECK(name == "pyad" || g_cublas, RuntimeError, "[cuda.set_matmul_backend] cuBLAS is not loaded: ", g_error,
             " (install pyad[cuda] for it)");
  g_use_cublas = name == "cublas";
}

}  // namespace pyad::gpu

namespace pyad::kernels::cuda {
using gpu::Offsets;

namespace {

// C (m x n, contiguous) = A (m x k, strides a_rs, a_cs) @ B (k x n, strides b_rs, b_cs), one batch per blockIdx.z;
// launch (y0, z0) starts at column tile y0 and batch z0 (gridDim.y and z stop at 65535).
// Each block computes a BM x BN tile, each thread TM x TN of it, through BK-deep slices staged in shared memory.
template <class T, int BM, int BN, int BK, int TM, int TN>
__global__ void __launch_bounds__((BM / TM) * (BN / TN))
    gemm_kernel(int64_t m, int64_t n, int64_t k, const T* A, int64_t a_rs, int64_t a_cs, const T* B, int64_t b_rs,
                int64_t b_cs, T* C, Offsets<3> batch, int64_t y0, int64_t z0) {
  constexpr int TX = BN / TN, NT = (BM / TM) * (BN / TN);
  __shared__ T As[BK][BM];
  __shared__ T Bs[BK][BN];
  int64_t off[3];
  batch.at(z0 + blockIdx.z, off);
  C = reinterpret_cast<T*>(reinterpret_cast<char*>(C) + off[0]);
  A = reinterpret_cast<const T*>(reinterpret_cast<const char*>(A) + off[1]);
  B = reinterpret_cast<const T*>(reinterpret_cast<const char*>(B) + off[2]);
  const int tid = threadIdx.x, tx = tid % TX, ty = tid / TX;
  const int64_t row0 = int64_t(blockIdx.x) * BM, col0 = (y0 + blockIdx.y) * BN;
  // Neighbouring threads load neighbouring addresses: along k when A's rows are unit-stride, else along m.
  const bool a_k_fast = a_cs == 1 || a_rs != 1;
  const bool b_n_fast = b_cs == 1 || b_rs != 1;
  T acc[TM][TN] = {};
  for (int64_t k0 = 0; k0 < k; k0 += BK) {
    for (int e = tid; e < BM * BK; e += NT) {
      int r = a_k_fast ? e / BK : e % BM, kk = a_k_fast ? e % BK : e / BM;
      int64_t gr = row0 + r, gk = k0 + kk;
      As[kk][r] = (gr < m && gk < k) ? A[gr * a_rs + gk * a_cs] : T(0);
    }
    for (int e = tid; e < BK * BN; e += NT) {
      int c = b_n_fast ? e % BN : e / BK, kk = b_n_fast ? e / BN : e % BK;
      int64_t gc = col0 + c, gk = k0 + kk;
      Bs[kk][c] = (gc < n && gk < k) ? B[gk * b_rs + gc * b_cs] : T(0);
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
      T a[TM], b[TN];
#pragma unroll
      for (int i = 0; i < TM; ++i) a[i] = As[kk][ty + i * (BM / TM)];
#pragma unroll
      for (int j = 0; j < TN; ++j) b[j] = Bs[kk][tx + j * TX];
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fma(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < TM; ++i) {
    int64_t r = row0 + ty + i * (BM / TM);
    if (r >= m) continue;
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      int64_t c = col0 + tx + j * TX;
      if (c < n) C[r * n + c] = acc[i][j];
    }
  }
}

// Matrix-vector products stream the matrix once (a tiled GEMM would waste its tile on one column):
// y (rows) = M (rows x k, strides rs, cs) @ v (k, stride vs), one batch per blockIdx.y. M and v are operand
// 1 and 2 of the batch offsets, or 2 and 1 when `swap` (x @ B is computed as B^T x).
template <class T>
__device__ __forceinline__ void gemv_batch(const Offsets<3>& batch, int64_t z, bool swap, T*& y, const T*& M,
                                           const T*& v) {
  int64_t off[3];
  batch.at(z, off);
  y = reinterpret_cast<T*>(reinterpret_cast<char*>(y) + off[0]);
  M = reinterpret_cast<const T*>(reinterpret_cast<const char*>(M) + off[swap ? 2 : 1]);
  v = reinterpret_cast<const T*>(reinterpret_cast<const char*>(v) + off[swap ? 1 : 2]);
}

// A warp per row, its lanes along k: coalesced when M's rows are unit-stride.
template <class T>
__global__ void gemv_warp_kernel(int64_t rows, int64_t k, const T* M, int64_t rs, int64_t cs, const T* v, int64_t vs,
                                 T* y, Offsets<3> batch, int64_t z0, bool swap) {
  gemv_batch(batch, z0 + blockIdx.y, swap, y, M, v);
  const int64_t row = blockIdx.x * int64_t(blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;
  T acc = 0;
  for (int64_t j = lane; j < k; j += 32) acc = fma(M[row * rs + j * cs], v[j * vs], acc);
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) acc += __shfl_down_sync(0xffffffffu, acc, o);
  if (lane == 0) y[row] = acc;
}

// A thread per row: neighbouring threads read neighbouring rows (coalesced when M's columns are unit-stride).
template <class T>
__global__ void gemv_thread_kernel(int64_t rows, int64_t k, const T* M, int64_t rs, int64_t cs, const T* v, int64_t vs,
                                   T* y, Offsets<3> batch, int64_t z0, bool swap) {
  gemv_batch(batch, z0 + blockIdx.y, swap, y, M, v);
  const int64_t row = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (row >= rows) return;
  T acc = 0;
  for (int64_t j = 0; j < k; ++j) acc = fma(M[row * rs + j * cs], v[j * vs], acc);
  y[row] = acc;
}

template <class T>
void launch_gemv(int64_t rows, int64_t k, const T* M, int64_t rs, int64_t cs, const T* v, int64_t vs, T* y,
                 const Offsets<3>& batch, int64_t nbatch, bool swap) {
  const bool warp = cs == 1 || rs != 1;
  const int64_t per_block = warp ? gpu::kThreads / 32 : gpu::kThreads;
  const int64_t gx = (rows + per_block - 1) / per_block;
  for (int64_t z0 = 0; z0 < nbatch; z0 += 65535) {
    dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(std::min<int64_t>(65535, nbatch - z0)));
    if (warp)
      gemv_warp_kernel<T><<<grid, gpu::kThreads, 0, gpu::stream()>>>(rows, k, M, rs, cs, v, vs, y, batch, z0, swap);
    else
      gemv_thread_kernel<T><<<grid, gpu::kThreads, 0, gpu::stream()>>>(rows, k, M, rs, cs, v, vs, y, batch, z0, swap);
    gpu::check_launch("matmul");
  }
}

template <class T, int BM, int BN, int BK, int TM, int TN>
void launch_gemm(int64_t m, int64_t n, int64_t k, const Tensor& a, const Tensor& b, const Tensor& out,
                 const Offsets<3>& batch, int64_t nbatch) {
  const int ra = static_cast<int>(a.ndim()), rb = static_cast<int>(b.ndim());
  const int64_t gx = (m + BM - 1) / BM, gy = (n + BN - 1) / BN;
  for (int64_t z0 = 0; z0 < nbatch; z0 += 65535) {
    for (int64_t y0 = 0; y0 < gy; y0 += 65535) {
      dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(std::min<int64_t>(65535, gy - y0)),
                static_cast<unsigned>(std::min<int64_t>(65535, nbatch - z0)));
      gemm_kernel<T, BM, BN, BK, TM, TN><<<grid, (BM / TM) * (BN / TN), 0, gpu::stream()>>>(
          m, n, k, static_cast<const T*>(a.raw_data()), a.strides()[ra - 2], a.strides()[ra - 1],
          static_cast<const T*>(b.raw_data()), b.strides()[rb - 2], b.strides()[rb - 1],
          static_cast<T*>(out.raw_data()), batch, y0, z0);
      gpu::check_launch("matmul");
    }
  }
}

// cuBLAS is column-major: it computes C^T = B^T A^T, whose operands are our row-major B and A read as they lie.
template <class T>
bool cublas_gemm(int64_t m, int64_t n, int64_t k, const Tensor& a, const Tensor& b, const Tensor& out,
                 const kernels::Loop<3>& bl) {
  gpu::Handle h = nullptr;
  gpu::Cublas* cb = gpu::cublas_for_current_device(&h);
  if (!cb) return false;
  const int64_t ra = a.ndim(), rb = b.ndim();
  const MatLayout LA = layout(m, k, a.strides()[ra - 2], a.strides()[ra - 1]);
  const MatLayout LB = layout(k, n, b.strides()[rb - 2], b.strides()[rb - 1]);
  constexpr int64_t kIntMax = 0x7fffffff;
  if (!LA.ok || !LB.ok || std::max({m, n, k, LA.ld, LB.ld}) > kIntMax) return false;
  // The innermost batch dim goes to the strided-batched call; the rest (rare) is looped here.
  const size_t nd = bl.shape.size();
  const int64_t inner = bl.shape[nd - 1];
  const auto& st = bl.strides[nd - 1];
  if (inner > kIntMax) return false;
  const T one = 1, zero = 0;
  const int ta = LB.trans ? gpu::kOpT : gpu::kOpN, tb = LA.trans ? gpu::kOpT : gpu::kOpN;
  const int64_t outer = numel_of(Shape(bl.shape.begin(), bl.shape.end() - 1));
  for (int64_t o = 0; o < outer; ++o) {
    int64_t offs[3] = {0, 0, 0}, rem = o;
    for (int64_t d = static_cast<int64_t>(nd) - 2; d >= 0; --d) {
      int64_t i = rem % bl.shape[d];
      rem /= bl.shape[d];
      for (int q = 0; q < 3; ++q) offs[q] += i * bl.strides[d][q];
    }
    T* c = reinterpret_cast<T*>(static_cast<char*>(out.raw_data()) + offs[0]);
    const T* pa = reinterpret_cast<const T*>(static_cast<const char*>(a.raw_data()) + offs[1]);
    const T* pb = reinterpret_cast<const T*>(static_cast<const char*>(b.raw_data()) + offs[2]);
    gpu::Status s;
    const long long sc = st[0] / sizeof(T), sa = st[1] / sizeof(T), sb = st[2] / sizeof(T);
    if constexpr (std::is_same_v<T, double>) {
      s = inner == 1
              ? cb->dgemm(h, ta, tb, n, m, k, &one, pb, LB.ld, pa, LA.ld, &zero, c, n)
              : cb->dgemm_batched(h, ta, tb, n, m, k, &one, pb, LB.ld, sb, pa, LA.ld, sa, &zero, c, n, sc, inner);
    } else {
      s = inner == 1
              ? cb->sgemm(h, ta, tb, n, m, k, &one, pb, LB.ld, pa, LA.ld, &zero, c, n)
              : cb->sgemm_batched(h, ta, tb, n, m, k, &one, pb, LB.ld, sb, pa, LA.ld, sa, &zero, c, n, sc, inner);
    }
    PYAD_CHECK(s == 0, RuntimeError, "[matmul] cuBLAS gemm failed with status ", s);
  }
  return true;
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
  // Batch dims of (out, a, b) broadcast and coalesced, in bytes.
  const int64_t isz = static_cast<int64_t>(itemsize(out.dtype()));
  auto bl = kernels::make_loop<3>(dims.batch, {dims.batch_strides(out), dims.batch_strides(a), dims.batch_strides(b)},
                                  {isz, isz, isz});
  PYAD_DISPATCH_FLOAT(out.dtype(), "matmul", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    if (cublas_gemm<T>(m, n, k, a, b, out, bl)) return;
    Offsets<3> offs = gpu::to_offsets<3>(bl, "matmul");
    const int64_t nbatch = numel_of(dims.batch);
    const int64_t ra = a.ndim(), rb = b.ndim();
    const int64_t a_rs = a.strides()[ra - 2], a_cs = a.strides()[ra - 1];
    const int64_t b_rs = b.strides()[rb - 2], b_cs = b.strides()[rb - 1];
    const T* pa = static_cast<const T*>(a.raw_data());
    const T* pb = static_cast<const T*>(b.raw_data());
    T* pc = static_cast<T*>(out.raw_data());
    if (n == 1) return launch_gemv<T>(m, k, pa, a_rs, a_cs, pb, b_rs, pc, offs, nbatch, false);
    if (m == 1) return launch_gemv<T>(n, k, pb, b_cs, b_rs, pa, a_cs, pc, offs, nbatch, true);
    if constexpr (std::is_same_v<T, double>) launch_gemm<T, 64, 64, 16, 4, 4>(m, n, k, a, b, out, offs, nbatch);
    else launch_gemm<T, 128, 128, 8, 8, 8>(m, n, k, a, b, out, offs, nbatch);
  });
}

}  // namespace pyad::kernels::cuda
