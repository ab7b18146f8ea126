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

// out = op(a, s), or op(s, a) when scalar_first, for a floating `a` and a number s taken in a's dtype: the
// tensor kernel's result with s as a 0-d tensor, without making one (kernels/cpu/scalar_binary.cpp; on a GPU
// the number goes to the tensor kernel as a 0-d tensor).
void binary_scalar(Binary op, const Tensor& a, double s, bool scalar_first, const Tensor& out);
namespace cpu {
void binary_scalar(Binary op, const Tensor& a, double s, bool scalar_first, const Tensor& out);
}  // namespace cpu

// g * f'(x) for a unary op, from its result y, in one pass (math::TanhGrad ...): for a backward that records
// nothing. Undefined when there is no such kernel for these operands (then the rule composes it).
enum class UnaryGrad { None, Tanh, Sigmoid };
Tensor unary_grad(UnaryGrad op, const Tensor& g, const Tensor& y);
namespace cpu {
void unary_grad(UnaryGrad op, const Tensor& g, const Tensor& y, const Tensor& out);  // flat operands
}  // namespace cpu

// The host generator (pyad.manual_seed); the GPUs share another (gpu_generator.h).
void manual_seed(uint64_t seed);
std::string rng_state();
void set_rng_state(const std::string& state);
void set_blas_threads(int n);
int blas_threads();
// Moves the CPU kernels' parallel threshold (for benchmarks/bench_threads.py --threshold); returns the old one.
int64_t set_parallel_min_bytes(int64_t bytes);

}  // namespace pyad::kernels
