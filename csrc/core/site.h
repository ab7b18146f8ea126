#pragma once
// Note [Source sites]
// Errors name the line of the user's code that created the op involved (`file.py:LINE in function`): the op's
// node records where it was made, and a version counter where its tensor was last written in place. Capturing
// is always on, so it must be cheap: a Site keeps only a reference to the code object of the innermost frame
// outside pyad and the offset of the instruction running there; the line and names are worked out only when an
// error is formatted. The core knows nothing of Python: the binding layer installs the hooks that capture,
// release and format a Site (csrc/python/sites.cpp); without them a Site stays empty and formats as "".
#include <string>

namespace pyad {

class Site {
 public:
  Site() = default;
  Site(const Site&) = delete;
  Site& operator=(const Site&) = delete;
  ~Site() { clear(); }

  // Where the running Python code is now (nothing if no Python frame is running on this thread).
  void capture();
  void clear();
  bool empty() const { return code_ == nullptr; }
  // "file.py:LINE in function", or "" when empty.
  std::string str() const;

  struct Hooks {
    void (*capture)(void*& code, int& offset);
    void (*release)(void* code);
    std::string (*format)(void* code, int offset);
  };
  static void set_hooks(const Hooks& hooks);

 private:
  void* code_ = nullptr;
  int offset_ = 0;
};

}  // namespace pyad
