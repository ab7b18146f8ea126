#pragma once
#include "autograd/node.h"

namespace pyad {

// How a backward pass runs and where its gradients go.
struct BackwardOptions {
  // Keep the tensors the nodes saved, so the graph can be walked again (otherwise each node frees
  // them once it has run, and a second pass raises).
  bool retain_graph = false;
  // Record the pass itself (grad mode on), so the gradients it computes are differentiable.
  bool create_graph = false;
  // Empty: gradients accumulate into the leaves' .grad (Tensor.backward). Otherwise nothing
  // accumulates: the gradients flowing into these tensors are returned, one per input (autograd.grad).
  TensorList inputs;
  // With inputs: one that no gradient reaches gets an undefined gradient instead of an error.
  bool allow_unused = false;
  // Every seed, and so every gradient, carries this many leading batch dims
  // (Note [Batched tangents and cotangents]).
  int64_t batch_ndim = 0;
};

// Runs the backward pass from `roots` seeded with `grad_roots` (one per root). Returns the
// gradients of options.inputs (empty when there are none).
TensorList run_backward(const TensorList& roots, const TensorList& grad_roots, const BackwardOptions& options);

}  // namespace pyad
