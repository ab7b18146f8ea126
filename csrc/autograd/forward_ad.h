#pragma once
#include <atomic>
// Forward mode. A tangent is an ordinary tensor attached to a primal at a dual
// level; a missing tangent is a symbolic zero (an undefined Tensor) and is
// never materialised.
//
// Note [Batched tangents and cotangents]
// Tangents (and, in a batched backward, gradients) may carry leading batch
// dims: a tangent of x has shape (*batch, *x.shape). jacfwd pushes all n
// directions through one pass this way, jacrev pulls all m back in one pass.
// Rules stay batch-agnostic by addressing dims from the end (negative dims)
// and by building shapes as batch_shape(t, ndim) + shape.
//
// Note [Nested dual levels]
// Dual levels nest (jvp of jvp, jacfwd of jacfwd). Level ids grow with
// nesting, so an outer level has a smaller id than any level inside it. A
// tensor keeps one tangent per level (ForwardGrad). An op runs its JVP rule
// once per level at which an input has a tangent, outer levels first; the rule
// for level L reads the level-L tangents (tangent_of) and computes with
// ordinary ops while levels >= L are switched off (JvpRuleGuard) but outer
// levels stay on. So the rule is itself differentiated at the outer levels:
// the level-L tangent of the output gets the outer tangents of the rule's
// result (the mixed term of x + e1 a + e2 b + e1 e2 c lives as the level-1
// tangent of the level-2 tangent), and a rule may use the output's outer
// tangents because those rules ran first. A level-L tangent never gets a
// tangent at L or inside it, so two levels' perturbations never mix.
// Batch dims nest the same way: the level-1 tangent of a level-2 tangent has
// shape (*batch1, *batch2, *x.shape).
//
// Note [Identity tangents]
// jacfwd seeds its input x with rows [start, start + count) of the n x n
// identity (n = x.numel()): the tangent of shape (count, *x.shape) whose batch
// row i is e_{start + i}. Dense, that is count * n numbers nearly all zero, and
// the first op on x usually only copies parts of its other operand (A @ seed is
// a transposed slice of A). So the tangent entry keeps the slice itself
// (IdentitySlice) and tangent_at materialises the dense tensor only when a rule
// asks for it (once; the entry keeps it). A rule with a shortcut asks
// identity_tangent_of first; every other rule sees an ordinary tensor.
#include <optional>
#include <initializer_list>
#include <vector>
#include "core/tensor.h"

