// Fused CUDA kernels of the training loop: cross entropy over rows of logits (a block per row forward, one
// elementwise pass backward) and the multi-tensor optimizer steps (several tensors per launch, the per-element
// update of kernels/optim_math.h, as the CPU's).
#include <algorithm>
#include <cmath>
#include "kernels/cuda/common.cuh"
#include "kernels/optim_math.h"

namespace pyad::kernels::cuda {

namespace {

template <class C>
__device__ __forceinline__ double warp_combine(double v, C comb) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = comb(v, __shfl_down_sync(0xffffffffu, v, o));
  return v;
}

// The block's combined value, to every thread (blockDim.x a multiple of 32).
template <class C>
__device__ double block_combine(double v, C comb, double init) {
  __shared__ double partial[32];
  __shared__ double result;
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
  v = warp_combine(v, comb);
  if (lane == 0) partial[w] = v;
  __syncthreads();
  if (w == 0) {
    double x = lane < static_cast<int>(blockDim.x >> 5) ? partial[lane] : init;
    x = warp_combine(x, comb);
    if (lane == 0) result = x;
  }
  __syncthreads();
  const double r = result;
  __syncthreads();
  return r;
}

template <class T>
__global__ void cross_entropy_rows_kernel(const T* x, const int64_t* target, int64_t ts, int64_t ignore_index, T* loss,
                                          T* lse, int64_t m, int64_t c) {
  for (int64_t i = blockIdx.x; i < m; i += gridDim.x) {
    const T* row = x + i * c;
    double mx = -INFINITY;
    for (int64_t j = threadIdx.x; j < c; j += blockDim.x) mx = math::MaxCombine{}(mx, static_cast<double>(row[j]));
    mx = block_combine(mx, math::MaxCombine{}, -INFINITY);
    const double shift = static_cast<double>(static_cast<T>(math::SoftmaxShift{}(mx)));
    double s = 0;
    for (int64_t j = threadIdx.x; j < c; j += blockDim.x) s += exp(static_cast<double>(row[j]) - shift);
    s = block_combine(s, math::Add{}, 0.0);
    if (threadIdx.x == 0) {
      const T l = static_cast<T>(shift + log(s));
      lse[i] = l;
      const int64_t t = target[i * ts];
      loss[i] = t == ignore_index ? T(0) : static_cast<T>(l - row[t]);
    }
  }
}

template <class T>
__global__ void cross_entropy_rows_backward_kernel(const T* x, const int64_t* target, int64_t ts, int64_t ignore_index,
                                                   const T* lse, const T* g, int64_t gs, T* out, int64_t n, int64_t c) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < n; k += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = k / c, j = k - i * c;
    const int64_t t = target[i * ts];
    if (t == ignore_index) {
      out[k] = T(0);
      continue;
    }
    const T gi = g[i * gs];
    const T v = math::mul_rn(gi, static_cast<T>(exp(static_cast<double>(x[k]) - static_cast<double>(lse[i]))));
    out[k] = j == t ? v - gi : v;
  }
}

// Up to kChunk tensors per launch, passed by value (the kernel's parameter space holds them): blockIdx.y picks the
// tensor, a grid-stride loop in x walks its elements.
constexpr int kChunk = 24;
template <class T, int N>
struct TensorChunk {
  T* ptr[N][kChunk];
  int64_t numel[kChunk];
};

template <class T, bool Amsgrad, bool L2, bool SmallWeight>
__global__ void adam_kernel(TensorChunk<T, 5> c, math::AdamUpdate<T> up) {
  const int t = blockIdx.y;
  const int64_t n = c.numel[t];
  T *p = c.ptr[0][t], *g = c.ptr[1][t], *m = c.ptr[2][t], *v = c.ptr[3][t], *vmax = c.ptr[4][t];
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < n; j += int64_t(gridDim.x) * blockDim.x)
    up.template apply<Amsgrad, L2, SmallWeight>(p[j], g[j], m[j], v[j], Amsgrad ? vmax + j : nullptr);
}

template <class T, bool Momentum, bool First, bool Decay, bool Nesterov>
__global__ void sgd_kernel(TensorChunk<T, 3> c, math::SgdUpdate<T> up) {
  const int t = blockIdx.y;
  const int64_t n = c.numel[t];
  T *p = c.ptr[0][t], *g = c.ptr[1][t], *buf = c.ptr[2][t];
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < n; j += int64_t(gridDim.x) * blockDim.x)
    up.template apply<Momentum, First, Decay, Nesterov>(p[j], g[j], Momentum ? buf + j : nullptr);
}

// Launch `launch(chunk, count, most)` over the lists in chunks; lists[k] may be empty (a null pointer).
template <class T, int N, class Launch>
void for_chunks(const std::array<const std::vector<Tensor>*, N>& lists, Launch launch) {
  const size_t total = lists[0]->size();
  for (size_t start = 0; start < total; start += kChunk) {
    TensorChunk<T, N> chunk{};
    const int count = static_cast<int>(std::min<size_t>(kChunk, total - start));
    int64_t most = 0;
    for (int i = 0; i < count; ++i) {
      for (int k = 0; k < N; ++k)
        chunk.ptr[k][i] = lists[k]->empty() ? nullptr : static_cast<T*>((*lists[k])[start + i].raw_data());
      chunk.numel[i] = (*lists[0])[start + i].numel();
      most = std::max(most, chunk.numel[i]);
    }
    if (most > 0) launch(chunk, count, most);
  }
}

}  // namespace

