#pragma once
// The autograd rules of a single tensor (torch's torch/csrc/autograd/variable.h): its requires_grad flag,
// .grad, retain_grad, detach_, .data, hooks and their handles, and the seeds of a backward pass. The
// Python bindings call these and hold no autograd logic of their own.
#include <memory>
#include "autograd/node.h"

namespace pyad {

// requires_grad = on; only a leaf's flag can change, and only floating tensors can require grad.
void set_requires_grad(const Tensor& t, bool on);
// The accumulated gradient (undefined: none yet).
Tensor grad_of(const Tensor& t);
// t.grad = g (undefined g clears it); g must match t's shape and dtype.
void set_grad(const Tensor& t, const Tensor& g);
bool retains_grad(const Tensor& t);
// A non-leaf's .grad is filled in by backward too (a leaf's always is).
void retain_grad(const Tensor& t);
// t loses its history and its requires_grad flag, in place.
void detach_(const Tensor& t);
// torch's .data: an alias of the values with no history and its own version counter, so that in-place
// updates through it (p.data -= lr * p.grad) are hidden from autograd's checks.
Tensor data_of(const Tensor& t);
// x.data = src: x now holds src's values (its storage, layout and dtype) and keeps its own history.
void set_data(const Tensor& t, const Tensor& src);

// What removes one hook: the tensor (a leaf's hooks) or the node (pre-hooks) it is registered on, held
// weakly (a handle keeps no graph alive), and the hook's id. remove() takes the hook out of its list;
// removing twice, or after the owner died, does nothing.
struct HookHandle {
  std::weak_ptr<TensorImpl> tensor;
  std::weak_ptr<Node> node;
  uint64_t id = 0;
  void remove();
};

// hook(grad) runs when t's gradient is computed: a leaf's by its AccumulateGrad, a non-leaf's as a
// pre-hook of its grad_fn.
HookHandle register_hook(const Tensor& t, GradHook hook);
// hook(t) runs once a leaf's .grad holds its new sum (after the leaf's gradient hooks and the accumulation).
HookHandle register_post_accumulate_grad_hook(const Tensor& t, GradHook hook);
// hook runs on the gradient arriving for the node's output `output_nr`, before the node runs.
HookHandle register_prehook(const std::shared_ptr<Node>& node, uint32_t output_nr, GradHook hook);
// hook runs on the gradients arriving for all the node's outputs (undefined: none), before the node runs,
// and may replace them.
HookHandle register_prehook(const std::shared_ptr<Node>& node, std::function<void(TensorList&)> hook);
// The hooks registered on t (a non-leaf's: its grad_fn's pre-hooks for t's output, retain_grad's included).
size_t hook_count(const Tensor& t);

// The seeds of a backward pass from `roots`: grads[i] when defined (its shape checked against roots[i]'s
// under `batch_ndim` leading batch dims), else ones for a scalar root that requires grad.
TensorList make_seeds(const TensorList& roots, const TensorList& grads, const char* op, int64_t batch_ndim = 0);
// backward(inputs=...): each input must require grad.
void check_backward_inputs(const TensorList& inputs);
// backward(inputs=...): accumulate the gradients the pass returned for `inputs` into their .grad (a
// leaf's through its AccumulateGrad, so that its hooks run).
void accumulate_into_inputs(const TensorList& inputs, const TensorList& grads, bool create_graph);

}  // namespace pyad
