// The linalg kernels of a CUDA build. pyad.linalg factors on the CPU (LAPACK); the GPU path (cuSOLVER, to be
// loaded at run time as cuBLAS is) is not written yet, so a GPU tensor gets a clear error naming the op and
// the way out, before any work is done.
#include "kernels/kernels.h"

namespace pyad::kernels::cuda {

namespace {
[[noreturn]] void cpu_only(const char* op) {
  throw RuntimeError(cat_str("[", op, "] pyad.linalg runs on the CPU only for now (cuSOLVER is not wired in): ",
                             "move the tensor with .cpu() first"));
}
}  // namespace

void lu_factor(const Tensor&, const Tensor&, const Tensor&) { cpu_only("linalg.lu_factor"); }
void lu_solve(const Tensor&, const Tensor&, const Tensor&, bool) { cpu_only("linalg.solve"); }
void lu_inverse(const Tensor&, const Tensor&, const Tensor&) { cpu_only("linalg.inv"); }
void cholesky(const Tensor&, const Tensor&) { cpu_only("linalg.cholesky"); }
void triangular_solve(const Tensor&, const Tensor&, bool, bool, bool, bool) { cpu_only("linalg.solve_triangular"); }
void qr(const Tensor&, const Tensor&, const Tensor&) { cpu_only("linalg.qr"); }
void eigh(const Tensor&, const Tensor&, bool, bool, const Tensor&) { cpu_only("linalg.eigh"); }
void svd(const Tensor&, const Tensor&, const Tensor&, const Tensor&, bool, const Tensor&) { cpu_only("linalg.svd"); }

}  // namespace pyad::kernels::cuda
