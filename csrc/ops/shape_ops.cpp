// Shape ops. Views share storage and the version counter with their input;
// the gradient of a view is the output gradient put back into the input's
// layout (a reshape, a transpose, or a scatter into zeros for slices).
#include <numeric>
#include "record.h"
#include "../kernels/kernels.h"

namespace pyad {

namespace {

// A view of x with history: `rule` maps the view's gradient back to x's shape.
struct ViewBackward : Node {
  std::string nm;
  std::function<Tensor(const Tensor&)> rule;
  std::string name() const override { return nm; }
  TensorList apply(TensorList&& g) override { return {rule(g[0])}; }
};

Tensor as_view(const Tensor& x, const Shape& shape, const Shape& strides, int64_t offset, const char* node_name,
               std::function<Tensor(const Tensor&)> rule) {
  Tensor out = make_view(x, shape, strides, offset);
  if (auto node = record<ViewBackward>(out, {x})) {
    node->nm = node_name;
    node->rule = std::move(rule);
  }
  return out;
}

// Strides for viewing x as `shape` without a copy, if its layout allows (as torch's computeStride).
bool view_strides(const Shape& old_shape, const Shape& old_strides, const Shape& shape, Shape& out) {
  out.assign(shape.size(), 0);
  if (numel_of(old_shape) == 0) { out = contiguous_strides(shape); return true; }
  int64_t view_d = static_cast<int64_t>(shape.size()) - 1;
  int64_t chunk_base_stride = old_strides.empty() ? 1 : old_strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(old_shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= old_shape[d];
    if (d == 0 || (old_shape[d - 1] != 1 && old_strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return false;
      if (d > 0) {
        chunk_base_stride = old_strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}

Shape infer_shape(const Tensor& x, Shape shape, const char* op) {
  int64_t infer = -1, known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      PYAD_CHECK(infer < 0, ValueError, "[", op, "] only one dimension can be inferred (-1) in shape ", shape_str(shape));
      infer = static_cast<int64_t>(i);
    } else {
      PYAD_CHECK(shape[i] >= 0, ValueError, "[", op, "] invalid shape dimension ", shape[i], " in ", shape_str(shape));
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    PYAD_CHECK(known != 0 && x.numel() % known == 0, ValueError, "[", op, "] shape ", shape_str(shape),
               " is invalid for input of size ", x.numel());
    shape[infer] = x.numel() / known;
  }
  PYAD_CHECK(numel_of(shape) == x.numel(), ValueError, "[", op, "] shape ", shape_str(shape),
             " is invalid for input of size ", x.numel(), " (input shape ", shape_str(x.shape()), ")");
  return shape;
}

Tensor reshape_rule_to(const Shape& in_shape, const Tensor& g) { return reshape(g, in_shape); }

}  // namespace

Tensor view(const Tensor& x, Shape shape) {
  shape = infer_shape(x, std::move(shape), "view");
  Shape st;
  PYAD_CHECK(view_strides(x.shape(), x.strides(), shape, st), RuntimeError, "[view] view size ", shape_str(shape),
             " is not compatible with input tensor's size ", shape_str(x.shape()), " and strides ",
             shape_str(x.strides()), " (at least one dimension spans across two contiguous subspaces). Use "
             ".reshape(...) instead.");
  Shape in_shape = x.shape();
  return as_view(x, shape, st, x->offset, "ViewBackward0", [in_shape](const Tensor& g) { return reshape(g, in_shape); });
}

Tensor reshape(const Tensor& x, Shape shape) {
  shape = infer_shape(x, std::move(shape), "reshape");
  Shape st;
  Shape in_shape = x.shape();
  if (view_strides(x.shape(), x.strides(), shape, st))
    return as_view(x, shape, st, x->offset, "ViewBackward0", [in_shape](const Tensor& g) { return reshape(g, in_shape); });
  // Only a layout that no view can express is copied.
  Tensor c = contiguous(x);
  return as_view(c, shape, contiguous_strides(shape), c->offset, "ViewBackward0",
                 [in_shape](const Tensor& g) { return reshape(g, in_shape); });
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  int64_t nd = x.ndim();
  if (nd == 0) {
    wrap_dim(d0, 0, "transpose");
    wrap_dim(d1, 0, "transpose");
    return as_view(x, {}, {}, x->offset, "TransposeBackward0", [](const Tensor& g) { return g; });
  }
  d0 = wrap_dim(d0, nd, "transpose");
  d1 = wrap_dim(d1, nd, "transpose");
  Shape sh = x.shape(), st = x.strides();
  std::swap(sh[d0], sh[d1]);
  std::swap(st[d0], st[d1]);
  return as_view(x, sh, st, x->offset, "TransposeBackward0", [d0, d1](const Tensor& g) { return transpose(g, d0, d1); });
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  int64_t nd = x.ndim();
  PYAD_CHECK(static_cast<int64_t>(dims.size()) == nd, ValueError, "[permute] number of dims ", dims.size(),
             " does not match the tensor's ", nd, " dimensions (shape ", shape_str(x.shape()), ")");
  std::vector<int64_t> p(nd), inv(nd);
  std::vector<bool> seen(nd, false);
  Shape sh(nd), st(nd);
  for (int64_t i = 0; i < nd; ++i) {
    p[i] = wrap_dim(dims[i], nd, "permute");
    PYAD_CHECK(!seen[p[i]], ValueError, "[permute] dim ", dims[i], " appears more than once in ", shape_str(dims));
    seen[p[i]] = true;
    sh[i] = x.shape()[p[i]];
    st[i] = x.strides()[p[i]];
    inv[p[i]] = i;
  }
  return as_view(x, sh, st, x->offset, "PermuteBackward0", [inv](const Tensor& g) { return permute(g, inv); });
}

Tensor squeeze(const Tensor& x, std::optional<int64_t> dim) {
  Shape sh, st;
  std::optional<int64_t> d;
  if (dim) d = wrap_dim(*dim, x.ndim(), "squeeze");
  for (int64_t i = 0; i < x.ndim(); ++i) {
    bool drop = x.shape()[i] == 1 && (!d || *d == i);
    if (!drop) { sh.push_back(x.shape()[i]); st.push_back(x.strides()[i]); }
  }
  Shape in_shape = x.shape();
  return as_view(x, sh, st, x->offset, "SqueezeBackward0", [in_shape](const Tensor& g) { return reshape(g, in_shape); });
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  int64_t d = wrap_dim(dim, x.ndim() + 1, "unsqueeze");
  Shape sh = x.shape(), st = x.strides();
  int64_t stride = d < x.ndim() ? sh[d] * st[d] : 1;
  sh.insert(sh.begin() + d, 1);
  st.insert(st.begin() + d, stride);
  return as_view(x, sh, st, x->offset, "UnsqueezeBackward0", [d](const Tensor& g) { return squeeze(g, d); });
}

Tensor expand(const Tensor& x, Shape shape) {
  int64_t nd = static_cast<int64_t>(shape.size()), lead = nd - x.ndim();
  PYAD_CHECK(lead >= 0, ValueError, "[expand] the number of sizes provided (", nd,
             ") must be greater or equal to the number of dimensions in the tensor (", x.ndim(), ")");
  Shape st(nd, 0);
  for (int64_t i = 0; i < nd; ++i) {
    if (i < lead) {
      PYAD_CHECK(shape[i] >= 0, ValueError, "[expand] invalid size ", shape[i], " for a new leading dim");
      continue;
    }
    int64_t have = x.shape()[i - lead];
    if (shape[i] == -1) shape[i] = have;
    PYAD_CHECK(have == shape[i] || have == 1, ValueError, "[expand] the expanded size ", shape[i],
               " must match the existing size ", have, " at dim ", i, " (tensor shape ", shape_str(x.shape()),
               ", target ", shape_str(shape), ")");
    st[i] = have == shape[i] ? x.strides()[i - lead] : 0;
  }
  Shape in_shape = x.shape();
  if (shape == in_shape) return as_view(x, shape, x.strides(), x->offset, "ExpandBackward0", [](const Tensor& g) { return g; });
  return as_view(x, shape, st, x->offset, "ExpandBackward0", [in_shape](const Tensor& g) { return sum_to(g, in_shape); });
}

// Basic-indexing views. Their gradient scatters into zeros of the input's
// shape through slice_backward, which is itself differentiable.
namespace {
struct SliceBackwardBackward;
Tensor slice_backward(const Tensor& g, const Shape& in_shape, int64_t dim, int64_t start, int64_t stop, int64_t step);

struct SliceScatterNode : Node {
  int64_t dim, start, stop, step;
  std::string name() const override { return "SliceBackwardBackward0"; }
  TensorList apply(TensorList&& g) override { return {slice(g[0], dim, start, stop, step)}; }
};

Tensor slice_backward(const Tensor& g, const Shape& in_shape, int64_t dim, int64_t start, int64_t stop, int64_t step) {
  Tensor out = zeros(in_shape, g.dtype(), g.device());
  {
    Tensor region = make_view(out, out.shape(), out.strides(), 0);
    region->shape[dim] = g.shape()[dim];
    region->strides[dim] = out.strides()[dim] * step;
    region->offset = start * out.strides()[dim];
    kernels::copy(g, region);
  }
  if (auto node = record<SliceScatterNode>(out, {g})) {
    node->dim = dim;
    node->start = start;
    node->stop = stop;
    node->step = step;
  }
  return out;
}
}  // namespace

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t stop, int64_t step) {
  PYAD_CHECK(x.ndim() > 0, IndexError, "[slice] cannot slice a 0-d tensor");
  int64_t d = wrap_dim(dim, x.ndim(), "slice");
  PYAD_CHECK(step > 0, ValueError, "[slice] step must be positive, got ", step);
  int64_t n = x.shape()[d];
  auto clampi = [n](int64_t v) { return v < 0 ? std::max<int64_t>(0, v + n) : std::min(v, n); };
  start = clampi(start);
  stop = std::max(start, clampi(stop));
  int64_t len = (stop - start + step - 1) / step;
  Shape sh = x.shape(), st = x.strides();
  sh[d] = len;
  st[d] *= step;
  Shape in_shape = x.shape();
  return as_view(x, sh, st, x->offset + start * x.strides()[d], "SliceBackward0",
                 [in_shape, d, start, stop, step](const Tensor& g) { return slice_backward(g, in_shape, d, start, stop, step); });
}

Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  PYAD_CHECK(x.ndim() > 0, IndexError, "[select] invalid index of a 0-dim tensor");
  int64_t d = wrap_dim(dim, x.ndim(), "select");
  int64_t n = x.shape()[d];
  PYAD_CHECK(index >= -n && index < n, IndexError, "[select] index ", index, " is out of bounds for dimension ", d,
             " with size ", n, " (tensor shape ", shape_str(x.shape()), ")");
  if (index < 0) index += n;
  Shape sh = x.shape(), st = x.strides();
  sh.erase(sh.begin() + d);
  st.erase(st.begin() + d);
  Shape in_shape = x.shape();
  return as_view(x, sh, st, x->offset + index * x.strides()[d], "SelectBackward0", [in_shape, d, index](const Tensor& g) {
    return slice_backward(unsqueeze(g, d), in_shape, d, index, index + 1, 1);
  });
}

Tensor index(const Tensor& x, const std::vector<IndexStep>& steps) {
  Tensor t = x;
  for (const auto& s : steps) {
    switch (s.kind) {
      case IndexStep::Select: t = select(t, s.dim, s.start); break;
      case IndexStep::Slice: t = slice(t, s.dim, s.start, s.stop, s.step); break;
      case IndexStep::Unsqueeze: t = unsqueeze(t, s.dim); break;
    }
  }
  if (t.same(x)) t = as_view(x, x.shape(), x.strides(), x->offset, "AliasBackward0", [](const Tensor& g) { return g; });
  return t;
}

namespace {
struct CatBackward : Node {
  std::vector<int64_t> sizes;
  int64_t dim;
  std::string name() const override { return "CatBackward0"; }
  TensorList apply(TensorList&& g) override {
    TensorList out;
    int64_t off = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      out.push_back(needs_input_grad(i) ? slice(g[0], dim, off, off + sizes[i], 1) : Tensor());
      off += sizes[i];
    }
    return out;
  }
};
}  // namespace

Tensor cat(const TensorList& xs, int64_t dim) {
  PYAD_CHECK(!xs.empty(), ValueError, "[cat] expected a non-empty list of tensors");
  const Tensor& first = xs[0];
  PYAD_CHECK(first.ndim() > 0, ValueError, "[cat] zero-dimensional tensor (at position 0) cannot be concatenated");
  int64_t d = wrap_dim(dim, first.ndim(), "cat");
  DType dt = first.dtype();
  Shape sh = first.shape();
  sh[d] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& t = xs[i];
    check_same_device("cat", first, t);
    dt = promote(dt, t.dtype());
    PYAD_CHECK(t.ndim() == first.ndim(), ValueError, "[cat] tensors must have the same number of dimensions: got ",
               shape_str(first.shape()), " and ", shape_str(t.shape()), " (at position ", i, ")");
    for (int64_t j = 0; j < t.ndim(); ++j)
      PYAD_CHECK(j == d || t.shape()[j] == first.shape()[j], ValueError, "[cat] sizes of tensors must match except in "
                 "dimension ", d, ": got ", shape_str(first.shape()), " and ", shape_str(t.shape()), " (at position ", i, ")");
    sh[d] += t.shape()[d];
  }
  Tensor out = empty(sh, dt, first.device());
  TensorList inputs;
  std::vector<int64_t> sizes;
  int64_t off = 0;
  for (const auto& t0 : xs) {
    Tensor t = t0.dtype() == dt ? t0 : to_dtype(t0, dt);
    Tensor region = make_view(out, out.shape(), out.strides(), off * out.strides()[d]);
    region->shape[d] = t.shape()[d];
    kernels::copy(t, region);
    off += t.shape()[d];
    inputs.push_back(t);
    sizes.push_back(t.shape()[d]);
  }
  if (auto node = record<CatBackward>(out, inputs)) {
    node->sizes = sizes;
    node->dim = d;
  }
  return out;
}

