// Binary elementwise ops with NumPy broadcasting. Rules return gradients of
// the broadcast shape; the engine sums them back to each input's shape
// (Note [Edges and input metadata]).
#include "record.h"
#include "../kernels/kernels.h"

namespace pyad {

namespace {

// Promote both operands to one dtype (as torch) and compute the broadcast shape.
struct Prepared { Tensor a, b; Shape shape; };

Prepared prepare(const char* op, const Tensor& a, const Tensor& b, bool needs_float) {
  check_same_device(op, a, b);
  DType dt = promote(a.dtype(), b.dtype());
  if (needs_float) dt = to_floating(dt);
  Shape sh = broadcast_shapes(a.shape(), b.shape(), op);
  return {a.dtype() == dt ? a : to_dtype(a, dt), b.dtype() == dt ? b : to_dtype(b, dt), sh};
}

using BinaryVjp = std::pair<Tensor, Tensor> (*)(const Tensor& g, const Tensor& a, const Tensor& b, bool need_a, bool need_b);

struct BinaryRule {
  const char* name;
  const char* node_name;
  kernels::Binary kernel;
  BinaryVjp vjp;
  // Which gradients read each operand (bit 0: a's gradient, bit 1: b's), so an
  // operand is saved only when a gradient that needs it will be computed.
  int a_for, b_for;
  bool needs_float;
};

struct BinaryBackward : Node {
  const BinaryRule& rule;
  SavedTensor a, b;
  explicit BinaryBackward(const BinaryRule& r) : rule(r) {}
  std::string name() const override { return rule.node_name; }
  TensorList apply(TensorList&& g) override {
    auto [ga, gb] = rule.vjp(g[0], a.unpack(*this), b.unpack(*this), needs_input_grad(0), needs_input_grad(1));
    return {ga, gb};
  }
  void release_saved() override { a.reset(); b.reset(); }
};

Tensor binary_op(const BinaryRule& rule, const Tensor& a0, const Tensor& b0) {
  auto [a, b, sh] = prepare(rule.name, a0, b0, rule.needs_float);
  PYAD_CHECK(a.dtype() != DType::Bool, TypeError, "[", rule.name, "] is not supported for bool tensors");
  Tensor out = empty(sh, a.dtype(), a.device());
  kernels::binary(rule.kernel, a, b, out);
  if (auto node = record<BinaryBackward>(out, {a, b}, rule)) {
    int needed = (node->needs_input_grad(0) ? 1 : 0) | (node->needs_input_grad(1) ? 2 : 0);
    if (rule.a_for & needed) node->a = SavedTensor(a, false);
    if (rule.b_for & needed) node->b = SavedTensor(b, false);
  }
  return out;
}

const BinaryRule kAdd{"add", "AddBackward0", kernels::Binary::Add,
                      [](const Tensor& g, const Tensor&, const Tensor&, bool, bool) { return std::pair{g, g}; },
                      0, 0, false};
const BinaryRule kSub{"sub", "SubBackward0", kernels::Binary::Sub,
                      [](const Tensor& g, const Tensor&, const Tensor&, bool, bool nb) {
                        return std::pair{g, nb ? neg(g) : Tensor()};
                      },
                      0, 0, false};
const BinaryRule kMul{"mul", "MulBackward0", kernels::Binary::Mul,
                      [](const Tensor& g, const Tensor& a, const Tensor& b, bool na, bool nb) {
                        return std::pair{na ? g * b : Tensor(), nb ? g * a : Tensor()};
                      },
                      2, 1, false};
const BinaryRule kDiv{"div", "DivBackward0", kernels::Binary::Div,
                      [](const Tensor& g, const Tensor& a, const Tensor& b, bool na, bool nb) {
                        return std::pair{na ? g / b : Tensor(), nb ? -g * a / (b * b) : Tensor()};
                      },
                      2, 3, true};
// d/da a^b = b a^(b-1) (0 where b == 0); d/db a^b = a^b log a (0 where a == 0 and b >= 0), as torch.
const BinaryRule kPow{"pow", "PowBackward1", kernels::Binary::Pow,
                      [](const Tensor& g, const Tensor& a, const Tensor& b, bool na, bool nb) {
                        Tensor zero = zeros({}, a.dtype());
                        Tensor ga, gb;
                        if (na) ga = where(compare(Cmp::Eq, b, zero), zero, g * b * pow(a, b - ones({}, b.dtype())));
                        if (nb) {
                          Tensor a_zero_b_nonneg = where(compare(Cmp::Eq, a, zero), compare(Cmp::Ge, b, zero),
                                                         zeros({}, DType::Bool));
                          gb = where(a_zero_b_nonneg, zero, g * pow(a, b) * log(a));
                        }
                        return std::pair{ga, gb};
                      },
                      3, 3, true};
// Ties split the gradient in half, as torch.
Tensor tie_mask(const Tensor& a, const Tensor& b, Cmp win) {
  DType dt = a.dtype();
  return to_dtype(compare(win, a, b), dt) + to_dtype(compare(Cmp::Eq, a, b), dt) * 0.5;
}
const BinaryRule kMaximum{"maximum", "MaximumBackward0", kernels::Binary::Maximum,
                          [](const Tensor& g, const Tensor& a, const Tensor& b, bool na, bool nb) {
                            return std::pair{na ? g * tie_mask(a, b, Cmp::Gt) : Tensor(),
                                             nb ? g * tie_mask(b, a, Cmp::Gt) : Tensor()};
                          },
                          3, 3, false};
const BinaryRule kMinimum{"minimum", "MinimumBackward0", kernels::Binary::Minimum,
                          [](const Tensor& g, const Tensor& a, const Tensor& b, bool na, bool nb) {
                            return std::pair{na ? g * tie_mask(a, b, Cmp::Lt) : Tensor(),
                                             nb ? g * tie_mask(b, a, Cmp::Lt) : Tensor()};
                          },
                          3, 3, false};

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary_op(kAdd, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary_op(kSub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary_op(kMul, a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary_op(kDiv, a, b); }
Tensor pow(const Tensor& a, const Tensor& b) { return binary_op(kPow, a, b); }
Tensor maximum(const Tensor& a, const Tensor& b) { return binary_op(kMaximum, a, b); }
Tensor minimum(const Tensor& a, const Tensor& b) { return binary_op(kMinimum, a, b); }

Tensor compare(Cmp op, const Tensor& a0, const Tensor& b0) {
  static const char* names[] = {"eq", "ne", "lt", "le", "gt", "ge"};
  auto [a, b, sh] = prepare(names[static_cast<int>(op)], a0, b0, false);
  Tensor out = empty(sh, DType::Bool, a.device());
  kernels::binary(static_cast<kernels::Binary>(static_cast<int>(kernels::Binary::Eq) + static_cast<int>(op)), a, b, out);
  return out;
}

namespace {
struct WhereBackward : Node {
  SavedTensor cond;
  std::string name() const override { return "WhereBackward0"; }
  TensorList apply(TensorList&& g) override {
    Tensor c = cond.unpack(*this), zero = zeros({}, g[0].dtype());
    return {needs_input_grad(0) ? where(c, g[0], zero) : Tensor(), needs_input_grad(1) ? where(c, zero, g[0]) : Tensor()};
  }
  void release_saved() override { cond.reset(); }
};
}  // namespace

Tensor where(const Tensor& cond, const Tensor& a0, const Tensor& b0) {
  PYAD_CHECK(cond.dtype() == DType::Bool, TypeError, "[where] condition must be a bool tensor, got ", dtype_name(cond.dtype()));
  check_same_device("where", cond, a0);
  auto [a, b, sh] = prepare("where", a0, b0, false);
  sh = broadcast_shapes(cond.shape(), sh, "where");
  Tensor out = empty(sh, a.dtype(), a.device());
  kernels::where(cond, a, b, out);
  if (auto node = record<WhereBackward>(out, {a, b})) node->cond = SavedTensor(cond, false);
  return out;
}

namespace {
struct ClampBackward : Node {
  SavedTensor x;
  std::optional<double> lo, hi;
  std::string name() const override { return "ClampBackward1"; }
  TensorList apply(TensorList&& g) override {
    Tensor xv = x.unpack(*this);
    // Gradient flows where lo <= x <= hi (NaN x gets none).
    Tensor mask = ones({}, xv.dtype());
    if (lo) mask = mask * to_dtype(compare(Cmp::Ge, xv, scalar_tensor(*lo, xv.dtype())), xv.dtype());
    if (hi) mask = mask * to_dtype(compare(Cmp::Le, xv, scalar_tensor(*hi, xv.dtype())), xv.dtype());
    return {g[0] * mask};
  }
  void release_saved() override { x.reset(); }
};
}  // namespace

Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  PYAD_CHECK(lo || hi, ValueError, "[clamp] at least one of min and max must be given");
  PYAD_CHECK(x.dtype() != DType::Bool, TypeError, "[clamp] is not supported for bool tensors");
  Tensor out;
  {
    NoGradGuard ng;
    out = x;
    if (lo) out = maximum(out, scalar_tensor(*lo, x.dtype()));
    if (hi) out = minimum(out, scalar_tensor(*hi, x.dtype()));
    if (out.same(x)) out = clone(x);
  }
  if (auto node = record<ClampBackward>(out, {x})) {
    node->x = SavedTensor(x, false);
    node->lo = lo;
    node->hi = hi;
  }
  return out;
}

}  // namespace pyad
