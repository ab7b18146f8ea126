#include "autograd/grad_mode.h"

namespace pyad {

namespace {
// Per thread, as torch's: a no_grad block in one thread does not stop another from recording.
thread_local bool t_grad_enabled = true;
}  // namespace

bool grad_enabled() { return t_grad_enabled; }
void set_grad_enabled(bool on) { t_grad_enabled = on; }

namespace {
thread_local bool t_strong_zeros = false;
}  // namespace

bool strong_zeros() { return t_strong_zeros; }
StrongZerosGuard::StrongZerosGuard(bool on) : prev(t_strong_zeros) { t_strong_zeros = on; }
StrongZerosGuard::~StrongZerosGuard() { t_strong_zeros = prev; }

}  // namespace pyad
