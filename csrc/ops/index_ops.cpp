// Indexing by tensors (x[idx], x[mask], x[idx] = v: torch's index and index_put_), nonzero, and the ops
// along a dim that write at an index (scatter, scatter_add, index_add) or read at one (index_select, take).
//
// Note [Advanced indexing as one gather]
// Index tensors i_d on some dims d of x are broadcast together to a shape B; each element of B names one
// element of the indexed dims, at storage offset sum_d i_d * stride_d from their first element. Those
// offsets, flattened to n = numel(B), turn x into a kernel view (pre, extent, post) whose middle dim has
// stride 1 and covers every indexed element: x[idx] is then the gather of that view along its middle dim
// at the offsets, and x[idx] = v the scatter there, written straight into x's memory (any strides, no
// copy). The result's dims are pre + B + post: torch's rule puts B where the index dims were when they are
// adjacent, and first (after any batch dims, Note [Batched tangents and cotangents]) when they are not.
// The VJP of a gather is an accumulating index_put_ into zeros, and index_put_'s is a gather of the
// gradient, each recorded through these same ops, so higher derivatives come free.
#include <numeric>
#include "ops/gather_scatter.h"
#include "ops/inplace.h"
#include "ops/record.h"
#include "kernels/kernels.h"

namespace pyad {

namespace {
using namespace gather_detail;
using namespace inplace_detail;

struct Plan {
  TensorIndices idx;  // per dim of x: an int64 index (bool masks expanded) or none
  Shape bshape;       // the index tensors broadcast together
  Shape pre, post;    // the result's dims before and after B
  Shape pre_st, post_st;  // x's strides of those dims
  int64_t extent = 1;  // storage span of the indexed dims
  Tensor lin;          // (numel(bshape),) storage offsets from the first indexed element
  Shape out_shape() const { return concat(concat(pre, bshape), post); }
  Shape kernel_shape(int64_t n) const { return concat(concat(pre, {n}), post); }
  Tensor x_view(const Tensor& x) const {
    return make_view(x, kernel_shape(extent), concat(concat(pre_st, {1}), post_st), x->offset);
  }
  Tensor index_view() const {
    Shape st = concat(concat(Shape(pre.size(), 0), {1}), Shape(post.size(), 0));
    return make_view(lin, kernel_shape(lin.numel()), st, lin->offset);
  }
  int64_t dim() const { return static_cast<int64_t>(pre.size()); }
};

Shape unbatched(const Shape& s, int64_t nb) { return Shape(s.begin() + nb, s.end()); }

std::optional<Shape> broadcast2(const Shape& a, const Shape& b) {
  const size_t n = std::max(a.size(), b.size());
  Shape r(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t x = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t y = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (x != y && x != 1 && y != 1) return std::nullopt;
    r[i] = x == 1 ? y : x;
  }
  return r;
}

int64_t host_int(const Tensor& t) { return *to_device(t, Device{}).data<int64_t>(); }

// The plan of x[given] where `given` indexes the dims after the first nb (batch dims, never indexed).
// checked: the indices came from a plan already (a rule's), so their range is known.
Plan make_plan(const char* op, const Tensor& x, const TensorIndices& given, int64_t nb, bool checked) {
  NoGradGuard no_grad;
  JvpRuleGuard no_tangents(0);
  const Shape user_shape = unbatched(x.shape(), nb);
  Plan p;
  p.idx.assign(nb, std::nullopt);
  for (const auto& e : given) {
    if (!e) {
      p.idx.push_back(std::nullopt);
      continue;
    }
    Tensor t = *e;
    if (t.device() != x.device() && t.device().is_cpu()) t = to_device(t, x.device());
    check_same_device(op, x, t);
    if (t.dtype() == DType::Bool) {
      const int64_t at = static_cast<int64_t>(p.idx.size()), k = t.ndim();
      PYAD_CHECK(k > 0, IndexError, "[", op, "] a 0-d bool index cannot index a dim (tensor shape ",
                 shape_str(user_shape), ")");
      PYAD_CHECK(at + k <= x.ndim(), IndexError, "[", op, "] too many indices for tensor of dimension ",
                 user_shape.size(), " (shape ", shape_str(user_shape), ", mask of shape ", shape_str(t.shape()), ")");
      for (int64_t j = 0; j < k; ++j)
        PYAD_CHECK(t.shape()[j] == x.shape()[at + j], IndexError, "[", op, "] the shape of the mask ",
                   shape_str(t.shape()), " at index ", j, " does not match the shape of the indexed tensor ",
                   shape_str(user_shape), " at index ", at + j - nb);
      Tensor nz = nonzero(t);
      for (int64_t j = 0; j < k; ++j) p.idx.push_back(select(nz, 1, j));
      continue;
    }
    PYAD_CHECK(t.dtype() == DType::Int64, IndexError, "[", op,
               "] tensors used as indices must be int64 (long) or bool tensors, got ", dtype_name(t.dtype()));
    p.idx.push_back(t);
  }
  PYAD_CHECK(static_cast<int64_t>(p.idx.size()) <= x.ndim(), IndexError, "[", op,
             "] too many indices for tensor of dimension ", user_shape.size(), " (shape ", shape_str(user_shape), ")");
  p.idx.resize(x.ndim());
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < x.ndim(); ++d)
    if (p.idx[d]) dims.push_back(d);
  PYAD_CHECK(!dims.empty(), ValueError, "[", op, "] expected at least one index tensor");
  p.bshape = p.idx[dims[0]]->shape();
  for (int64_t d : dims) {
    auto b = broadcast2(p.bshape, p.idx[d]->shape());
    PYAD_CHECK(b.has_value(), IndexError, "[", op,
               "] shape mismatch: indexing tensors could not be broadcast together (", shape_str(p.bshape), " and ",
               shape_str(p.idx[d]->shape()), ")");
    p.bshape = *b;
  }
  Tensor lin = zeros({}, DType::Int64, x.device());
  for (int64_t d : dims) {
    const Tensor& i = *p.idx[d];
    const int64_t size = x.shape()[d];
    if (!checked && i.numel() > 0) {
      const int64_t lo = host_int(amin(i, {}, false)), hi = host_int(amax(i, {}, false));
      PYAD_CHECK(lo >= -size && hi < size, IndexError, "[", op, "] index ", lo < -size ? lo : hi,
                 " is out of bounds for dimension ", d - nb, " with size ", size);
    }
    Tensor wrapped = where(lt(i, zeros({}, DType::Int64, x.device())), i + static_cast<double>(size), i);
    lin = lin + wrapped * static_cast<double>(x.strides()[d]);
    p.extent += std::max<int64_t>(size - 1, 0) * x.strides()[d];
  }
  p.lin = reshape(contiguous(expand(lin, p.bshape)), {numel_of(p.bshape)});
  const bool adjacent = dims.back() - dims.front() + 1 == static_cast<int64_t>(dims.size());
  const int64_t split = adjacent ? dims.front() : nb;  // dims before it (not indexed) lead the result
  for (int64_t d = 0; d < x.ndim(); ++d) {
    if (p.idx[d]) continue;
    (d < split ? p.pre : p.post).push_back(x.shape()[d]);
    (d < split ? p.pre_st : p.post_st).push_back(x.strides()[d]);
  }
  // The int64 indices (masks expanded) without the batch prefix, for the rules.
  p.idx.erase(p.idx.begin(), p.idx.begin() + nb);
  while (!p.idx.empty() && !p.idx.back()) p.idx.pop_back();
  return p;
}

Tensor index_impl(const char* op, const Tensor& x, const TensorIndices& indices, int64_t nb, bool checked);
Tensor& index_put_impl_(const char* op, Tensor& x, const TensorIndices& indices, const Tensor& values, bool accumulate,
                        int64_t nb, bool checked);

struct SavedIndices {
  std::vector<SavedTensor> saved;
  std::vector<bool> present;
  void save(const TensorIndices& idx) {
    for (const auto& i : idx) {
      present.push_back(i.has_value());
      saved.push_back(i ? SavedTensor(*i, false) : SavedTensor());
    }
  }
  TensorIndices unpack(const Node& n) {
    TensorIndices r;
    for (size_t k = 0; k < saved.size(); ++k)
      r.push_back(present[k] ? std::optional<Tensor>(saved[k].unpack(n)) : std::nullopt);
    return r;
  }
  void add_to(std::vector<SavedTensor*>& out) {
    for (size_t k = 0; k < saved.size(); ++k)
      if (present[k]) out.push_back(&saved[k]);
  }
};

// x[idx]'s gradient: added into zeros at the indices (a repeated index accumulates).
struct IndexBackward : Node {
  SavedIndices indices;
  Shape in_shape;
  std::string name() const override { return "IndexBackward0"; }
  TensorList apply(TensorList&& g) override {
    const int64_t nb = batch_dims(g[0]);
    Tensor z = zeros(concat(batch_shape(g[0], out_ndim), in_shape), g[0].dtype(), g[0].device());
    index_put_impl_("index_backward", z, indices.unpack(*this), g[0], true, nb, true);
    return {z};
  }
  std::vector<SavedTensor*> saved() override {
    std::vector<SavedTensor*> r;
    indices.add_to(r);
    return r;
  }
};

// x[idx] = v (or +=): x's gradient is zero where v was written (unchanged for +=), v's is the gradient there.
struct IndexPutBackward : Node {
  SavedIndices indices;
  bool accumulate = false;
  std::string name() const override { return "IndexPutBackward0"; }
  TensorList apply(TensorList&& g) override {
    const int64_t nb = batch_dims(g[0]);
    TensorIndices idx = indices.unpack(*this);
    Tensor gx, gv;
    if (needs_input_grad(0)) {
      gx = g[0];
      if (!accumulate) {
        gx = clone(g[0]);
        index_put_impl_("index_put_backward", gx, idx, zeros({}, g[0].dtype(), g[0].device()), false, nb, true);
      }
    }
    if (needs_input_grad(1)) gv = index_impl("index_put_backward", g[0], idx, nb, true);
    return {gx, gv};
  }
  std::vector<SavedTensor*> saved() override {
    std::vector<SavedTensor*> r;
    indices.add_to(r);
    return r;
  }
};

Tensor index_impl(const char* op, const Tensor& x, const TensorIndices& indices, int64_t nb, bool checked) {
  Plan p = make_plan(op, x, indices, nb, checked);
  Tensor out = empty(p.out_shape(), x.dtype(), x.device());
  if (out.numel() > 0) {
    const Shape ks = p.kernel_shape(p.lin.numel());
    kernels::gather(p.x_view(x), p.dim(), p.index_view(), make_view(out, ks, contiguous_strides(ks), 0));
  }
  if (!is_floating(x.dtype())) return out;
  if (auto node = record<IndexBackward>(out, {x})) {
    node->indices.save(p.idx);
    node->in_shape = unbatched(x.shape(), nb);
  }
  forward_rule(out, {x}, [&] {
    Tensor t = tangent_of(x);
    return t.defined() ? index_impl(op, t, p.idx, nb + t.ndim() - x.ndim(), true) : t;
  });
  return out;
}

// The in-place writes below (index_put_, scatter_, scatter_add_, index_add_, masked_fill_) share their ends:
// the tangents of x and of what is written, per level, read before the write...
struct TangentsBefore {
  uint64_t level;
  Tensor x, value;
};
std::vector<TangentsBefore> tangents_before(const Tensor& x, const Tensor& value) {
  std::vector<TangentsBefore> out;
  for (uint64_t l = next_tangent_level({x, value}, 0); l != 0; l = next_tangent_level({x, value}, l))
    out.push_back({l, tangent_at(x, l), tangent_at(value, l)});
  return out;
}

// ...and, after it, x's version and history (node: the write's, input 0 x's old history) and its new tangent at
// each level: rule(x's old tangent, value's), either possibly undefined, run as that level's JVP rule.
template <class Rule>
void finish_in_place(const char* op, Tensor& x, const std::shared_ptr<Node>& node,
                     const std::vector<TangentsBefore>& before, Rule&& rule) {
  bump_version(x);
  rebase_history(op, x, node);
  if (!before.empty()) check_no_view_tangent(op, x);
  for (const TangentsBefore& b : before) {
    Tensor t;
    {
      JvpRuleGuard guard(b.level);
      t = rule(b.x, b.value);
    }
    set_tangent(x, t, b.level);
  }
}

Tensor& index_put_impl_(const char* op, Tensor& x, const TensorIndices& indices, const Tensor& values0, bool accumulate,
                        int64_t nb, bool checked) {
  check_leaf(op, x);
  check_no_internal_overlap(op, x);
  const Tensor values1 = on_device_of(op, x, values0);
  Plan p = make_plan(op, x, indices, nb, checked);
  const Shape region = p.out_shape();
  // Leading unit dims of the value beyond the region's rank are dropped, as torch.
  Tensor value = values1;
  while (value.ndim() > static_cast<int64_t>(region.size()) && value.shape()[0] == 1) value = squeeze(value, 0);
  auto b = broadcast2(region, value.shape());
  PYAD_CHECK(b && *b == region, ValueError, "[", op, "] shape mismatch: value tensor of shape ",
             shape_str(values1.shape()), " cannot be broadcast to the indexing result of shape ",
             shape_str(unbatched(region, nb)));
  PYAD_CHECK(!(accumulate && x.dtype() == DType::Bool), TypeError, "[", op, "] bool tensors cannot be accumulated");
  PYAD_CHECK(is_floating(x.dtype()) || !is_floating(value.dtype()), TypeError, "[", op, "] cannot write ",
             dtype_name(value.dtype()), " values into a ", dtype_name(x.dtype()), " tensor");
  std::shared_ptr<IndexPutBackward> node;
  if (any_requires_grad({x, value})) {
    node = std::make_shared<IndexPutBackward>();
    collect_edges(*node, {x, value});
    node->indices.save(p.idx);
    node->accumulate = accumulate;
  }
  const auto before = tangents_before(x, value);
  if (p.lin.numel() > 0 && numel_of(region) > 0) {
    NoGradGuard no_grad;
    JvpRuleGuard no_tangents(0);
    // A fresh contiguous source: it then views as (pre, n, post), and a value that shares x's memory
    // (x[perm] = x) is read before any of it is written.
    Tensor src = empty(region, x.dtype(), x.device());
    kernels::copy(detach(value), src);
    const Shape ks = p.kernel_shape(p.lin.numel());
    kernels::scatter(p.x_view(x), p.dim(), p.index_view(), make_view(src, ks, contiguous_strides(ks), 0), accumulate);
  }
  finish_in_place(op, x, node, before, [&](const Tensor& tx, const Tensor& tv) {
    const int64_t tnb = tx.defined() ? tx.ndim() - x.ndim() : tv.ndim() - value.ndim();
    Shape batch = tx.defined() ? batch_shape(tx, x.ndim()) : batch_shape(tv, value.ndim());
    Tensor t = tx.defined() ? clone(tx) : zeros(concat(batch, x.shape()), x.dtype(), x.device());
    Tensor v = tv.defined() ? align_batched(tv, value.ndim(), static_cast<int64_t>(region.size()))
                            : zeros({}, x.dtype(), x.device());
    return index_put_impl_(op, t, p.idx, v, accumulate, nb + tnb, true);
  });
  return x;
}

// ---- scatter along a dim ----

Tensor scatter_unchecked(const Tensor& base, int64_t neg_dim, const Tensor& index, const Tensor& src);

// scatter's gradient: zero where src was written for the input, the gradient gathered there for src.
struct ScatterBackward : Node {
  SavedTensor index;
  int64_t neg_dim = -1;
  std::string name() const override { return "ScatterBackward0"; }
  TensorList apply(TensorList&& g) override {
    Tensor idx = index_for(index.unpack(*this), g[0]);
    Tensor gx, gs;
    if (needs_input_grad(0))
      gx = scatter_unchecked(g[0], neg_dim, idx, zeros(idx.shape(), g[0].dtype(), g[0].device()));
    if (needs_input_grad(1)) gs = gather_unchecked(g[0], neg_dim, idx, "GatherBackward0");
    return {gx, gs};
  }
  std::vector<SavedTensor*> saved() override { return {&index}; }
};

Tensor scatter_unchecked(const Tensor& base, int64_t neg_dim, const Tensor& index, const Tensor& src) {
  Tensor out = empty(base.shape(), base.dtype(), base.device());
  kernels::copy(base, out);
  kernels::scatter(out, neg_dim + base.ndim(), index, src, false);
  if (auto node = record<ScatterBackward>(out, {base, src})) {
    node->index = SavedTensor(index, false);
    node->neg_dim = neg_dim;
  }
  forward_rule(out, {base, src}, [&] {
    Tensor tb = tangent_of(base), ts = tangent_of(src);
    Shape batch = tb.defined() ? batch_shape(tb, base.ndim()) : batch_shape(ts, src.ndim());
    if (!tb.defined()) tb = zeros(concat(batch, base.shape()), base.dtype(), base.device());
    if (!ts.defined()) ts = zeros(concat(batch, src.shape()), base.dtype(), base.device());
    return scatter_unchecked(tb, neg_dim, index_for(index, tb), ts);
  });
  return out;
}

// The checks and operands scatter and scatter_add share: (input, dim counted from the end, index, src),
// 0-d operands as (1,) and src sliced to the index's shape (the rest of it is not read, and gets no gradient).
struct ScatterArgs {
  Tensor x, index, src;
  int64_t neg_dim;
};

ScatterArgs scatter_args(const char* op, const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src0) {
  const int64_t d = wrap_dim(dim, x.ndim(), op);
  check_index(op, x, d, index);
  Tensor src = on_device_of(op, x, src0);
  ScatterArgs a{x, index, src, x.ndim() == 0 ? -1 : d - x.ndim()};
  if (x.ndim() == 0) a.x = reshape(x, {1});
  if (index.ndim() == 0) a.index = reshape(index, {1});
  if (src.ndim() == 0) {
    a.src = expand(reshape(src, Shape(a.index.ndim(), 1)), a.index.shape());
  } else {
    PYAD_CHECK(std::max<int64_t>(src.ndim(), 1) == a.index.ndim(), ValueError, "[", op, "] index ",
               shape_str(index.shape()), " and src ", shape_str(src.shape()), " must have the same number of dims");
    for (int64_t k = 0; k < a.index.ndim(); ++k) {
      PYAD_CHECK(a.index.shape()[k] <= a.src.shape()[k], ValueError, "[", op, "] index ", shape_str(index.shape()),
                 " is larger than src ", shape_str(src.shape()), " at dim ", k);
      if (a.index.shape()[k] < a.src.shape()[k]) a.src = slice(a.src, k, 0, a.index.shape()[k], 1);
    }
  }
  PYAD_CHECK(is_floating(x.dtype()) || !is_floating(a.src.dtype()), TypeError, "[", op, "] cannot write ",
             dtype_name(a.src.dtype()), " values into a ", dtype_name(x.dtype()), " tensor");
  if (a.src.dtype() != x.dtype()) a.src = to_dtype(a.src, x.dtype());
  return a;
}

Tensor scalar_like_0d(const Tensor& r, const Tensor& x) { return x.ndim() == 0 ? reshape(r, {}) : r; }

// scatter_, scatter_add_ and index_add_: a.src written (add: added) into x itself at a.index along a.neg_dim,
// with no copy of x. The node is the out-of-place op's, its input 0 x's old history (rebase_history: Note [In-place
// on views]); neither node reads x's old values. A 0-d x (seen as (1,) by a) takes the out-of-place op and copy_.
Tensor& scatter_in_place(const char* op, Tensor& x, const ScatterArgs& a, bool add) {
  if (x.ndim() == 0) {
    Tensor r =
        add ? scatter_add_unchecked(a.x, a.neg_dim, a.index, a.src) : scatter_unchecked(a.x, a.neg_dim, a.index, a.src);
    return copy_(x, reshape(r, {}));
  }
  check_leaf(op, x);
  check_no_internal_overlap(op, x);
  const auto before = tangents_before(x, a.src);
  std::shared_ptr<Node> node;
  if (any_requires_grad({x, a.src}) && is_floating(x.dtype())) {
    if (add) {
      node = scatter_add_node(a.index, a.neg_dim);
    } else {
      auto n = std::make_shared<ScatterBackward>();
      n->index = SavedTensor(a.index, false);
      n->neg_dim = a.neg_dim;
      node = n;
    }
    collect_edges(*node, {x, a.src});
  }
  {
    NoGradGuard no_grad;
    JvpRuleGuard no_tangents(0);
    kernels::scatter(x, a.neg_dim + x.ndim(), a.index, unaliased(detach(a.src), x), add);
  }
  finish_in_place(op, x, node, before, [&](Tensor tb, Tensor ts) {
    Shape batch = tb.defined() ? batch_shape(tb, x.ndim()) : batch_shape(ts, a.src.ndim());
    if (!tb.defined()) tb = zeros(concat(batch, x.shape()), x.dtype(), x.device());
    if (!ts.defined()) ts = zeros(concat(batch, a.src.shape()), x.dtype(), x.device());
    Tensor idx = index_for(a.index, ts);
    return add ? scatter_add_unchecked(tb, a.neg_dim, idx, ts) : scatter_unchecked(tb, a.neg_dim, idx, ts);
  });
  return x;
}

// index_add's operands as scatter_add's: the index along dim expanded over source (scaled by alpha).
ScatterArgs index_add_args(const char* op, const Tensor& x, int64_t dim, const Tensor& index, const Tensor& source,
                           double alpha) {
  const int64_t d = wrap_dim(dim, std::max<int64_t>(x.ndim(), 1), op);
  PYAD_CHECK(index.ndim() <= 1, IndexError, "[", op, "] index must be a vector (0-d or 1-d), got shape ",
             shape_str(index.shape()));
  PYAD_CHECK(index.dtype() == DType::Int64, TypeError, "[", op, "] expected an int64 index, got ",
             dtype_name(index.dtype()));
  PYAD_CHECK(x.dtype() != DType::Bool, TypeError, "[", op, "] bool tensors cannot be summed");
  Shape want = x.ndim() == 0 ? Shape{} : x.shape();
  if (x.ndim() > 0) want[d] = index.numel();
  const bool ok = source.shape() == want || (x.ndim() == 0 && source.numel() == 1 && source.ndim() <= 1);
  PYAD_CHECK(ok, ValueError, "[", op, "] source of shape ", shape_str(source.shape()), " must be the input's ",
             shape_str(x.shape()), " with dim ", d, " of the index's length ", index.numel());
  Tensor base = x.ndim() == 0 ? reshape(x, {1}) : x;
  Tensor src = reshape(on_device_of(op, x, source), x.ndim() == 0 ? Shape{1} : want);
  if (alpha != 1.0) src = src * alpha;
  Shape line(base.ndim(), 1);
  line[d] = index.numel();
  Tensor idx = reshape(index, line);
  check_index(op, base, d, idx);
  idx = expand(idx, src.shape());
  if (src.dtype() != x.dtype()) {
    PYAD_CHECK(is_floating(x.dtype()) || !is_floating(src.dtype()), TypeError, "[", op, "] cannot add ",
               dtype_name(src.dtype()), " values into a ", dtype_name(x.dtype()), " tensor");
    src = to_dtype(src, x.dtype());
  }
  return {base, idx, src, d - base.ndim()};
}

// masked_fill_'s gradient: zero where the mask wrote for x, the sum of the gradient there for the value.
struct MaskedFillBackward : Node {
  SavedTensor mask;  // expanded to x's shape
  int64_t x_ndim = 0;
  bool tensor_value = false;  // torch's two overloads: a number (0), a tensor (1)
  std::string name() const override { return tensor_value ? "MaskedFillBackward1" : "MaskedFillBackward0"; }
  TensorList apply(TensorList&& g) override {
    const Tensor m = mask.unpack(*this);
    const Tensor zero = zeros({}, g[0].dtype(), g[0].device());
    Tensor gx, gv;
    if (needs_input_grad(0)) gx = where(m, zero, g[0]);
    if (needs_input_grad(1)) {
      Tensor w = where(m, g[0], zero);
      std::vector<int64_t> dims;
      for (int64_t k = 1; k <= x_ndim; ++k) dims.push_back(-k);  // the value's (batch) dims stay
      gv = dims.empty() ? w : sum(w, dims, false);
    }
    return {gx, gv};
  }
  std::vector<SavedTensor*> saved() override { return {&mask}; }
};

}  // namespace

