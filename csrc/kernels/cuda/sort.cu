// CUDA sort along a dim, and gather / scatter_add along a dim. The sort is the
// simple one: a thread per line, an insertion sort in the output itself (so it
// is stable, as the CPU's std::stable_sort), O(n k) per line for the first k
// (topk) of n. scatter_add also
// takes a thread per line, so no two threads add into one element: no atomics,
// and the sums come out in the CPU's order.
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

template <class T>
__global__ void scatter_add_kernel(int64_t lines, Offsets<3> offs, gpu::Ptrs<3> p, int64_t n, int64_t out_step,
                                   int64_t index_step, int64_t src_step) {
  for (int64_t l = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; l < lines; l += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[3];
    offs.at(l, off);
    for (int64_t k = 0; k < n; ++k) {
      const int64_t j = ref<int64_t>(p.p[1], off[1] + k * index_step);
      ref<T>(p.p[0], off[0] + j * out_step) += ref<T>(p.p[2], off[2] + k * src_step);
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

void scatter_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  if (index.numel() == 0) return;
  PYAD_DISPATCH_ALL(out.dtype(), "scatter_add", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    if constexpr (std::is_same_v<T, bool>) {
      throw TypeError("[scatter_add] bool tensors cannot be summed");
    } else {
      const int64_t isz = static_cast<int64_t>(sizeof(T)), lsz = static_cast<int64_t>(sizeof(int64_t));
      Shape lines = index.shape();
      lines[dim] = 1;
      auto offs = gpu::to_offsets<3>(
          kernels::make_loop<3>(lines, {without_dim(out, dim), index.strides(), src.strides()}, {isz, lsz, isz}),
          "scatter_add");
      const int64_t num_lines = numel_of(lines);
      gpu::Ptrs<3> p{{static_cast<char*>(out.raw_data()), static_cast<char*>(index.raw_data()),
                      static_cast<char*>(src.raw_data())}};
      scatter_add_kernel<T><<<gpu::grid_for(num_lines), gpu::kThreads, 0, gpu::stream()>>>(
          num_lines, offs, p, index.shape()[dim], out.strides()[dim] * isz, index.strides()[dim] * lsz,
          src.strides()[dim] * isz);
      gpu::check_launch("scatter_add");
    }
  });
}

}  // namespace pyad::kernels::cuda
