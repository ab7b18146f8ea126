// Sorting and selection along a dim (sort, argsort, topk, argmax, argmin) and
// gather along a dim, with the scatter_add its VJP needs (internal: it is only
// ever called with indices that are already in range). sort's and topk's values are the input
// gathered at the returned indices, so they share gather's rules: the VJP
// scatters the gradient back through the indices, the JVP gathers the
// tangent. Dims in the rules count from the end and the index is expanded over
// leading batch dims (Note [Batched tangents and cotangents]).
#include "ops/gather_scatter.h"
#include "ops/record.h"
#include "kernels/kernels.h"

namespace pyad {

namespace gather_detail {  // gather and scatter_add for other ops' rules (ops/gather_scatter.h)

// A 0-d tensor as shape (1,): the kernels work along a dim.
Tensor as_line(const Tensor& t) { return t.ndim() == 0 ? make_view(t, {1}, {1}, t->offset) : t; }

// idx expanded over the leading batch dims that t has beyond idx's rank.
Tensor index_for(const Tensor& idx, const Tensor& t) {
  const int64_t nb = t.ndim() - idx.ndim();
  if (nb <= 0) return idx;
  Shape batch = batch_shape(t, idx.ndim());
  return expand(reshape(idx, concat(Shape(nb, 1), idx.shape())), concat(batch, idx.shape()));
}

// The backward of a gather (and of sort's and topk's values): the gradient added into zeros at the indices.
struct GatherBackward : Node {
  SavedTensor index;
  Shape in_shape;
  int64_t neg_dim = -1;
  const char* op = "GatherBackward0";
  std::string name() const override { return op; }
  TensorList apply(TensorList&& g) override {
    if (in_shape.empty()) return {g[0]};  // a scalar gathered at 0 is itself
    Tensor idx = index_for(index.unpack(*this), g[0]);
    Tensor base = zeros(concat(batch_shape(g[0], out_ndim), in_shape), g[0].dtype(), g[0].device());
    return {scatter_add_unchecked(base, neg_dim, idx, g[0])};
  }
  std::vector<SavedTensor*> saved() override { return {&index}; }
};

struct ScatterAddBackward : Node {
  SavedTensor index;
  int64_t neg_dim = -1;
  std::string name() const override { return "ScatterAddBackward0"; }
  TensorList apply(TensorList&& g) override {
    Tensor idx = index.unpack(*this);
    return {g[0], gather_unchecked(g[0], neg_dim, index_for(idx, g[0]), "GatherBackward0")};
  }
  std::vector<SavedTensor*> saved() override { return {&index}; }
};

std::shared_ptr<Node> scatter_add_node(const Tensor& index, int64_t neg_dim) {
  auto node = std::make_shared<ScatterAddBackward>();
  node->index = SavedTensor(index, false);
  node->neg_dim = neg_dim;
  return node;
}

// Records `out` = x gathered along dim at `index` (out computed already): the node and the tangent rule.
void record_gather(const Tensor& out, const Tensor& x, int64_t dim, const Tensor& index, const char* name) {
  if (!is_floating(x.dtype())) return;
  const int64_t neg = x.ndim() == 0 ? -1 : dim - x.ndim();
  if (auto node = record<GatherBackward>(out, {x})) {
    node->index = SavedTensor(index, false);
    node->in_shape = x.shape();
    node->neg_dim = neg;
    node->op = name;
  }
  forward_rule(out, {x}, [&] {
    Tensor t = tangent_of(x);
    if (!t.defined() || x.ndim() == 0) return t;
    return gather_unchecked(t, neg, index_for(index, t), "GatherBackward0");
  });
}

Tensor gather_unchecked(const Tensor& x, int64_t neg_dim, const Tensor& index, const char* name) {
  Tensor out = empty(index.shape(), x.dtype(), x.device());
  const int64_t d = neg_dim + x.ndim();
  kernels::gather(x, d, index, out);
  record_gather(out, x, d, index, name);
  return out;
}

Tensor scatter_add_unchecked(const Tensor& base, int64_t neg_dim, const Tensor& index, const Tensor& src) {
  Tensor out = empty(base.shape(), base.dtype(), base.device());
  kernels::copy(base, out);
  const int64_t d = neg_dim + base.ndim();
  kernels::scatter(out, d, index, src, true);
  if (auto node = record<ScatterAddBackward>(out, {base, src})) {
    node->index = SavedTensor(index, false);
    node->neg_dim = neg_dim;
  }
  forward_rule(out, {base, src}, [&] {
    Tensor tb = tangent_of(base), ts = tangent_of(src);
    if (!ts.defined()) return tb;
    Tensor zero = zeros(concat(batch_shape(ts, src.ndim()), base.shape()), ts.dtype(), ts.device());
    Tensor added = scatter_add_unchecked(zero, neg_dim, index_for(index, ts), ts);
    return tb.defined() ? tb + added : added;
  });
  return out;
}

// Throws unless index is int64 on x's device, of x's rank, no larger than x off dim d, and in range.
void check_index(const char* op, const Tensor& x, int64_t d, const Tensor& index) {
  PYAD_CHECK(index.dtype() == DType::Int64, TypeError, "[", op, "] expected an int64 index, got ",
             dtype_name(index.dtype()));
  check_same_device(op, x, index);
  const int64_t nx = std::max<int64_t>(x.ndim(), 1), ni = std::max<int64_t>(index.ndim(), 1);
  PYAD_CHECK(nx == ni, ValueError, "[", op, "] index ", shape_str(index.shape()),
             " must have as many dims as the input ", shape_str(x.shape()));
  for (int64_t k = 0; k < x.ndim() && k < index.ndim(); ++k)
    PYAD_CHECK(k == d || index.shape()[k] <= x.shape()[k], ValueError, "[", op, "] index ", shape_str(index.shape()),
               " is larger than the input ", shape_str(x.shape()), " at dim ", k, " (only dim ", d, " may differ)");
  if (index.numel() == 0) return;
  const int64_t size = x.ndim() == 0 ? 1 : x.shape()[d];
  auto host_scalar = [](const Tensor& t) { return *to_device(t, Device{}).data<int64_t>(); };
  const int64_t lo = host_scalar(amin(index, {}, false)), hi = host_scalar(amax(index, {}, false));
  const int64_t bad = lo < 0 ? lo : hi;
  PYAD_CHECK(lo >= 0 && hi < size, IndexError, "[", op, "] index ", bad, " is out of bounds for dim ", d, " with size ",
             size);
}

}  // namespace gather_detail

namespace {
using namespace gather_detail;

// Values and indices of the first k (all when k < 0) of x sorted along dim (wrapped), without history.
std::pair<Tensor, Tensor> sort_raw(const Tensor& x, int64_t dim, bool descending, int64_t k = -1) {
  Tensor src = as_line(x);
  Shape shape = src.shape();
  if (k >= 0) shape[dim] = k;
  Tensor values = empty(shape, x.dtype(), x.device()), indices = empty(shape, DType::Int64, x.device());
  kernels::sort(src, dim, descending, shape[dim], values, indices);
  if (x.ndim() == 0) {
    values = reshape(values, {});
    indices = reshape(indices, {});
    values->is_view = indices->is_view = false;  // the (1,) results are temporaries: nothing else aliases them
  }
  return {values, indices};
}

Tensor arg_extreme(const Tensor& x, std::optional<int64_t> dim, bool keepdim, bool is_max) {
  const char* op = is_max ? "argmax" : "argmin";
  if (!dim) {
    PYAD_CHECK(x.numel() > 0, IndexError, "[", op, "] cannot take the ", op, " of an empty tensor (shape ",
               shape_str(x.shape()), ") without a dim");
    Tensor flat = reshape(detach(x), {x.numel()});
    Tensor v = empty({1}, x.dtype(), x.device()), i = empty({1}, DType::Int64, x.device());
    kernels::arg_reduce(is_max, flat, 0, v, i);
    Tensor out = reshape(i, keepdim ? Shape(x.ndim(), 1) : Shape{});
    out->is_view = false;
    return out;
  }
  const int64_t d = wrap_dim(*dim, x.ndim(), op);
  Tensor src = as_line(x);
  PYAD_CHECK(src.shape()[d] > 0, IndexError, "[", op, "] cannot reduce over dim ", *dim, " of size 0 (input shape ",
             shape_str(x.shape()), ")");
  Shape kept = src.shape();
  kept[d] = 1;
  Tensor v = empty(kept, x.dtype(), x.device()), i = empty(kept, DType::Int64, x.device());
  kernels::arg_reduce(is_max, src, d, v, i);
  if (keepdim && x.ndim() > 0) return i;
  Shape shape = x.shape();
  if (x.ndim() > 0) shape.erase(shape.begin() + d);
  Tensor out = reshape(i, shape);
  out->is_view = false;
  return out;
}

}  // namespace

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  const int64_t d = wrap_dim(dim, x.ndim(), "gather");
  check_index("gather", x, d, index);
  if (x.ndim() == 0 || index.ndim() == 0) {  // the kernel works along a dim: 0-d operands as shape (1,)
    Tensor x1 = x.ndim() == 0 ? reshape(x, {1}) : x, i1 = index.ndim() == 0 ? reshape(index, {1}) : index;
    Tensor out = gather_unchecked(x1, -1, i1, "GatherBackward0");
    return index.ndim() == 0 ? reshape(out, {}) : out;
  }
  return gather_unchecked(x, d - x.ndim(), index, "GatherBackward0");
}

