// CUDA scans (cumsum, cumprod): one thread per line along the scanned dim,
// accumulating in double for floats (int64 for integers) as the CPU kernel
// does, so both backends give the same values. Neighbouring threads take
// neighbouring lines, so reads coalesce when the scanned dim is not the
// innermost one.
#include "kernels/cuda/common.cuh"

namespace pyad::kernels::cuda {
using gpu::Offsets;
using gpu::ref;

namespace {

template <class T, class A>
__global__ void scan_kernel(int64_t lines, Offsets<2> offs, gpu::Ptrs<2> p, int64_t n, int64_t out_step,
                            int64_t in_step, bool prod) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < lines; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[2];
    offs.at(i, off);
    A acc = prod ? A(1) : A(0);
    for (int64_t k = 0; k < n; ++k) {
      const A v = static_cast<A>(ref<T>(p.p[1], off[1] + k * in_step));
      acc = prod ? acc * v : acc + v;
      ref<T>(p.p[0], off[0] + k * out_step) = static_cast<T>(acc);
    }
  }
}

}  // namespace

void cumulative(bool prod, const Tensor& in, int64_t dim, const Tensor& out) {
  if (out.numel() == 0) return;
  PYAD_DISPATCH_ALL(out.dtype(), "cumulative", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    if constexpr (std::is_same_v<T, bool>) {
      throw TypeError("[cumulative] bool tensors are scanned as int64 (the op converts them first)");
    } else {
      using A = math::ScanAccumulator<T>;
      const int64_t isz = static_cast<int64_t>(sizeof(T));
      Shape lines = in.shape();
      lines[dim] = 1;
      auto offs =
          gpu::to_offsets<2>(kernels::make_loop<2>(lines, {out.strides(), in.strides()}, {isz, isz}), "cumulative");
      const int64_t num_lines = numel_of(lines);
      gpu::Ptrs<2> p{{static_cast<char*>(out.raw_data()), static_cast<char*>(in.raw_data())}};
      scan_kernel<T, A><<<gpu::grid_for(num_lines), gpu::kThreads, 0, gpu::stream()>>>(
          num_lines, offs, p, in.shape()[dim], out.strides()[dim] * isz, in.strides()[dim] * isz, prod);
      gpu::check_launch("cumulative");
    }
  });
}

}  // namespace pyad::kernels::cuda
