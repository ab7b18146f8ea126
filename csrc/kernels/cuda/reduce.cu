// CUDA reductions: sums, max/min, logsumexp, softmax and arg max/min.
// Partial results are double (int64 for integers), combined in a tree of warp
// shuffles, so float32 sums are as accurate as the CPU's.
#include <algorithm>
#include <cmath>
#include <limits>
#include "kernels/cuda/common.cuh"

namespace pyad::kernels::cuda {
using gpu::Offsets;
using gpu::ref;

namespace {

template <class T> using acc_t = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

template <class A, class C>
__device__ __forceinline__ A warp_reduce(A v, C comb) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = comb(v, __shfl_down_sync(0xffffffffu, v, o));
  return v;
}

// The block's combined value, returned to every thread. blockDim.x is a multiple of 32.
template <class A, class C>
__device__ A block_reduce(A v, C comb, A init) {
  __shared__ A warp_vals[32];
  __shared__ A result;
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
  v = warp_reduce(v, comb);
  if (lane == 0) warp_vals[w] = v;
  __syncthreads();
  if (w == 0) {
    A x = lane < static_cast<int>(blockDim.x >> 5) ? warp_vals[lane] : init;
    x = warp_reduce(x, comb);
    if (lane == 0) result = x;
  }
  __syncthreads();
  A r = result;
  __syncthreads();  // the shared slots are free for the next call
  return r;
}

// What a reduction applies to each element before combining, and to the total after.
struct Identity {
  template <class A> __device__ A operator()(A v, int64_t) const { return v; }
};
struct ExpShifted {  // exp(x - m[j]): logsumexp's second pass
  const double* m;
  __device__ double operator()(double x, int64_t j) const { return exp(x - m[j]); }
};
struct LogPlusShift {  // log(s) + m[j]
  const double* m;
  __device__ double operator()(double s, int64_t j) const { return log(s) + m[j]; }
};
struct ShiftOfMax {
  __device__ double operator()(double m, int64_t) const { return math::LseShift{}(m); }
};

// The input's dims split into kept ones (one output each) and reduced ones, each group coalesced.
struct Plan {
  int64_t num_out = 1, R = 1;
  Offsets<1> outer, inner;  // input byte offsets of output j, and of reduced element r
  bool block_per_output = true;
};

Plan make_plan(const Tensor& in, const Shape& out_shape) {
  const Shape& sh = in.shape();
  const int64_t isz = static_cast<int64_t>(itemsize(in.dtype()));
  Shape kept, red;
  std::vector<int64_t> kept_st, red_st;
  const size_t lead = sh.size() - out_shape.size();
  int64_t unit_dim_size = 0;
  bool unit_reduced = false;
  for (size_t d = 0; d < sh.size(); ++d) {
    if (sh[d] == 1) continue;
    bool reduced = d < lead || out_shape[d - lead] == 1;
    (reduced ? red : kept).push_back(sh[d]);
    (reduced ? red_st : kept_st).push_back(in.strides()[d]);
    if (std::abs(in.strides()[d]) == 1 && sh[d] > unit_dim_size) {
      unit_dim_size = sh[d];
      unit_reduced = reduced;
    }
  }
  Plan p;
  p.num_out = numel_of(kept);
  p.R = numel_of(red);
  p.outer = gpu::to_offsets<1>(kernels::make_loop<1>(kept, {kept_st}, {isz}), "reduce");
  p.inner = gpu::to_offsets<1>(kernels::make_loop<1>(red, {red_st}, {isz}, kernels::Walk::LastOperand), "reduce");
  // A thread per output reads neighbouring outputs side by side (coalesced) when the reduced dims are
  // not the unit-stride one, and there are enough outputs to fill the GPU.
  p.block_per_output = unit_reduced || p.num_out < static_cast<int64_t>(gpu::sm_count()) * 128;
  return p;
}

// Block (j, s) reduces slice s of output j's elements; dst[j * splits + s] receives it (post applied if splits == 1).
// Outputs past the grid's x limit are taken by the blocks in turn.
template <class T, class A, class Pre, class C, class Post>
__global__ void block_reduce_kernel(const char* in, Offsets<1> outer, Offsets<1> inner, int64_t num_out, int64_t R,
                                    int64_t chunk, A init, Pre pre, C comb, Post post, A* dst) {
  const int64_t s = blockIdx.y, splits = gridDim.y;
  const int64_t end = min(R, (s + 1) * chunk);
  for (int64_t j = blockIdx.x; j < num_out; j += gridDim.x) {
    int64_t base[1];
    outer.at(j, base);
    A v = init;
    for (int64_t r = s * chunk + threadIdx.x; r < end; r += blockDim.x) {
      int64_t off[1];
      inner.at(r, off);
      v = comb(v, pre(static_cast<A>(ref<const T>(const_cast<char*>(in), base[0] + off[0])), j));
    }
    v = block_reduce(v, comb, init);
    if (threadIdx.x == 0) dst[j * splits + s] = splits == 1 ? post(v, j) : v;
  }
}

template <class T, class A, class Pre, class C, class Post>
__global__ void thread_reduce_kernel(const char* in, Offsets<1> outer, Offsets<1> inner, int64_t num_out, int64_t R,
                                     A init, Pre pre, C comb, Post post, A* dst) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < num_out; j += int64_t(gridDim.x) * blockDim.x) {
    int64_t base[1];
    outer.at(j, base);
    A v = init;
    for (int64_t r = 0; r < R; ++r) {
      int64_t off[1];
      inner.at(r, off);
      v = comb(v, pre(static_cast<A>(ref<const T>(const_cast<char*>(in), base[0] + off[0])), j));
    }
    dst[j] = post(v, j);
  }
}