void cross_entropy_rows(const Tensor& x, const Tensor& target, int64_t ignore_index, const Tensor& loss,
                        const Tensor& lse) {
  const int64_t m = x.shape()[0], c = x.shape()[1];
  if (m == 0) return;
  PYAD_DISPATCH_FLOAT(x.dtype(), "cross_entropy", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const int threads = static_cast<int>(std::min<int64_t>(gpu::kThreads, std::max<int64_t>(32, (c + 31) / 32 * 32)));
    cross_entropy_rows_kernel<T><<<static_cast<unsigned>(std::min(m, gpu::kMaxGridX)), threads, 0, gpu::stream()>>>(
        static_cast<const T*>(x.raw_data()), static_cast<const int64_t*>(target.raw_data()), target.strides()[0],
        ignore_index, static_cast<T*>(loss.raw_data()), static_cast<T*>(lse.raw_data()), m, c);
    gpu::check_launch("cross_entropy");
  });
}

void cross_entropy_rows_backward(const Tensor& x, const Tensor& target, int64_t ignore_index, const Tensor& lse,
                                 const Tensor& g, const Tensor& grad_x) {
  const int64_t n = x.numel(), c = x.shape()[1];
  if (n == 0) return;
  PYAD_DISPATCH_FLOAT(x.dtype(), "cross_entropy", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    cross_entropy_rows_backward_kernel<T><<<gpu::grid_for(n), gpu::kThreads, 0, gpu::stream()>>>(
        static_cast<const T*>(x.raw_data()), static_cast<const int64_t*>(target.raw_data()), target.strides()[0],
        ignore_index, static_cast<const T*>(lse.raw_data()), static_cast<const T*>(g.raw_data()), g.strides()[0],
        static_cast<T*>(grad_x.raw_data()), n, c);
    gpu::check_launch("cross_entropy");
  });
}

void adam_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const std::vector<Tensor>& exp_avgs,
               const std::vector<Tensor>& exp_avg_sqs, const std::vector<Tensor>& max_exp_avg_sqs,
               const AdamScalars& s) {
  PYAD_DISPATCH_FLOAT(params[0].dtype(), "adam", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const math::AdamUpdate<T> up(s);
    for_chunks<T, 5>({&params, &grads, &exp_avgs, &exp_avg_sqs, &max_exp_avg_sqs},
                     [&](const TensorChunk<T, 5>& chunk, int count, int64_t most) {
                       const dim3 grid(std::max(1u, gpu::grid_for(most) / static_cast<unsigned>(count)), count);
                       math::with_flag(s.amsgrad, [&](auto ams) {
                         math::with_flag(up.l2, [&](auto l2) {
                           math::with_flag(up.small_weight, [&](auto small) {
                             adam_kernel<T, decltype(ams)::value, decltype(l2)::value, decltype(small)::value>
                                 <<<grid, gpu::kThreads, 0, gpu::stream()>>>(chunk, up);
                           });
                         });
                       });
                       gpu::check_launch("adam");
                     });
  });
}

void sgd_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
              const std::vector<Tensor>& momentum_buffers, const SgdScalars& s) {
  PYAD_DISPATCH_FLOAT(params[0].dtype(), "sgd", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const math::SgdUpdate<T> up(s);
    for_chunks<T, 3>(
        {&params, &grads, &momentum_buffers}, [&](const TensorChunk<T, 3>& chunk, int count, int64_t most) {
          const dim3 grid(std::max(1u, gpu::grid_for(most) / static_cast<unsigned>(count)), count);
          math::with_flag(!momentum_buffers.empty(), [&](auto mom) {
            math::with_flag(up.first, [&](auto first) {
              math::with_flag(up.decay, [&](auto decay) {
                math::with_flag(up.nesterov, [&](auto nesterov) {
                  sgd_kernel<T, decltype(mom)::value, decltype(first)::value, decltype(decay)::value,
                             decltype(nesterov)::value><<<grid, gpu::kThreads, 0, gpu::stream()>>>(chunk, up);
                });
              });
            });
          });
          gpu::check_launch("sgd");
        });
  });
}

namespace {
template <class T>
__global__ void embedding_rows_kernel(const T* w, const int64_t* idx, T* out, int64_t total, int64_t d) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < total; k += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = k / d, j = k - i * d;
    out[k] = w[idx[i] * d + j];
  }
}
// Repeated indices add into one row from several threads: atomically (in no fixed order, as torch's).
template <class T>
__global__ void embedding_rows_backward_kernel(T* gw, const int64_t* idx, const T* g, int64_t total, int64_t d) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < total; k += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = k / d, j = k - i * d;
    atomicAdd(gw + idx[i] * d + j, g[k]);
  }
}
}  // namespace

void embedding_rows(const Tensor& weight, const Tensor& index, const Tensor& out) {
  const int64_t total = out.numel(), d = weight.shape()[1];
  if (total == 0) return;
  PYAD_DISPATCH_FLOAT(weight.dtype(), "embedding", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    embedding_rows_kernel<T><<<gpu::grid_for(total), gpu::kThreads, 0, gpu::stream()>>>(
        static_cast<const T*>(weight.raw_data()), static_cast<const int64_t*>(index.raw_data()),
        static_cast<T*>(out.raw_data()), total, d);
    gpu::check_launch("embedding");
  });
}

void embedding_rows_backward(const Tensor& grad_weight, const Tensor& index, const Tensor& g) {
  const int64_t total = g.numel(), d = grad_weight.shape()[1];
  if (total == 0) return;
  PYAD_DISPATCH_FLOAT(g.dtype(), "embedding", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    embedding_rows_backward_kernel<T><<<gpu::grid_for(total), gpu::kThreads, 0, gpu::stream()>>>(
        static_cast<T*>(grad_weight.raw_data()), static_cast<const int64_t*>(index.raw_data()),
        static_cast<const T*>(g.raw_data()), total, d);
    gpu::check_launch("embedding");
  });
}

}  // namespace pyad::kernels::cuda
