#pragma once
// Forward mode. A tangent is an ordinary tensor attached to a primal at the
// active dual level; a missing tangent is a symbolic zero (an undefined
// Tensor) and is never materialised.
//
// Note [Batched tangents and cotangents]
// Tangents (and, in a batched backward, gradients) may carry leading batch
// dims: a tangent of x has shape (*batch, *x.shape). jacfwd pushes all n
// directions through one pass this way, jacrev pulls all m back in one pass.
// Rules stay batch-agnostic by addressing dims from the end (negative dims)
// and by building shapes as batch_shape(t, ndim) + shape.
#include "../core/tensor.h"

namespace pyad {

uint64_t enter_dual_level();
void exit_dual_level(uint64_t level);

// The tangent of t at the active level, or undefined (zero).
Tensor tangent_of(const Tensor& t);
bool any_tangent(const TensorList& ts);
// Attach tangent t to out (expanded to (*batch, *out.shape)); undefined t leaves out without one.
void set_tangent(const Tensor& out, Tensor t);
Tensor make_dual(const Tensor& primal, const Tensor& tangent);

// While a JVP rule runs, ops compute no tangents of their own: the rule reads
// its inputs' tangents and primals, and a rule that called an op on a dual
// input would otherwise recurse into that op's rule.
struct JvpRuleGuard {
  JvpRuleGuard();
  ~JvpRuleGuard();
  bool prev;
};

// The forward-mode step of an op: when an input carries a tangent, run `rule`
// (which returns the output's tangent, or undefined for zero) and attach it.
template <class Rule>
void forward_rule(const Tensor& out, const TensorList& inputs, Rule&& rule) {
  if (!any_tangent(inputs)) return;
  Tensor t;
  {
    JvpRuleGuard guard;
    t = rule();
  }
  set_tangent(out, t);
}

// The leading batch dims of a tangent or gradient whose unbatched rank is `ndim`.
Shape batch_shape(const Tensor& t, int64_t ndim);
inline Shape concat(Shape a, const Shape& b) { a.insert(a.end(), b.begin(), b.end()); return a; }
// t reshaped so its unbatched part has rank `ndim` (unit dims inserted after the batch dims), so that
// tangents of broadcast operands line up.
Tensor align_batched(const Tensor& t, int64_t own_ndim, int64_t ndim);

}  // namespace pyad
