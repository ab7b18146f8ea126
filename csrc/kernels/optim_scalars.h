#pragma once
// The scalars of the fused optimizer steps (kernels::adam_step, kernels::sgd_step in backend.inc); their
// per-element updates are in kernels/optim_math.h.

namespace pyad::kernels {

// Adam's hyper-parameters and the step's bias corrections, computed in Python doubles as torch computes them.
struct AdamScalars {
  double lr = 0, beta1 = 0, beta2 = 0, eps = 0, weight_decay = 0;
  double step_size = 0;              // lr / (1 - beta1^step)
  double bias_correction2_sqrt = 1;  // sqrt(1 - beta2^step)
  bool decoupled = false, amsgrad = false, maximize = false;
};

struct SgdScalars {
  double lr = 0, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false, maximize = false;
  bool first = false;  // the momentum buffers are new: they start as the gradient
};

}  // namespace pyad::kernels
