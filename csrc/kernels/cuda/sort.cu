// CUDA sort along a dim, and gather / scatter along a dim. The sort is the
// simple one: a thread per line, an insertion sort in the output itself (so it
// is stable, as the CPU's std::stable_sort), O(n k) per line for the first k
// (topk) of n. scatter takes a thread per element of the index, so that a
// scatter along the one dim of a vector (x[idx] += v) is as parallel as any:
// repeated indices then meet in one element, which accumulation handles with
// atomicAdd (and assignment, as torch's, leaves to whichever write lands last).
#include "kernels/cuda/common.cuh"

namespace pyad::kernels::cuda {
using gpu::Offsets;
using gpu::ref;

namespace {

template <class T>
__global__ void sort_kernel(int64_t lines, Offsets<3> offs, gpu::Ptrs<3> p, int64_t n, int64_t keep, int64_t v_step,
                            int64_t i_step, int64_t in_step, bool descending) {
  for (int64_t l = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; l < lines; l += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[3];
    offs.at(l, off);
    char* v = p.p[0] + off[0];
    char* ix = p.p[1] + off[1];
    for (int64_t k = 0; k < n; ++k) {
      const T x = ref<T>(p.p[2], off[2] + k * in_step);
      int64_t j = k < keep ? k : keep;  // the kept prefix holds the first min(k, keep) of the line so far
      if (j == keep && !math::sorts_before(x, ref<T>(v, (keep - 1) * v_step), descending)) continue;
      // Shift the later ones right (the last kept one drops out when the prefix is full); an equal one stays
      // before x (stability).
      for (; j > 0 && math::sorts_before(x, ref<T>(v, (j - 1) * v_step), descending); --j) {
        if (j < keep) {
          ref<T>(v, j * v_step) = ref<T>(v, (j - 1) * v_step);
          ref<int64_t>(ix, j * i_step) = ref<int64_t>(ix, (j - 1) * i_step);
        }
      }
      ref<T>(v, j * v_step) = x;
      ref<int64_t>(ix, j * i_step) = k;
    }
  }
}

template <class T>
__global__ void gather_kernel(int64_t n, Offsets<3> offs, gpu::Ptrs<3> p, int64_t step) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[3];
    offs.at(i, off);
    ref<T>(p.p[0], off[0]) = ref<T>(p.p[2], off[2] + ref<int64_t>(p.p[1], off[1]) * step);
  }
}

// atomicAdd for pyad's summable dtypes (int64 through its two's-complement unsigned twin).
__device__ inline void atomic_add(float* p, float v) { atomicAdd(p, v); }
__device__ inline void atomic_add(double* p, double v) { atomicAdd(p, v); }
__device__ inline void atomic_add(int64_t* p, int64_t v) {
  atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
}

template <class T, bool Accumulate>
__global__ void scatter_kernel(int64_t n, Offsets<3> offs, gpu::Ptrs<3> p, int64_t step) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[3];
    offs.at(i, off);
    T* dst = reinterpret_cast<T*>(p.p[0] + off[0] + ref<int64_t>(p.p[1], off[1]) * step);
    const T v = ref<T>(p.p[2], off[2]);
    if constexpr (Accumulate) {
      atomic_add(dst, v);
    } else {
      *dst = v;
    }
  }
}

}  // namespace

void sort(const Tensor& in, int64_t dim, bool descending, int64_t k, const Tensor& values, const Tensor& indices) {
  if (values.numel() == 0) return;
  PYAD_DISPATCH_ALL(in.dtype(), "sort", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const int64_t isz = static_cast<int64_t>(sizeof(T)), lsz = static_cast<int64_t>(sizeof(int64_t));
    Shape lines = in.shape();
    lines[dim] = 1;
    auto offs = gpu::to_offsets<3>(
        kernels::make_loop<3>(lines, {values.strides(), indices.strides(), in.strides()}, {isz, lsz, isz}), "sort");
    const int64_t num_lines = numel_of(lines);
    gpu::Ptrs<3> p{{static_cast<char*>(values.raw_data()), static_cast<char*>(indices.raw_data()),
                    static_cast<char*>(in.raw_data())}};
    sort_kernel<T><<<gpu::grid_for(num_lines), gpu::kThreads, 0, gpu::stream()>>>(
        num_lines, offs, p, in.shape()[dim], k, values.strides()[dim] * isz, indices.strides()[dim] * lsz,
        in.strides()[dim] * isz, descending);
    gpu::check_launch("sort");
  });
}

void gather(const Tensor& in, int64_t dim, const Tensor& index, const Tensor& out) {
  if (out.numel() == 0) return;
  PYAD_DISPATCH_ALL(in.dtype(), "gather", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const int64_t isz = static_cast<int64_t>(sizeof(T)), lsz = static_cast<int64_t>(sizeof(int64_t));
    auto offs = gpu::to_offsets<3>(
        kernels::make_loop<3>(index.shape(), {out.strides(), index.strides(), without_dim(in, dim)}, {isz, lsz, isz}),
        "gather");
    gpu::Ptrs<3> p{
        {static_cast<char*>(out.raw_data()), static_cast<char*>(index.raw_data()), static_cast<char*>(in.raw_data())}};
    gather_kernel<T><<<gpu::grid_for(out.numel()), gpu::kThreads, 0, gpu::stream()>>>(out.numel(), offs, p,
                                                                                      in.strides()[dim] * isz);
    gpu::check_launch("gather");
  });
}

void scatter(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src, bool accumulate) {
  if (index.numel() == 0) return;
  PYAD_DISPATCH_ALL(out.dtype(), "scatter", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const int64_t isz = static_cast<int64_t>(sizeof(T)), lsz = static_cast<int64_t>(sizeof(int64_t));
    auto offs = gpu::to_offsets<3>(
        kernels::make_loop<3>(index.shape(), {without_dim(out, dim), index.strides(), src.strides()}, {isz, lsz, isz}),
        "scatter");
    gpu::Ptrs<3> p{
        {static_cast<char*>(out.raw_data()), static_cast<char*>(index.raw_data()), static_cast<char*>(src.raw_data())}};
    const int64_t n = index.numel(), step = out.strides()[dim] * isz;
    if constexpr (std::is_same_v<T, bool>) {
      if (accumulate) throw TypeError("[scatter_add] bool tensors cannot be summed");
      scatter_kernel<T, false><<<gpu::grid_for(n), gpu::kThreads, 0, gpu::stream()>>>(n, offs, p, step);
    } else if (accumulate) {
      scatter_kernel<T, true><<<gpu::grid_for(n), gpu::kThreads, 0, gpu::stream()>>>(n, offs, p, step);
    } else {
      scatter_kernel<T, false><<<gpu::grid_for(n), gpu::kThreads, 0, gpu::stream()>>>(n, offs, p, step);
    }
    gpu::check_launch("scatter");
  });
}

}  // namespace pyad::kernels::cuda
