// A build without a CUDA compiler: the CUDA kernels exist and raise a clear
// error if called, so dispatch needs no #ifdef (core/cuda/no_cuda.cpp does the
// same for the device runtime). What works in a CUDA build on a machine
// without a GPU (the matmul backend's name; the generator, gpu_generator.cpp)
// works the same here.
#include "kernels/kernels.h"
#include "kernels/cuda/linalg_backend.h"
#include "kernels/cuda/matmul_backend.h"

namespace {
[[noreturn]] void unavailable() {
  throw pyad::RuntimeError("[cuda] CUDA is not available: pyad was built without CUDA (no CUDA compiler was found "
                           "at build time)");
}
}  // namespace

namespace pyad::gpu {

bool load_cublas(const std::string&) { return false; }
std::string cublas_error() { return "pyad was built without CUDA"; }
std::string matmul_backend() { return "pyad"; }
bool load_cusolver(const std::string&) { return false; }
std::string cusolver_error() { return "pyad was built without CUDA"; }
void set_matmul_backend(const std::string& name) {
  PYAD_CHECK(name == "pyad" || name == "cublas", ValueError,
             "[cuda.set_matmul_backend] expected 'pyad' or 'cublas', "
             "got '",
             name, "'");
  PYAD_CHECK(name == "pyad", RuntimeError,
             "[cuda.set_matmul_backend] cuBLAS is not loaded: pyad was built without "
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
void sort(const Tensor&, int64_t, bool, int64_t, const Tensor&, const Tensor&) { unavailable(); }
void gather(const Tensor&, int64_t, const Tensor&, const Tensor&) { unavailable(); }
void scatter(const Tensor&, int64_t, const Tensor&, const Tensor&, bool) { unavailable(); }
// linalg
void lu_factor(const Tensor&, const Tensor&, const Tensor&) { unavailable(); }
void lu_solve(const Tensor&, const Tensor&, const Tensor&, bool) { unavailable(); }
void lu_inverse(const Tensor&, const Tensor&, const Tensor&) { unavailable(); }
void cholesky(const Tensor&, const Tensor&) { unavailable(); }
void triangular_solve(const Tensor&, const Tensor&, bool, bool, bool, bool) { unavailable(); }
void qr(const Tensor&, const Tensor&, const Tensor&) { unavailable(); }
void eigh(const Tensor&, const Tensor&, bool, bool, const Tensor&) { unavailable(); }
void svd(const Tensor&, const Tensor&, const Tensor&, const Tensor&, bool, const Tensor&) { unavailable(); }
// ---- fused kernels of the training loop (nnperf) ----
void cross_entropy_rows(const Tensor&, const Tensor&, int64_t, const Tensor&, const Tensor&) { unavailable(); }
void cross_entropy_rows_backward(const Tensor&, const Tensor&, int64_t, const Tensor&, const Tensor&, const Tensor&) {
  unavailable();
}
void adam_step(const std::vector<Tensor>&, const std::vector<Tensor>&, const std::vector<Tensor>&,
               const std::vector<Tensor>&, const std::vector<Tensor>&, const AdamScalars&) {
  unavailable();
}
void sgd_step(const std::vector<Tensor>&, const std::vector<Tensor>&, const std::vector<Tensor>&, const SgdScalars&) {
  unavailable();
}
void embedding_rows(const Tensor&, const Tensor&, const Tensor&) { unavailable(); }
void embedding_rows_backward(const Tensor&, const Tensor&, const Tensor&) { unavailable(); }
}  // namespace pyad::kernels::cuda
