// Reductions. A reduction's gradient is the output gradient with the reduced
// dims put back (keepdim) and broadcast over the input; max-like reductions
// route it to the winning elements.
#include <algorithm>
#include <cmath>
#include "ops/record.h"
#include "kernels/kernels.h"

namespace pyad {

namespace {

// The input's shape with the reduced dims set to 1.
Shape keepdim_shape(const Shape& in, const std::vector<bool>& mask) {
  Shape s = in;
  for (size_t i = 0; i < s.size(); ++i)
    if (mask[i]) s[i] = 1;
  return s;
}

std::vector<int64_t> mask_dims(const std::vector<bool>& mask) {
  std::vector<int64_t> d;
  for (size_t i = 0; i < mask.size(); ++i)
    if (mask[i]) d.push_back(static_cast<int64_t>(i));
  return d;
}

// A (possibly batched) gradient or tangent of a reduction's result, viewed with the reduced dims
// kept as size 1; `out_ndim` is the result's rank.
Tensor with_kept_dims(const Tensor& g, const Shape& kept, int64_t out_ndim) {
  Shape want = concat(batch_shape(g, out_ndim), kept);
  return g.shape() == want ? g : reshape(g, want);
}

// Dims counted from the end, so they address the same dims of a batched tangent.
std::vector<int64_t> negative_dims(const std::vector<bool>& mask) {
  std::vector<int64_t> d;
  const int64_t nd = static_cast<int64_t>(mask.size());
  for (int64_t i = 0; i < nd; ++i)
    if (mask[i]) d.push_back(i - nd);
  return d;
}

// Sum a (possibly batched) tangent over the reduced dims of an input of rank mask.size().
Tensor reduce_tangent(const Tensor& t, const std::vector<bool>& mask, bool keepdim) {
  if (mask.empty()) return t;  // reducing a 0-d tensor changes nothing
  return sum(t, negative_dims(mask), keepdim);
}

// The tangent of a full sum of x whose tangent is still base * scale (Note [Scaled tangents]): one contraction,
// base (*batch, n) @ scale (n), instead of the product's pass and the sum's.
Tensor sum_of_scaled(const ScaledTangent& st, const Tensor& x, bool keepdim) {
  const int64_t n = x.numel();
  Shape batch = batch_shape(st.base, x.ndim());
  int64_t rows = 1;
  for (int64_t b : batch) rows *= b;
  // jacfwd's case, a vector's tangent (rows, n), needs no reshape (which would copy a transposed base).
  const Tensor base = st.base.ndim() == 2 && x.ndim() == 1 ? st.base : reshape(st.base, {rows, n});
  Tensor t = matmul(base, st.scale.ndim() == 1 ? st.scale : reshape(st.scale, {n}));
  Shape shape = batch;
  if (keepdim) shape.insert(shape.end(), x.ndim(), 1);
  return t.shape() == shape ? t : reshape(t, shape);
}

// Raw reduction into a fresh tensor of the keepdim shape, no history.
Tensor reduce_raw(kernels::Reduce op, const Tensor& x, const std::vector<bool>& mask, DType out_dtype) {
  Tensor out = empty(keepdim_shape(x.shape(), mask), out_dtype, x.device());
  kernels::reduce(op, x, out);
  return out;
}

// Drop the kept size-1 dims unless keepdim: the same buffer under a new shape.
Tensor finish(Tensor kept, const std::vector<bool>& mask, bool keepdim) {
  if (keepdim) return kept;
  Shape s;
  for (size_t i = 0; i < mask.size(); ++i)
    if (!mask[i]) s.push_back(kept.shape()[i]);
  kept->shape = s;
  kept->strides = contiguous_strides(s);
  return kept;
}

struct SumBackward : Node {
  Shape in_shape, kept;
  double scale = 1.0;  // 1/n for mean
  bool is_mean = false;
  bool all_dims = false;
  std::string name() const override {
    return std::string(is_mean ? "MeanBackward" : "SumBackward") + (all_dims ? "0" : "1");
  }
  TensorList apply(TensorList&& g) override {
    Tensor e = expand(with_kept_dims(g[0], kept, out_ndim), concat(batch_shape(g[0], out_ndim), in_shape));
    return {is_mean ? e * scale : e};
  }
};

Tensor sum_impl(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, bool is_mean) {
  const char* op = is_mean ? "mean" : "sum";
  auto mask = reduce_mask(dims, x.ndim(), op);
  PYAD_CHECK(!is_mean || is_floating(x.dtype()), TypeError, "[mean] expected a floating dtype, got ",
             dtype_name(x.dtype()), " (convert with .to(pyad.float32) first)");
  DType dt = x.dtype() == DType::Bool ? DType::Int64 : x.dtype();
  Tensor out = reduce_raw(kernels::Reduce::Sum, x, mask, dt);
  Shape kept = out.shape();
  double scale = 1.0;
  if (is_mean) {
    int64_t count = 1;
    for (size_t i = 0; i < mask.size(); ++i)
      if (mask[i]) count *= x.shape()[i];
    scale = count == 0 ? std::nan("") : 1.0 / static_cast<double>(count);
    Tensor s = scalar_tensor(scale, dt, out.device());
    kernels::binary(kernels::Binary::Mul, out, s, out);
  }
  out = finish(out, mask, keepdim);
  if (auto node = record<SumBackward>(out, {x})) {
    node->in_shape = x.shape();
    node->kept = kept;
    node->scale = scale;
    node->is_mean = is_mean;
    node->all_dims = dims.empty();
  }
  forward_rule(out, {x}, [&] {
    const bool all = !mask.empty() && std::all_of(mask.begin(), mask.end(), [](bool m) { return m; });
    auto st = all ? scaled_tangent_of(x) : std::nullopt;
    Tensor t = st ? sum_of_scaled(*st, x, keepdim) : reduce_tangent(tangent_of(x), mask, keepdim);
    return is_mean ? t * scale : t;
  });
  return out;
}

// amax/amin: the gradient is shared evenly among tied extremes, as torch.
struct ExtremeBackward : Node {
  SavedTensor x, y;  // y has the kept dims
  std::vector<int64_t> dims;
  bool is_max = true;
  std::string name() const override { return is_max ? "AmaxBackward0" : "AminBackward0"; }
  TensorList apply(TensorList&& g) override {
    Tensor xv = x.unpack(*this), yv = y.unpack(*this);
    return {with_kept_dims(g[0], yv.shape(), out_ndim) * share(xv, yv, dims)};
  }
  // Each tied extreme's share of the gradient.
  static Tensor share(const Tensor& x, const Tensor& y_kept, const std::vector<int64_t>& dims) {
    Tensor mask = to_dtype(eq(x, y_kept), x.dtype());
    return mask / sum(mask, dims, true);
  }
  std::vector<SavedTensor*> saved() override { return {&x, &y}; }
};

Tensor extreme(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, bool is_max) {
  const char* op = is_max ? "amax" : "amin";
  auto mask = reduce_mask(dims, x.ndim(), op);
  for (size_t i = 0; i < mask.size(); ++i)
    PYAD_CHECK(!mask[i] || x.shape()[i] != 0, IndexError, "[", op, "] cannot reduce over dim ", i,
               " of size 0 (input shape ", shape_str(x.shape()), ")");
  PYAD_CHECK(x.numel() > 0 || x.ndim() > 0, IndexError, "[", op, "] cannot reduce an empty tensor of shape ",
             shape_str(x.shape()));
  Tensor kept = reduce_raw(is_max ? kernels::Reduce::Max : kernels::Reduce::Min, x, mask, x.dtype());
  Tensor out = finish(detach(kept), mask, keepdim);
  out->is_view = false;
  if (auto node = record<ExtremeBackward>(out, {x})) {
    node->x = SavedTensor(x, false);
    node->y = SavedTensor(kept, false);
    node->dims = mask_dims(mask);
    node->is_max = is_max;
  }
  forward_rule(out, {x}, [&] {
    return reduce_tangent(tangent_of(x) * ExtremeBackward::share(x, kept, mask_dims(mask)), mask, keepdim);
  });
  return out;
}

// max/min along one dim with indices: the gradient goes to the returned index.
struct IndexedExtremeBackward : Node {
  SavedTensor indices;  // kept dims
  Shape in_shape;
  int64_t dim;
  bool is_max = true;
  std::string name() const override { return is_max ? "MaxBackward0" : "MinBackward0"; }
  TensorList apply(TensorList&& g) override {
    Tensor idx = indices.unpack(*this);
    if (in_shape.empty()) return {g[0]};
    return {with_kept_dims(g[0], idx.shape(), out_ndim) * onehot(idx, in_shape, dim, g[0].dtype())};
  }
  // 1 at the selected index along dim, 0 elsewhere; idx has the kept dims.
  static Tensor onehot(const Tensor& idx, const Shape& in_shape, int64_t dim, DType dt) {
    Shape pos_shape(in_shape.size(), 1);
    pos_shape[dim] = in_shape[dim];
    Tensor pos = reshape(arange(0, static_cast<double>(in_shape[dim]), 1, DType::Int64, idx.device()), pos_shape);
    return to_dtype(eq(pos, idx), dt);
  }
  std::vector<SavedTensor*> saved() override { return {&indices}; }
};

std::tuple<Tensor, Tensor> extreme_dim(const Tensor& x, int64_t dim, bool keepdim, bool is_max) {
  const char* op = is_max ? "max" : "min";
  int64_t d = wrap_dim(dim, x.ndim(), op);
  Tensor src = x.ndim() == 0 ? make_view(x, {1}, {1}, x->offset) : x;
  PYAD_CHECK(src.shape()[d] > 0, IndexError, "[", op, "] cannot reduce over dim ", dim, " of size 0 (input shape ",
             shape_str(x.shape()), ")");
  std::vector<bool> mask(src.ndim(), false);
  mask[d] = true;
  Shape kept = keepdim_shape(src.shape(), mask);
  Tensor values = empty(kept, x.dtype(), x.device()), indices = empty(kept, DType::Int64, x.device());
  kernels::arg_reduce(is_max, src, d, values, indices);
  Tensor v = x.ndim() == 0 ? reshape(values, {}) : finish(detach(values), mask, keepdim);
  Tensor i = x.ndim() == 0 ? reshape(indices, {}) : finish(detach(indices), mask, keepdim);
  v->is_view = i->is_view = false;
  if (auto node = record<IndexedExtremeBackward>(v, {x})) {
    node->indices = SavedTensor(x.ndim() == 0 ? reshape(indices, {}) : indices, false);
    node->in_shape = x.shape();
    node->dim = x.ndim() == 0 ? 0 : d;
    node->is_max = is_max;
  }
  forward_rule(v, {x}, [&] {
    Tensor t = tangent_of(x);
    if (x.ndim() == 0) return t;
    return reduce_tangent(t * IndexedExtremeBackward::onehot(indices, x.shape(), d, x.dtype()), mask, keepdim);
  });
  return {v, i};
}

// logsumexp, softmax and log_softmax: the forward is one fused kernel (max-shifted for stability),
// then one node with the closed-form rule.

// The rules read the result itself (not a constant copy), so second derivatives see its dependence on x.
struct LogsumexpBackward : Node {
  SavedTensor x, y;
  Shape kept;
  std::string name() const override { return "LogsumexpBackward0"; }
  TensorList apply(TensorList&& g) override {
    Tensor xv = x.unpack(*this), yv = reshape(y.unpack(*this), kept);
    return {with_kept_dims(g[0], kept, out_ndim) * exp(xv - yv)};
  }
  std::vector<SavedTensor*> saved() override { return {&x, &y}; }
};

// The softmax family is self-adjoint in form: VJP and JVP share one formula
// (dim counted from the end, so it applies to batched gradients and tangents).
Tensor softmax_rule(const Tensor& g, const Tensor& y, int64_t neg_dim, bool log_) {
  if (log_) return g - exp(y) * sum(g, {neg_dim}, true);
  return y * (g - sum(g * y, {neg_dim}, true));
}

Tensor log_softmax_jvp(const Tensor& t, const Tensor& y, int64_t neg_dim) {
  return t - sum(t * exp(y), {neg_dim}, true);
}

struct SoftmaxBackward : Node {
  SavedTensor y;
  int64_t neg_dim;
  bool log = false;
  std::string name() const override { return log ? "LogSoftmaxBackward0" : "SoftmaxBackward0"; }
  TensorList apply(TensorList&& g) override { return {softmax_rule(g[0], y.unpack(*this), neg_dim, log)}; }
  std::vector<SavedTensor*> saved() override { return {&y}; }
};

Tensor softmax_impl(const Tensor& x0, int64_t dim, bool log_) {
  const char* op = log_ ? "log_softmax" : "softmax";
  Tensor x = is_floating(x0.dtype()) ? x0 : to_dtype(x0, DType::Float32);
  int64_t d = wrap_dim(dim, x.ndim(), op);
  std::vector<int64_t> dims = x.ndim() == 0 ? std::vector<int64_t>{} : std::vector<int64_t>{d};
  Tensor out = empty(x.shape(), x.dtype(), x.device());
  if (x.ndim() == 0) {  // the kernel works along a dim: view the scalar as shape (1,)
    kernels::softmax(make_view(x, {1}, {1}, x->offset), 0, make_view(out, {1}, {1}, 0), log_);
  } else {
    kernels::softmax(x, d, out, log_);
  }
  const int64_t neg_dim = x.ndim() == 0 ? -1 : d - x.ndim();
  if (auto node = record<SoftmaxBackward>(out, {x})) {
    node->y = SavedTensor(out, true);
    node->neg_dim = neg_dim;
    node->log = log_;
  }
  forward_rule(out, {x}, [&] {
    Tensor t = tangent_of(x);
    if (x.ndim() == 0) return t * 0.0;  // softmax of a single element is constant
    return log_ ? log_softmax_jvp(t, out, neg_dim) : softmax_rule(t, out, neg_dim, false);
  });
  return out;
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return sum_impl(x, dims, keepdim, false);
}
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return sum_impl(x, dims, keepdim, true);
}
Tensor amax(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) { return extreme(x, dims, keepdim, true); }
Tensor amin(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme(x, dims, keepdim, false);
}
std::tuple<Tensor, Tensor> max_dim(const Tensor& x, int64_t dim, bool keepdim) {
  return extreme_dim(x, dim, keepdim, true);
}
std::tuple<Tensor, Tensor> min_dim(const Tensor& x, int64_t dim, bool keepdim) {
  return extreme_dim(x, dim, keepdim, false);
}
Tensor softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, true); }

