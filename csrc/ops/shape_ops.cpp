// Shape ops. Views share storage and the version counter with their input;
// the gradient of a view is the output gradient put back into the input's
// layout (a reshape, a transpose, or a scatter into zeros for slices).
#include <numeric>
#include "ops/record.h"
#include "ops/views.h"
#include "kernels/kernels.h"

namespace pyad {

namespace {

struct ViewBackward : Node {
  const char* nm;
  ViewRule vjp;
  std::string name() const override { return nm; }
  TensorList apply(TensorList&& g) override { return {vjp(g[0], batch_dims(g[0]))}; }
};

}  // namespace

// The view of x with the given layout; `vjp` maps the view's gradient back to
// x's shape, `jvp` applies the same view to x's tangent.
Tensor as_view(const Tensor& x, const Shape& shape, const Shape& strides, int64_t offset, const char* node_name,
               ViewRule vjp, const ViewRule& jvp) {
  Tensor out = make_view(x, shape, strides, offset);
  // Remember how to make this view of the root base: x's chain, then this op (its JVP rule applies the
  // same view to any tensor shaped like x).
  out->view_base = x->view_base.defined() ? x->view_base : x;
  out->view_fn = std::make_shared<std::function<Tensor(const Tensor&)>>(
      [parent = x->view_fn, jvp](const Tensor& t) { return jvp(parent ? (*parent)(t) : t, 0); });
  if (auto node = record<ViewBackward>(out, {x})) {
    node->nm = node_name;
    node->vjp = std::move(vjp);
  }
  forward_rule(out, {x}, [&] {
    Tensor t = tangent_of(x);
    return jvp(t, t.ndim() - x.ndim());
  });
  return out;
}

namespace {

Shape batched(const Tensor& t, int64_t nb, const Shape& shape) {
  return concat(Shape(t.shape().begin(), t.shape().begin() + nb), shape);
}

// reshape(t) to `shape` under t's batch dims: the rule of every reshaping view.
ViewRule reshape_to(Shape shape) {
  return [shape](const Tensor& t, int64_t nb) { return reshape(t, batched(t, nb, shape)); };
}

// Strides for viewing x as `shape` without a copy, if its layout allows (as torch's computeStride).
bool view_strides(const Shape& old_shape, const Shape& old_strides, const Shape& shape, Shape& out) {
  out.assign(shape.size(), 0);
  if (numel_of(old_shape) == 0) {
    out = contiguous_strides(shape);
    return true;
  }
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
      PYAD_CHECK(infer < 0, ValueError, "[", op, "] only one dimension can be inferred (-1) in shape ",
                 shape_str(shape));
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

}  // namespace

Tensor view(const Tensor& x, Shape shape) {
  shape = infer_shape(x, std::move(shape), "view");
  Shape st;
  PYAD_CHECK(view_strides(x.shape(), x.strides(), shape, st), RuntimeError, "[view] view size ", shape_str(shape),
             " is not compatible with input tensor's size ", shape_str(x.shape()), " and strides ",
             shape_str(x.strides()),
             " (at least one dimension spans across two contiguous subspaces). Use "
             ".reshape(...) instead.");
  return as_view(x, shape, st, x->offset, "ViewBackward0", reshape_to(x.shape()), reshape_to(shape));
}

Tensor reshape(const Tensor& x, Shape shape) {
  shape = infer_shape(x, std::move(shape), "reshape");
  Shape st;
  if (view_strides(x.shape(), x.strides(), shape, st))
    return as_view(x, shape, st, x->offset, "ViewBackward0", reshape_to(x.shape()), reshape_to(shape));
  // Only a layout that no view can express is copied.
  Tensor c = contiguous(x);
  return as_view(c, shape, contiguous_strides(shape), c->offset, "ViewBackward0", reshape_to(x.shape()),
                 reshape_to(shape));
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  int64_t nd = x.ndim();
  if (nd == 0) {
    wrap_dim(d0, 0, "transpose");
    wrap_dim(d1, 0, "transpose");
    auto same = [](const Tensor& t, int64_t) { return t; };
    return as_view(x, {}, {}, x->offset, "TransposeBackward0", same, same);
  }
  d0 = wrap_dim(d0, nd, "transpose");
  d1 = wrap_dim(d1, nd, "transpose");
  Shape sh = x.shape(), st = x.strides();
  std::swap(sh[d0], sh[d1]);
  std::swap(st[d0], st[d1]);
  // Swapping is its own inverse; dims from the end address batched tensors too.
  auto swap = [n0 = d0 - nd, n1 = d1 - nd](const Tensor& t, int64_t) { return transpose(t, n0, n1); };
  return as_view(x, sh, st, x->offset, "TransposeBackward0", swap, swap);
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
  auto permuting = [](std::vector<int64_t> order) {
    return [order](const Tensor& t, int64_t nb) {
      std::vector<int64_t> full(nb);
      std::iota(full.begin(), full.end(), 0);
      for (auto o : order) full.push_back(o + nb);
      return permute(t, full);
    };
  };
  return as_view(x, sh, st, x->offset, "PermuteBackward0", permuting(inv), permuting(p));
}

Tensor squeeze(const Tensor& x, std::optional<int64_t> dim) {
  Shape sh, st;
  std::optional<int64_t> d;
  if (dim) d = wrap_dim(*dim, x.ndim(), "squeeze");
  for (int64_t i = 0; i < x.ndim(); ++i) {
    bool drop = x.shape()[i] == 1 && (!d || *d == i);
    if (!drop) {
      sh.push_back(x.shape()[i]);
      st.push_back(x.strides()[i]);
    }
  }
  return as_view(x, sh, st, x->offset, "SqueezeBackward0", reshape_to(x.shape()), reshape_to(sh));
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  int64_t d = wrap_dim(dim, x.ndim() + 1, "unsqueeze");
  Shape sh = x.shape(), st = x.strides();
  int64_t stride = d < x.ndim() ? sh[d] * st[d] : 1;
  sh.insert(sh.begin() + d, 1);
  st.insert(st.begin() + d, stride);
  const int64_t neg = d - static_cast<int64_t>(sh.size());
  return as_view(
      x, sh, st, x->offset, "UnsqueezeBackward0", [neg](const Tensor& g, int64_t) { return squeeze(g, neg); },
      [neg](const Tensor& t, int64_t) { return unsqueeze(t, neg); });
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
  if (shape == in_shape) st = x.strides();
  const int64_t in_nd = x.ndim();
  return as_view(
      x, shape, st, x->offset, "ExpandBackward0",
      [in_shape](const Tensor& g, int64_t nb) { return sum_to(g, in_shape, "expand", nb); },
      [shape, in_nd](const Tensor& t, int64_t nb) {
        return expand(align_batched(t, in_nd, static_cast<int64_t>(shape.size())), batched(t, nb, shape));
      });
}

// Basic-indexing views. Their gradient scatters into zeros of the input's
// shape through slice_backward, which is itself differentiable. `dim` may
// count from the end, so batched gradients work unchanged.
namespace {
Tensor slice_backward(const Tensor& g, const Shape& in_shape, int64_t dim, int64_t start, int64_t stop, int64_t step);

struct SliceBackwardBackward : Node {
  int64_t dim, start, stop, step;
  std::string name() const override { return "SliceBackwardBackward0"; }
  TensorList apply(TensorList&& g) override { return {slice(g[0], dim, start, stop, step)}; }
};

Tensor slice_backward(const Tensor& g, const Shape& in_shape, int64_t dim, int64_t start, int64_t stop, int64_t step) {
  Tensor out = zeros(in_shape, g.dtype(), g.device());
  const int64_t d = wrap_dim(dim, out.ndim(), "slice_backward");
  Tensor region = make_view(out, out.shape(), out.strides(), start * out.strides()[d]);
  region->shape[d] = g.shape()[d];
  region->strides[d] = out.strides()[d] * step;
  kernels::copy(g, region);
  if (auto node = record<SliceBackwardBackward>(out, {g})) {
    node->dim = dim;
    node->start = start;
    node->stop = stop;
    node->step = step;
  }
  forward_rule(out, {g}, [&] {
    Tensor t = tangent_of(g);
    return slice_backward(t, batched(t, t.ndim() - g.ndim(), in_shape), dim, start, stop, step);
  });
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
  const int64_t neg = d - x.ndim();
  return as_view(
      x, sh, st, x->offset + start * x.strides()[d], "SliceBackward0",
      [in_shape, neg, start, stop, step](const Tensor& g, int64_t nb) {
        return slice_backward(g, batched(g, nb, in_shape), neg, start, stop, step);
      },
      [neg, start, stop, step](const Tensor& t, int64_t) { return slice(t, neg, start, stop, step); });
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
  const int64_t neg = d - x.ndim();
  return as_view(
      x, sh, st, x->offset + index * x.strides()[d], "SelectBackward0",
      [in_shape, neg, index](const Tensor& g, int64_t nb) {
        return slice_backward(unsqueeze(g, neg), batched(g, nb, in_shape), neg, index, index + 1, 1);
      },
      [neg, index](const Tensor& t, int64_t) { return select(t, neg, index); });
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
  auto same = [](const Tensor& g, int64_t) { return g; };
  if (t.same(x)) t = as_view(x, x.shape(), x.strides(), x->offset, "AliasBackward0", same, same);
  return t;
}

namespace {
struct CatBackward : Node {
  std::vector<int64_t> sizes;
  int64_t dim;  // counted from the end
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
      PYAD_CHECK(j == d || t.shape()[j] == first.shape()[j], ValueError,
                 "[cat] sizes of tensors must match except in "
                 "dimension ",
                 d, ": got ", shape_str(first.shape()), " and ", shape_str(t.shape()), " (at position ", i, ")");
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
  const int64_t neg = d - out.ndim();
  if (auto node = record<CatBackward>(out, inputs)) {
    node->sizes = sizes;
    node->dim = neg;
  }
  forward_rule(out, inputs, [&] {
    // Missing tangents are zeros here: cat needs every piece. All take the batch dims of the first.
    Shape batch;
    for (const auto& t : inputs)
      if (Tensor tt = tangent_of(t); tt.defined()) {
        batch = batch_shape(tt, t.ndim());
        break;
      }
    TensorList ts;
    for (const auto& t : inputs) {
      Tensor tt = tangent_of(t);
      Shape want = concat(batch, t.shape());
      ts.push_back(tt.defined() ? (tt.shape() == want ? tt : expand(tt, want)) : zeros(want, t.dtype(), t.device()));
    }
    return cat(ts, neg);
  });
  return out;
}

Tensor stack(const TensorList& xs, int64_t dim) {
  PYAD_CHECK(!xs.empty(), ValueError, "[stack] expected a non-empty list of tensors");
  int64_t d = wrap_dim(dim, xs[0].ndim() + 1, "stack");
  for (size_t i = 1; i < xs.size(); ++i)
    PYAD_CHECK(xs[i].shape() == xs[0].shape(), ValueError,
               "[stack] stack expects each tensor to be equal size, but got ", shape_str(xs[0].shape()),
               " at entry 0 and ", shape_str(xs[i].shape()), " at entry ", i);
  TensorList us;
  for (const auto& t : xs) us.push_back(unsqueeze(t, d));
  return cat(us, d);
}

namespace {
// A copy, possibly to another dtype or device; the gradient goes back to the input's dtype and device.
struct CopyBackward : Node {
  DType in_dtype;
  Device in_device;
  std::string nm;
  std::string name() const override { return nm; }
  TensorList apply(TensorList&& g) override { return {copy_op(g[0], in_dtype, in_device, nm.c_str(), true)}; }
};
}  // namespace

Tensor copy_op(const Tensor& x, DType dt, Device dev, const char* node_name, bool only_if_needed) {
  if (only_if_needed && x.dtype() == dt && x.device() == dev) return x;
  Tensor out = empty(x.shape(), dt, dev);
  kernels::copy(x, out);
  // Only float results carry gradients; a cast to int64/bool cuts the graph, as torch.
  if (is_floating(dt) && is_floating(x.dtype())) {
    if (auto node = record<CopyBackward>(out, {x})) {
      node->in_dtype = x.dtype();
      node->in_device = x.device();
      node->nm = node_name;
    }
    forward_rule(out, {x}, [&] { return copy_op(tangent_of(x), dt, dev, node_name, false); });
  }
  return out;
}

Tensor contiguous(const Tensor& x) { return x.is_contiguous() ? x : clone(x); }
Tensor clone(const Tensor& x) { return copy_op(x, x.dtype(), x.device(), "CloneBackward0", false); }
Tensor to_dtype(const Tensor& x, DType dt) { return copy_op(x, dt, x.device(), "ToCopyBackward0", true); }
Tensor to_device(const Tensor& x, Device dev) { return copy_op(x, x.dtype(), dev, "ToCopyBackward0", true); }

// Tensor.view(dtype): the same bytes read as another dtype, with torch's rules. A change of element size
// rescales the last dim (which must be contiguous) and every other stride. The result has no history, as
// torch's (its derivative table marks view.dtype non-differentiable, even to the same dtype).
Tensor view_dtype(const Tensor& x, DType dt) {
  const char *from = dtype_name(x.dtype()), *to = dtype_name(dt);
  // pyad's bool kernels assume every byte is 0 or 1; the bytes of another dtype need not be.
  PYAD_CHECK(dt != DType::Bool || x.dtype() == DType::Bool, RuntimeError, "[view] can't view ", from,
             " as bool: pyad's bool tensors must hold only 0 or 1 bytes; use tensor != 0 or tensor.to(pyad.bool)");
  const int64_t old_size = static_cast<int64_t>(itemsize(x.dtype())), new_size = static_cast<int64_t>(itemsize(dt));
  Shape shape = x.shape(), strides = x.strides();
  int64_t offset = x->offset;
  if (old_size != new_size) {
    PYAD_CHECK(x.ndim() > 0, RuntimeError, "[view] self.dim() cannot be 0 to view ", from, " as ", to,
               " (different element sizes)");
    PYAD_CHECK(strides.back() == 1, RuntimeError, "[view] self.stride(-1) must be 1 to view ", from, " as ", to,
               " (different element sizes), but got ", strides.back());
    if (new_size > old_size) {
      const int64_t r = new_size / old_size;
      PYAD_CHECK(shape.back() % r == 0, RuntimeError, "[view] self.size(-1) must be divisible by ", r, " to view ",
                 from, " as ", to, " (different element sizes), but got ", shape.back());
      PYAD_CHECK(offset % r == 0, RuntimeError, "[view] self.storage_offset() must be divisible by ", r, " to view ",
                 from, " as ", to, " (different element sizes), but got ", offset);
      for (size_t d = 0; d + 1 < strides.size(); ++d) {
        PYAD_CHECK(strides[d] % r == 0, RuntimeError, "[view] self.stride(", d, ") must be divisible by ", r,
                   " to view ", from, " as ", to, " (different element sizes), but got ", strides[d]);
        strides[d] /= r;
      }
      shape.back() /= r;
      offset /= r;
    } else {
      const int64_t r = old_size / new_size;
      for (size_t d = 0; d + 1 < strides.size(); ++d) strides[d] *= r;
      shape.back() *= r;
      offset *= r;
    }
  }
  Tensor out = make_view(x, shape, strides, offset);
  out->dtype = dt;
  return out;
}

}  // namespace pyad
