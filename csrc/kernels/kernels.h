#pragma once
// Raw kernels. They read shapes, strides and data pointers of Tensors and know
// nothing of autograd. Outputs are preallocated by the caller; inputs may be
// strided views and are broadcast to the output's shape.
#include <string>
#include "../core/tensor.h"

namespace pyad::kernels {

enum class Unary { Neg, Exp, Log, Log1p, Sin, Cos, Tanh, Sigmoid, Relu, Softplus, Sqrt, Abs, Sign };
enum class Binary { Add, Sub, Mul, Div, Pow, Maximum, Minimum, Eq, Ne, Lt, Le, Gt, Ge };
enum class Reduce { Sum, Max, Min };

void unary(Unary op, const Tensor& in, const Tensor& out);
void binary(Binary op, const Tensor& a, const Tensor& b, const Tensor& out);  // out is bool for comparisons
void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out);
void copy(const Tensor& src, const Tensor& dst);  // broadcasts src, converts dtype
void fill(const Tensor& dst, double value);
bool all_finite(const Tensor& t);  // no NaN and no inf (a floating t)
void arange(const Tensor& out, double start, double step);
// Reduce `in` into `out`, whose shape is `in`'s with the reduced dims set to 1.
void reduce(Reduce op, const Tensor& in, const Tensor& out);
// Values and int64 indices of the max/min along dim; out shapes keep dim as size 1.
void arg_reduce(bool is_max, const Tensor& in, int64_t dim, const Tensor& values, const Tensor& indices);
// out[b] = a[b] @ b[b] with 2-d matrices in the last two dims and broadcast batch dims.
void matmul(const Tensor& a, const Tensor& b, const Tensor& out);
void uniform(const Tensor& out, double low, double high);
void normal(const Tensor& out, double mean, double std);
void manual_seed(uint64_t seed);
std::string rng_state();
void set_rng_state(const std::string& state);
void set_blas_threads(int n);
int blas_threads();

}  // namespace pyad::kernels
