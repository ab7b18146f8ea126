#pragma once
#include "node.h"

namespace pyad {

// Runs the backward pass from `roots` seeded with `grad_roots`.
// With `inputs` empty, gradients accumulate into leaves' .grad (Tensor.backward).
// Otherwise nothing accumulates: the gradients flowing into `inputs` are
// returned, one per input (undefined where none flows) — autograd.grad.
// With batch_ndim > 0 every seed carries that many leading batch dims and so
// does every gradient (Note [Batched tangents and cotangents]).
TensorList run_backward(const TensorList& roots, const TensorList& grad_roots, bool retain_graph,
                        bool create_graph, const TensorList& inputs, bool allow_unused, int64_t batch_ndim = 0);

}  // namespace pyad
