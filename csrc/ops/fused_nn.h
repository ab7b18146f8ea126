#pragma once
// The fused ops of the training loop (ops/fused_nn.cpp): declared apart from ops.h, as only pyad.nn's and
// pyad.optim's bindings call them.
#include <tuple>
#include "core/tensor.h"
#include "kernels/optim_scalars.h"

namespace pyad {

// Per-row cross entropy of logits x (M, C) at int64 targets (M,): logsumexp(x[i]) - x[i, target[i]], 0 where
// target[i] == ignore_index (Note [Fused cross entropy]); other targets outside [0, C) raise IndexError. Also
// returns how many rows are not ignored.
std::tuple<Tensor, int64_t> cross_entropy_rows(const Tensor& x, const Tensor& target, int64_t ignore_index);

// weight[index] for weight (n, d) and int64 indices of any shape: (*index.shape, d), rows copied forward and
// added into zeros backward (a repeated index accumulates); indices outside [0, n) raise IndexError.
Tensor embedding_rows(const Tensor& weight, const Tensor& index);

// One optimizer step over lists of tensors, in place, no graph (pyad.optim's fused path).
void adam_step_(const TensorList& params, const TensorList& grads, const TensorList& exp_avgs,
                const TensorList& exp_avg_sqs, const TensorList& max_exp_avg_sqs, const kernels::AdamScalars& s);
void sgd_step_(const TensorList& params, const TensorList& grads, const TensorList& momentum_buffers,
               const kernels::SgdScalars& s);

}  // namespace pyad
