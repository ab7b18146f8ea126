#pragma once
// Thread-local switches: whether ops record a graph, and the active forward-mode level.
#include <cstdint>

namespace pyad {

bool grad_enabled();
void set_grad_enabled(bool on);

struct GradModeGuard {
  bool prev;
  explicit GradModeGuard(bool on) : prev(grad_enabled()) { set_grad_enabled(on); }
  ~GradModeGuard() { set_grad_enabled(prev); }
};
struct NoGradGuard : GradModeGuard {
  NoGradGuard() : GradModeGuard(false) {}
};

// Forward mode: 0 means no dual level is active; levels count from 1.
uint64_t forward_level();

// Strong zeros, for a backward pass through a safe where (pyad.where(..., safe=True)): the elementwise
// rules multiply a cotangent by their local derivative so that a zero cotangent gives an exact zero even
// where the derivative is inf or NaN, so the branch a where masked out adds nothing, not 0 * inf = NaN.
// Set by the engine for the passes whose graph holds a node that asks for it (Node::strong_zeros).
bool strong_zeros();
struct StrongZerosGuard {
  bool prev;
  explicit StrongZerosGuard(bool on);
  ~StrongZerosGuard();
};

}  // namespace pyad
