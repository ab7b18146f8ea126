#pragma once
// Raw kernels. They read shapes, strides and data pointers of Tensors and know
// nothing of autograd. Outputs are preallocated by the caller; inputs may be
// strided views and are broadcast to the output's shape.
//
// Every backend provides the same set (backend.inc): kernels::cpu on the host,
// kernels::cuda on NVIDIA GPUs (or stubs that raise, in a build without CUDA).
// The functions of kernels:: itself pick the backend from the output's device.
#include <string>
#include "core/tensor.h"
#include "kernels/math.h"
#include "kernels/optim_scalars.h"  // the fused optimizer steps' scalars (nnperf)

namespace pyad::kernels {

// Elementwise kernels are named by their functor (Note [The op list], kernels/math.h).
#define PYAD_KERNEL_NAME(name, Functor, domain) Functor,
enum class Unary { PYAD_UNARY_OPS(PYAD_KERNEL_NAME) };
enum class Binary { PYAD_BINARY_OPS(PYAD_KERNEL_NAME) PYAD_COMPARE_OPS(PYAD_KERNEL_NAME) };
#undef PYAD_KERNEL_NAME
enum class Reduce { Sum, Max, Min };

#include "kernels/backend.inc"

namespace cpu {
#include "kernels/backend.inc"
}  // namespace cpu

namespace cuda {
#include "kernels/backend.inc"
}  // namespace cuda

// The host generator (pyad.manual_seed); the GPUs share another (gpu_generator.h).
void manual_seed(uint64_t seed);
std::string rng_state();
void set_rng_state(const std::string& state);
void set_blas_threads(int n);
int blas_threads();

}  // namespace pyad::kernels