Tensor stack(const TensorList& xs, int64_t dim) {
  PYAD_CHECK(!xs.empty(), ValueError, "[stack] expected a non-empty list of tensors");
  int64_t d = wrap_dim(dim, xs[0].ndim() + 1, "stack");
  for (size_t i = 1; i < xs.size(); ++i)
    PYAD_CHECK(xs[i].shape() == xs[0].shape(), ValueError, "[stack] stack expects each tensor to be equal size, but got ",
               shape_str(xs[0].shape()), " at entry 0 and ", shape_str(xs[i].shape()), " at entry ", i);
  TensorList us;
  for (const auto& t : xs) us.push_back(unsqueeze(t, d));
  return cat(us, d);
}

namespace {
struct CopyBackward : Node {
  DType in_dtype;
  std::string nm;
  std::string name() const override { return nm; }
  TensorList apply(TensorList&& g) override { return {g[0].dtype() == in_dtype ? g[0] : to_dtype(g[0], in_dtype)}; }
};

Tensor copy_op(const Tensor& x, DType dt, const char* node_name) {
  Tensor out = empty(x.shape(), dt, x.device());
  kernels::copy(x, out);
  // Only float results carry gradients; a cast to int64/bool cuts the graph, as torch.
  if (is_floating(dt) && is_floating(x.dtype()))
    if (auto node = record<CopyBackward>(out, {x})) {
      node->in_dtype = x.dtype();
      node->nm = node_name;
    }
  return out;
}
}  // namespace

Tensor contiguous(const Tensor& x) { return x.is_contiguous() ? x : copy_op(x, x.dtype(), "CloneBackward0"); }
Tensor clone(const Tensor& x) { return copy_op(x, x.dtype(), "CloneBackward0"); }
Tensor to_dtype(const Tensor& x, DType dt) { return x.dtype() == dt ? x : copy_op(x, dt, "ToCopyBackward0"); }

}  // namespace pyad