Tensor logsumexp(const Tensor& x0, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor x = is_floating(x0.dtype()) ? x0 : to_dtype(x0, DType::Float32);
  auto mask = reduce_mask(dims, x.ndim(), "logsumexp");
  // An empty slice gives log(0) = -inf, as torch.
  Tensor kept = empty(keepdim_shape(x.shape(), mask), x.dtype(), x.device());
  kernels::logsumexp(x, kept);
  Tensor out = finish(detach(kept), mask, keepdim);
  out->is_view = false;
  if (auto node = record<LogsumexpBackward>(out, {x})) {
    node->x = SavedTensor(x, false);
    node->y = SavedTensor(out, true);
    node->kept = kept.shape();
  }
  forward_rule(out, {x},
               [&] { return reduce_tangent(tangent_of(x) * exp(x - reshape(out, kept.shape())), mask, keepdim); });
  return out;
}

namespace {
struct SumToBackward : Node {
  Shape in_shape;
  std::string name() const override { return "SumToSizeBackward0"; }
  TensorList apply(TensorList&& g) override {
    Tensor a = align_batched(g[0], out_ndim, static_cast<int64_t>(in_shape.size()));
    return {expand(a, concat(batch_shape(g[0], out_ndim), in_shape))};
  }
};
}  // namespace

