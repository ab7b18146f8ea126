// The device runtime in a build without a CUDA compiler: it says that CUDA is
// unavailable, and raises a clear error where a GPU would be needed, so the
// core needs no #ifdef (kernels/cuda/no_cuda.cpp does the same for the kernels).
#include "core/device_runtime.h"
#include "core/error.h"

namespace pyad::gpu {

namespace {
[[noreturn]] void unavailable() {
  throw RuntimeError("[cuda] CUDA is not available: pyad was built without CUDA (no CUDA compiler was found at "
                     "build time)");
}
}  // namespace

bool compiled() { return false; }
bool is_available() { return false; }
int device_count() { return 0; }
std::string unavailable_reason() { return "pyad was built without CUDA"; }
std::string device_name(int) { unavailable(); }
void set_device(int) { unavailable(); }
void synchronize(int) { unavailable(); }
void* allocate(size_t, int) { unavailable(); }
// Nothing was ever allocated on a GPU, so there is nothing to give back.
void release(void*, int) {}
void empty_cache() {}
size_t memory_reserved(int) { return 0; }
void memcpy(void*, const void*, size_t, CopyKind) { unavailable(); }

}  // namespace pyad::gpu
