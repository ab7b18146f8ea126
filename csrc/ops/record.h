#pragma once
// Helpers every op file uses to record its Node.
#include <memory>
#include "ops/ops.h"
#include "autograd/forward_ad.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"

namespace pyad {

// Create node N wired to `inputs` and set it as `out`'s history, if any input needs grad.
template <class N, class... Args>
std::shared_ptr<N> record(const Tensor& out, const TensorList& inputs, Args&&... args) {
  if (!any_requires_grad(inputs)) return nullptr;
  auto node = pool::make_shared<N>(std::forward<Args>(args)...);  // Note [Small-block pool]
  collect_edges(*node, inputs);
  set_history(out, node);
  return node;
}

template <class N, class... Args>
std::shared_ptr<N> record(const Tensor& out, TensorRefs inputs, Args&&... args) {
  if (!grad_enabled()) return nullptr;
  bool any = false;
  for (const TensorRef& r : inputs) any = any || (r.t.defined() && r.t.requires_grad());
  if (!any) return nullptr;
  return record<N>(out, to_list(inputs), std::forward<Args>(args)...);
}

inline void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  PYAD_CHECK(a.device() == b.device(), RuntimeError, "[", op, "] expected all tensors on the same device, got ",
             a.device().str(), " and ", b.device().str());
}

// `other` on x's device. As in torch, a 0-d CPU tensor (a number) may meet a tensor on a GPU, and is
// moved there; any other mix raises.
inline Tensor on_device_of(const char* op, const Tensor& x, const Tensor& other) {
  if (other.device() == x.device()) return other;
  if (other.ndim() == 0 && other.device().is_cpu()) return to_device(other, x.device());
  check_same_device(op, x, other);
  return other;
}

// Operands of an elementwise op on one device (see on_device_of).
inline std::pair<Tensor, Tensor> same_device(const char* op, const Tensor& a, const Tensor& b) {
  if (a.ndim() == 0 && a.device().is_cpu() && !b.device().is_cpu()) return {to_device(a, b.device()), b};
  return {a, on_device_of(op, a, b)};
}

}  // namespace pyad
