// Bindings of the fused ops of the training loop (ops/fused_nn.cpp). They are private (_C._name, not in
// _C.__all__): pyad.nn.functional.cross_entropy and pyad.optim call them, with torch's signatures on top.
#include "python/bind.h"
#include "ops/fused_nn.h"

namespace pyad::python {

namespace {
int64_t total_numel(const TensorList& ts) {
  int64_t n = 0;
  for (const Tensor& t : ts) n += t.numel();
  return n;
}
}  // namespace

void init_ops_nn(py::module_& m) {
  m.def(
      "_cross_entropy_rows",
      [](const Tensor& x, const Tensor& target, int64_t ignore_index) {
        ReleaseGilIfLarge nogil(x.numel());
        return cross_entropy_rows(x, target, ignore_index);
      },
      py::arg("input"), py::arg("target"), py::arg("ignore_index") = -100,
      "Per-row cross entropy of logits (M, C) at int64 targets (M,), 0 where the target is ignore_index "
      "(Note [Fused cross entropy]), and the number of rows not ignored.");
  m.def(
      "_embedding_rows",
      [](const Tensor& weight, const Tensor& index) {
        ReleaseGilIfLarge nogil(index.numel() * (weight.ndim() == 2 ? weight.shape()[1] : 1));
        return embedding_rows(weight, index);
      },
      py::arg("weight"), py::arg("index"),
      "weight[index] for weight (n, d): rows copied forward, added into zeros backward (Note [Fused embedding]).");
  m.def(
      "_adam_step",
      [](const TensorList& params, const TensorList& grads, const TensorList& exp_avgs, const TensorList& exp_avg_sqs,
         const TensorList& max_exp_avg_sqs, double lr, double beta1, double beta2, double eps, double weight_decay,
         double step_size, double bias_correction2_sqrt, bool decoupled, bool amsgrad, bool maximize) {
        kernels::AdamScalars s;
        s.lr = lr;
        s.beta1 = beta1;
        s.beta2 = beta2;
        s.eps = eps;
        s.weight_decay = weight_decay;
        s.step_size = step_size;
        s.bias_correction2_sqrt = bias_correction2_sqrt;
        s.decoupled = decoupled;
        s.amsgrad = amsgrad;
        s.maximize = maximize;
        ReleaseGilIfLarge nogil(total_numel(params));
        adam_step_(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, s);
      },
      py::arg("params"), py::arg("grads"), py::arg("exp_avgs"), py::arg("exp_avg_sqs"), py::arg("max_exp_avg_sqs"),
      py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"), py::arg("weight_decay"), py::arg("step_size"),
      py::arg("bias_correction2_sqrt"), py::arg("decoupled"), py::arg("amsgrad"), py::arg("maximize"),
      "One Adam/AdamW step over lists of tensors, in place (pyad.optim's fused path).");
  m.def(
      "_sgd_step",
      [](const TensorList& params, const TensorList& grads, const TensorList& momentum_buffers, double lr,
         double momentum, double dampening, double weight_decay, bool nesterov, bool maximize, bool first) {
        kernels::SgdScalars s;
        s.lr = lr;
        s.momentum = momentum;
        s.dampening = dampening;
        s.weight_decay = weight_decay;
        s.nesterov = nesterov;
        s.maximize = maximize;
        s.first = first;
        ReleaseGilIfLarge nogil(total_numel(params));
        sgd_step_(params, grads, momentum_buffers, s);
      },
      py::arg("params"), py::arg("grads"), py::arg("momentum_buffers"), py::arg("lr"), py::arg("momentum"),
      py::arg("dampening"), py::arg("weight_decay"), py::arg("nesterov"), py::arg("maximize"), py::arg("first"),
      "One SGD step over lists of tensors, in place (pyad.optim's fused path); first: the momentum buffers are new "
      "and start as the gradients.");
}

}  // namespace pyad::python