Tensor nonzero(const Tensor& x) {
  // The count sets the result's shape, so the host needs it: read the input there once (torch syncs too).
  Tensor h = contiguous(to_dtype(to_device(detach(x), Device{}), DType::Bool));
  const bool* m = h.data<bool>();
  const int64_t nd = x.ndim(), n = x.numel();
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i) count += m[i];
  Tensor out = empty({count, nd}, DType::Int64, Device{});
  int64_t* o = out.data<int64_t>();
  const Shape& s = x.shape();
  for (int64_t i = 0; i < n; ++i) {
    if (!m[i]) continue;
    for (int64_t d = nd - 1, r = i; d >= 0; --d) {
      o[d] = r % s[d];
      r /= s[d];
    }
    o += nd;
  }
  return to_device(out, x.device());
}

Tensor index_tensor(const Tensor& x, const TensorIndices& indices, const char* op) {
  return index_impl(op, x, indices, 0, false);
}

Tensor& index_put_tensor_(Tensor& x, const TensorIndices& indices, const Tensor& values, bool accumulate,
                          const char* op) {
  return index_put_impl_(op, x, indices, values, accumulate, 0, false);
}

Tensor index_put(const Tensor& x, const TensorIndices& indices, const Tensor& values, bool accumulate) {
  Tensor out = clone(x);
  return index_put_impl_("index_put", out, indices, values, accumulate, 0, false);
}

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  const int64_t d = wrap_dim(dim, std::max<int64_t>(x.ndim(), 1), "index_select");
  PYAD_CHECK(index.ndim() <= 1, IndexError, "[index_select] index must be a vector (0-d or 1-d), got shape ",
             shape_str(index.shape()));
  PYAD_CHECK(index.dtype() == DType::Int64, TypeError, "[index_select] expected an int64 index, got ",
             dtype_name(index.dtype()));
  Tensor src = x.ndim() == 0 ? reshape(x, {1}) : x;
  check_same_device("index_select", x, index);
  if (index.numel() > 0) {  // no negative indices, as torch's index_select
    const int64_t lo = host_int(amin(index, {}, false)), hi = host_int(amax(index, {}, false)), size = src.shape()[d];
    PYAD_CHECK(lo >= 0 && hi < size, IndexError, "[index_select] index ", lo < 0 ? lo : hi,
               " is out of bounds for dimension ", d, " with size ", size);
  }
  TensorIndices idx(d, std::nullopt);
  idx.push_back(reshape(index, {index.numel()}));
  return scalar_like_0d(index_impl("index_select", src, idx, 0, true), x);
}

