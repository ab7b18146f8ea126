// The linear-algebra primitives under pyad.linalg: shape and dtype checks, a contiguous working copy, the
// kernel. They record no Node: pyad/linalg/ composes them into differentiable functions whose VJP and JVP
// are written with pyad ops (so double backward, hessian and jacfwd go through them), the way torch's
// derivatives.yaml writes linalg's rules in terms of other linalg calls.
#include "ops/ops.h"
#include "kernels/kernels.h"

namespace pyad {

namespace {

Shape batch_of(const Tensor& a) { return Shape(a.shape().begin(), a.shape().end() - 2); }

Shape with(Shape s, std::initializer_list<int64_t> tail) {
  s.insert(s.end(), tail);
  return s;
}

void check_matrix(const char* op, const Tensor& a, bool square) {
  PYAD_CHECK(a.ndim() >= 2, ValueError, "[", op, "] expected a tensor of 2 or more dims (..., m, n), got shape ",
             shape_str(a.shape()));
  PYAD_CHECK(is_floating(a.dtype()), TypeError, "[", op, "] expected a float32 or float64 tensor, got ",
             dtype_name(a.dtype()));
  PYAD_CHECK(!square || a.shape()[a.ndim() - 1] == a.shape()[a.ndim() - 2], ValueError, "[", op,
             "] expected square matrices (..., n, n), got shape ", shape_str(a.shape()));
}

// b (..., n, k) (left) or (..., k, n) against the square a (..., n, n): same batch, same dtype and device
// (pyad/linalg broadcasts).
void check_rhs(const char* op, const Tensor& a, const Tensor& b, bool left = true) {
  PYAD_CHECK(
      b.ndim() == a.ndim() && batch_of(a) == batch_of(b) && b.shape()[b.ndim() - (left ? 2 : 1)] == a.shape().back(),
      ValueError, "[", op, "] the right-hand side of shape ", shape_str(b.shape()), " does not fit matrices of shape ",
      shape_str(a.shape()));
  PYAD_CHECK(a.dtype() == b.dtype(), TypeError, "[", op, "] expected operands of one dtype, got ",
             dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
  PYAD_CHECK(a.device() == b.device(), RuntimeError, "[", op, "] expected operands on one device, got ",
             a.device().str(), " and ", b.device().str());
}

Tensor working_copy(const Tensor& a) {
  Tensor w = empty(a.shape(), a.dtype(), a.device());
  kernels::copy(a, w);
  return w;
}

// The kernels write their int64 info on the host; a GPU's is copied over once.
Tensor info_for(const Tensor& a) { return zeros(batch_of(a), DType::Int64, Device{}); }

}  // namespace

std::tuple<Tensor, Tensor, Tensor> linalg_lu_factor(const Tensor& a) {
  check_matrix("linalg.lu_factor", a, true);
  Tensor lu = working_copy(a);
  Tensor piv = empty(with(batch_of(a), {a.shape().back()}), DType::Int64, Device{});
  Tensor info = info_for(a);
  kernels::lu_factor(lu, piv, info);
  return {lu, piv, info};
}

Tensor linalg_lu_solve(const Tensor& lu, const Tensor& pivots, const Tensor& b, bool adjoint) {
  check_matrix("linalg.lu_solve", lu, true);
  check_rhs("linalg.lu_solve", lu, b);
  PYAD_CHECK(pivots.dtype() == DType::Int64 && pivots.device().is_cpu() &&
                 pivots.shape() == with(batch_of(lu), {lu.shape().back()}),
             ValueError, "[linalg.lu_solve] pivots of shape ", shape_str(pivots.shape()), " do not fit LU of shape ",
             shape_str(lu.shape()));
  Tensor x = working_copy(b);
  kernels::lu_solve(lu.is_contiguous() ? lu : working_copy(lu), pivots.is_contiguous() ? pivots : working_copy(pivots),
                    x, adjoint);
  return x;
}

std::tuple<Tensor, Tensor> linalg_cholesky_raw(const Tensor& a) {
  check_matrix("linalg.cholesky", a, true);
  Tensor l = working_copy(a), info = info_for(a);
  kernels::cholesky(l, info);
  return {l, info};
}

Tensor linalg_lu_inverse(const Tensor& lu, const Tensor& pivots) {
  check_matrix("linalg.inv", lu, true);
  PYAD_CHECK(pivots.dtype() == DType::Int64 && pivots.device().is_cpu() &&
                 pivots.shape() == with(batch_of(lu), {lu.shape().back()}),
             ValueError, "[linalg.inv] pivots of shape ", shape_str(pivots.shape()), " do not fit LU of shape ",
             shape_str(lu.shape()));
  Tensor x = working_copy(lu), info = info_for(lu);
  kernels::lu_inverse(x, pivots.is_contiguous() ? pivots : working_copy(pivots), info);
  return x;
}

Tensor linalg_triangular_solve_raw(const Tensor& a, const Tensor& b, bool upper, bool trans, bool unit, bool left) {
  check_matrix("linalg.solve_triangular", a, true);
  check_rhs("linalg.solve_triangular", a, b, left);
  Tensor x = working_copy(b);
  // A transposed view is the other triangle of a contiguous matrix, read with the transpose flag: no copy.
  const Tensor at = transpose(a, -2, -1);
  if (!a.is_contiguous() && at.is_contiguous()) {
    kernels::triangular_solve(at, x, !upper, !trans, unit, left);
  } else {
    kernels::triangular_solve(a.is_contiguous() ? a : working_copy(a), x, upper, trans, unit, left);
  }
  return x;
}

std::tuple<Tensor, Tensor> linalg_qr_raw(const Tensor& a, const std::string& mode) {
  check_matrix("linalg.qr", a, false);
  PYAD_CHECK(mode == "reduced" || mode == "complete" || mode == "r", ValueError,
             "[linalg.qr] mode must be 'reduced', 'complete' or 'r', got '", mode, "'");
  const int64_t m = a.shape()[a.ndim() - 2], n = a.shape().back(), k = std::min(m, n);
  const int64_t kq = mode == "r" ? 0 : (mode == "complete" ? m : k);
  const int64_t kr = mode == "complete" ? m : k;
  Tensor w = working_copy(a);
  Tensor q = empty(with(batch_of(a), {mode == "r" ? 0 : m, kq}), a.dtype(), a.device());
  Tensor r = empty(with(batch_of(a), {kr, n}), a.dtype(), a.device());
  kernels::qr(w, q, r);
  return {q, r};
}

std::tuple<Tensor, Tensor, Tensor> linalg_eigh_raw(const Tensor& a, bool upper, bool vectors) {
  check_matrix("linalg.eigh", a, true);
  Tensor v = working_copy(a), info = info_for(a);
  Tensor w = empty(with(batch_of(a), {a.shape().back()}), a.dtype(), a.device());
  kernels::eigh(v, w, upper, vectors, info);
  return {w, v, info};
}

std::tuple<Tensor, Tensor, Tensor, Tensor> linalg_svd_raw(const Tensor& a, bool full, bool vectors) {
  check_matrix("linalg.svd", a, false);
  const int64_t m = a.shape()[a.ndim() - 2], n = a.shape().back(), k = std::min(m, n);
  Tensor w = working_copy(a), info = info_for(a);
  Tensor s = empty(with(batch_of(a), {k}), a.dtype(), a.device());
  Tensor u = empty(with(batch_of(a), {vectors ? m : 0, vectors ? (full ? m : k) : 0}), a.dtype(), a.device());
  Tensor vh = empty(with(batch_of(a), {vectors ? (full ? n : k) : 0, vectors ? n : 0}), a.dtype(), a.device());
  if (a.numel() > 0) kernels::svd(w, u, s, vh, full, info);
  return {u, s, vh, info};
}

}  // namespace pyad
