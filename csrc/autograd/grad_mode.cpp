#include "autograd/grad_mode.h"

namespace pyad {

namespace {
// Per thread, as torch's: a no_grad block in one thread does not stop another from recording.
thread_local bool t_grad_enabled = true;
}  // namespace

bool grad_enabled() { return t_grad_enabled; }
void set_grad_enabled(bool on) { t_grad_enabled = on; }

}  // namespace pyad