namespace pyad {

struct IdentitySlice {
  int64_t start = 0;
  int64_t count = 0;
};

// Note [Scaled tangents]
// An elementwise op's tangent is its input's times the op's derivative, t * f'(x): one pass to write it over the
// (in jacfwd, n x n) tangent and another where the next op reads it. When the next op is a sum, the two passes are
// one contraction, a matrix-vector product: at d = 250 that was a fifth of jacfwd's time on the main job. So the
// entry may keep the pair (base, scale) and make the product when a rule first asks for the dense tangent; sum's
// rule asks scaled_tangent_of first. Only where the product is plain arithmetic, the same whenever it is made: one
// dual level active and neither factor requiring grad (no enclosing transform differentiates the tangent). The
// scale is a fresh tensor (one sharing the input's or the result's memory is multiplied out at once); the base
// is the input's tangent, which a user holding it (make_dual, unpack_dual) could write in place before the
// product is made: that raises, naming the op, as a saved tensor modified in place does in backward.
struct ScaledTangent {
  Tensor base;   // (*batch, *shape)
  Tensor scale;  // shape, the primal's
  uint64_t base_version = 0;
  const char* op = "";
};

// A tangent at one dual level: a dense tensor, an identity slice (Note [Identity tangents]) or a scaled
// tangent (Note [Scaled tangents]), whose dense form is made on first use.
struct TangentEntry {
  uint64_t level = 0;
  Tensor dense;
  std::optional<IdentitySlice> identity;
  std::optional<ScaledTangent> scaled;
  bool defined() const { return dense.defined() || identity.has_value() || scaled.has_value(); }
};

// One tangent per dual level (Note [Nested dual levels]), in the order they were set; rarely more than two.
struct ForwardGrad { std::vector<TangentEntry> tangents; };

uint64_t enter_dual_level();
// level 0 means the innermost one; only the innermost level can be exited.
void exit_dual_level(uint64_t level);
// The active levels, outermost first.
std::vector<uint64_t> dual_levels();

// The level tangent_of reads: inside a JVP rule, the rule's level; otherwise the innermost active level (0: none).
uint64_t current_level();
// The tangent of t at the current level (or at `level`), or undefined (zero).
Tensor tangent_of(const Tensor& t);
Tensor tangent_at(const Tensor& t, uint64_t level);
// The smallest level above `after` that ops may compute now and at which some t has a tangent; 0 if none.
uint64_t next_tangent_level(const TensorList& ts, uint64_t after);
inline bool any_tangent(const TensorList& ts) { return next_tangent_level(ts, 0) != 0; }
// Attach tangent t to out at the current level (or at `level`), expanded to (*batch, *out.shape); undefined
// t leaves out without one.
void set_tangent(const Tensor& out, Tensor t);
void set_tangent(const Tensor& out, Tensor t, uint64_t level);
void clear_tangent(const Tensor& t, uint64_t level);
// dst's tangents become src's at every level src has one (in-place ops computing out of place).
void copy_tangents(const Tensor& src, const Tensor& dst);
Tensor make_dual(const Tensor& primal, const Tensor& tangent, uint64_t level = 0);
// A dual of primal whose tangent at `level` (0: the current one) is rows [start, start + count) of the
// identity over primal's elements (Note [Identity tangents]).
Tensor make_identity_dual(const Tensor& primal, int64_t start, int64_t count, uint64_t level = 0);
// The identity slice that t's tangent at the current level is, if it is one (not absent, not dense).
std::optional<IdentitySlice> identity_tangent_of(const Tensor& t);
// The (base, scale) pair t's tangent at the current level still is, if it is one (Note [Scaled tangents]).
std::optional<ScaledTangent> scaled_tangent_of(const Tensor& t);
// Attach base * scale (scale shaped as out) to out, the result of `op`, at `level`, kept as the pair where that
// is safe.
void set_scaled_tangent(const char* op, const Tensor& out, const Tensor& in, Tensor base, Tensor scale, uint64_t level);
// (primal, tangent at `level`): the primal an alias keeping t's history and its other levels' tangents.
std::pair<Tensor, Tensor> unpack_dual(const Tensor& t, uint64_t level);
// t without history but with its tangents at every level (checkpoint_revolve's stored activations).
Tensor detach_dual(const Tensor& t);
// The levels at which some of `ts` carries a tangent that ops compute now, outermost first.
std::vector<uint64_t> tangent_levels(const TensorList& ts);

// While the JVP rule for level L runs, ops compute tangents only at the levels outside L: the rule reads its
// inputs' level-L tangents, and an op on a dual input would otherwise recurse into that op's rule. The
// default is the current level; level 0 switches forward mode off entirely.
struct JvpRuleGuard {
  JvpRuleGuard();
  explicit JvpRuleGuard(uint64_t level);
  ~JvpRuleGuard();
  uint64_t prev;
};

// While alive, ops compute no tangents at the active levels not in `keep` (a checkpoint's recomputation
// runs in the forward-mode state its first run had: Note [Recomputed saved tensors] in recompute_frame.h).
struct HideLevelsGuard {
  explicit HideLevelsGuard(const std::vector<uint64_t>& keep);
  ~HideLevelsGuard();
  std::vector<uint64_t> prev_hidden;
  uint64_t prev_limit;
};

// t, or a view of it without its tangents at hidden levels (what a recomputation saves must not see them).
Tensor without_hidden_tangents(const Tensor& t);

namespace detail {
extern std::atomic<uint64_t> g_innermost;  // the innermost active level, 0 when none: every op's first (inlined) check
}

// The forward-mode step of an op: for each level at which an input carries a tangent, run `rule` (which
// returns the output's tangent at that level, or undefined for zero) and attach it. Note [Nested dual levels]
// An op's inputs as written at its call (`{a, b}`), without copying them into a TensorList: most ops record no
// tangent and no node, and need none. Temporaries in the list live until the call's end.
struct TensorRef {
  const Tensor& t;
  TensorRef(const Tensor& x) : t(x) {}  // NOLINT: implicit, so that `{a, b}` converts
};
using TensorRefs = std::initializer_list<TensorRef>;
inline TensorList to_list(TensorRefs refs) {
  TensorList l;
  l.reserve(refs.size());
  for (const TensorRef& r : refs) l.push_back(r.t);
  return l;
}

template <class Rule>
void forward_rule(const Tensor& out, const TensorList& inputs, Rule&& rule) {
  if (detail::g_innermost.load(std::memory_order_relaxed) == 0) return;
  for (uint64_t level = next_tangent_level(inputs, 0); level != 0; level = next_tangent_level(inputs, level)) {
    Tensor t;
    {
      JvpRuleGuard guard(level);
      t = rule();
    }
    set_tangent(out, t, level);
  }
}

template <class Rule>
void forward_rule(const Tensor& out, TensorRefs inputs, Rule&& rule) {
  if (detail::g_innermost.load(std::memory_order_relaxed) == 0) return;
  forward_rule(out, to_list(inputs), std::forward<Rule>(rule));
}

// forward_rule for an elementwise op whose tangent is its input's times scale() (shaped as out): the product is
// left to be made on first use (Note [Scaled tangents]).
template <class Scale>
void forward_rule_scaled(const char* op, const Tensor& out, const Tensor& in, Scale&& scale) {
  if (detail::g_innermost.load(std::memory_order_relaxed) == 0) return;
  const TensorList inputs{in};
  for (uint64_t level = next_tangent_level(inputs, 0); level != 0; level = next_tangent_level(inputs, level)) {
    Tensor t, s;
    {
      JvpRuleGuard guard(level);
      t = tangent_of(in);
      if (t.defined()) s = scale();
    }
    set_scaled_tangent(op, out, in, std::move(t), std::move(s), level);
  }
}

// The leading batch dims of a tangent or gradient whose unbatched rank is `ndim`.
Shape batch_shape(const Tensor& t, int64_t ndim);
inline Shape concat(Shape a, const Shape& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
// t reshaped so its unbatched part has rank `ndim` (unit dims inserted after the batch dims), so that
// tangents of broadcast operands line up.
Tensor align_batched(const Tensor& t, int64_t own_ndim, int64_t ndim);

}  // namespace pyad