std::tuple<Tensor, Tensor> sort(const Tensor& x, int64_t dim, bool descending, bool /*stable*/) {
  // The kernels always sort stably: a stable order is one that an unstable sort may give.
  const int64_t d = wrap_dim(dim, x.ndim(), "sort");
  auto [values, indices] = sort_raw(x, d, descending);
  record_gather(values, x, d, indices, "SortBackward0");
  return {values, indices};
}

Tensor argsort(const Tensor& x, int64_t dim, bool descending, bool /*stable*/) {
  return sort_raw(x, wrap_dim(dim, x.ndim(), "argsort"), descending).second;
}

std::tuple<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim, bool largest, bool /*sorted*/) {
  // The k are always returned sorted (an order sorted=False allows).
  const int64_t d = wrap_dim(dim, x.ndim(), "topk");
  const int64_t size = x.ndim() == 0 ? 1 : x.shape()[d];
  PYAD_CHECK(k >= 0 && k <= size, RuntimeError, "[topk] k=", k, " is out of range for dim ", dim, " of size ", size,
             " (input shape ", shape_str(x.shape()), ")");
  // torch gives a 0-d input back whole for k = 0 as for k = 1.
  auto [values, indices] = sort_raw(x, d, largest, x.ndim() == 0 ? 1 : k);
  record_gather(values, x, d, indices, "TopkBackward0");
  return {values, indices};
}

Tensor argmax(const Tensor& x, std::optional<int64_t> dim, bool keepdim) { return arg_extreme(x, dim, keepdim, true); }
Tensor argmin(const Tensor& x, std::optional<int64_t> dim, bool keepdim) { return arg_extreme(x, dim, keepdim, false); }

}  // namespace pyad