// Reduces `in` by the plan into dst[num_out] (type A, laid out as the output).
template <class T, class A, class Pre, class C, class Post>
void run_reduce(const Tensor& in, const Plan& p, A init, Pre pre, C comb, Post post, A* dst, Device dev) {
  if (p.num_out == 0) return;
  const char* src = static_cast<const char*>(in.raw_data());
  if (!p.block_per_output) {
    thread_reduce_kernel<T, A><<<gpu::grid_for(p.num_out), gpu::kThreads, 0, gpu::stream()>>>(
        src, p.outer, p.inner, p.num_out, p.R, init, pre, comb, post, dst);
    gpu::check_launch("reduce");
    return;
  }
  // Few outputs over many elements: split each output over several blocks, then combine the partials.
  const int64_t want = std::max<int64_t>(1, 2 * gpu::sm_count() / std::max<int64_t>(1, p.num_out));
  const int64_t splits = std::min<int64_t>({want, std::max<int64_t>(1, p.R / (gpu::kThreads * 8)), 65535});
  const int64_t chunk = (p.R + splits - 1) / splits;
  const int threads = static_cast<int>(std::min<int64_t>(gpu::kThreads, std::max<int64_t>(32, (p.R + 31) / 32 * 32)));
  dim3 grid(static_cast<unsigned>(std::min(p.num_out, gpu::kMaxGridX)), static_cast<unsigned>(splits));
  if (splits == 1) {
    block_reduce_kernel<T, A>
        <<<grid, threads, 0, gpu::stream()>>>(src, p.outer, p.inner, p.num_out, p.R, chunk, init, pre, comb, post, dst);
    gpu::check_launch("reduce");
    return;
  }
  Tensor partial = empty({p.num_out, splits}, std::is_floating_point_v<A> ? DType::Float64 : DType::Int64, dev);
  block_reduce_kernel<T, A><<<grid, threads, 0, gpu::stream()>>>(src, p.outer, p.inner, p.num_out, p.R, chunk, init,
                                                                 pre, comb, Identity{}, partial.data<A>());
  gpu::check_launch("reduce");
  Plan q;
  q.num_out = p.num_out;
  q.R = splits;
  const int64_t asz = sizeof(A);
  q.outer =
      gpu::to_offsets<1>(kernels::make_loop<1>(Shape{p.num_out}, {std::vector<int64_t>{splits}}, {asz}), "reduce");
  q.inner = gpu::to_offsets<1>(kernels::make_loop<1>(Shape{splits}, {std::vector<int64_t>{1}}, {asz}), "reduce");
  run_reduce<A, A>(partial, q, init, Identity{}, comb, post, dst, dev);
}

DType acc_dtype(DType t) { return is_floating(t) ? DType::Float64 : DType::Int64; }

}  // namespace

void reduce(Reduce op, const Tensor& in, const Tensor& out) {
  Plan p = make_plan(in, out.shape());
  Tensor acc = empty(out.shape(), acc_dtype(in.dtype()), out.device());
  PYAD_DISPATCH_ALL(in.dtype(), "reduce", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    using A = acc_t<T>;
    A* dst = acc.data<A>();
    A lo, hi;  // the starts of a max and a min: +-inf for floats (an all -inf slice has max -inf)
    if constexpr (std::is_floating_point_v<A>) {
      lo = -INFINITY;
      hi = INFINITY;
    } else {
      lo = std::numeric_limits<A>::lowest();
      hi = std::numeric_limits<A>::max();
    }
    switch (op) {
      case Reduce::Sum: return run_reduce<T, A>(in, p, A(0), Identity{}, math::Add{}, Identity{}, dst, out.device());
      case Reduce::Max:
        return run_reduce<T, A>(in, p, lo, Identity{}, math::MaxCombine{}, Identity{}, dst, out.device());
      case Reduce::Min:
        return run_reduce<T, A>(in, p, hi, Identity{}, math::MinCombine{}, Identity{}, dst, out.device());
    }
  });
  copy(acc, out);
}

