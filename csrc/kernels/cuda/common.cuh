#pragma once
// What every CUDA kernel file shares: error checks, the launch shape, and the
// strided offset calculator built from the CPU loop's coalesced dims (so the
// GPU walks exactly the iteration space the CPU tests check).
#include <cuda_runtime.h>
#include <array>
#include "kernels/kernels.h"
#include "kernels/math.h"
#include "kernels/strided_loop.h"
#include "core/device_runtime.h"
#include "core/cuda/cuda_check.cuh"

namespace pyad::gpu {

constexpr int kThreads = 256;
// The most blocks gridDim.x takes (y and z take 65535): kernels with a block per item loop past it.
constexpr int64_t kMaxGridX = 0x7fffffff;
// A grid for a grid-stride loop over n items: enough blocks to fill the GPU, no more.
inline unsigned grid_for(int64_t n, int threads = kThreads) {
  int64_t want = (n + threads - 1) / threads;
  int64_t cap = static_cast<int64_t>(sm_count()) * 32;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min(want, cap)));
}

// Byte offsets of N operands at a linear index of the iteration space.
constexpr int kMaxDims = 16;
template <int N>
struct Offsets {
  int ndim = 0;
  int64_t sizes[kMaxDims];          // outer ... inner
  int64_t strides[kMaxDims][N];     // bytes

  __device__ __forceinline__ void at(int64_t i, int64_t (&off)[N]) const {
    if (ndim == 1) {  // one coalesced dim: no division
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] = i * strides[0][k];
      return;
    }
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      int64_t q = i / sizes[d];
      int64_t r = i - q * sizes[d];
      i = q;
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] += r * strides[d][k];
    }
  }
};

template <int N>
Offsets<N> to_offsets(const kernels::Loop<N>& l, const char* op) {
  PYAD_CHECK(l.shape.size() <= static_cast<size_t>(kMaxDims), RuntimeError, "[", op, "] the CUDA kernels take at most ",
             kMaxDims, " non-mergeable dims, got ", l.shape.size());
  Offsets<N> o;
  o.ndim = static_cast<int>(l.shape.size());
  for (int d = 0; d < o.ndim; ++d) {
    o.sizes[d] = l.shape[d];
    for (int k = 0; k < N; ++k) o.strides[d][k] = l.strides[d][k];
  }
  return o;
}

// Offsets of operands broadcast to `shape` (operand 0 is usually the output).
template <int N>
Offsets<N> offsets_for(const Shape& shape, const std::array<const Tensor*, N>& ts, const std::array<int64_t, N>& sizes,
                       const char* op) {
  std::array<std::vector<int64_t>, N> st;
  for (int k = 0; k < N; ++k) st[k] = kernels::broadcast_strides(*ts[k], shape);
  return to_offsets<N>(kernels::make_loop<N>(shape, st, sizes, kernels::Walk::Output), op);
}

// Operand base pointers, passed by value to a kernel.
template <int N>
struct Ptrs {
  char* p[N];
};

template <class T>
__device__ __forceinline__ T& ref(char* base, int64_t off) {
  return *reinterpret_cast<T*>(base + off);
}

}  // namespace pyad::gpu
