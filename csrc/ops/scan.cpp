// Scans: cumsum and cumprod along one dim, forward by the kernels' scan, with
// their VJP and JVP rules written with pyad ops. Dims in the rules count from
// the end, so batched gradients and tangents work unchanged (Note [Batched
// tangents and cotangents]).
#include "ops/record.h"
#include "kernels/kernels.h"

namespace pyad {

namespace {

// torch's conversions: `dtype` first, then integers and bools scan as int64.
Tensor scan_input(const Tensor& x, std::optional<DType> dtype, const char* op) {
  PYAD_CHECK(dtype != DType::Bool, TypeError, "[", op, "] dtype=bool is not supported (torch has no bool scans)");
  Tensor in = dtype ? to_dtype(x, *dtype) : x;
  return is_floating(in.dtype()) || in.dtype() == DType::Int64 ? in : to_dtype(in, DType::Int64);
}

Tensor scan_raw(bool prod, const Tensor& x, int64_t dim) {
  Tensor out = empty(x.shape(), x.dtype(), x.device());
  if (x.ndim() == 0) {  // the kernel scans along a dim: view the scalar as shape (1,)
    kernels::cumulative(prod, make_view(x, {1}, {1}, x->offset), 0, make_view(out, {1}, {1}, 0));
  } else {
    kernels::cumulative(prod, x, dim, out);
  }
  return out;
}

Tensor scalar_like(double v, const Tensor& t) { return scalar_tensor(v, t.dtype(), t.device()); }

// The sum from each position to the end of dim: cumsum's VJP.
Tensor reverse_cumsum(const Tensor& g, int64_t dim) { return flip(cumsum(flip(g, {dim}), dim), {dim}); }

bool any_true(const Tensor& mask) {
  Tensor n = to_device(sum(mask, {}, false), Device{});
  return *n.data<int64_t>() != 0;
}

struct CumsumBackward : Node {
  int64_t dim;  // counted from the end
  std::string name() const override { return "CumsumBackward0"; }
  TensorList apply(TensorList&& g) override { return {out_ndim == 0 ? g[0] : reverse_cumsum(g[0], dim)}; }
};

// Note [cumprod with zeros]
// dy_j/dx_k = prod_{i <= j, i != k} x_i for k <= j. Without zeros that is y_j / x_k, so the VJP is
// reverse_cumsum(g * y) / x and the JVP y * cumsum(t / x) (torch's formulas). With zeros, along each line
// let z be the first zero: before z the same formulas hold (no zero divides); at z only the products that
// skip x_z survive, which are the cumprod of x with x_z set to 1; after z every dy_j/dx_k is 0. These masked
// formulas give the right values, but not the right derivatives of themselves (an entry after z is 0 only
// while x_z is), so where a higher derivative may be taken (grad mode on in the backward, as torch decides,
// or x itself differentiable or dual) the rules use the exact omitted products instead, at O(n^2) cost.

// P with P[k, j] = prod_{i <= j, i != k} x_i for j >= k and 0 for j < k, the pair (k, j) at dims
// (dim - 1, dim) of a tensor of rank x.ndim() + 1: the cumprod, along the last of the pair, of x with
// x_k set to 1 in row k.
Tensor omitted_products(const Tensor& x, int64_t dim) {
  const int64_t n = x.shape()[x.ndim() + dim];
  Tensor k = reshape(arange(0, static_cast<double>(n), 1, DType::Int64, x.device()), {n, 1});
  Tensor j = reshape(arange(0, static_cast<double>(n), 1, DType::Int64, x.device()), {1, n});
  const Shape pair = concat({n, n}, Shape(-dim - 1, 1));  // trailing unit dims line (k, j) up with the pair
  Tensor skip = reshape(eq(k, j), pair), upper = reshape(ge(j, k), pair);
  Tensor rows = where(skip, scalar_like(1, x), unsqueeze(x, dim - 1));
  return where(upper, cumprod(rows, dim), scalar_like(0, x));
}

// The masks of Note [cumprod with zeros], along dim.
struct ZeroMasks {
  Tensor before, first, from_first, safe_x;
  ZeroMasks(const Tensor& x, const Tensor& is_zero, int64_t dim) {
    Tensor seen = cumsum(is_zero, dim);  // zeros up to here, this one included
    Tensor none = zeros({}, DType::Int64, x.device()), one = ones({}, DType::Int64, x.device());
    before = eq(seen, none);
    from_first = ne(seen, none);
    first = eq(seen * to_dtype(is_zero, DType::Int64), one);
    safe_x = where(is_zero, scalar_like(1, x), x);
  }
};

Tensor cumprod_backward(const Tensor& g, const Tensor& x, const Tensor& y, int64_t dim) {
  if (x.ndim() == 0 || x.shape()[x.ndim() + dim] <= 1) return g;
  Tensor zero = scalar_like(0, x);
  Tensor is_zero = eq(x, zero);
  if (!any_true(is_zero)) return reverse_cumsum(g * y, dim) / x;
  if (grad_enabled() || any_tangent({x})) return sum(omitted_products(x, dim) * unsqueeze(g, dim - 1), {dim}, false);
  ZeroMasks m(x, is_zero, dim);
  Tensor before = where(m.before, reverse_cumsum(g * y, dim) / m.safe_x, zero);
  Tensor at_first = sum(where(m.from_first, g, zero) * cumprod(where(m.first, scalar_like(1, x), x), dim), {dim}, true);
  return where(m.first, at_first, before);
}

Tensor cumprod_jvp(const Tensor& t, const Tensor& x, const Tensor& y, int64_t dim) {
  if (x.ndim() == 0 || x.shape()[x.ndim() + dim] <= 1) return t;
  Tensor zero = scalar_like(0, x);
  Tensor is_zero = eq(x, zero);
  if (!any_true(is_zero)) return y * cumsum(t / x, dim);
  if ((grad_enabled() && x.requires_grad()) || any_tangent({x}))
    return sum(omitted_products(x, dim) * unsqueeze(t, dim), {dim - 1}, false);
  ZeroMasks m(x, is_zero, dim);
  Tensor t_first = sum(where(m.first, t, zero), {dim}, true);
  return where(m.before, y * cumsum(t / m.safe_x, dim), t_first * cumprod(where(m.first, scalar_like(1, x), x), dim));
}

struct CumprodBackward : Node {
  SavedTensor x, y;
  int64_t dim;  // counted from the end
  std::string name() const override { return "CumprodBackward0"; }
  TensorList apply(TensorList&& g) override { return {cumprod_backward(g[0], x.unpack(*this), y.unpack(*this), dim)}; }
  std::vector<SavedTensor*> saved() override { return {&x, &y}; }
};

}  // namespace

Tensor cumsum(const Tensor& x0, int64_t dim, std::optional<DType> dtype) {
  const int64_t d = wrap_dim(dim, x0.ndim(), "cumsum");
  Tensor x = scan_input(x0, dtype, "cumsum");
  Tensor out = scan_raw(false, x, d);
  if (!is_floating(x.dtype())) return out;
  const int64_t neg = d - x.ndim();
  if (auto node = record<CumsumBackward>(out, {x})) node->dim = neg;
  forward_rule(out, {x}, [&] {
    Tensor t = tangent_of(x);
    return x.ndim() == 0 ? t : cumsum(t, neg);
  });
  return out;
}

Tensor cumprod(const Tensor& x0, int64_t dim, std::optional<DType> dtype) {
  const int64_t d = wrap_dim(dim, x0.ndim(), "cumprod");
  Tensor x = scan_input(x0, dtype, "cumprod");
  Tensor out = scan_raw(true, x, d);
  if (!is_floating(x.dtype())) return out;
  const int64_t neg = d - x.ndim();
  if (auto node = record<CumprodBackward>(out, {x})) {
    node->x = SavedTensor(x, false);
    node->y = SavedTensor(out, true);
    node->dim = neg;
  }
  forward_rule(out, {x}, [&] { return cumprod_jvp(tangent_of(x), x, out, neg); });
  return out;
}

}  // namespace pyad
