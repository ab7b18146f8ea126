// In-place ops. Without autograd they run the kernel straight into x. With
// autograd, the result is computed out of place (recording its node with x as
// input 0), written into x, and x takes over that history. Either way x's
// version counter moves, so a saved copy of x is detected in backward.
//
// Note [In-place on views]
// Writing into a view v of a base b changes b too. b's new history is a
// CopySlices node: given b's gradient, it runs v's in-place node on the
// region that v covers and writes the result back into that region, so the
// gradient reaching b's old history and the op's other inputs is exact. v is
// then re-derived from b (its view_fn) so that its history goes through b.
#include "ops/inplace.h"
#include "ops/record.h"
#include "kernels/kernels.h"

namespace pyad {

namespace inplace_detail {  // shared with the in-place writes of index_ops.cpp (ops/inplace.h)

void check_leaf(const char* op, const Tensor& x) {
  if (!grad_enabled()) return;
  PYAD_CHECK(!(x.is_leaf() && x.requires_grad()), RuntimeError, "[", op,
             "] a leaf Variable that requires grad is being used in an in-place operation (wrap it in "
             "pyad.no_grad() or use an out-of-place op).");
  const Tensor& base = x->view_base;
  PYAD_CHECK(!(x->is_view && base.defined() && base.is_leaf() && base.requires_grad()), RuntimeError, "[", op,
             "] a view of a leaf Variable that requires grad is being used in an in-place operation.");
}

// A write into x must not reach one memory location through two elements (an expanded tensor), as torch.
void check_no_internal_overlap(const char* op, const Tensor& x) {
  for (int64_t i = 0; i < x.ndim(); ++i)
    PYAD_CHECK(x.strides()[i] != 0 || x.shape()[i] <= 1, RuntimeError, "[", op,
               "] unsupported operation: more "
               "than one element of the written-to tensor (",
               describe(x), ", strides ", shape_str(x.strides()),
               ") refers to a single memory location; clone() it first");
}

// [lo, hi] element range that t touches in its storage.
std::pair<int64_t, int64_t> extent(const Tensor& t) {
  int64_t lo = t->offset, hi = t->offset;
  for (int64_t i = 0; i < t.ndim(); ++i) {
    if (t.shape()[i] == 0) return {0, -1};
    int64_t span = (t.shape()[i] - 1) * t.strides()[i];
    (span < 0 ? lo : hi) += span;
  }
  return {lo, hi};
}

// src as an operand of a write into x: copied first when it shares memory with x in another layout, so the
// result is the one a fresh source would give (NumPy's semantics; torch refuses such writes).
Tensor unaliased(const Tensor& src, const Tensor& x) {
  if (src->storage != x->storage) return src;
  if (src->offset == x->offset && src.shape() == x.shape() && src.strides() == x.strides()) return src;
  auto [a0, a1] = extent(src);
  auto [b0, b1] = extent(x);
  if (a1 < b0 || b1 < a0) return src;
  Tensor c = empty(src.shape(), src.dtype(), src.device());
  kernels::copy(src, c);
  return c;
}

void check_result(const char* op, const Tensor& x, const Shape& shape, DType dt) {
  check_no_internal_overlap(op, x);
  PYAD_CHECK(shape == x.shape(), ValueError, "[", op, "] output with shape ", shape_str(x.shape()),
             " doesn't match the broadcast shape ", shape_str(shape));
  PYAD_CHECK(is_floating(x.dtype()) || !is_floating(dt), TypeError, "[", op, "] result type ", dtype_name(dt),
             " can't be cast to the desired output type ", dtype_name(x.dtype()));
}

// See Note [In-place on views].
struct CopySlices : Node {
  std::shared_ptr<std::function<Tensor(const Tensor&)>> view_fn;
  std::shared_ptr<Node> fn;  // the in-place op's node; its input 0 was the view
  std::string name() const override { return "CopySlices"; }
  TensorList apply(TensorList&& g) override {
    Tensor result = clone(g[0]);
    Tensor region = (*view_fn)(result);
    TensorList r = fn->apply({clone(region)});
    Tensor self_grad = r.empty() ? Tensor() : r[0];
    if (self_grad.defined()) {
      if (self_grad.shape() != region.shape()) self_grad = sum_to(self_grad, region.shape(), "CopySlices");
      copy_(region, self_grad);
    } else {
      fill_(region, 0.0);
    }
    TensorList out{result};
    for (size_t i = 1; i < r.size(); ++i) out.push_back(r[i]);
    return out;
  }
  std::vector<SavedTensor*> saved() override { return fn->saved(); }
  void release_saved() override { fn->release_saved(); }
};

// x's values were just overwritten in place; `node` (input 0: x) is the op's backward. Make it x's history,
// through CopySlices on the base when x is a view.
void rebase_history(const char* op, Tensor& x, const std::shared_ptr<Node>& node) {
  if (!node) return;
  if (!x->is_view) {
    set_history(x, node);
    return;
  }
  Tensor base = x->view_base;
  PYAD_CHECK(base.defined() && x->view_fn && base.is_contiguous(), RuntimeError, "[", op,
             "] in-place operation with autograd on a view (", describe(x),
             ") whose base is not known or not "
             "contiguous: clone() the view first");
  // The op's node is never x's grad_fn here, so set_history does not record what its rule reads of its
  // output (the rank, which tells batched gradients' batch dims apart).
  node->out_ndim = x.ndim();
  node->out_shape = x.shape();
  node->out_dtype = x.dtype();
  auto copy_slices = std::make_shared<CopySlices>();
  copy_slices->view_fn = x->view_fn;
  copy_slices->fn = node;
  copy_slices->next_edges.push_back(gradient_edge(base));
  copy_slices->input_meta.push_back({base.shape(), base.dtype(), base.device()});
  for (size_t i = 1; i < node->next_edges.size(); ++i) {
    copy_slices->next_edges.push_back(node->next_edges[i]);
    copy_slices->input_meta.push_back(node->input_meta[i]);
  }
  set_history(base, copy_slices);
  Tensor again = (*x->view_fn)(base);  // the same view, now derived from the base's new history
  AutogradMeta& m = x->mutable_autograd_meta();
  m.grad_fn = again.grad_fn();
  m.output_nr = again.output_nr();
}

void check_no_view_tangent(const char* op, const Tensor& x) {
  PYAD_CHECK(!x->is_view, RuntimeError, "[", op,
             "] in-place operations on a view of a dual tensor are not "
             "supported in forward mode: clone() the view first");
}

using OutOfPlace = Tensor (*)(const Tensor&, const Tensor&);

Tensor& binary_inplace(const char* op, kernels::Binary k, OutOfPlace f, Tensor& x, const Tensor& other0) {
  check_leaf(op, x);
  const Tensor other = on_device_of(op, x, other0);
  DType dt = promote(x.dtype(), other.dtype());
  if (k == kernels::Binary::Div) dt = to_floating(dt);
  check_result(op, x, broadcast_shapes(x.shape(), other.shape(), op), dt);
  const bool track = any_requires_grad({x, other}), dual = any_tangent({x, other});
  if (!track && !dual) {
    Tensor o = other.dtype() == x.dtype() ? unaliased(other, x) : to_dtype(other, x.dtype());
    kernels::binary(k, x, o, x);
    bump_version(x);
    return x;
  }
  if (dual) check_no_view_tangent(op, x);
  // mul_/div_ by an operand that needs a gradient read x's old value in backward: it goes through a copy
  // of x, whose node (CloneBackward) is then input 0 of the op's node.
  bool keeps_x = (k == kernels::Binary::Mul || k == kernels::Binary::Div) && track && other.requires_grad();
  Tensor r = f(keeps_x ? clone(x) : x, other);
  kernels::copy(r, x);
  bump_version(x);
  if (track) {
    std::shared_ptr<Node> node = r.grad_fn();
    // With keeps_x, r's node reads a copy; CloneBackward passes its gradient to x's old history unchanged.
    rebase_history(op, x, node);
  }
  copy_tangents(r, x);
  return x;
}

// The old values of x get no gradient; `src` (if any) gets the gradient of what it overwrote.
struct OverwriteBackward : Node {
  Device src_device;  // copy_ may read another device: the source's gradient goes back there
  std::string name() const override { return next_edges.size() > 1 ? "CopyBackwards" : "FillBackward0"; }
  TensorList apply(TensorList&& g) override {
    if (next_edges.size() > 1) return {Tensor(), needs_input_grad(1) ? to_device(g[0], src_device) : Tensor()};
    return {Tensor()};
  }
};

}  // namespace inplace_detail
using namespace inplace_detail;

Tensor& add_(Tensor& x, const Tensor& o) { return binary_inplace("add_", kernels::Binary::Add, add, x, o); }
Tensor& sub_(Tensor& x, const Tensor& o) { return binary_inplace("sub_", kernels::Binary::Sub, sub, x, o); }
Tensor& mul_(Tensor& x, const Tensor& o) { return binary_inplace("mul_", kernels::Binary::Mul, mul, x, o); }
Tensor& div_(Tensor& x, const Tensor& o) { return binary_inplace("div_", kernels::Binary::Div, div, x, o); }

Tensor& copy_(Tensor& x, const Tensor& src) {
  check_leaf("copy_", x);
  // Any device to any device, as torch (kernels::copy moves the bytes).
  check_result("copy_", x, broadcast_shapes(x.shape(), src.shape(), "copy_"), x.dtype());
  const bool dual = any_tangent({x, src});
  auto node = any_requires_grad({x, src}) ? std::make_shared<OverwriteBackward>() : nullptr;
  if (node) {
    collect_edges(*node, {x, src});
    node->src_device = src.device();
  }
  kernels::copy(unaliased(src, x), x);
  bump_version(x);
  rebase_history("copy_", x, node);
  if (dual) {
    check_no_view_tangent("copy_", x);
    // At each level x takes src's tangent, or none where src is a constant there.
    for (uint64_t l = next_tangent_level({x, src}, 0); l != 0; l = next_tangent_level({x, src}, l)) {
      Tensor ts = tangent_at(src, l);
      if (!ts.defined()) {
        clear_tangent(x, l);
        continue;
      }
      JvpRuleGuard guard(l);
      set_tangent(x, to_device(ts, x.device()), l);
    }
  }
  return x;
}

Tensor& fill_(Tensor& x, double value) {
  check_leaf("fill_", x);
  check_no_internal_overlap("fill_", x);
  auto node = any_requires_grad({x}) ? std::make_shared<OverwriteBackward>() : nullptr;
  if (node) collect_edges(*node, {x});
  kernels::fill(x, value);
  bump_version(x);
  rebase_history("fill_", x, node);
  for (uint64_t l = next_tangent_level({x}, 0); l != 0; l = next_tangent_level({x}, l)) clear_tangent(x, l);
  return x;
}

Tensor& zero_(Tensor& x) { return fill_(x, 0.0); }

namespace {
struct IndexPutBackward : Node {
  std::vector<IndexStep> steps;
  SavedTensor keep_mask;  // 1 outside the written region, 0 inside
  std::string name() const override { return "IndexPutBackward0"; }
  TensorList apply(TensorList&& g) override {
    Tensor gv;
    if (needs_input_grad(1)) {
      // Batched cotangents (jacrev) lead with batch dims: the steps address the dims after them.
      std::vector<IndexStep> shifted = steps;
      for (auto& st : shifted) st.dim += batch_dims(g[0]);
      gv = index(g[0], shifted);
    }
    return {needs_input_grad(0) ? g[0] * keep_mask.unpack(*this) : Tensor(), gv};
  }
  std::vector<SavedTensor*> saved() override { return {&keep_mask}; }
};
}  // namespace

Tensor& index_put_(Tensor& x, const std::vector<IndexStep>& steps, const Tensor& value1) {
  check_leaf("setitem", x);
  const Tensor value0 = on_device_of("setitem", x, value1);
  Tensor region;
  {
    NoGradGuard ng;
    JvpRuleGuard no_tangents(0);
    region = index(x, steps);
  }
  // Leading unit dims of the value beyond the region's rank are dropped, as torch.
  Tensor value = value0;
  while (value.ndim() > region.ndim() && value.shape()[0] == 1) value = squeeze(value, 0);
  PYAD_CHECK(broadcast_shapes(region.shape(), value.shape(), "setitem") == region.shape(), ValueError,
             "[setitem] value of shape ", shape_str(value.shape()), " cannot be broadcast to the indexed shape ",
             shape_str(region.shape()));
  std::shared_ptr<IndexPutBackward> node;
  if (any_requires_grad({x, value})) {
    node = std::make_shared<IndexPutBackward>();
    collect_edges(*node, {x, value});
    node->steps = steps;
    Tensor mask = ones(x.shape(), x.dtype(), x.device());
    {
      NoGradGuard ng;
      Tensor m = index(mask, steps);
      kernels::fill(m, 0.0);
    }
    node->keep_mask = SavedTensor(mask, false);
  }
  check_no_internal_overlap("setitem", region);
  std::vector<std::pair<uint64_t, Tensor>> tx, tv;  // the tangents before the write, per level
  for (uint64_t l = next_tangent_level({x, value}, 0); l != 0; l = next_tangent_level({x, value}, l)) {
    tx.emplace_back(l, tangent_at(x, l));
    tv.emplace_back(l, tangent_at(value, l));
  }
  kernels::copy(unaliased(value, region), region);
  bump_version(x);
  rebase_history("setitem", x, node);
  if (!tx.empty()) check_no_view_tangent("setitem", x);
  for (size_t i = 0; i < tx.size(); ++i) {
    const uint64_t level = tx[i].first;
    const Tensor &txl = tx[i].second, &tvl = tv[i].second;
    // The new tangent: x's outside the region, value's inside (batch dims lead, so steps shift by nb).
    const int64_t nb = txl.defined() ? txl.ndim() - x.ndim() : tvl.ndim() - value.ndim();
    Shape batch = txl.defined() ? batch_shape(txl, x.ndim()) : batch_shape(tvl, value.ndim());
    Tensor t;
    {
      JvpRuleGuard guard(level);
      t = txl.defined() ? clone(txl) : zeros(concat(batch, x.shape()), x.dtype(), x.device());
      std::vector<IndexStep> shifted = steps;
      for (auto& st : shifted) st.dim += nb;
      Tensor v = tvl.defined() ? align_batched(tvl, value.ndim(), region.ndim()) : zeros({}, x.dtype(), x.device());
      index_put_(t, shifted, v);
    }
    set_tangent(x, t, level);
  }
  return x;
}

}  // namespace pyad
