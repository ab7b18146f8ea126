// Fused ops of the training loop: cross entropy over rows of logits, and the multi-tensor optimizer steps.
//
// Note [Fused cross entropy]
// cross_entropy_rows(x, target, ignore_index) is loss[i] = logsumexp(x[i]) - x[i, target[i]] (0 where target[i] is
// ignore_index) for logits x (M, C): F.cross_entropy's common case, which composed of log_softmax, a gather and
// their backward makes five passes over the logits and keeps the (M, C) log-probabilities alive. Fused, the forward
// reads x once and keeps only logsumexp per row; the backward writes g[i] * (softmax(x)[i] - onehot(target[i])) in
// one pass. That fused backward runs when the backward records nothing (no create_graph, no forward-mode tangents,
// no batched gradient); otherwise the same VJP is composed of differentiable ops (softmax, a one-hot compare), so
// second derivatives, jvp-of-grad and vmapped backward passes see the usual rules. The JVP is likewise composed:
// sum(softmax(x) * t, -1) - t[i, target[i]].
#include "ops/fused_nn.h"
#include "ops/record.h"
#include "kernels/kernels.h"

namespace pyad {

namespace {

int64_t host_int(const Tensor& t) {
  const Tensor h = t.device().is_cpu() ? t : to_device(detach(t), Device{});
  return *h.data<int64_t>();
}

Tensor one_hot_rows(const Tensor& target, int64_t c, DType dtype) {
  Tensor classes = arange(0, static_cast<double>(c), 1, DType::Int64, target.device());
  return to_dtype(eq(unsqueeze(target, -1), classes), dtype);
}

// g (..., M) masked to the kept rows, as (..., M, 1).
Tensor kept_column(const Tensor& g, const Tensor& kept) {
  Tensor gk = kept.defined() ? where(kept, g, scalar_tensor(0, g.dtype(), g.device())) : g;
  return unsqueeze(gk, -1);
}

struct CrossEntropyRowsBackward : Node {
  SavedTensor x, lse;
  Tensor target, safe_target, kept;  // int64 / bool constants of the forward (kept: undefined when no row is ignored)
  int64_t ignore_index = -100;
  std::string name() const override { return "CrossEntropyRowsBackward0"; }
  TensorList apply(TensorList&& g) override {
    Tensor xv = x.unpack(*this);
    const int64_t c = xv.shape()[1];
    if (!grad_enabled() && !any_tangent({g[0], xv}) && g[0].ndim() == 1) {
      Tensor out = empty(xv.shape(), xv.dtype(), xv.device());
      kernels::cross_entropy_rows_backward(xv.is_contiguous() ? xv : contiguous(xv), target, ignore_index,
                                           lse.unpack(*this), g[0], out);
      return {out};
    }
    return {(softmax(xv, 1) - one_hot_rows(safe_target, c, xv.dtype())) * kept_column(g[0], kept)};
  }
  std::vector<SavedTensor*> saved() override { return {&x, &lse}; }
};

}  // namespace

std::tuple<Tensor, int64_t> cross_entropy_rows(const Tensor& x0, const Tensor& target0, int64_t ignore_index) {
  const char* op = "cross_entropy";
  PYAD_CHECK(x0.ndim() == 2, ValueError, "[", op, "] expected logits of shape (N, C), got ", describe(x0));
  PYAD_CHECK(is_floating(x0.dtype()), TypeError, "[", op, "] expected floating logits, got ", describe(x0));
  PYAD_CHECK(target0.dtype() == DType::Int64, TypeError, "[", op, "] expected an int64 (long) target, got ",
             describe(target0));
  PYAD_CHECK(target0.ndim() == 1 && target0.shape()[0] == x0.shape()[0], ValueError, "[", op,
             "] expected a target of shape (", x0.shape()[0], ",) for logits of shape ", shape_str(x0.shape()),
             ", got ", shape_str(target0.shape()));
  check_same_device(op, x0, target0);
  const int64_t m = x0.shape()[0], c = x0.shape()[1];
  Tensor target = detach(target0), kept, safe_target = target;
  int64_t n_kept = m;
  if (m > 0) {
    int64_t lo = host_int(amin(target, {}, false)), hi = host_int(amax(target, {}, false));
    if (lo < 0 || hi >= c || (lo <= ignore_index && ignore_index <= hi)) {
      kept = ne(target, scalar_tensor(static_cast<double>(ignore_index), DType::Int64, target.device()));
      safe_target = where(kept, target, scalar_tensor(0, DType::Int64, target.device()));
      lo = host_int(amin(safe_target, {}, false));
      hi = host_int(amax(safe_target, {}, false));
      PYAD_CHECK(lo >= 0 && hi < c, IndexError, "[", op, "] index ", lo < 0 ? lo : hi, " is out of range for size ", c);
      n_kept = host_int(sum(to_dtype(kept, DType::Int64), {}, false));
    }
  }
  PYAD_CHECK(c > 0 || m == 0, IndexError, "[", op, "] logits of shape ", shape_str(x0.shape()), " have no classes");
  Tensor x = x0.is_contiguous() ? x0 : contiguous(detach(x0));
  Tensor loss = empty({m}, x.dtype(), x.device()), lse = empty({m}, x.dtype(), x.device());
  if (m > 0) kernels::cross_entropy_rows(x, target, ignore_index, loss, lse);
  if (auto node = record<CrossEntropyRowsBackward>(loss, {x0})) {
    node->x = SavedTensor(x0, false);
    node->lse = SavedTensor(lse, false);
    node->target = target;
    node->safe_target = safe_target;
    node->kept = kept;
    node->ignore_index = ignore_index;
  }
  forward_rule(loss, {x0}, [&] {
    Tensor t = tangent_of(x0);
    Tensor idx = unsqueeze(safe_target, -1);
    if (t.ndim() > 2)
      idx = expand(reshape(idx, concat(Shape(t.ndim() - 2, 1), idx.shape())), concat(batch_shape(t, 2), idx.shape()));
    Tensor picked = squeeze(gather(t, -1, idx), -1);
    Tensor dt = sum(t * softmax(x0, 1), {-1}, false) - picked;
    return kept.defined() ? where(kept, dt, scalar_tensor(0, dt.dtype(), dt.device())) : dt;
  });
  return {loss, n_kept};
}

namespace {

// Note [Fused embedding]
// Embedding's forward copies rows; its backward adds g's rows into zeros at the indices, one pass over g. That
// kernel runs when the backward records nothing (as Note [Fused cross entropy]); otherwise the same VJP is the
// differentiable product onehot(index)^T g, which only double backward and batched or forward-mode backward passes
// take (it costs n x N, so those are for modest sizes). The JVP gathers the tangent's rows.
struct EmbeddingRowsBackward : Node {
  Tensor index;  // flat (N,), in range
  Shape index_shape;
  int64_t n = 0, d = 0;
  std::string name() const override { return "EmbeddingBackward0"; }
  TensorList apply(TensorList&& g) override {
    const int64_t big = static_cast<int64_t>(index.numel());
    const int64_t batch = g[0].ndim() - static_cast<int64_t>(index_shape.size()) - 1;
    if (!grad_enabled() && !any_tangent({g[0]}) && batch == 0) {
      Tensor gw = zeros({n, d}, g[0].dtype(), g[0].device());
      kernels::embedding_rows_backward(gw, index, contiguous(reshape(g[0], {big, d})));
      return {gw};
    }
    Shape rows = batch_shape(g[0], static_cast<int64_t>(index_shape.size()) + 1);
    Tensor gr = reshape(g[0], concat(rows, {big, d}));
    Tensor classes = arange(0, static_cast<double>(n), 1, DType::Int64, index.device());
    Tensor onehot_t = to_dtype(eq(unsqueeze(classes, -1), unsqueeze(index, 0)), g[0].dtype());  // (n, N)
    return {matmul(onehot_t, gr)};
  }
};

}  // namespace

Tensor embedding_rows(const Tensor& weight0, const Tensor& index0) {
  const char* op = "embedding";
  PYAD_CHECK(weight0.ndim() == 2, ValueError, "[", op,
             "] weight must be 2-d (num_embeddings, embedding_dim), got shape ", shape_str(weight0.shape()));
  PYAD_CHECK(is_floating(weight0.dtype()), TypeError, "[", op, "] expected a floating weight, got ", describe(weight0));
  PYAD_CHECK(index0.dtype() == DType::Int64, TypeError, "[", op, "] expected an int64 (long) index tensor, got ",
             describe(index0));
  check_same_device(op, weight0, index0);
  const int64_t n = weight0.shape()[0], d = weight0.shape()[1], big = index0.numel();
  Tensor index = contiguous(reshape(detach(index0), {big}));
  if (big > 0) {
    const int64_t lo = host_int(amin(index, {}, false)), hi = host_int(amax(index, {}, false));
    PYAD_CHECK(lo >= 0 && hi < n, IndexError, "[", op, "] index ", lo < 0 ? lo : hi, " is out of range for size ", n);
  }
  Tensor weight = weight0.is_contiguous() ? weight0 : contiguous(detach(weight0));
  Shape out_shape = concat(index0.shape(), {d});
  Tensor out = empty(out_shape, weight.dtype(), weight.device());
  if (big > 0 && d > 0) kernels::embedding_rows(weight, index, out);
  if (auto node = record<EmbeddingRowsBackward>(out, {weight0})) {
    node->index = index;
    node->index_shape = index0.shape();
    node->n = n;
    node->d = d;
  }
  forward_rule(out, {weight0}, [&] {
    Tensor t = tangent_of(weight0);  // (..., n, d)
    Shape batch = batch_shape(t, 2);
    Tensor idx = expand(reshape(index, concat(Shape(batch.size(), 1), {big, 1})), concat(batch, {big, d}));
    return reshape(gather(t, -2, idx), concat(batch, out_shape));
  });
  return out;
}

namespace {

// The checks of a fused optimizer step: lists of equal length, each tensor of its parameter's shape, dtype and
// device, one floating dtype and one device in all (the caller groups by them), parameters and state contiguous
// and written with no graph. Gradients may be strided (an expanded gradient): those are made contiguous.
TensorList check_step(const char* op, const TensorList& params, const TensorList& grads,
                      const std::vector<std::pair<const char*, const TensorList*>>& states) {
  PYAD_CHECK(grads.size() == params.size(), ValueError, "[", op, "] got ", params.size(), " parameters but ",
             grads.size(), " gradients");
  for (const auto& [name, list] : states)
    PYAD_CHECK(list->empty() || list->size() == params.size(), ValueError, "[", op, "] got ", params.size(),
               " parameters but ", list->size(), " ", name);
  TensorList dense(grads.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i];
    PYAD_CHECK(is_floating(p.dtype()), TypeError, "[", op, "] parameter ", i, " is not floating: ", describe(p));
    PYAD_CHECK(p.dtype() == params[0].dtype() && p.device() == params[0].device(), TypeError, "[", op,
               "] expected every parameter of one dtype and device, got ", describe(params[0]), " on ",
               params[0].device().str(), " and ", describe(p), " on ", p.device().str());
    PYAD_CHECK(p.is_contiguous(), ValueError, "[", op, "] parameter ", i, " is not contiguous");
    PYAD_CHECK(!(grad_enabled() && p.requires_grad()), RuntimeError, "[", op,
               "] a leaf Variable that requires grad is being used in an in-place operation (wrap the step in "
               "pyad.no_grad())");
    auto same = [&](const Tensor& t, const char* what) {
      PYAD_CHECK(t.defined() && t.shape() == p.shape() && t.dtype() == p.dtype() && t.device() == p.device(),
                 ValueError, "[", op, "] ", what, " ", i, " must match its parameter (", describe(p), " on ",
                 p.device().str(), "), got ", t.defined() ? describe(t) : std::string("None"));
    };
    same(grads[i], "gradient");
    dense[i] = grads[i].is_contiguous() ? grads[i] : contiguous(detach(grads[i]));
    for (const auto& [name, list] : states) {
      if (list->empty()) continue;
      same((*list)[i], name);
      PYAD_CHECK((*list)[i].is_contiguous(), ValueError, "[", op, "] ", name, " ", i, " is not contiguous");
    }
  }
  return dense;
}

void bump_all(const TensorList& ts) {
  for (const Tensor& t : ts) bump_version(t);
}

}  // namespace

