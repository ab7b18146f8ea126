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

}  // namespace pyad
