#pragma once
// Every differentiable operation of pyad. Each op function validates its
// inputs, runs the kernel and, when grad mode is on and an input requires
// grad, records a Node whose backward rule is written with these same ops
// (so create_graph=True gives differentiable gradients).
#include <optional>
#include <tuple>
#include "core/tensor.h"
#include "kernels/math.h"

namespace pyad {

// ---- creation (no history) ----
Tensor full(const Shape& shape, double value, DType dtype, Device device = {});
Tensor zeros(const Shape& shape, DType dtype, Device device = {});
Tensor ones(const Shape& shape, DType dtype, Device device = {});
Tensor eye(int64_t n, int64_t m, DType dtype, Device device = {});
Tensor arange(double start, double end, double step, DType dtype, Device device = {});
Tensor rand(const Shape& shape, DType dtype, Device device = {});
Tensor randn(const Shape& shape, DType dtype, Device device = {});
Tensor scalar_tensor(double value, DType dtype, Device device = {});
// The dtype a Python scalar takes next to tensor t (torch: the tensor's category wins unless the
// scalar is a float and the tensor is integral).
DType scalar_dtype(const Tensor& t, bool scalar_is_float);

// ---- elementwise: one function per row of the op list (Note [The op list], kernels/math.h) ----
#define PYAD_DECLARE_UNARY(name, Functor, domain) Tensor name(const Tensor& x);
#define PYAD_DECLARE_BINARY(name, Functor, domain) Tensor name(const Tensor& a, const Tensor& b);
PYAD_UNARY_OPS(PYAD_DECLARE_UNARY)
PYAD_BINARY_OPS(PYAD_DECLARE_BINARY)
PYAD_COMPARE_OPS(PYAD_DECLARE_BINARY)  // bool results, no history
#undef PYAD_DECLARE_UNARY
#undef PYAD_DECLARE_BINARY
// a ** (a Python number): integers to negative integer powers raise, as torch.
Tensor pow_scalar(const Tensor& a, const Tensor& exponent);
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
// ---- NaN-safe where (issue 15): where whose backward pass runs with strong zeros (grad_mode.h) ----
Tensor safe_where(const Tensor& cond, const Tensor& a, const Tensor& b);
// g * d for a VJP rule: exact zeros where g is zero when the pass runs with strong zeros, else g * d.
Tensor vjp_times(const Tensor& g, const Tensor& d);

// ---- a binary op with a number passed by value: x * 2.0, 1.0 - y (ops/scalar_binary.cpp) ----
enum class NumberOp { Add, Sub, Mul, Div };
// op(a, s), or op(s, a) when number_first, with s taken in a's dtype: the tensor op's result, history and
// gradients with s as a 0-d tensor of a's dtype, without making one.
Tensor number_op(NumberOp op, const Tensor& a, double s, bool number_first = false);
Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi);

// ---- reductions ----
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim);
Tensor amax(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim);
Tensor amin(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim);
std::tuple<Tensor, Tensor> max_dim(const Tensor& x, int64_t dim, bool keepdim);
std::tuple<Tensor, Tensor> min_dim(const Tensor& x, int64_t dim, bool keepdim);
Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim);
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);
// Sum a broadcast gradient down to `shape` (the inverse of expand), keeping its first
// `batch_ndim` dims (Note [Batched tangents and cotangents]).
Tensor sum_to(const Tensor& x, const Shape& shape, const char* op = "sum_to", int64_t batch_ndim = 0);

// ---- shape ops (views share storage and version counter) ----
Tensor reshape(const Tensor& x, Shape shape);
Tensor view(const Tensor& x, Shape shape);
Tensor view_dtype(const Tensor& x, DType dtype);  // the same bytes as another dtype (no history)
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor squeeze(const Tensor& x, std::optional<int64_t> dim);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor expand(const Tensor& x, Shape shape);
Tensor cat(const TensorList& xs, int64_t dim);
Tensor stack(const TensorList& xs, int64_t dim);
Tensor select(const Tensor& x, int64_t dim, int64_t index);
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t stop, int64_t step);
Tensor contiguous(const Tensor& x);
Tensor clone(const Tensor& x);
Tensor to_dtype(const Tensor& x, DType dtype);
Tensor to_device(const Tensor& x, Device device);
// The copy under clone, to_dtype and to_device (only_if_needed: x itself when nothing changes).
Tensor copy_op(const Tensor& x, DType dtype, Device device, const char* node_name, bool only_if_needed);

// Basic indexing: a resolved list of steps, applied in order.
struct IndexStep {
  enum Kind { Select, Slice, Unsqueeze } kind;
  int64_t dim, start = 0, stop = 0, step = 1;
};
Tensor index(const Tensor& x, const std::vector<IndexStep>& steps);

// ---- linear algebra ----
Tensor matmul(const Tensor& a, const Tensor& b);
Tensor outer(const Tensor& a, const Tensor& b);

// ---- scans (scan.cpp) ----
// Running sum / product along dim. Integer and bool inputs give int64, as torch; `dtype` converts the input first.
Tensor cumsum(const Tensor& x, int64_t dim, std::optional<DType> dtype = std::nullopt);
Tensor cumprod(const Tensor& x, int64_t dim, std::optional<DType> dtype = std::nullopt);

