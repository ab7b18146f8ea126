// Binary elementwise ops with NumPy broadcasting. Rules return gradients of
// the broadcast shape; the engine sums them back to each input's shape
// (Note [Edges and input metadata]).
#include "ops/record.h"
#include "kernels/kernels.h"

namespace pyad {

namespace {

// Promote both operands to one dtype (as torch) and compute the broadcast shape.
struct Prepared {
  Tensor a, b;
  Shape shape;
};

int category(DType d) { return d == DType::Bool ? 0 : (is_floating(d) ? 2 : 1); }

// torch's result type: a 0-d operand (a Python scalar is one) decides the dtype
// only when its category (bool < integer < float) is higher than the other's.
DType result_type(const Tensor& a, const Tensor& b) {
  const bool a0 = a.ndim() == 0, b0 = b.ndim() == 0;
  if (a0 != b0) {
    const Tensor& dims = a0 ? b : a;
    const Tensor& zero = a0 ? a : b;
    if (category(zero.dtype()) <= category(dims.dtype())) return dims.dtype();
  }
  return promote(a.dtype(), b.dtype());
}

Prepared prepare(const char* op, const Tensor& a0, const Tensor& b0, bool needs_float) {
  auto [a, b] = same_device(op, a0, b0);
  DType dt = result_type(a, b);
  if (needs_float) dt = to_floating(dt);
  Shape sh = broadcast_shapes(a.shape(), b.shape(), op);
  return {a.dtype() == dt ? a : to_dtype(a, dt), b.dtype() == dt ? b : to_dtype(b, dt), sh};
}

// The partial derivatives d out/d a and d out/d b, elementwise. An undefined
// `value` stands for the constant `scale` (1 for add, -1 for sub's b), so the
// linear ops multiply by nothing. VJP: (g * da, g * db); JVP: ta * da + tb * db.
struct Partial {
  Tensor value;
  double scale = 1.0;
  Tensor times(const Tensor& t) const {
    if (value.defined()) return t * value;
    return scale == 1.0 ? t : (scale == -1.0 ? neg(t) : t * scale);
  }
  // For a cotangent: the constant scales are finite, so only a derivative tensor needs vjp_times.
  Tensor vjp(const Tensor& g) const { return value.defined() ? vjp_times(g, value) : times(g); }
};
using Partials = std::pair<Partial, Partial> (*)(const Tensor& a, const Tensor& b, const Tensor& out, bool need_a,
                                                 bool need_b);

// Which partials read an operand or the result, so a node saves only what the gradients it will compute need.
enum Needs { kNone = 0, kForA = 1, kForB = 2, kForBoth = 3 };

struct BinaryRule {
  const char* node_name;
  Partials partials;
  Needs saves_a, saves_b, saves_out;
  void (*check)(const char* op, const Tensor& a, const Tensor& b) = nullptr;  // operand checks beyond dtype/shape
};

struct BinaryBackward : Node {
  const BinaryRule& rule;
  SavedTensor a, b, out;
  explicit BinaryBackward(const BinaryRule& r) : rule(r) {}
  bool scalar_exponent = false;  // pow by a constant 0-d exponent is torch's PowBackward0
  std::string name() const override { return scalar_exponent ? "PowBackward0" : rule.node_name; }
  TensorList apply(TensorList&& g) override {
    bool na = needs_input_grad(0), nb = needs_input_grad(1);
    auto [da, db] = rule.partials(a.unpack(*this), b.unpack(*this), out.unpack_for_rule(*this), na, nb);
    return {na ? da.vjp(g[0]) : Tensor(), nb ? db.vjp(g[0]) : Tensor()};
  }
  std::vector<SavedTensor*> saved() override { return {&a, &b, &out}; }
};

Tensor binary_op(const char* op, kernels::Binary kernel, math::Domain domain, const BinaryRule& rule, const Tensor& a0,
                 const Tensor& b0) {
  auto [a, b, sh] = prepare(op, a0, b0, domain == math::Domain::Float);
  PYAD_CHECK(a.dtype() != DType::Bool, TypeError, "[", op, "] is not supported for bool tensors");
  if (rule.check) rule.check(op, a, b);
  Tensor out = empty_in_layout_of(sh, a.dtype(), a.device(), {&a, &b});
  kernels::binary(kernel, a, b, out);
  if (auto node = record<BinaryBackward>(out, {a, b}, rule)) {
    int needed = (node->needs_input_grad(0) ? kForA : 0) | (node->needs_input_grad(1) ? kForB : 0);
    if (rule.saves_a & needed) node->a = SavedTensor(a, false);
    if (rule.saves_b & needed) node->b = SavedTensor(b, false);
    if (rule.saves_out & needed) node->out = SavedTensor(out, true);
    node->scalar_exponent = kernel == kernels::Binary::Pow && b.ndim() == 0 && !b.requires_grad();
  }
  forward_rule(out, {a, b}, [&] {
    const int64_t nd = out.ndim();
    Tensor ta = tangent_of(a), tb = tangent_of(b);
    auto [da, db] = rule.partials(a, b, out, ta.defined(), tb.defined());
    Tensor t;
    if (ta.defined()) t = da.times(align_batched(ta, a.ndim(), nd));
    if (tb.defined()) {
      Tensor u = db.times(align_batched(tb, b.ndim(), nd));
      t = t.defined() ? t + u : u;
    }
    return t;
  });
  return out;
}

Tensor one(const Tensor& like) { return ones({}, like.dtype(), like.device()); }
Tensor zero(const Tensor& like) { return zeros({}, like.dtype(), like.device()); }

// The rules, in the order of PYAD_BINARY_OPS (Note [The op list]).
const BinaryRule add_rule{
    "AddBackward0",
    [](const Tensor&, const Tensor&, const Tensor&, bool, bool) { return std::pair{Partial{}, Partial{}}; }, kNone,
    kNone, kNone};
const BinaryRule sub_rule{"SubBackward0",
                          [](const Tensor&, const Tensor&, const Tensor&, bool, bool) {
                            return std::pair{Partial{}, Partial{Tensor(), -1.0}};
                          },
                          kNone, kNone, kNone};
const BinaryRule mul_rule{"MulBackward0",
                          [](const Tensor& a, const Tensor& b, const Tensor&, bool na, bool nb) {
                            return std::pair{Partial{na ? b : Tensor()}, Partial{nb ? a : Tensor()}};
                          },
                          kForB, kForA, kNone};
// d/db (a / b) = -a / b^2, as torch writes it.
const BinaryRule div_rule{"DivBackward0",
                          [](const Tensor& a, const Tensor& b, const Tensor&, bool na, bool nb) {
                            return std::pair{Partial{na ? one(b) / b : Tensor()},
                                             Partial{nb ? -a / (b * b) : Tensor()}};
                          },
                          kForB, kForBoth, kNone};
// d/da a^b = b a^(b-1) (0 where b == 0); d/db a^b = a^b log a (0 where a == 0 and b >= 0), as torch.
const BinaryRule pow_rule{"PowBackward1",
                          [](const Tensor& a, const Tensor& b, const Tensor& out, bool na, bool nb) {
                            Partial da, db;
                            if (na) da.value = where(eq(b, zero(a)), zero(a), b * pow(a, b - one(b)));
                            if (nb) {
                              Tensor a_zero_b_nonneg =
                                  where(eq(a, zero(a)), ge(b, zero(a)), zeros({}, DType::Bool, a.device()));
                              db.value = where(a_zero_b_nonneg, zero(a), out * log(a));
                            }
                            return std::pair{da, db};
                          },
                          kForBoth, kForBoth, kForB};
// a's share of maximum/minimum's gradient, as torch: none where a loses, half on ties, all otherwise (NaN
// included). `loses` is lt for maximum and gt for minimum.
Tensor tie_mask(const Tensor& a, const Tensor& b, Tensor (*loses)(const Tensor&, const Tensor&)) {
  DType dt = a.dtype();
  return 1.0 - to_dtype(loses(a, b), dt) - to_dtype(eq(a, b), dt) * 0.5;
}
const BinaryRule maximum_rule{"MaximumBackward0",
                              [](const Tensor& a, const Tensor& b, const Tensor&, bool na, bool nb) {
                                return std::pair{Partial{na ? tie_mask(a, b, lt) : Tensor()},
                                                 Partial{nb ? tie_mask(b, a, lt) : Tensor()}};
                              },
                              kForBoth, kForBoth, kNone};
const BinaryRule minimum_rule{"MinimumBackward0",
                              [](const Tensor& a, const Tensor& b, const Tensor&, bool na, bool nb) {
                                return std::pair{Partial{na ? tie_mask(a, b, gt) : Tensor()},
                                                 Partial{nb ? tie_mask(b, a, gt) : Tensor()}};
                              },
                              kForBoth, kForBoth, kNone};
// d atan2(a, b) = (b da - a db) / (a^2 + b^2), as torch (NaN at the origin, as torch).
const BinaryRule atan2_rule{"Atan2Backward0",
                            [](const Tensor& a, const Tensor& b, const Tensor&, bool na, bool nb) {
                              Tensor r = one(a) / (a * a + b * b);
                              return std::pair{Partial{na ? b * r : Tensor()}, Partial{nb ? -a * r : Tensor()}};
                            },
                            kForBoth, kForBoth, kNone};
// d hypot(a, b) = (a da + b db) / hypot(a, b), as torch.
const BinaryRule hypot_rule{"HypotBackward0",
                            [](const Tensor& a, const Tensor& b, const Tensor& out, bool na, bool nb) {
                              return std::pair{Partial{na ? a / out : Tensor()}, Partial{nb ? b / out : Tensor()}};
                            },
                            kForA, kForB, kForBoth};
// d logaddexp(a, b) = sigmoid(a - b) da + sigmoid(b - a) db.
const BinaryRule logaddexp_rule{"LogaddexpBackward0",
                                [](const Tensor& a, const Tensor& b, const Tensor&, bool na, bool nb) {
                                  return std::pair{Partial{na ? sigmoid(a - b) : Tensor()},
                                                   Partial{nb ? sigmoid(b - a) : Tensor()}};
                                },
                                kForBoth, kForBoth, kNone};

// An integer remainder by 0 is undefined in C++ (and the hardware traps); torch raises, and so does pyad.
void nonzero_integer_divisor(const char* op, const Tensor&, const Tensor& b) {
  if (is_floating(b.dtype()) || b.numel() == 0) return;
  Tensor zeros_found = sum(to_dtype(eq(b, zero(b)), DType::Int64), {}, false);
  if (!zeros_found.device().is_cpu()) zeros_found = to_device(zeros_found, Device{});
  PYAD_CHECK(*zeros_found.data<int64_t>() == 0, RuntimeError, "[", op,
             "] ZeroDivisionError: an integer divisor is 0 (divisor ", describe(b), ")");
}
// d fmod(a, b) = da - trunc(a / b) db; d remainder(a, b) = da - floor(a / b) db, as torch.
const BinaryRule fmod_rule{"FmodBackward1",
                           [](const Tensor& a, const Tensor& b, const Tensor&, bool, bool nb) {
                             return std::pair{Partial{}, Partial{nb ? -trunc(a / b) : Tensor()}};
                           },
                           kForB,
                           kForB,
                           kNone,
                           nonzero_integer_divisor};
const BinaryRule remainder_rule{"RemainderBackward1",
                                [](const Tensor& a, const Tensor& b, const Tensor&, bool, bool nb) {
                                  return std::pair{Partial{}, Partial{nb ? -floor(a / b) : Tensor()}};
                                },
                                kForB,
                                kForB,
                                kNone,
                                nonzero_integer_divisor};

Tensor compare_op(const char* op, kernels::Binary kernel, const Tensor& a0, const Tensor& b0) {
  auto [a, b, sh] = prepare(op, a0, b0, false);
  Tensor out = empty_in_layout_of(sh, DType::Bool, a.device(), {&a, &b});
  kernels::binary(kernel, a, b, out);
  return out;
}

}  // namespace

#define PYAD_DEFINE_BINARY(name, F, D)                                               \
  Tensor name(const Tensor& a, const Tensor& b) {                                    \
    return binary_op(#name, kernels::Binary::F, math::Domain::D, name##_rule, a, b); \
  }
PYAD_BINARY_OPS(PYAD_DEFINE_BINARY)
#undef PYAD_DEFINE_BINARY
#define PYAD_DEFINE_COMPARE(name, F, D) \
  Tensor name(const Tensor& a, const Tensor& b) { return compare_op(#name, kernels::Binary::F, a, b); }
PYAD_COMPARE_OPS(PYAD_DEFINE_COMPARE)
#undef PYAD_DEFINE_COMPARE

// An integer result of x ** -n is 0 for |x| > 1, which torch refuses for a scalar exponent rather than
// give silently (a tensor exponent computes it, as torch).
Tensor pow_scalar(const Tensor& a, const Tensor& exponent) {
  if (!is_floating(a.dtype()) && exponent.dtype() == DType::Int64 && exponent.ndim() == 0) {
    const Tensor e = exponent.device().is_cpu() ? exponent : to_device(exponent, Device{});
    PYAD_CHECK(*e.data<int64_t>() >= 0, RuntimeError,
               "[pow] Integers to negative integer powers are not allowed "
               "(base: ",
               describe(a), ", exponent ", *e.data<int64_t>(), "); use a float base or exponent");
  }
  return pow(a, exponent);
}
namespace {
struct WhereBackward : Node {
  SavedTensor cond;
  bool safe = false;
  std::string name() const override { return safe ? "SafeWhereBackward0" : "WhereBackward0"; }
  bool strong_zeros() const override { return safe; }
  TensorList apply(TensorList&& g) override {
    Tensor c = cond.unpack(*this), zero = zeros({}, g[0].dtype(), g[0].device());
    return {needs_input_grad(0) ? where(c, g[0], zero) : Tensor(),
            needs_input_grad(1) ? where(c, zero, g[0]) : Tensor()};
  }
  std::vector<SavedTensor*> saved() override { return {&cond}; }
};
}  // namespace

namespace {
Tensor where_impl(const Tensor& cond, const Tensor& a0, const Tensor& b0, bool safe) {
  PYAD_CHECK(cond.dtype() == DType::Bool, TypeError, "[where] condition must be a bool tensor, got ",
             dtype_name(cond.dtype()));
  auto [a, b, sh] = prepare("where", a0, b0, false);
  check_same_device("where", cond, a);
  sh = broadcast_shapes(cond.shape(), sh, "where");
  Tensor out = empty_in_layout_of(sh, a.dtype(), a.device(), {&cond, &a, &b});
  kernels::where(cond, a, b, out);
  if (auto node = record<WhereBackward>(out, {a, b})) {
    node->cond = SavedTensor(cond, false);
    node->safe = safe;
  }
  forward_rule(out, {a, b}, [&] {
    Tensor ta = tangent_of(a), tb = tangent_of(b), zero = zeros({}, out.dtype(), out.device());
    const int64_t nd = out.ndim();
    return where(cond, ta.defined() ? align_batched(ta, a.ndim(), nd) : zero,
                 tb.defined() ? align_batched(tb, b.ndim(), nd) : zero);
  });
  return out;
}
}  // namespace

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) { return where_impl(cond, a, b, false); }

// The forward pass and the tangent are where's: selecting, not multiplying, already drops the masked
// branch's inf or NaN tangent. Only the backward pass needs strong zeros.
Tensor safe_where(const Tensor& cond, const Tensor& a, const Tensor& b) { return where_impl(cond, a, b, true); }

Tensor vjp_times(const Tensor& g, const Tensor& d) {
  Tensor p = g * d;
  if (!strong_zeros() || !is_floating(p.dtype())) return p;
  Tensor zero = zeros({}, p.dtype(), p.device());
  return where(eq(g, zero), zero, p);
}

namespace {
// The derivative of clamp: 1 where lo <= x <= hi, else 0 (NaN x gets none), as torch.
Tensor clamp_mask(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  Tensor mask = ones({}, x.dtype(), x.device());
  if (lo) mask = mask * to_dtype(ge(x, scalar_tensor(*lo, x.dtype(), x.device())), x.dtype());
  if (hi) mask = mask * to_dtype(le(x, scalar_tensor(*hi, x.dtype(), x.device())), x.dtype());
  return mask;
}

struct ClampBackward : Node {
  SavedTensor x;
  std::optional<double> lo, hi;
  std::string name() const override { return "ClampBackward1"; }
  TensorList apply(TensorList&& g) override { return {g[0] * clamp_mask(x.unpack(*this), lo, hi)}; }
  std::vector<SavedTensor*> saved() override { return {&x}; }
};
}  // namespace

Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  PYAD_CHECK(lo || hi, ValueError, "[clamp] at least one of min and max must be given");
  PYAD_CHECK(x.dtype() != DType::Bool, TypeError, "[clamp] is not supported for bool tensors");
  Tensor out;
  {
    NoGradGuard ng;
    out = x;
    if (lo) out = maximum(out, scalar_tensor(*lo, x.dtype(), x.device()));
    if (hi) out = minimum(out, scalar_tensor(*hi, x.dtype(), x.device()));
    if (out.same(x)) out = clone(x);
  }
  if (auto node = record<ClampBackward>(out, {x})) {
    node->x = SavedTensor(x, false);
    node->lo = lo;
    node->hi = hi;
  }
  forward_rule(out, {x}, [&] { return tangent_of(x) * clamp_mask(x, lo, hi); });
  return out;
}

}  // namespace pyad
