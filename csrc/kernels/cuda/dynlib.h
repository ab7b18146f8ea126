#pragma once
// dlopen and dlsym for the NVIDIA libraries pyad loads at run time instead of linking them (cuBLAS in
// matmul.cu, cuSOLVER in linalg.cu): the build needs neither their headers nor their libraries, and a machine
// without them still runs everything else.
#include <dlfcn.h>
#include <string>
#include <vector>
#include "core/error.h"

namespace pyad::gpu {

// `path` when given, else the first of `sonames` the loader finds; null with *error saying why.
inline void* open_library(const std::string& path, const std::vector<std::string>& sonames, std::string* error) {
  for (const std::string& name : path.empty() ? sonames : std::vector<std::string>{path}) {
    if (void* lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL)) return lib;
    const char* e = dlerror();
    *error = e ? e : cat_str("dlopen(", name, ") failed");
  }
  return nullptr;
}

// One entry point of `lib` (the library named `what` in the error) into `out`; false with *error if absent.
template <class F>
bool find_symbol(void* lib, const char* name, const char* what, F& out, std::string* error) {
  out = reinterpret_cast<F>(dlsym(lib, name));
  if (!out) *error = cat_str("symbol ", name, " not found in the ", what, " library");
  return out != nullptr;
}

// The handle a loaded library (cuBLAS, cuSOLVER: a struct with create, set_stream and handles[64]) keeps for
// device `dev`, created on first use and bound to `stream`; raises naming `who` (the op) and `lib_name`.
template <class Lib, class Stream>
void* device_handle(Lib& lib, int dev, Stream stream, const std::string& who, const char* lib_name) {
  PYAD_CHECK(dev >= 0 && dev < 64, RuntimeError, "[", who, "] ", lib_name, " handles are kept for 64 devices");
  void*& h = lib.handles[dev];
  if (!h) {
    const int st = lib.create(&h);
    PYAD_CHECK(st == 0, RuntimeError, "[", who, "] creating a ", lib_name, " handle failed with status ", st);
    lib.set_stream(h, stream);
  }
  return h;
}

}  // namespace pyad::gpu
