// matmul with torch's rules for 1-d operands and broadcast batch dims. The
// backward uses transposed *views* (g @ b^T, a^T @ g): the BLAS layer reads
// them through its transpose flags, so no operand is ever copied.
#include "ops/record.h"
#include "kernels/kernels.h"

namespace pyad {

namespace {

Tensor mT(const Tensor& t) { return transpose(t, -2, -1); }

struct MatmulBackward : Node {
  SavedTensor a, b;
  const char* nm;
  std::string name() const override { return nm; }
  TensorList apply(TensorList&& grads) override {
    // Work in the promoted shapes: a 1-d a is a row (1, k), a 1-d b a column (k, 1).
    const Shape &sa = input_meta[0].shape, &sb = input_meta[1].shape;
    const bool a1 = sa.size() == 1, b1 = sb.size() == 1;
    const Tensor& g0 = grads[0];
    const int64_t nb = batch_dims(g0);
    const Shape batch = batch_shape(g0, out_ndim);
    Tensor g = g0;
    if (a1 && b1) g = reshape(g, concat(batch, {1, 1}));
    else if (a1) g = unsqueeze(g, -2);
    else if (b1) g = unsqueeze(g, -1);
    Tensor ga, gb;
    if (needs_input_grad(0)) {
      Tensor bv = b.unpack(*this);
      Tensor b2 = b1 ? unsqueeze(bv, -1) : bv;
      ga = reshape(sum_to(matmul(g, mT(b2)), a1 ? Shape{1, sa[0]} : sa, "matmul", nb), concat(batch, sa));
    }
    if (needs_input_grad(1)) {
      Tensor av = a.unpack(*this);
      if (b1 && !a1 && sa.size() == 2 && nb > 0) {
        gb = matmul(g0, av);  // all cotangents at once: (*batch, m) @ (m, k), one GEMM
      } else {
        Tensor a2 = a1 ? unsqueeze(av, 0) : av;
        gb = reshape(sum_to(matmul(mT(a2), g), b1 ? Shape{sb[0], 1} : sb, "matmul", nb), concat(batch, sb));
      }
    }
    return {ga, gb};
  }
  std::vector<SavedTensor*> saved() override { return {&a, &b}; }
};

Tensor raw_view(const Tensor& t, Shape shape, Shape strides) { return make_view(t, shape, strides, t->offset); }

// A raw view with a unit dim inserted, no history (the node works on the originals).
Tensor raw_unsqueeze(const Tensor& t, int64_t d) {
  Shape sh = t.shape(), st = t.strides();
  sh.insert(sh.begin() + d, 1);
  st.insert(st.begin() + d, 1);
  return raw_view(t, sh, st);
}

// (..., m, k) @ (k, n) is one (prod(...) m, k) @ (k, n) product when a's
// leading dims fold into its rows without a copy.
bool fold_rows(const Tensor& a2, const Tensor& b2, Tensor& folded) {
  if (a2.ndim() <= 2 || b2.ndim() != 2) return false;
  const int64_t k = a2.shape().back();
  if (k == 0) return false;
  // The leading dims and the row dim merge into one when each non-unit dim's stride is the next one's extent.
  int64_t rows = 1, row_stride = -1, expected = 0;
  for (int64_t i = a2.ndim() - 2; i >= 0; --i) {
    const int64_t n = a2.shape()[i], st = a2.strides()[i];
    if (n == 1) continue;
    if (row_stride < 0) row_stride = st;
    else if (st != expected) return false;
    expected = st * n;
    rows *= n;
  }
  if (row_stride < 0) row_stride = k;
  if (rows > 1 && row_stride == 0) return false;
  folded = raw_view(a2, {rows, k}, {row_stride, a2.strides().back()});
  return true;
}

const char* node_name(const Tensor& a, const Tensor& b) {
  if (a.ndim() == 1 && b.ndim() == 1) return "DotBackward0";
  if (a.ndim() == 1 || b.ndim() == 1) return "MvBackward0";
  return a.ndim() == 2 && b.ndim() == 2 ? "MmBackward0" : "MatmulBackward0";
}

Tensor matmul_jvp(const Tensor& a, const Tensor& b, const Tensor& out) {
  Tensor ta = tangent_of(a), t;
  const int64_t nd = std::max(a.ndim(), b.ndim());
  const bool column = b.ndim() == 2 && b.shape()[1] == 1;
  // Note [Identity tangents] (autograd/forward_ad.h): b's tangent is not made dense for this.
  const std::optional<IdentitySlice> id =
      a.ndim() == 2 && (b.ndim() == 1 || column) ? identity_tangent_of(b) : std::nullopt;
  Tensor tb = id ? Tensor() : tangent_of(b);
  if (ta.defined()) {
    if (a.ndim() >= 2) t = matmul(align_batched(ta, a.ndim(), nd), b);
    else if (b.ndim() <= 2 || ta.ndim() == 1) t = matmul(ta, b);  // (*batch, k) rows @ b
    else t = squeeze(matmul(align_batched(unsqueeze(ta, -2), 2, b.ndim()), b), -2);
  }
  if (id || tb.defined()) {
    const int64_t nb = id ? 1 : tb.ndim() - b.ndim();
    Tensor u;
    if (id) {
      // [a @ e_i]_i for i in [start, start + count) is a transposed slice of a: no product at all.
      u = transpose(slice(a, 1, id->start, id->start + id->count, 1), 0, 1);
      if (column) u = unsqueeze(u, -1);
    } else if (b.ndim() == 1 && nb > 0) {
      if (a.ndim() <= 2) u = matmul(tb, a.ndim() == 2 ? transpose(a, 0, 1) : a);  // one GEMM for all directions
      else u = squeeze(matmul(a, align_batched(unsqueeze(tb, -1), 2, a.ndim())), -1);
    } else {
      u = matmul(a, b.ndim() >= 2 ? align_batched(tb, b.ndim(), nd) : tb);
    }
    t = t.defined() ? t + u : u;
  }
  return t;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_same_device("matmul", a, b);
  PYAD_CHECK(a.ndim() > 0 && b.ndim() > 0, ValueError, "[matmul] both arguments need at least 1 dimension, got shapes ",
             shape_str(a.shape()), " and ", shape_str(b.shape()));
  PYAD_CHECK(a.dtype() == b.dtype(), TypeError, "[matmul] expected both operands to have the same dtype, got ",
             dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
  PYAD_CHECK(is_floating(a.dtype()), TypeError, "[matmul] expected floating operands, got ", dtype_name(a.dtype()));
  Tensor a2 = a.ndim() == 1 ? raw_unsqueeze(a, 0) : a;
  Tensor b2 = b.ndim() == 1 ? raw_unsqueeze(b, 1) : b;
  const int64_t k = a2.shape().back(), kb = b2.shape()[b2.ndim() - 2];
  PYAD_CHECK(k == kb, ValueError, "[matmul] shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()),
             " cannot be multiplied (", k, " != ", kb, ")");
  Shape ba(a2.shape().begin(), a2.shape().end() - 2), bb(b2.shape().begin(), b2.shape().end() - 2);
  Shape sh = broadcast_shapes(ba, bb, "matmul");
  sh.push_back(a2.shape()[a2.ndim() - 2]);
  sh.push_back(b2.shape().back());
  Tensor out = empty(sh, a.dtype(), a.device());
  Tensor folded;
  if (fold_rows(a2, b2, folded)) {
    kernels::matmul(folded, b2, raw_view(out, {folded.shape()[0], sh.back()}, {sh.back(), 1}));
  } else {
    kernels::matmul(a2, b2, out);
  }
  // Drop the dims that 1-d operands added.
  Shape final_shape = sh;
  if (b.ndim() == 1) final_shape.pop_back();
  if (a.ndim() == 1) final_shape.erase(final_shape.end() - (b.ndim() == 1 ? 1 : 2));
  if (final_shape != sh) {
    out->shape = final_shape;
    out->strides = contiguous_strides(final_shape);
  }
  if (auto node = record<MatmulBackward>(out, {a, b})) {
    if (node->needs_input_grad(1)) node->a = SavedTensor(a, false);
    if (node->needs_input_grad(0)) node->b = SavedTensor(b, false);
    node->nm = node_name(a, b);
  }
  forward_rule(out, {a, b}, [&] { return matmul_jvp(a, b, out); });
  return out;
}

Tensor outer(const Tensor& a, const Tensor& b) {
  PYAD_CHECK(a.ndim() == 1 && b.ndim() == 1, ValueError, "[outer] expected 1-d vectors, got shapes ",
             shape_str(a.shape()), " and ", shape_str(b.shape()));
  return mul(unsqueeze(a, 1), unsqueeze(b, 0));
}

}  // namespace pyad
