// Bindings of the linalg primitives (csrc/ops/linalg.cpp) as private _C functions: pyad/linalg/ builds the
// public, differentiable torch.linalg API on them, so they are not op exports (no def_op).
#include "python/bind.h"
#include "ops/ops.h"

namespace pyad::python {

void init_linalg(py::module_& m) {
  m.def(
      "_linalg_lu_factor",
      [](const Tensor& a) {
        py::gil_scoped_release nogil;
        return linalg_lu_factor(a);
      },
      py::arg("A"), "(LU, pivots, info) of P A = L U for a batch of square matrices (no history).");
  m.def(
      "_linalg_lu_solve",
      [](const Tensor& lu, const Tensor& piv, const Tensor& b, bool adjoint) {
        py::gil_scoped_release nogil;
        return linalg_lu_solve(lu, piv, b, adjoint);
      },
      py::arg("LU"), py::arg("pivots"), py::arg("B"), py::arg("adjoint") = false,
      "A^{-1} B (adjoint: A^{-T} B) from _linalg_lu_factor's factors (no history).");
  m.def(
      "_linalg_cholesky",
      [](const Tensor& a) {
        py::gil_scoped_release nogil;
        return linalg_cholesky_raw(a);
      },
      py::arg("A"), "(L, info): the lower Cholesky factor (no history).");
  m.def(
      "_linalg_triangular_solve",
      [](const Tensor& a, const Tensor& b, bool upper, bool transpose, bool unit, bool left) {
        py::gil_scoped_release nogil;
        return linalg_triangular_solve_raw(a, b, upper, transpose, unit, left);
      },
      py::arg("A"), py::arg("B"), py::arg("upper"), py::arg("transpose") = false, py::arg("unitriangular") = false,
      py::arg("left") = true, "op(T)^{-1} B (left=False: B op(T)^{-1}) for the triangle T of A (no history).");
  m.def(
      "_linalg_lu_inverse",
      [](const Tensor& lu, const Tensor& piv) {
        py::gil_scoped_release nogil;
        return linalg_lu_inverse(lu, piv);
      },
      py::arg("LU"), py::arg("pivots"), "A^{-1} from _linalg_lu_factor's factors (no history).");
  m.def(
      "_linalg_qr",
      [](const Tensor& a, const std::string& mode) {
        py::gil_scoped_release nogil;
        return linalg_qr_raw(a, mode);
      },
      py::arg("A"), py::arg("mode") = "reduced", "(Q, R) of A = Q R (no history; mode 'r': Q is empty).");
  m.def(
      "_linalg_eigh",
      [](const Tensor& a, bool upper, bool vectors) {
        py::gil_scoped_release nogil;
        return linalg_eigh_raw(a, upper, vectors);
      },
      py::arg("A"), py::arg("upper") = false, py::arg("vectors") = true,
      "(eigenvalues, eigenvectors, info) of symmetric matrices (no history).");
  m.def(
      "_linalg_svd",
      [](const Tensor& a, bool full, bool vectors) {
        py::gil_scoped_release nogil;
        return linalg_svd_raw(a, full, vectors);
      },
      py::arg("A"), py::arg("full_matrices") = false, py::arg("vectors") = true,
      "(U, S, Vh, info) of A = U diag(S) Vh (no history; vectors=False: U and Vh are empty).");
}

}  // namespace pyad::python
