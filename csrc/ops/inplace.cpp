// In-place ops. Without autograd they run the kernel straight into x. With
// autograd, the result is computed out of place (recording its node with an
// edge to x's old history), written into x, and x takes over that history.
// Either way x's version counter moves, so a saved copy of x is detected.
#include "record.h"
#include "../kernels/kernels.h"

namespace pyad {

namespace {

void check_leaf(const char* op, const Tensor& x) {
  PYAD_CHECK(!grad_enabled() || !(x.is_leaf() && x->requires_grad_leaf), RuntimeError, "[", op,
             "] a leaf Variable that requires grad is being used in an in-place operation (wrap it in "
             "pyad.no_grad() or use an out-of-place op).");
}

void check_result(const char* op, const Tensor& x, const Shape& shape, DType dt) {
  PYAD_CHECK(shape == x.shape(), ValueError, "[", op, "] output with shape ", shape_str(x.shape()),
             " doesn't match the broadcast shape ", shape_str(shape));
  PYAD_CHECK(is_floating(x.dtype()) || !is_floating(dt), TypeError, "[", op, "] result type ", dtype_name(dt),
             " can't be cast to the desired output type ", dtype_name(x.dtype()));
}

// Take over the history of `result`, whose values were just written into x.
Tensor& rebase(const char* op, Tensor& x, const Tensor& result) {
  if (result.requires_grad() && grad_enabled()) {
    PYAD_CHECK(!x->is_view, RuntimeError, "[", op, "] in-place operations with autograd on a view (", describe(x),
               ") are not supported: clone() the view first, or modify its base");
    x->grad_fn = result->grad_fn;
    x->output_nr = result->output_nr;
  }
  if (Tensor t = tangent_of(result); t.defined()) set_tangent(x, t);
  return x;
}

using OutOfPlace = Tensor (*)(const Tensor&, const Tensor&);

Tensor& binary_inplace(const char* op, kernels::Binary k, OutOfPlace f, Tensor& x, const Tensor& other) {
  check_leaf(op, x);
  DType dt = promote(x.dtype(), other.dtype());
  if (k == kernels::Binary::Div) dt = to_floating(dt);
  check_result(op, x, broadcast_shapes(x.shape(), other.shape(), op), dt);
  if (!any_requires_grad({x, other}) && !any_tangent({x, other})) {
    Tensor o = other.dtype() == x.dtype() ? other : to_dtype(other, x.dtype());
    kernels::binary(k, x, o, x);
    bump_version(x);
    return x;
  }
  if (any_requires_grad({x, other}))
    PYAD_CHECK(!x->is_view, RuntimeError, "[", op, "] in-place operations with autograd on a view (", describe(x),
               ") are not supported: clone() the view first, or modify its base");
  // mul_/div_ by an operand that needs a gradient read x's old value in backward: keep a copy of it.
  bool keeps_x = (k == kernels::Binary::Mul || k == kernels::Binary::Div) && other.requires_grad() && grad_enabled();
  Tensor r = f(keeps_x ? clone(x) : x, other);
  kernels::copy(r, x);
  bump_version(x);
  return rebase(op, x, r);
}

}  // namespace

Tensor& add_(Tensor& x, const Tensor& o) { return binary_inplace("add_", kernels::Binary::Add, add, x, o); }
Tensor& sub_(Tensor& x, const Tensor& o) { return binary_inplace("sub_", kernels::Binary::Sub, sub, x, o); }
Tensor& mul_(Tensor& x, const Tensor& o) { return binary_inplace("mul_", kernels::Binary::Mul, mul, x, o); }
Tensor& div_(Tensor& x, const Tensor& o) { return binary_inplace("div_", kernels::Binary::Div, div, x, o); }

Tensor& copy_(Tensor& x, const Tensor& src) {
  check_leaf("copy_", x);
  check_same_device("copy_", x, src);
  check_result("copy_", x, broadcast_shapes(x.shape(), src.shape(), "copy_"), x.dtype());
  if (!any_requires_grad({x, src}) && !any_tangent({x, src})) {
    kernels::copy(src, x);
    bump_version(x);
    return x;
  }
  // The old values of x get a zero gradient; src gets the gradient summed over its broadcast.
  Tensor r = add(mul(x, scalar_tensor(0.0, x.dtype())), to_dtype(src, x.dtype()));
  kernels::copy(src, x);
  bump_version(x);
  return rebase("copy_", x, r);
}

Tensor& fill_(Tensor& x, double value) {
  check_leaf("fill_", x);
  Tensor r = any_requires_grad({x}) || any_tangent({x}) ? mul(x, scalar_tensor(0.0, x.dtype())) : Tensor();
  kernels::fill(x, value);
  bump_version(x);
  return r.defined() ? rebase("fill_", x, r) : x;
}

Tensor& zero_(Tensor& x) { return fill_(x, 0.0); }

namespace {
struct IndexPutBackward : Node {
  std::vector<IndexStep> steps;
  Tensor keep_mask;  // 1 outside the written region, 0 inside
  std::string name() const override { return "IndexPutBackward0"; }
  TensorList apply(TensorList&& g) override {
    return {needs_input_grad(0) ? g[0] * keep_mask : Tensor(), needs_input_grad(1) ? index(g[0], steps) : Tensor()};
  }
  void release_saved() override { keep_mask = Tensor(); }
};
}  // namespace

Tensor& index_put_(Tensor& x, const std::vector<IndexStep>& steps, const Tensor& value0) {
  check_leaf("setitem", x);
  check_same_device("setitem", x, value0);
  Tensor region;
  {
    NoGradGuard ng;
    region = index(x, steps);
  }
  // Leading unit dims of the value beyond the region's rank are dropped, as torch.
  Tensor value = value0;
  while (value.ndim() > region.ndim() && value.shape()[0] == 1) value = squeeze(value, 0);
  PYAD_CHECK(broadcast_shapes(region.shape(), value.shape(), "setitem") == region.shape(), ValueError,
             "[setitem] value of shape ", shape_str(value.shape()), " cannot be broadcast to the indexed shape ",
             shape_str(region.shape()));
  bool track = any_requires_grad({x, value});
  if (track)
    PYAD_CHECK(!x->is_view, RuntimeError, "[setitem] in-place assignment with autograd into a view (", describe(x),
               ") is not supported: clone() the view first, or assign into its base");
  std::shared_ptr<IndexPutBackward> node;
  if (track) {
    node = std::make_shared<IndexPutBackward>();
    collect_edges(*node, {x, value});
    node->steps = steps;
    node->keep_mask = ones(x.shape(), x.dtype(), x.device());
    NoGradGuard ng;
    Tensor m = index(node->keep_mask, steps);
    kernels::fill(m, 0.0);
  }
  Tensor tx = tangent_of(x), tv = tangent_of(value);
  kernels::copy(value, region);
  bump_version(x);
  if (node) set_history(x, node);
  if (tx.defined() || tv.defined()) {
    // The new tangent: x's outside the region, value's inside (batch dims lead, so steps shift by nb).
    const int64_t nb = tx.defined() ? tx.ndim() - x.ndim() : tv.ndim() - value.ndim();
    Shape batch = tx.defined() ? batch_shape(tx, x.ndim()) : batch_shape(tv, value.ndim());
    Tensor t;
    {
      JvpRuleGuard guard;
      t = tx.defined() ? clone(tx) : zeros(concat(batch, x.shape()), x.dtype(), x.device());
      std::vector<IndexStep> shifted = steps;
      for (auto& st : shifted) st.dim += nb;
      Tensor v = tv.defined() ? align_batched(tv, value.ndim(), region.ndim()) : zeros({}, x.dtype(), x.device());
      index_put_(t, shifted, v);
    }
    set_tangent(x, t);
  }
  return x;
}

}  // namespace pyad