// ---- sorting, selection and gathering along a dim (sort.cpp) ----
// Sorts are always stable (NaN sorts as the largest value, as torch); `stable` is accepted for torch's signature.
std::tuple<Tensor, Tensor> sort(const Tensor& x, int64_t dim = -1, bool descending = false, bool stable = false);
Tensor argsort(const Tensor& x, int64_t dim = -1, bool descending = false, bool stable = false);
// The k largest (smallest) along dim, always in sorted order.
std::tuple<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim = -1, bool largest = true, bool sorted = true);
// The index of the first max / min along dim (over the flattened tensor without a dim); NaN counts as the max.
Tensor argmax(const Tensor& x, std::optional<int64_t> dim, bool keepdim);
Tensor argmin(const Tensor& x, std::optional<int64_t> dim, bool keepdim);
// out[..., j, ...] = x[..., index[..., j, ...], ...] along dim (torch.gather).
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);

// ---- indexing by tensors (index_ops.cpp), with torch's semantics ----
// One entry per leading dim of x: an int64 index (broadcast with the others), a bool mask covering as many
// dims as it has, or none (the whole dim). Note [Advanced indexing as one gather].
using TensorIndices = std::vector<std::optional<Tensor>>;
Tensor index_tensor(const Tensor& x, const TensorIndices& indices, const char* op = "index");
Tensor& index_put_tensor_(Tensor& x, const TensorIndices& indices, const Tensor& values, bool accumulate = false,
                          const char* op = "index_put_");
Tensor index_put(const Tensor& x, const TensorIndices& indices, const Tensor& values, bool accumulate = false);
// (count, ndim) int64 coordinates of the nonzero elements, in row-major order.
Tensor nonzero(const Tensor& x);
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
Tensor take(const Tensor& x, const Tensor& index);  // x flattened, read at index (any shape)
// x with src written (scatter) or added (scatter_add) along dim at index, as torch.scatter / scatter_add.
Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& source, double alpha = 1.0);
// The same written into x (no copy of x), as torch's Tensor.scatter_ / scatter_add_ / index_add_.
Tensor& scatter_(Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
Tensor& scatter_add_(Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
Tensor& index_add_(Tensor& x, int64_t dim, const Tensor& index, const Tensor& source, double alpha = 1.0);
// value (a 0-d tensor; tensor_value: given as one, not as a number) written into x where mask (broadcast to x)
// is true, as torch's Tensor.masked_fill_.
Tensor& masked_fill_(Tensor& x, const Tensor& mask, const Tensor& value, bool tensor_value = true);

// ---- matrix-shape ops (matrix_shape_ops.cpp) ----
Tensor flip(const Tensor& x, const std::vector<int64_t>& dims);
// Empty `dims`: roll the flattened tensor by shifts[0] and restore the shape, as torch's dims=None.
Tensor roll(const Tensor& x, const std::vector<int64_t>& shifts, const std::vector<int64_t>& dims);
Tensor tril(const Tensor& x, int64_t diagonal = 0);
Tensor triu(const Tensor& x, int64_t diagonal = 0);
Tensor diagonal(const Tensor& x, int64_t offset = 0, int64_t dim1 = 0, int64_t dim2 = 1);  // a view
Tensor trace(const Tensor& x);
Tensor kron(const Tensor& a, const Tensor& b);

// ---- in place (bump the version counter) ----
Tensor& add_(Tensor& x, const Tensor& other);
Tensor& sub_(Tensor& x, const Tensor& other);
Tensor& mul_(Tensor& x, const Tensor& other);
Tensor& div_(Tensor& x, const Tensor& other);
Tensor& fill_(Tensor& x, double value);
Tensor& zero_(Tensor& x);
Tensor& copy_(Tensor& x, const Tensor& src);
Tensor& index_put_(Tensor& x, const std::vector<IndexStep>& steps, const Tensor& value);

// Shorthands for writing rules.
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& a) { return neg(a); }
inline Tensor operator*(const Tensor& a, double s) { return number_op(NumberOp::Mul, a, s); }
inline Tensor operator*(double s, const Tensor& a) { return a * s; }
inline Tensor operator+(const Tensor& a, double s) { return number_op(NumberOp::Add, a, s); }
inline Tensor operator-(double s, const Tensor& a) { return number_op(NumberOp::Sub, a, s, true); }
inline Tensor operator/(const Tensor& a, double s) { return number_op(NumberOp::Div, a, s); }

// ---- linalg: the LAPACK / cuSOLVER primitives under pyad.linalg (ops/linalg.cpp). They record no history:
// pyad/linalg/ wraps each in an autograd Function whose VJP and JVP are written with pyad ops. Each takes a
// batch (..., m, n) and returns new contiguous tensors; `info` (int64, batch shape) is LAPACK's, > 0 where a
// matrix is singular, not positive definite, or did not converge.
std::tuple<Tensor, Tensor, Tensor> linalg_lu_factor(const Tensor& a);  // (LU, pivots, info)
Tensor linalg_lu_solve(const Tensor& lu, const Tensor& pivots, const Tensor& b, bool adjoint);
std::tuple<Tensor, Tensor> linalg_cholesky_raw(const Tensor& a);  // (L, info)
Tensor linalg_lu_inverse(const Tensor& lu, const Tensor& pivots);  // A^{-1}; singular batch elements left as is
Tensor linalg_triangular_solve_raw(const Tensor& a, const Tensor& b, bool upper, bool transpose, bool unit, bool left);
std::tuple<Tensor, Tensor> linalg_qr_raw(const Tensor& a, const std::string& mode);  // (Q, R)
std::tuple<Tensor, Tensor, Tensor> linalg_eigh_raw(const Tensor& a, bool upper, bool vectors);  // (w, V, info)
std::tuple<Tensor, Tensor, Tensor, Tensor> linalg_svd_raw(const Tensor& a, bool full, bool vectors);  // U,S,Vh,info

}  // namespace pyad