Tensor sum_to(const Tensor& x, const Shape& shape, const char* op, int64_t nb) {
  const int64_t nd = static_cast<int64_t>(shape.size());
  const int64_t lead = x.ndim() - nb - nd;
  PYAD_CHECK(lead >= 0, RuntimeError, "[", op, "] gradient of shape ", shape_str(x.shape()),
             " cannot be reduced to the input's shape ", shape_str(shape));
  std::vector<bool> mask(x.ndim(), false);
  for (int64_t i = nb; i < x.ndim(); ++i) {
    if (i < nb + lead) {
      mask[i] = true;
      continue;
    }
    int64_t want = shape[i - nb - lead];
    PYAD_CHECK(want == x.shape()[i] || want == 1, RuntimeError, "[", op, "] gradient of shape ", shape_str(x.shape()),
               " cannot be reduced to the input's shape ", shape_str(shape));
    mask[i] = want == 1 && x.shape()[i] != 1;
  }
  Shape full = concat(Shape(x.shape().begin(), x.shape().begin() + nb), shape);
  if (x.shape() == full) return x;
  Tensor kept = reduce_raw(kernels::Reduce::Sum, x, mask, x.dtype());
  Tensor out = make_view(kept, full, contiguous_strides(full), 0);
  out->is_view = false;
  out->version = std::make_shared<VersionCounter>();
  if (auto node = record<SumToBackward>(out, {x})) node->in_shape = x.shape();
  forward_rule(out, {x}, [&] {
    Tensor t = tangent_of(x);
    return sum_to(t, shape, op, nb + t.ndim() - x.ndim());
  });
  return out;
}

}  // namespace pyad
