// +, -, * and / with a number operand passed by value (`x * 2.0`, `1.0 - y`), the hot path of user code and of
// the derivative rules: no 0-d tensor is made for the number, the node keeps it as a double, and its backward is
// again a number op (or nothing at all, for + and -). Results, node names, edges (the number's edge is empty, as
// torch's) and gradients are those of the tensor op with the number as a 0-d tensor of the operand's dtype,
// which is what it falls back to where it has no fast path (integer and bool operands, forward mode).
#include "ops/record.h"
#include "kernels/kernels.h"

namespace pyad {

namespace {

kernels::Binary kernel_of(NumberOp op) {
  switch (op) {
    case NumberOp::Add: return kernels::Binary::Add;
    case NumberOp::Sub: return kernels::Binary::Sub;
    case NumberOp::Mul: return kernels::Binary::Mul;
    case NumberOp::Div: return kernels::Binary::Div;
  }
  return kernels::Binary::Add;
}

Tensor tensor_op(NumberOp op, const Tensor& a, const Tensor& b) {
  switch (op) {
    case NumberOp::Add: return add(a, b);
    case NumberOp::Sub: return sub(a, b);
    case NumberOp::Mul: return mul(a, b);
    case NumberOp::Div: return div(a, b);
  }
  return Tensor();
}

struct NumberBackward : Node {
  NumberOp op;
  double number;
  bool number_first;
  SavedTensor a;  // only for number / a
  NumberBackward(NumberOp o, double s, bool first) : op(o), number(s), number_first(first) {}
  std::string name() const override {
    static const char* const names[] = {"AddBackward0", "SubBackward0", "MulBackward0", "DivBackward0"};
    return rsub() ? "RsubBackward1" : names[static_cast<int>(op)];
  }
  // 2.0 - x is torch's rsub(x, 2.0): a node of that name with x's edge only.
  bool rsub() const { return op == NumberOp::Sub && number_first; }
  TensorList apply(TensorList&& g) override {
    Tensor ga;
    switch (op) {
      case NumberOp::Add: ga = std::move(g[0]); break;
      case NumberOp::Sub: ga = number_first ? neg(g[0]) : std::move(g[0]); break;
      case NumberOp::Mul: ga = number_op(NumberOp::Mul, g[0], number); break;
      case NumberOp::Div:
        if (!number_first) {
          ga = number_op(NumberOp::Div, g[0], number);
        } else {
          // d(s / a)/da = -s / a^2, as the tensor rule writes it.
          Tensor x = a.unpack(*this);
          ga = vjp_times(g[0], number_op(NumberOp::Div, x * x, -number, true));  // strong zeros: inf at a = 0
        }
        break;
    }
    if (rsub()) return {std::move(ga)};
    if (number_first) return {Tensor(), std::move(ga)};
    return {std::move(ga), Tensor()};
  }
  std::vector<SavedTensor*> saved() override { return {&a}; }
};

}  // namespace

Tensor number_op(NumberOp op, const Tensor& a, double s, bool number_first) {
  if (!is_floating(a.dtype()) || detail::g_innermost.load(std::memory_order_relaxed) != 0) {
    Tensor n = scalar_tensor(s, a.dtype(), a.device());
    return number_first ? tensor_op(op, n, a) : tensor_op(op, a, n);
  }
  Tensor out = empty_in_layout_of(a.shape(), a.dtype(), a.device(), {&a});
  kernels::binary_scalar(kernel_of(op), a, s, number_first, out);
  if (grad_enabled() && a.requires_grad()) {
    auto node = pool::make_shared<NumberBackward>(op, s, number_first);
    collect_edges(*node, node->rsub()   ? TensorList{a}
                         : number_first ? TensorList{Tensor(), a}
                                        : TensorList{a, Tensor()});
    set_history(out, node);
    if (op == NumberOp::Div && number_first) node->a = SavedTensor(a, false);
  }
  return out;
}

}  // namespace pyad
