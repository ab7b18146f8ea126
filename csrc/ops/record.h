#pragma once
// Helpers every op file uses to record its Node.
#include <memory>
#include "ops.h"
#include "../autograd/forward_ad.h"
#include "../autograd/grad_mode.h"
#include "../autograd/node.h"

namespace pyad {

// Create node N wired to `inputs` and set it as `out`'s history, if any input needs grad.
template <class N, class... Args>
std::shared_ptr<N> record(const Tensor& out, const TensorList& inputs, Args&&... args) {
  if (!any_requires_grad(inputs)) return nullptr;
  auto node = std::make_shared<N>(std::forward<Args>(args)...);
  collect_edges(*node, inputs);
  set_history(out, node);
  return node;
}

inline void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  PYAD_CHECK(a.device() == b.device(), RuntimeError, "[", op, "] expected all tensors on the same device, got ",
             a.device().str(), " and ", b.device().str());
}

// Operands of an elementwise op on one device. As in torch, a 0-d CPU tensor (a number) may meet a
// tensor on a GPU, and is moved there; any other mix raises.
inline std::pair<Tensor, Tensor> same_device(const char* op, const Tensor& a, const Tensor& b) {
  if (a.device() == b.device()) return {a, b};
  if (a.ndim() == 0 && a.device().is_cpu()) return {to_device(a, b.device()), b};
  if (b.ndim() == 0 && b.device().is_cpu()) return {a, to_device(b, a.device())};
  check_same_device(op, a, b);
  return {a, b};
}

}  // namespace pyad
