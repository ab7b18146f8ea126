// A build without a CUDA compiler: the CUDA entry points exist, say that CUDA
// is unavailable, and raise a clear error if called, so the core needs no #ifdef.
#include "../kernels.h"
#include "runtime.h"

namespace {
[[noreturn]] void unavailable() {
  throw pyad::RuntimeError("[cuda] pyad was built without CUDA (no CUDA compiler was found at build time)");
}
}  // namespace

namespace pyad::gpu {

bool compiled() { return false; }
bool is_available() { return false; }
int device_count() { return 0; }
std::string unavailable_reason() { return "pyad was built without CUDA"; }
std::string device_name(int) { unavailable(); }
void set_device(int) { unavailable(); }
void synchronize(int) { unavailable(); }
void* allocate(size_t, int) { unavailable(); }
void release(void*, int) {}
void empty_cache() {}
size_t memory_reserved(int) { return 0; }
void memcpy(void*, const void*, size_t, CopyKind) { unavailable(); }
void manual_seed(uint64_t) {}
std::string rng_state() { return "5489 0"; }
void set_rng_state(const std::string&) {}
std::pair<uint64_t, uint64_t> rng_reserve(uint64_t) { unavailable(); }
bool load_cublas(const std::string&) { return false; }
std::string cublas_error() { return "pyad was built without CUDA"; }
std::string matmul_backend() { return "pyad"; }
void set_matmul_backend(const std::string&) { unavailable(); }
}  // namespace pyad::gpu

namespace pyad::kernels::cuda {
void unary(Unary, const Tensor&, const Tensor&) { unavailable(); }
void binary(Binary, const Tensor&, const Tensor&, const Tensor&) { unavailable(); }
void where(const Tensor&, const Tensor&, const Tensor&, const Tensor&) { unavailable(); }
void copy(const Tensor&, const Tensor&) { unavailable(); }
void fill(const Tensor&, double) { unavailable(); }
bool all_finite(const Tensor&) { unavailable(); }
void arange(const Tensor&, double, double) { unavailable(); }
void reduce(Reduce, const Tensor&, const Tensor&) { unavailable(); }
void logsumexp(const Tensor&, const Tensor&) { unavailable(); }
void softmax(const Tensor&, int64_t, const Tensor&, bool) { unavailable(); }
void arg_reduce(bool, const Tensor&, int64_t, const Tensor&, const Tensor&) { unavailable(); }
void matmul(const Tensor&, const Tensor&, const Tensor&) { unavailable(); }
void uniform(const Tensor&, double, double) { unavailable(); }
void normal(const Tensor&, double, double) { unavailable(); }
}  // namespace pyad::kernels::cuda
