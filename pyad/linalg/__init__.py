"""pyad.linalg: torch.linalg's functions with its names and semantics, batched over leading dims, on the CPU
through the LAPACK that scipy-openblas32 ships and on the GPU through cuSOLVER (csrc/kernels/cuda/linalg.cu).

Each function is differentiable in both modes: the factorizations and pinv are autograd Functions
(pyad.autograd.Function) whose VJP and JVP are written with pyad ops, the linalg functions among them, so double
backward, hessian and jacfwd go through them too; the rest (inv, norms, lstsq, cholesky_solve's triangle) are
compositions. The rules take batched tangents and cotangents in one call (handles_batch_dims), so jacfwd and
jacrev push all their directions through one factorization. Singular or non-positive-definite input raises
LinAlgError, naming the op and the batch element, never a NaN in silence."""

from ._decomp import eigh, eigvalsh, qr, svd, svdvals
from ._lstsq import lstsq
from ._norms import matrix_norm, norm, vector_norm
from ._pinv import matrix_rank, pinv
from ._solve import det, inv, slogdet, solve
from ._triangular import cholesky, cholesky_solve, solve_triangular
from ._util import LinAlgError

__all__ = [
    "LinAlgError",
    "cholesky",
    "cholesky_solve",
    "det",
    "eigh",
    "eigvalsh",
    "inv",
    "lstsq",
    "matrix_norm",
    "matrix_rank",
    "norm",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "solve_triangular",
    "svd",
    "svdvals",
    "vector_norm",
]

# Under vmap each function runs once per sample (they are autograd Functions that check for Tensors).
from .._batched import loops_under_vmap as _loops_under_vmap  # noqa: E402

for _name in __all__:
    if _name != "LinAlgError":
        globals()[_name] = _loops_under_vmap(globals()[_name])
del _name