void adam_step_(const TensorList& params, const TensorList& grads, const TensorList& exp_avgs,
                const TensorList& exp_avg_sqs, const TensorList& max_exp_avg_sqs, const kernels::AdamScalars& s) {
  const char* op = "adam_step";
  PYAD_CHECK(exp_avgs.size() == params.size() && exp_avg_sqs.size() == params.size(), ValueError, "[", op,
             "] every parameter needs its exp_avg and exp_avg_sq");
  PYAD_CHECK(!s.amsgrad || max_exp_avg_sqs.size() == params.size(), ValueError, "[", op,
             "] amsgrad needs every parameter's max_exp_avg_sq");
  TensorList g = check_step(
      op, params, grads, {{"exp_avg", &exp_avgs}, {"exp_avg_sq", &exp_avg_sqs}, {"max_exp_avg_sq", &max_exp_avg_sqs}});
  if (params.empty()) return;
  kernels::adam_step(params, g, exp_avgs, exp_avg_sqs, s.amsgrad ? max_exp_avg_sqs : TensorList{}, s);
  bump_all(params);
  bump_all(exp_avgs);
  bump_all(exp_avg_sqs);
  if (s.amsgrad) bump_all(max_exp_avg_sqs);
}

void sgd_step_(const TensorList& params, const TensorList& grads, const TensorList& momentum_buffers,
               const kernels::SgdScalars& s) {
  const char* op = "sgd_step";
  PYAD_CHECK(s.momentum == 0 || momentum_buffers.size() == params.size(), ValueError, "[", op,
             "] momentum needs every parameter's momentum_buffer");
  TensorList g = check_step(op, params, grads, {{"momentum_buffer", &momentum_buffers}});
  if (params.empty()) return;
  const TensorList none;
  kernels::sgd_step(params, g, s.momentum != 0 ? momentum_buffers : none, s);
  bump_all(params);
  if (s.momentum != 0) bump_all(momentum_buffers);
}

}  // namespace pyad
