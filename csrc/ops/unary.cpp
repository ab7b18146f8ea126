// Unary elementwise ops. For an elementwise f, both the VJP and the JVP are
// multiplication by f'(x), so each op is one table row: its kernel and its
// derivative, written with pyad ops from the input x and/or the result y.
// Batched tangents and gradients broadcast against f'(x) from the right.
#include "record.h"
#include "../kernels/kernels.h"

namespace pyad {

namespace {

using Deriv = Tensor (*)(const Tensor& x, const Tensor& y);

struct UnaryRule {
  const char* name;      // op name; the node is "<Name>Backward0"
  const char* node_name;
  kernels::Unary kernel;
  Deriv deriv;
  bool saves_input, saves_result;
};

struct UnaryBackward : Node {
  const UnaryRule& rule;
  SavedTensor x, y;
  explicit UnaryBackward(const UnaryRule& r) : rule(r) {}
  std::string name() const override { return rule.node_name; }
  TensorList apply(TensorList&& g) override { return {g[0] * rule.deriv(x.unpack(*this), y.unpack(*this))}; }
  std::vector<SavedTensor*> saved() override { return {&x, &y}; }
};

Tensor unary_op(const UnaryRule& rule, const Tensor& x) {
  DType dt = rule.kernel == kernels::Unary::Abs && x.dtype() == DType::Int64 ? DType::Int64 : to_floating(x.dtype());
  PYAD_CHECK(x.dtype() != DType::Bool || rule.kernel != kernels::Unary::Abs, TypeError, "[", rule.name,
             "] is not defined for bool tensors");
  Tensor in = x.dtype() == dt ? x : to_dtype(x, dt);
  Tensor out = empty(x.shape(), dt, x.device());
  kernels::unary(rule.kernel, in, out);
  if (auto node = record<UnaryBackward>(out, {in}, rule)) {
    if (rule.saves_input) node->x = SavedTensor(in, false);
    if (rule.saves_result) node->y = SavedTensor(out, true);
  }
  forward_rule(out, {in}, [&] { return tangent_of(in) * rule.deriv(in, out); });
  return out;
}

// relu passes the gradient wherever its result is not <= 0 (NaN included), as torch's threshold_backward.
Tensor mask_positive(const Tensor& y) { return 1.0 - to_dtype(compare(Cmp::Le, y, zeros({}, y.dtype(), y.device())), y.dtype()); }

const UnaryRule kExp{"exp", "ExpBackward0", kernels::Unary::Exp, [](const Tensor&, const Tensor& y) { return y; }, false, true};
const UnaryRule kLog{"log", "LogBackward0", kernels::Unary::Log,
                     [](const Tensor& x, const Tensor&) { return ones({}, x.dtype(), x.device()) / x; }, true, false};
const UnaryRule kLog1p{"log1p", "Log1PBackward0", kernels::Unary::Log1p,
                       [](const Tensor& x, const Tensor&) { return ones({}, x.dtype(), x.device()) / (x + 1.0); }, true, false};
const UnaryRule kSin{"sin", "SinBackward0", kernels::Unary::Sin, [](const Tensor& x, const Tensor&) { return cos(x); }, true, false};
const UnaryRule kCos{"cos", "CosBackward0", kernels::Unary::Cos, [](const Tensor& x, const Tensor&) { return -sin(x); }, true, false};
const UnaryRule kTanh{"tanh", "TanhBackward0", kernels::Unary::Tanh,
                      [](const Tensor&, const Tensor& y) { return 1.0 - y * y; }, false, true};
const UnaryRule kSigmoid{"sigmoid", "SigmoidBackward0", kernels::Unary::Sigmoid,
                         [](const Tensor&, const Tensor& y) { return y * (1.0 - y); }, false, true};
const UnaryRule kRelu{"relu", "ReluBackward0", kernels::Unary::Relu,
                      [](const Tensor&, const Tensor& y) { return mask_positive(y); }, false, true};
const UnaryRule kSoftplus{"softplus", "SoftplusBackward0", kernels::Unary::Softplus,
                          [](const Tensor& x, const Tensor&) { return sigmoid(x); }, true, false};
const UnaryRule kSqrt{"sqrt", "SqrtBackward0", kernels::Unary::Sqrt,
                      [](const Tensor&, const Tensor& y) { return ones({}, y.dtype(), y.device()) / (y * 2.0); }, false, true};
const UnaryRule kAbs{"abs", "AbsBackward0", kernels::Unary::Abs, [](const Tensor& x, const Tensor&) { return sign(x); }, true, false};

}  // namespace

Tensor exp(const Tensor& x) { return unary_op(kExp, x); }
Tensor log(const Tensor& x) { return unary_op(kLog, x); }
Tensor log1p(const Tensor& x) { return unary_op(kLog1p, x); }
Tensor sin(const Tensor& x) { return unary_op(kSin, x); }
Tensor cos(const Tensor& x) { return unary_op(kCos, x); }
Tensor tanh(const Tensor& x) { return unary_op(kTanh, x); }
Tensor sigmoid(const Tensor& x) { return unary_op(kSigmoid, x); }
Tensor relu(const Tensor& x) { return unary_op(kRelu, x); }
Tensor softplus(const Tensor& x) { return unary_op(kSoftplus, x); }
Tensor sqrt(const Tensor& x) { return unary_op(kSqrt, x); }
Tensor abs(const Tensor& x) { return unary_op(kAbs, x); }

// neg is linear (its derivative is the constant -1) and keeps integer dtypes.
namespace {
struct NegBackward : Node {
  std::string name() const override { return "NegBackward0"; }
  TensorList apply(TensorList&& g) override { return {neg(g[0])}; }
};
}  // namespace

Tensor neg(const Tensor& x) {
  PYAD_CHECK(x.dtype() != DType::Bool, TypeError, "[neg] negation of a bool tensor is not supported");
  Tensor out = empty(x.shape(), x.dtype(), x.device());
  kernels::unary(kernels::Unary::Neg, x, out);
  record<NegBackward>(out, {x});
  forward_rule(out, {x}, [&] { return neg(tangent_of(x)); });
  return out;
}

// sign is piecewise constant: no gradient flows (as torch, its derivative is zero).
Tensor sign(const Tensor& x) {
  Tensor in = is_floating(x.dtype()) ? x : to_dtype(x, DType::Float32);
  Tensor out = empty(x.shape(), in.dtype(), x.device());
  kernels::unary(kernels::Unary::Sign, in, out);
  return out;
}

}  // namespace pyad
