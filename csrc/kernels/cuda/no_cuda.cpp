// A build without a CUDA compiler: the CUDA entry points exist, say that CUDA
// is unavailable, and raise a clear error if called, so the core needs no #ifdef.
// Everything that works in a CUDA build on a machine without a GPU (the
// generator's state, the matmul backend's name) works the same here.
#include <sstream>
#include "../kernels.h"
#include "runtime.h"

namespace {
[[noreturn]] void unavailable() {
  throw pyad::RuntimeError("[cuda] CUDA is not available: pyad was built without CUDA (no CUDA compiler was found "
                           "at build time)");
}
uint64_t g_seed = 5489u, g_offset = 0;
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
void manual_seed(uint64_t seed) {
  g_seed = seed;
  g_offset = 0;
}
std::string rng_state() { return cat_str(g_seed, " ", g_offset); }
void set_rng_state(const std::string& state) {
  std::istringstream is(state);
  uint64_t s = 0, o = 0;
  is >> s >> o;
  PYAD_CHECK(!is.fail(), ValueError, "[cuda.set_rng_state] the state is not one that cuda.get_rng_state returned");
  g_seed = s;
  g_offset = o;
}
std::pair<uint64_t, uint64_t> rng_reserve(uint64_t) { unavailable(); }
bool load_cublas(const std::string&) { return false; }
std::string cublas_error() { return "pyad was built without CUDA"; }
std::string matmul_backend() { return "pyad"; }
void set_matmul_backend(const std::string& name) {
  PYAD_CHECK(name == "pyad" || name == "cublas", ValueError, "[cuda.set_matmul_backend] expected 'pyad' or 'cublas', "
             "got '", name, "'");
  PYAD_CHECK(name == "pyad", RuntimeError, "[cuda.set_matmul_backend] cuBLAS is not loaded: pyad was built without "
             "CUDA");
}
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
void cumulative(bool, const Tensor&, int64_t, const Tensor&) { unavailable(); }
}  // namespace pyad::kernels::cuda
