// Ops that move or mask elements without arithmetic: flip, roll, tril/triu,
// diagonal (a view) and what builds on them (trace, kron). Each rule is the
// same op (or its inverse) applied to the gradient or tangent, with dims
// counted from the end so batched ones work unchanged (Note [Batched tangents
// and cotangents]).
#include <algorithm>
#include "ops/record.h"
#include "ops/views.h"
#include "kernels/kernels.h"

namespace pyad {

namespace {

// Dims counted from the end: they address the same dims of a batched gradient or tangent.
std::vector<int64_t> from_end(const std::vector<int64_t>& dims, int64_t ndim) {
  std::vector<int64_t> out;
  for (auto d : dims) out.push_back(d - ndim);
  return out;
}

// `len` elements of t along dim from `start`, as a raw view (no history).
Tensor narrow_raw(const Tensor& t, int64_t dim, int64_t start, int64_t len) {
  Shape sh = t.shape();
  sh[dim] = len;
  return make_view(t, sh, t.strides(), t->offset + start * t.strides()[dim]);
}

Shape with_batch(const Tensor& t, int64_t nb, const Shape& shape) {
  return concat(Shape(t.shape().begin(), t.shape().begin() + nb), shape);
}

struct FlipBackward : Node {
  std::vector<int64_t> dims;  // counted from the end
  std::string name() const override { return "FlipBackward0"; }
  TensorList apply(TensorList&& g) override { return {flip(g[0], dims)}; }
};

struct RollBackward : Node {
  std::vector<int64_t> shifts, dims;  // dims counted from the end
  std::string name() const override { return "RollBackward0"; }
  TensorList apply(TensorList&& g) override {
    std::vector<int64_t> back;
    for (auto s : shifts) back.push_back(-s);
    return {roll(g[0], back, dims)};
  }
};

// x rolled by shifts[d] along each dim d into a fresh tensor, in one pass: along each rolled dim the output
// is two blocks, out[s:] = x[:n-s] and out[:s] = x[n-s:], and every combination of blocks is one copy.
Tensor roll_raw(const Tensor& x, const std::vector<int64_t>& shift_of_dim) {
  Tensor out = empty(x.shape(), x.dtype(), x.device());
  if (out.numel() == 0) return out;
  std::vector<int64_t> rolled, s;
  for (int64_t d = 0; d < x.ndim(); ++d) {
    const int64_t n = x.shape()[d], k = ((shift_of_dim[d] % n) + n) % n;
    if (k != 0) {
      rolled.push_back(d);
      s.push_back(k);
    }
  }
  for (uint64_t combo = 0; combo < (uint64_t(1) << rolled.size()); ++combo) {
    Tensor src = x, dst = out;
    for (size_t i = 0; i < rolled.size(); ++i) {
      const int64_t d = rolled[i], n = x.shape()[d];
      const bool wrapped = (combo >> i) & 1;  // the block that wraps around to the front
      src = wrapped ? narrow_raw(src, d, n - s[i], s[i]) : narrow_raw(src, d, 0, n - s[i]);
      dst = wrapped ? narrow_raw(dst, d, 0, s[i]) : narrow_raw(dst, d, s[i], n - s[i]);
    }
    kernels::copy(src, dst);
  }
  return out;
}

struct TriangleBackward : Node {
  int64_t diagonal;
  bool upper;
  std::string name() const override { return upper ? "TriuBackward0" : "TrilBackward0"; }
  TensorList apply(TensorList&& g) override { return {upper ? triu(g[0], diagonal) : tril(g[0], diagonal)}; }
};

// The elements on or below (upper: above) the k-th diagonal of every matrix in the last two dims; the rest 0.
Tensor triangle(const Tensor& x, int64_t k, bool upper) {
  const char* op = upper ? "triu" : "tril";
  PYAD_CHECK(x.ndim() >= 2, RuntimeError, "[", op, "] input tensor must have at least 2 dimensions, got shape ",
             shape_str(x.shape()));
  const int64_t rows = x.shape()[x.ndim() - 2], cols = x.shape()[x.ndim() - 1];
  Tensor i = reshape(arange(0, static_cast<double>(rows), 1, DType::Int64, x.device()), {rows, 1});
  Tensor j = reshape(arange(0, static_cast<double>(cols), 1, DType::Int64, x.device()), {1, cols});
  Tensor kth = scalar_tensor(static_cast<double>(k), DType::Int64, x.device());
  Tensor keep = upper ? ge(j - i, kth) : le(j - i, kth);
  Tensor out = empty(x.shape(), x.dtype(), x.device());
  kernels::where(keep, x, zeros({}, x.dtype(), x.device()), out);
  if (auto node = record<TriangleBackward>(out, {x})) {
    node->diagonal = k;
    node->upper = upper;
  }
  forward_rule(out, {x}, [&] {
    Tensor t = tangent_of(x);
    return upper ? triu(t, k) : tril(t, k);
  });
  return out;
}

// The layout of the offset-th diagonal of dims (d1, d2) (both in [0, ndim)) of a tensor of this layout:
// those dims dropped and the diagonal appended as the last dim.
struct DiagonalLayout {
  Shape shape, strides;
  int64_t offset;
  DiagonalLayout(const Tensor& t, int64_t diag, int64_t d1, int64_t d2) {
    const int64_t n1 = t.shape()[d1], n2 = t.shape()[d2];
    const int64_t len = std::max<int64_t>(0, diag >= 0 ? std::min(n1, n2 - diag) : std::min(n1 + diag, n2));
    offset = t->offset;
    if (len > 0) offset += diag >= 0 ? diag * t.strides()[d2] : -diag * t.strides()[d1];
    for (int64_t d = 0; d < t.ndim(); ++d) {
      if (d == d1 || d == d2) continue;
      shape.push_back(t.shape()[d]);
      strides.push_back(t.strides()[d]);
    }
    shape.push_back(len);
    strides.push_back(t.strides()[d1] + t.strides()[d2]);
  }
};

// The gradient of diagonal: g written onto the diagonal of zeros shaped `in_shape`. Differentiable itself
// (its VJP takes the diagonal back), for double backward.
Tensor diagonal_backward(const Tensor& g, const Shape& in_shape, int64_t diag, int64_t dim1, int64_t dim2);

struct DiagonalBackwardBackward : Node {
  int64_t diag, dim1, dim2;  // dims counted from the end
  std::string name() const override { return "DiagonalBackwardBackward0"; }
  TensorList apply(TensorList&& g) override { return {diagonal(g[0], diag, dim1, dim2)}; }
};

Tensor diagonal_backward(const Tensor& g, const Shape& in_shape, int64_t diag, int64_t dim1, int64_t dim2) {
  Tensor out = zeros(in_shape, g.dtype(), g.device());
  const int64_t nd = out.ndim();
  DiagonalLayout l(out, diag, wrap_dim(dim1, nd, "diagonal_backward"), wrap_dim(dim2, nd, "diagonal_backward"));
  kernels::copy(g, make_view(out, l.shape, l.strides, l.offset));
  if (auto node = record<DiagonalBackwardBackward>(out, {g})) {
    node->diag = diag;
    node->dim1 = dim1;
    node->dim2 = dim2;
  }
  forward_rule(out, {g}, [&] {
    Tensor t = tangent_of(g);
    return diagonal_backward(t, with_batch(t, t.ndim() - g.ndim(), in_shape), diag, dim1, dim2);
  });
  return out;
}

}  // namespace

Tensor flip(const Tensor& x, const std::vector<int64_t>& dims) {
  const int64_t nd = x.ndim();
  std::vector<bool> seen(std::max<int64_t>(nd, 1), false);
  std::vector<int64_t> wrapped;
  for (auto d0 : dims) {
    const int64_t d = wrap_dim(d0, nd, "flip");
    PYAD_CHECK(!seen[d], RuntimeError, "[flip] dim ", d0, " appears multiple times in the list of dims ",
               shape_str(dims), " (input shape ", shape_str(x.shape()), ")");
    seen[d] = true;
    wrapped.push_back(d);
  }
  // Read x through a view that walks the flipped dims backwards (negative strides), so one copy does it.
  Shape strides = x.strides();
  int64_t offset = x->offset;
  if (x.numel() > 0 && nd > 0) {
    for (auto d : wrapped) {
      offset += (x.shape()[d] - 1) * strides[d];
      strides[d] = -strides[d];
    }
  }
  Tensor out = empty(x.shape(), x.dtype(), x.device());
  kernels::copy(make_view(x, x.shape(), strides, offset), out);
  const std::vector<int64_t> neg = nd == 0 ? std::vector<int64_t>{} : from_end(wrapped, nd);
  if (auto node = record<FlipBackward>(out, {x})) node->dims = neg;
  forward_rule(out, {x}, [&] { return flip(tangent_of(x), neg); });
  return out;
}

Tensor roll(const Tensor& x, const std::vector<int64_t>& shifts, const std::vector<int64_t>& dims) {
  if (dims.empty()) {
    PYAD_CHECK(shifts.size() == 1, RuntimeError,
               "[roll] shifts and dimensions must align: without dims, shifts must "
               "be one number, got ",
               shifts.size(), " (input shape ", shape_str(x.shape()), ")");
    return reshape(roll(reshape(x, {x.numel()}), shifts, {0}), x.shape());
  }
  PYAD_CHECK(shifts.size() == dims.size(), RuntimeError, "[roll] shifts and dimensions must align: got ", shifts.size(),
             " shifts and ", dims.size(), " dims (input shape ", shape_str(x.shape()), ")");
  const int64_t nd = x.ndim();
  PYAD_CHECK(nd > 0, IndexError, "[roll] dimension specified as ", dims[0], " but the tensor has no dimensions");
  std::vector<int64_t> wrapped, shift_of_dim(nd, 0);
  for (size_t i = 0; i < dims.size(); ++i) {
    wrapped.push_back(wrap_dim(dims[i], nd, "roll"));
    const int64_t n = x.shape()[wrapped.back()];
    // Reduced first, so that summing the shifts of a repeated dim cannot overflow.
    if (n > 0) shift_of_dim[wrapped.back()] = (shift_of_dim[wrapped.back()] + shifts[i] % n) % n;
  }
  Tensor out = roll_raw(x, shift_of_dim);
  const std::vector<int64_t> neg = from_end(wrapped, nd);
  if (auto node = record<RollBackward>(out, {x})) {
    for (size_t i = 0; i < dims.size(); ++i) {  // reduced, so that the backward's negation cannot overflow
      const int64_t n = x.shape()[wrapped[i]];
      node->shifts.push_back(n > 0 ? shifts[i] % n : 0);
    }
    node->dims = neg;
  }
  forward_rule(out, {x}, [&] { return roll(tangent_of(x), shifts, neg); });
  return out;
}

Tensor tril(const Tensor& x, int64_t diagonal) { return triangle(x, diagonal, false); }
Tensor triu(const Tensor& x, int64_t diagonal) { return triangle(x, diagonal, true); }

Tensor diagonal(const Tensor& x, int64_t offset, int64_t dim1, int64_t dim2) {
  const int64_t nd = x.ndim();
  const int64_t d1 = wrap_dim(dim1, nd, "diagonal"), d2 = wrap_dim(dim2, nd, "diagonal");
  PYAD_CHECK(d1 != d2, RuntimeError, "[diagonal] diagonal dimensions cannot be identical: dim1 ", dim1, " and dim2 ",
             dim2, " (input shape ", shape_str(x.shape()), ")");
  DiagonalLayout l(x, offset, d1, d2);
  const int64_t n1 = d1 - nd, n2 = d2 - nd;
  const Shape in_shape = x.shape();
  return as_view(
      x, l.shape, l.strides, l.offset, "DiagonalBackward0",
      [in_shape, offset, n1, n2](const Tensor& g, int64_t nb) {
        return diagonal_backward(g, with_batch(g, nb, in_shape), offset, n1, n2);
      },
      [offset, n1, n2](const Tensor& t, int64_t) { return diagonal(t, offset, n1, n2); });
}

Tensor trace(const Tensor& x) {
  PYAD_CHECK(x.ndim() == 2, RuntimeError, "[trace] expected a matrix (a 2-d tensor), but got a tensor of shape ",
             shape_str(x.shape()));
  PYAD_CHECK(x.dtype() != DType::Bool, TypeError, "[trace] not implemented for bool tensors");
  return sum(diagonal(x, 0, 0, 1), {}, false);
}

// kron(a, b)[..., i*q + k, ...] = a[..., i, ...] * b[..., k, ...]: a with a unit dim after each of its dims,
// times b with one before each of its, then each pair merged. The shorter shape gets leading 1s, as torch.
Tensor kron(const Tensor& a, const Tensor& b) {
  check_same_device("kron", a, b);
  if (a.dtype() == DType::Bool && b.dtype() == DType::Bool)  // a logical and, as torch (mul refuses bools)
    return ne(kron(to_dtype(a, DType::Int64), to_dtype(b, DType::Int64)), zeros({}, DType::Int64, a.device()));
  const int64_t nd = std::max(a.ndim(), b.ndim());
  Shape sa(nd - a.ndim(), 1), sb(nd - b.ndim(), 1);
  sa = concat(sa, a.shape());
  sb = concat(sb, b.shape());
  Shape spread_a, spread_b, out_shape;
  for (int64_t i = 0; i < nd; ++i) {
    spread_a.insert(spread_a.end(), {sa[i], 1});
    spread_b.insert(spread_b.end(), {1, sb[i]});
    out_shape.push_back(sa[i] * sb[i]);
  }
  return reshape(mul(reshape(a, spread_a), reshape(b, spread_b)), out_shape);
}

}  // namespace pyad
