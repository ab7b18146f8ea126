#pragma once
// Raw kernels. They read shapes, strides and data pointers of Tensors and know
// nothing of autograd. Outputs are preallocated by the caller; inputs may be
// strided views and are broadcast to the output's shape.
//
// Every backend provides the same set (backend.inc): kernels::cpu on the host,
// kernels::cuda on NVIDIA GPUs (or stubs that raise, in a build without CUDA).
// The functions of kernels:: itself pick the backend from the output's device.
#include <string>
#include "../core/tensor.h"

namespace pyad::kernels {

enum class Unary { Neg, Exp, Log, Log1p, Sin, Cos, Tanh, Sigmoid, Relu, Softplus, Sqrt, Abs, Sign };
enum class Binary { Add, Sub, Mul, Div, Pow, Maximum, Minimum, Eq, Ne, Lt, Le, Gt, Ge };
enum class Reduce { Sum, Max, Min };

#include "backend.inc"

namespace cpu {
#include "backend.inc"
}  // namespace cpu

namespace cuda {
#include "backend.inc"
}  // namespace cuda

// The host generator (pyad.manual_seed); the GPUs share another (gpu_generator.h).
void manual_seed(uint64_t seed);
std::string rng_state();
void set_rng_state(const std::string& state);
void set_blas_threads(int n);
int blas_threads();

}  // namespace pyad::kernels
