// See Note [Source sites] in core/site.h.
#include "core/site.h"

namespace pyad {

namespace {
Site::Hooks g_hooks{nullptr, nullptr, nullptr};
}  // namespace

void Site::set_hooks(const Hooks& hooks) { g_hooks = hooks; }

void Site::capture() {
  clear();
  if (g_hooks.capture) g_hooks.capture(code_, offset_);
}

void Site::clear() {
  if (code_ && g_hooks.release) g_hooks.release(code_);
  code_ = nullptr;
}

std::string Site::str() const { return code_ && g_hooks.format ? g_hooks.format(code_, offset_) : std::string(); }

}  // namespace pyad