Tensor take(const Tensor& x, const Tensor& index) {
  PYAD_CHECK(index.dtype() == DType::Int64, TypeError, "[take] expected an int64 index, got ",
             dtype_name(index.dtype()));
  return index_impl("take", reshape(x, {x.numel()}), {index}, 0, false);
}

Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  ScatterArgs a = scatter_args("scatter", x, dim, index, src);
  return scalar_like_0d(scatter_unchecked(a.x, a.neg_dim, a.index, a.src), x);
}

Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  ScatterArgs a = scatter_args("scatter_add", x, dim, index, src);
  PYAD_CHECK(x.dtype() != DType::Bool, TypeError, "[scatter_add] bool tensors cannot be summed");
  return scalar_like_0d(scatter_add_unchecked(a.x, a.neg_dim, a.index, a.src), x);
}

Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& source, double alpha) {
  ScatterArgs a = index_add_args("index_add", x, dim, index, source, alpha);
  return scalar_like_0d(scatter_add_unchecked(a.x, a.neg_dim, a.index, a.src), x);
}

Tensor& scatter_(Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  return scatter_in_place("scatter_", x, scatter_args("scatter_", x, dim, index, src), false);
}

Tensor& scatter_add_(Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  PYAD_CHECK(x.dtype() != DType::Bool, TypeError, "[scatter_add_] bool tensors cannot be summed");
  return scatter_in_place("scatter_add_", x, scatter_args("scatter_add_", x, dim, index, src), true);
}

