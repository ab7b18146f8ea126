// Unary elementwise ops. For an elementwise f, both the VJP and the JVP are
// multiplication by f'(x), so each op's rule is one row: its node's name and
// its derivative, written with pyad ops from the input x and/or the result y.
// Each row of PYAD_UNARY_OPS (Note [The op list]) has its rule here, named
// <name>_rule. Batched tangents and gradients broadcast against f'(x) from the right.
#include "ops/record.h"
#include "kernels/kernels.h"

namespace pyad {

namespace {

using Deriv = Tensor (*)(const Tensor& x, const Tensor& y);

struct UnaryRule {
  const char* node_name;
  Deriv deriv;  // f'(x); null for a linear f(x) = linear * x, whose rule multiplies by the constant
  bool saves_input = false, saves_result = false;
  double linear = 0.0;
  // g * f'(x) in one pass from the result, where the backward records nothing (kernels::unary_grad).
  kernels::UnaryGrad fused_grad = kernels::UnaryGrad::None;
};

// c * t for a linear rule; c = 0 gives zeros even where t is NaN, as torch's zeros_like.
Tensor linear_times(double c, const Tensor& t) {
  if (c == 0.0) return zeros(t.shape(), t.dtype(), t.device());
  return c == -1.0 ? neg(t) : t * c;
}

struct UnaryBackward : Node {
  const UnaryRule& rule;
  SavedTensor x, y;
  explicit UnaryBackward(const UnaryRule& r) : rule(r) {}
  std::string name() const override { return rule.node_name; }
  TensorList apply(TensorList&& g) override {
    if (!rule.deriv) return {linear_times(rule.linear, g[0])};
    Tensor yv = y.unpack_for_rule(*this);
    // The one-pass derivative kernels (tanh, sigmoid) have finite derivatives, but a pass with strong zeros
    // takes the rule's own product so that vjp_times decides every zero.
    if (rule.fused_grad != kernels::UnaryGrad::None && !grad_enabled() && !strong_zeros() &&
        detail::g_innermost.load(std::memory_order_relaxed) == 0)
      if (Tensor r = kernels::unary_grad(rule.fused_grad, g[0], yv); r.defined()) return {r};
    return {vjp_times(g[0], rule.deriv(x.unpack_for_rule(*this), yv))};
  }
  std::vector<SavedTensor*> saved() override { return {&x, &y}; }
};

// The dtype op computes in, from its domain (Note [The op list]).
DType unary_dtype(const char* op, math::Domain domain, DType in) {
  if (domain == math::Domain::Float) return to_floating(in);
  PYAD_CHECK(in != DType::Bool, TypeError, "[", op, "] is not defined for bool tensors");
  return in;
}

Tensor unary_op(const char* op, kernels::Unary kernel, math::Domain domain, const UnaryRule& rule, const Tensor& x) {
  const DType dt = unary_dtype(op, domain, x.dtype());
  Tensor in = x.dtype() == dt ? x : to_dtype(x, dt);
  Tensor out = empty_in_layout_of(x.shape(), dt, x.device(), {&in});
  kernels::unary(kernel, in, out);
  if (auto node = record<UnaryBackward>(out, {in}, rule)) {
    if (rule.saves_input) node->x = SavedTensor(in, false);
    if (rule.saves_result) node->y = SavedTensor(out, true);
  }
  if (rule.deriv) forward_rule_scaled(op, out, in, [&] { return rule.deriv(in, out); });
  else forward_rule(out, {in}, [&] { return linear_times(rule.linear, tangent_of(in)); });
  return out;
}

Tensor one(const Tensor& like) { return ones({}, like.dtype(), like.device()); }

// relu passes the gradient wherever its result is not <= 0 (NaN included), as torch's threshold_backward.
Tensor mask_positive(const Tensor& y) { return 1.0 - to_dtype(le(y, zeros({}, y.dtype(), y.device())), y.dtype()); }

constexpr double kTwoOverSqrtPi = 1.1283791670955126;  // d/dx erf(x) = 2/sqrt(pi) exp(-x^2)

// The rules, in the order of PYAD_UNARY_OPS.
const UnaryRule neg_rule{"NegBackward0", nullptr, false, false, -1.0};
const UnaryRule abs_rule{"AbsBackward0", [](const Tensor& x, const Tensor&) { return sign(x); }, true};
// sign is piecewise constant: its gradient is zero, as torch's.
const UnaryRule sign_rule{"SignBackward0", nullptr, false, false, 0.0};
const UnaryRule exp_rule{"ExpBackward0", [](const Tensor&, const Tensor& y) { return y; }, false, true};
const UnaryRule expm1_rule{"Expm1Backward0", [](const Tensor&, const Tensor& y) { return y + 1.0; }, false, true};
const UnaryRule log_rule{"LogBackward0", [](const Tensor& x, const Tensor&) { return one(x) / x; }, true};
const UnaryRule log1p_rule{"Log1PBackward0", [](const Tensor& x, const Tensor&) { return one(x) / (x + 1.0); }, true};
const UnaryRule sqrt_rule{"SqrtBackward0", [](const Tensor&, const Tensor& y) { return one(y) / (y * 2.0); }, false,
                          true};
const UnaryRule sin_rule{"SinBackward0", [](const Tensor& x, const Tensor&) { return cos(x); }, true};
const UnaryRule cos_rule{"CosBackward0", [](const Tensor& x, const Tensor&) { return -sin(x); }, true};
const UnaryRule tanh_rule{
    "TanhBackward0",         [](const Tensor&, const Tensor& y) { return 1.0 - y * y; }, false, true, 0.0,
    kernels::UnaryGrad::Tanh};
const UnaryRule sigmoid_rule{
    "SigmoidBackward0",         [](const Tensor&, const Tensor& y) { return y * (1.0 - y); }, false, true, 0.0,
    kernels::UnaryGrad::Sigmoid};
const UnaryRule relu_rule{"ReluBackward0", [](const Tensor&, const Tensor& y) { return mask_positive(y); }, false,
                          true};
const UnaryRule softplus_rule{"SoftplusBackward0", [](const Tensor& x, const Tensor&) { return sigmoid(x); }, true};
const UnaryRule erf_rule{"ErfBackward0", [](const Tensor& x, const Tensor&) { return exp(-(x * x)) * kTwoOverSqrtPi; },
                         true};
const UnaryRule erfc_rule{"ErfcBackward0",
                          [](const Tensor& x, const Tensor&) { return exp(-(x * x)) * -kTwoOverSqrtPi; }, true};

const UnaryRule sinh_rule{"SinhBackward0", [](const Tensor& x, const Tensor&) { return cosh(x); }, true};
const UnaryRule cosh_rule{"CoshBackward0", [](const Tensor& x, const Tensor&) { return sinh(x); }, true};
const UnaryRule tan_rule{"TanBackward0", [](const Tensor&, const Tensor& y) { return y * y + 1.0; }, false, true};
const UnaryRule asin_rule{"AsinBackward0", [](const Tensor& x, const Tensor&) { return rsqrt(1.0 - x * x); }, true};
const UnaryRule acos_rule{"AcosBackward0", [](const Tensor& x, const Tensor&) { return -rsqrt(1.0 - x * x); }, true};
const UnaryRule atan_rule{"AtanBackward0", [](const Tensor& x, const Tensor&) { return reciprocal(x * x + 1.0); },
                          true};
const UnaryRule asinh_rule{"AsinhBackward0", [](const Tensor& x, const Tensor&) { return rsqrt(x * x + 1.0); }, true};
const UnaryRule acosh_rule{"AcoshBackward0", [](const Tensor& x, const Tensor&) { return rsqrt(x * x + -1.0); }, true};
const UnaryRule atanh_rule{"AtanhBackward0", [](const Tensor& x, const Tensor&) { return reciprocal(1.0 - x * x); },
                           true};
constexpr double kLn2 = 0.6931471805599453, kLn10 = 2.302585092994046;
const UnaryRule log2_rule{"Log2Backward0", [](const Tensor& x, const Tensor&) { return reciprocal(x * kLn2); }, true};
const UnaryRule log10_rule{"Log10Backward0", [](const Tensor& x, const Tensor&) { return reciprocal(x * kLn10); },
                           true};
const UnaryRule exp2_rule{"Exp2Backward0", [](const Tensor&, const Tensor& y) { return y * kLn2; }, false, true};
// d/dx x^(-1/2) = -x^(-3/2) / 2 = -y^3 / 2; d/dx 1/x = -y^2, as torch writes them.
const UnaryRule rsqrt_rule{"RsqrtBackward0", [](const Tensor&, const Tensor& y) { return y * y * y * -0.5; }, false,
                           true};
const UnaryRule reciprocal_rule{"ReciprocalBackward0", [](const Tensor&, const Tensor& y) { return -(y * y); }, false,
                                true};
const UnaryRule square_rule{"PowBackward0", [](const Tensor& x, const Tensor&) { return x * 2.0; }, true};
// Rounding is piecewise constant: zero gradients, as torch's.
const UnaryRule floor_rule{"FloorBackward0", nullptr, false, false, 0.0};
const UnaryRule ceil_rule{"CeilBackward0", nullptr, false, false, 0.0};
const UnaryRule round_rule{"RoundBackward0", nullptr, false, false, 0.0};
const UnaryRule trunc_rule{"TruncBackward0", nullptr, false, false, 0.0};

}  // namespace

#define PYAD_DEFINE_UNARY(name, F, D) \
  Tensor name(const Tensor& x) { return unary_op(#name, kernels::Unary::F, math::Domain::D, name##_rule, x); }
PYAD_UNARY_OPS(PYAD_DEFINE_UNARY)
#undef PYAD_DEFINE_UNARY

}  // namespace pyad