void logsumexp(const Tensor& in, const Tensor& out) {
  Plan p = make_plan(in, out.shape());
  Tensor m = empty(out.shape(), DType::Float64, out.device());
  Tensor acc = empty(out.shape(), DType::Float64, out.device());
  PYAD_DISPATCH_FLOAT(in.dtype(), "logsumexp", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const double* mp = m.data<double>();
    run_reduce<T, double>(in, p, -INFINITY, Identity{}, math::MaxCombine{}, ShiftOfMax{}, m.data<double>(),
                          out.device());
    run_reduce<T, double>(in, p, 0.0, ExpShifted{mp}, math::Add{}, LogPlusShift{mp}, acc.data<double>(), out.device());
  });
  copy(acc, out);
}

namespace {
// One block per row of the softmax dim (rows past the grid's x limit taken in turn): the max, the sum of exps,
// then the outputs.
template <class T>
__global__ void softmax_kernel(Offsets<2> rows, int64_t nrows, char* out, const char* in, int64_t len, int64_t so,
                               int64_t si, bool log_) {
  for (int64_t row = blockIdx.x; row < nrows; row += gridDim.x) {
    int64_t base[2];
    rows.at(row, base);
    T* y = reinterpret_cast<T*>(out + base[0]);
    const T* x = reinterpret_cast<const T*>(in + base[1]);
    double mx = -INFINITY;
    for (int64_t k = threadIdx.x; k < len; k += blockDim.x) mx = math::MaxCombine{}(mx, static_cast<double>(x[k * si]));
    mx = block_reduce(mx, math::MaxCombine{}, double(-INFINITY));
    const double shift = math::SoftmaxShift{}(mx);
    double s = 0;
    for (int64_t k = threadIdx.x; k < len; k += blockDim.x) s += exp(static_cast<double>(x[k * si]) - shift);
    s = block_reduce(s, math::Add{}, 0.0);
    for (int64_t k = threadIdx.x; k < len; k += blockDim.x)
      y[k * so] = static_cast<T>(math::SoftmaxOut{}(static_cast<double>(x[k * si]), shift, s, log_));
  }
}

template <class T>
__global__ void arg_reduce_kernel(int64_t n, Offsets<3> offs, char* values, char* indices, const char* in, int64_t len,
                                  int64_t st, bool is_max) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[3];
    offs.at(i, off);
    const T* x = reinterpret_cast<const T*>(in + off[2]);
    T best = x[0];
    int64_t bi = 0;
    for (int64_t j = 1; j < len; ++j) {
      if (best != best) break;  // NaN wins and keeps its first index
      T v = x[j * st];
      if (v != v || (is_max ? v > best : v < best)) {
        best = v;
        bi = j;
      }
    }
    ref<T>(values, off[0]) = best;
    ref<int64_t>(indices, off[1]) = bi;
  }
}
}  // namespace

void softmax(const Tensor& in, int64_t dim, const Tensor& out, bool log) {
  const int64_t len = in.shape()[dim];
  const int64_t nrows = len == 0 ? 0 : in.numel() / len;
  if (nrows == 0) return;
  Shape rows = in.shape();
  rows[dim] = 1;
  PYAD_DISPATCH_FLOAT(in.dtype(), "softmax", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    auto offs = gpu::offsets_for<2>(rows, {&out, &in}, {sizeof(T), sizeof(T)}, "softmax");
    const int threads = static_cast<int>(std::min<int64_t>(gpu::kThreads, (len + 31) / 32 * 32));
    softmax_kernel<T><<<static_cast<unsigned>(std::min(nrows, gpu::kMaxGridX)), threads, 0, gpu::stream()>>>(
        offs, nrows, static_cast<char*>(out.raw_data()), static_cast<const char*>(in.raw_data()), len,
        out.strides()[dim], in.strides()[dim], log);
    gpu::check_launch("softmax");
  });
}

void arg_reduce(bool is_max, const Tensor& in, int64_t dim, const Tensor& values, const Tensor& indices) {
  const int64_t n = values.numel();
  if (n == 0) return;
  PYAD_DISPATCH_ALL(in.dtype(), "max", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    auto offs =
        gpu::offsets_for<3>(values.shape(), {&values, &indices, &in}, {sizeof(T), sizeof(int64_t), sizeof(T)}, "max");
    arg_reduce_kernel<T><<<gpu::grid_for(n), gpu::kThreads, 0, gpu::stream()>>>(
        n, offs, static_cast<char*>(values.raw_data()), static_cast<char*>(indices.raw_data()),
        static_cast<const char*>(in.raw_data()), in.shape()[dim], in.strides()[dim], is_max);
    gpu::check_launch("max");
  });
}

}  // namespace pyad::kernels::cuda