Tensor& masked_fill_(Tensor& x, const Tensor& mask0, const Tensor& value0, bool tensor_value) {
  const char* op = "masked_fill_";
  PYAD_CHECK(mask0.dtype() == DType::Bool, TypeError, "[", op, "] expected a bool mask tensor, got ",
             dtype_name(mask0.dtype()));
  PYAD_CHECK(value0.ndim() == 0, ValueError, "[", op, "] value must be a number or a 0-d tensor, got shape ",
             shape_str(value0.shape()));
  PYAD_CHECK(broadcast_shapes(x.shape(), mask0.shape(), op) == x.shape(), ValueError, "[", op, "] mask of shape ",
             shape_str(mask0.shape()), " cannot be broadcast to the input's ", shape_str(x.shape()));
  check_same_device(op, x, mask0);
  check_leaf(op, x);
  check_no_internal_overlap(op, x);
  const Tensor mask = expand(mask0, x.shape());
  const Tensor value = to_dtype(on_device_of(op, x, value0), x.dtype());
  const auto before = tangents_before(x, value);
  std::shared_ptr<MaskedFillBackward> node;
  if (any_requires_grad({x, value}) && is_floating(x.dtype())) {
    node = std::make_shared<MaskedFillBackward>();
    node->mask = SavedTensor(mask, false);
    node->x_ndim = x.ndim();
    node->tensor_value = tensor_value;
    collect_edges(*node, {x, value});
  }
  {
    NoGradGuard no_grad;
    JvpRuleGuard no_tangents(0);
    kernels::where(mask, detach(value), x, x);  // elementwise: each place is read before it is written
  }
  finish_in_place(op, x, node, before, [&](const Tensor& tx, const Tensor& tv) {
    Shape batch = tx.defined() ? batch_shape(tx, x.ndim()) : batch_shape(tv, 0);
    Tensor a = tv.defined() ? align_batched(tv, 0, x.ndim()) : zeros({}, x.dtype(), x.device());
    return where(mask, a, tx.defined() ? tx : zeros(concat(batch, x.shape()), x.dtype(), x.device()));
  });
  return x;
}

Tensor& index_add_(Tensor& x, int64_t dim, const Tensor& index, const Tensor& source, double alpha) {
  return scatter_in_place("index_add_", x, index_add_args("index_add_", x, dim, index, source, alpha), true);
}

}  // namespace pyad
