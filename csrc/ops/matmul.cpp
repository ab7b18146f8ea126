// matmul with torch's rules for 1-d operands and broadcast batch dims. The
// backward uses transposed *views* (g @ b^T, a^T @ g): the BLAS layer reads
// them through its transpose flags, so no operand is ever copied.
#include "record.h"
#include "../kernels/kernels.h"

namespace pyad {

namespace {

Tensor mT(const Tensor& t) { return transpose(t, -2, -1); }

struct MatmulBackward : Node {
  SavedTensor a, b;
  std::string nm;
  std::string name() const override { return nm; }
  TensorList apply(TensorList&& grads) override {
    // Work in the promoted shapes: a 1-d a is a row (1, k), a 1-d b a column (k, 1).
    const Shape &sa = input_meta[0].shape, &sb = input_meta[1].shape;
    const bool a1 = sa.size() == 1, b1 = sb.size() == 1;
    Tensor g = grads[0];
    if (a1 && b1) g = reshape(g, {1, 1});
    else if (a1) g = unsqueeze(g, -2);
    else if (b1) g = unsqueeze(g, -1);
    Tensor ga, gb;
    if (needs_input_grad(0)) {
      Tensor bv = b.unpack(*this);
      Tensor b2 = b1 ? unsqueeze(bv, -1) : bv;
      ga = reshape(sum_to(matmul(g, mT(b2)), a1 ? Shape{1, sa[0]} : sa, "matmul"), sa);
    }
    if (needs_input_grad(1)) {
      Tensor av = a.unpack(*this);
      Tensor a2 = a1 ? unsqueeze(av, 0) : av;
      gb = reshape(sum_to(matmul(mT(a2), g), b1 ? Shape{sb[0], 1} : sb, "matmul"), sb);
    }
    return {ga, gb};
  }
  void release_saved() override { a.reset(); b.reset(); }
};

// A raw view with a unit dim inserted, no history (the node works on the originals).
Tensor raw_unsqueeze(const Tensor& t, int64_t d) {
  Shape sh = t.shape(), st = t.strides();
  sh.insert(sh.begin() + d, 1);
  st.insert(st.begin() + d, 1);
  return make_view(t, sh, st, t->offset);
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
  kernels::matmul(a2, b2, out);
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
    bool vec = a.ndim() == 1 || b.ndim() == 1;
    node->nm = a.ndim() == 1 && b.ndim() == 1 ? "DotBackward0" : vec ? "MvBackward0" : (a.ndim() == 2 && b.ndim() == 2 ? "MmBackward0" : "MatmulBackward0");
  }
  return out;
}

Tensor outer(const Tensor& a, const Tensor& b) {
  PYAD_CHECK(a.ndim() == 1 && b.ndim() == 1, ValueError, "[outer] expected 1-d vectors, got shapes ",
             shape_str(a.shape()), " and ", shape_str(b.shape()));
  return mul(unsqueeze(a, 1), unsqueeze(b, 0));
}

}  // namespace pyad
