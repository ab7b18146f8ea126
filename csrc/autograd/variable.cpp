#include "autograd/variable.h"
#include <algorithm>
#include "autograd/grad_mode.h"
#include "autograd/grad_ops.h"

namespace pyad {

void set_requires_grad(const Tensor& t, bool on) {
  PYAD_CHECK(t.is_leaf() || on, RuntimeError,
             "[requires_grad_] you can only change requires_grad flags of leaf "
             "variables. If you want to use a computed variable in a subgraph that doesn't require differentiation "
             "use var_no_grad = var.detach().");
  PYAD_CHECK(!on || is_floating(t.dtype()), RuntimeError,
             "[requires_grad_] only Tensors of floating point dtype can "
             "require gradients, got ",
             dtype_name(t.dtype()));
  if (!t.is_leaf()) return;
  if (on || t->autograd_meta()) t->mutable_autograd_meta().requires_grad = on;
}

Tensor grad_of(const Tensor& t) {
  const AutogradMeta* m = t->autograd_meta();
  return m ? m->grad : Tensor();
}

void set_grad(const Tensor& t, const Tensor& g) {
  if (g.defined())
    PYAD_CHECK(g.shape() == t.shape() && g.dtype() == t.dtype(), RuntimeError, "[grad] assigned grad (", describe(g),
               ") does not match the tensor (", describe(t), ")");
  if (g.defined() || t->autograd_meta()) t->mutable_autograd_meta().grad = g;
}

bool retains_grad(const Tensor& t) {
  const AutogradMeta* m = t->autograd_meta();
  return m && m->retains_grad;
}

void retain_grad(const Tensor& t) {
  PYAD_CHECK(t.requires_grad(), RuntimeError, "[retain_grad] can't retain_grad on Tensor that has requires_grad=False");
  AutogradMeta& m = t->mutable_autograd_meta();
  if (t.is_leaf() || m.retain_hook_installed) {
    m.retains_grad = true;
    return;
  }
  std::weak_ptr<TensorImpl> weak = t.impl();
  t.grad_fn()->pre_hooks.push_back(
      {next_hook_id(), t.output_nr(),
       [weak](const Tensor& g) -> Tensor {
         auto impl = weak.lock();
         if (AutogradMeta* im = impl ? impl->autograd_meta() : nullptr; im && im->retains_grad) {
           Tensor& acc = im->grad;
           acc = acc.defined() ? grad_ops::add(acc, g) : (grad_enabled() ? g : grad_ops::clone(g));
         }
         return Tensor();
       },
       nullptr});
  m.retains_grad = true;
  m.retain_hook_installed = true;
}

void detach_(const Tensor& t) {
  AutogradMeta* m = t->autograd_meta();
  if (!m) return;
  release_node(m->grad_fn);
  m->output_nr = 0;
  m->requires_grad = false;
}

Tensor data_of(const Tensor& t) {
  Tensor d = detach(t);
  d->version = std::make_shared<VersionCounter>();
  return d;
}

void set_data(const Tensor& t, const Tensor& src) {
  PYAD_CHECK(src.device() == t.device(), RuntimeError, "[data] can't set the data of a tensor on ", t.device().str(),
             " to a tensor on ", src.device().str());
  PYAD_CHECK(!t.requires_grad() || is_floating(src.dtype()), RuntimeError,
             "[data] a tensor that requires grad must "
             "hold floating data, got ",
             describe(src));
  t->storage = src->storage;
  t->offset = src->offset;
  t->shape = src->shape;
  t->strides = src->strides;
  t->dtype = src->dtype;
  // no longer a view of its old base: in-place ops must not rebuild that base's history
  t->is_view = false;
  t->view_base = Tensor();
  t->view_fn = nullptr;
}

void HookHandle::remove() {
  auto by_id = [this](const auto& h) { return h.id == id; };
  if (auto impl = tensor.lock())
    if (AutogradMeta* m = impl->autograd_meta())
      for (auto* list : {&m->hooks, &m->post_accumulate_hooks})
        list->erase(std::remove_if(list->begin(), list->end(), by_id), list->end());
  if (auto n = node.lock())
    n->pre_hooks.erase(std::remove_if(n->pre_hooks.begin(), n->pre_hooks.end(), by_id), n->pre_hooks.end());
  tensor.reset();
  node.reset();
}

HookHandle register_hook(const Tensor& t, GradHook hook) {
  PYAD_CHECK(t.requires_grad(), RuntimeError,
             "[register_hook] cannot register a hook on a tensor that doesn't "
             "require gradient");
  if (!t.is_leaf()) return register_prehook(t.grad_fn(), t.output_nr(), std::move(hook));
  HookHandle h;
  h.id = next_hook_id();
  h.tensor = t.impl();
  t->mutable_autograd_meta().hooks.push_back({h.id, std::move(hook)});
  return h;
}

HookHandle register_post_accumulate_grad_hook(const Tensor& t, GradHook hook) {
  PYAD_CHECK(t.requires_grad() && t.is_leaf(), RuntimeError,
             "[register_post_accumulate_grad_hook] post accumulate grad hooks can only be registered on a leaf "
             "tensor that requires grad");
  HookHandle h;
  h.id = next_hook_id();
  h.tensor = t.impl();
  t->mutable_autograd_meta().post_accumulate_hooks.push_back({h.id, std::move(hook)});
  return h;
}

HookHandle register_prehook(const std::shared_ptr<Node>& node, uint32_t output_nr, GradHook hook) {
  HookHandle h;
  h.id = next_hook_id();
  h.node = node;
  node->pre_hooks.push_back({h.id, output_nr, std::move(hook), nullptr});
  return h;
}

HookHandle register_prehook(const std::shared_ptr<Node>& node, std::function<void(TensorList&)> hook) {
  HookHandle h;
  h.id = next_hook_id();
  h.node = node;
  node->pre_hooks.push_back({h.id, 0, nullptr, std::move(hook)});
  return h;
}

size_t hook_count(const Tensor& t) {
  if (t.is_leaf()) {
    const AutogradMeta* m = t->autograd_meta();
    return m ? m->hooks.size() : 0;
  }
  const auto& hooks = t.grad_fn()->pre_hooks;
  return static_cast<size_t>(std::count_if(hooks.begin(), hooks.end(),
                                           [&](const PreHook& h) { return !h.all && h.output_nr == t.output_nr(); }));
}

TensorList make_seeds(const TensorList& roots, const TensorList& grads, const char* op, int64_t batch_ndim) {
  TensorList seeds;
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& r = roots[i];
    PYAD_CHECK(r.defined(), TypeError, "[", op, "] expected Tensors, got None at position ", i);
    Tensor g = i < grads.size() ? grads[i] : Tensor();
    if (g.defined()) {
      PYAD_CHECK(g.ndim() == r.ndim() + batch_ndim &&
                     std::equal(r.shape().begin(), r.shape().end(), g.shape().begin() + batch_ndim),
                 RuntimeError, "[", op, "] Mismatch in shape: grad_output[", i, "] has a shape of ",
                 shape_str(g.shape()), " and output[", i, "] has a shape of ", shape_str(r.shape()));
      PYAD_CHECK(is_floating(g.dtype()), TypeError, "[", op, "] grad_output[", i, "] must be floating, got ",
                 dtype_name(g.dtype()));
    } else {
      PYAD_CHECK(r.requires_grad(), RuntimeError, "[", op, "] element ", i,
                 " of tensors does not require grad and "
                 "does not have a grad_fn");
      PYAD_CHECK(r.numel() == 1, RuntimeError, "[", op,
                 "] grad can be implicitly created only for scalar outputs "
                 "(output ",
                 i, " has shape ", shape_str(r.shape()), "); pass gradient=");
      g = grad_ops::ones(r.shape(), r.dtype(), r.device());
    }
    seeds.push_back(g);
  }
  return seeds;
}

void check_backward_inputs(const TensorList& inputs) {
  PYAD_CHECK(!inputs.empty(), RuntimeError, "[backward] `inputs` argument to `backward()` cannot be empty.");
  for (size_t i = 0; i < inputs.size(); ++i)
    PYAD_CHECK(inputs[i].requires_grad(), RuntimeError, "[backward] inputs[", i, "] (", describe(inputs[i]),
               ") does not require grad");
}

void accumulate_into_inputs(const TensorList& inputs, const TensorList& grads, bool create_graph) {
  GradModeGuard mode(create_graph);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!grads[i].defined()) continue;
    const Tensor& t = inputs[i];
    if (t.is_leaf()) {
      gradient_edge(t).fn->apply({grads[i]});  // the leaf's AccumulateGrad: its hooks, then .grad +=
    } else if (!retains_grad(t)) {  // (a retained non-leaf got its share from its hook during the pass)
      Tensor& acc = t->mutable_autograd_meta().grad;
      acc = acc.defined() ? grad_ops::add(acc, grads[i]) : (create_graph ? grads[i] : grad_ops::clone(grads[i]));
    }
  }
}

}  // namespace pyad
