"""solve, inv, det and slogdet through one LU factorization (LAPACK's getrf / getrs).

The factors are computed once, in forward, and reused by the rules: solve's VJP needs A^{-T} g, which is one more
getrs on the same factors (adjoint=True), and its JVP A^{-1}(dB - dA X) likewise. _LUSolve takes A itself next to
its factors so that the rules, written with _LUSolve again, stay differentiable in A (double backward, hessian)."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np

from .. import _C
from .._composite import prod
from ..autograd.function import Function
from . import _util as U
from ._decomp import svd

Tensor = _C.Tensor

slogdet_result = namedtuple("slogdet", ["sign", "logabsdet"])


def _singular(op: str) -> Any:
    return lambda i: f"the input matrix is singular: U[{i - 1}, {i - 1}] of its LU factorization is exactly zero"


def lu_factor_checked(A: Tensor, op: str) -> tuple[Tensor, Tensor]:
    lu, piv, info = _C._linalg_lu_factor(A.detach())
    try:
        U.check_info(info, op, _singular(op))
    except U.LinAlgError:
        U.check_finite(A, op)  # a NaN can leave an exact zero pivot: say that, not "singular"
        raise
    return lu, piv


class _LUSolve(Function):
    """X = A^{-1} B (adjoint: A^{-T} B) from the LU factors of A, broadcast over batch dims."""

    handles_batch_dims = True

    @staticmethod
    def forward(ctx: Any, A: Tensor, B: Tensor, LU: Tensor, piv: Tensor, adjoint: bool) -> Tensor:
        ctx.set_materialize_grads(False)
        fold = U.fold_lead(B, LU.shape[:-2], True)
        if fold is not None:
            X = fold[1](_C._linalg_lu_solve(LU, piv, fold[0], adjoint))
        else:
            batch = U.broadcast_batch(LU.shape[:-2], B.shape[:-2], "linalg.solve", (A.shape, B.shape))
            n = LU.shape[-1]
            p = piv if list(piv.shape[:-1]) == batch else _C.expand(piv, batch + [n])
            X = _C._linalg_lu_solve(U.expand_batch(LU, batch), p, U.expand_batch(B, batch), adjoint)
        ctx.save_for_backward(A, X, LU, piv)
        ctx.adjoint, ctx.b_shape = adjoint, list(B.shape)
        return X

    @staticmethod
    def backward(ctx: Any, gX: Tensor | None) -> Any:
        if gX is None:
            return None, None, None, None, None
        A, X, LU, piv = ctx.saved_tensors
        gB = _LUSolve.apply(A, gX, LU, piv, not ctx.adjoint)
        gA = None
        if ctx.needs_input_grad[0]:
            gA = -(X @ U.mT(gB)) if ctx.adjoint else -(gB @ U.mT(X))
            gA = U.reduce_to(gA, A.shape, X.ndim)
        gB = U.reduce_to(gB, ctx.b_shape, X.ndim) if ctx.needs_input_grad[1] else None
        return gA, gB, None, None, None

    @staticmethod
    def jvp(ctx: Any, tA: Tensor | None, tB: Tensor | None, *_: Any) -> Tensor | None:
        A, X, LU, piv = ctx.saved_tensors
        rhs = None if tB is None else U.align(tB, len(ctx.b_shape), X.ndim)
        if tA is not None:
            tA = U.align(tA, A.ndim, X.ndim)
            term = (U.mT(tA) if ctx.adjoint else tA) @ X
            rhs = -term if rhs is None else rhs - term
        return None if rhs is None else _LUSolve.apply(A, rhs, LU, piv, ctx.adjoint)


def _is_vector_rhs(A: Tensor, B: Tensor) -> bool:
    # torch's rule: B is a batch of vectors when it is 1-d, or when it has A's batch dims and one dim fewer
    return B.ndim == 1 or (B.ndim == A.ndim - 1 and list(B.shape) == list(A.shape[:-1]))


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """X with A X = B (left=False: X A = B) for square A, batched and broadcast over leading dims, as
    torch.linalg.solve; B may be a (batch of) vector(s). Raises LinAlgError for a singular A."""
    op = "linalg.solve"
    U.matrix(A, op)
    if not isinstance(B, Tensor):
        raise TypeError(f"[{op}] expected B to be a Tensor, got {type(B).__name__}")
    U.same_kind(A, B, op)
    vector = left and _is_vector_rhs(A, B)
    B2 = _C.unsqueeze(B, -1) if vector else B
    if B2.ndim < 2:
        raise ValueError(f"[{op}] B of shape {tuple(B.shape)} is not a vector or matrix")
    n = A.shape[-1]
    rows = B2.shape[-2] if left else B2.shape[-1]
    if rows != n:
        raise ValueError(
            f"[{op}] A of shape {tuple(A.shape)} and B of shape {tuple(B.shape)} do not fit (B needs {n} "
            f"{'rows' if left else 'columns'}, has {rows})"
        )
    LU, piv = lu_factor_checked(A, op)
    if left:
        X = _LUSolve.apply(A, B2, LU, piv, False)
        return _C.squeeze(X, -1) if vector else X
    # X A = B  <=>  A^T X^T = B^T
    return U.mT(_LUSolve.apply(A, U.mT(B2), LU, piv, True))


def inv(A: Tensor) -> Tensor:
    """The inverse of square A (batched), as torch.linalg.inv; raises LinAlgError for a singular A."""
    return _inv(A, "linalg.inv")


class _Inv(Function):
    """X = A^{-1} (LAPACK getri on the LU factors), with torch's rules in terms of X itself: gA = -X^T g X^T,
    dX = -X dA X (two matrix products, no further solve)."""

    handles_batch_dims = True

    @staticmethod
    def forward(ctx: Any, A: Tensor, op: str) -> Tensor:
        LU, piv = lu_factor_checked(A, op)
        X = _C._linalg_lu_inverse(LU, piv)
        ctx.save_for_backward(X)
        return X

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor, None]:
        (X,) = ctx.saved_tensors
        Xt = U.mT(X)
        return -(Xt @ g @ Xt), None

    @staticmethod
    def jvp(ctx: Any, dA: Tensor, _: Any) -> Tensor:
        (X,) = ctx.saved_tensors
        return -(X @ dA @ X)


def _inv(A: Tensor, op: str) -> Tensor:
    return _Inv.apply(U.matrix(A, op), op)


def _perm_sign(piv: Tensor, like: Tensor) -> Tensor:
    """(-1)^(number of row swaps) of LAPACK's 1-based pivots, in like's dtype and device."""
    n = piv.shape[-1]
    swaps = _C.sum(_C.ne(piv, _C.arange(1, n + 1, 1, piv.dtype, piv.device)), -1, False)
    odd = _C.to_dtype(_C.remainder(swaps, 2), like.dtype)
    return _C.to_device(1.0 - odd * 2.0, like.device)


def _lu_diag(A: Tensor) -> tuple[Tensor, Tensor]:
    lu, piv, _ = _C._linalg_lu_factor(A.detach())  # a singular A has a zero pivot: det 0, no error
    return U.diag(lu), _perm_sign(piv, lu)


class _Det(Function):
    handles_batch_dims = True

    @staticmethod
    def forward(ctx: Any, A: Tensor) -> Tensor:
        d, sign = _lu_diag(A)
        det = prod(d, -1) * sign if A.shape[-1] > 0 else _C.ones(list(A.shape[:-2]), A.dtype, A.device)
        ctx.save_for_backward(A, det)
        return det

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        A, det = ctx.saved_tensors
        if _near_singular(A, det):
            return _cofactors_svd(A, g)
        # d det / dA = det A^{-T}, the cofactor matrix
        scale = _C.unsqueeze(_C.unsqueeze(g * det, -1), -1)
        return scale * U.mT(_inv(A, "linalg.det (backward)"))

    @staticmethod
    def jvp(ctx: Any, tA: Tensor) -> Tensor:
        A, det = ctx.saved_tensors
        if _near_singular(A, det):
            # d det = <cof(A), dA>, the backward's cofactors, which stay finite where A^{-1} does not (torch's
            # forward mode returns 0 there, though the cofactors of a rank n - 1 matrix are not all zero)
            cof = _cofactors_svd(A, _C.ones(list(det.shape), det.dtype, det.device))
            return _C.sum(cof * tA, [-2, -1], False)
        return det * U.trace(_solve_for_rule(A, tA, "linalg.det (forward AD)"))


def _near_singular(A: Tensor, det: Tensor) -> bool:
    """Whether some matrix of the batch is singular to working precision, |det A| <= eps ||A||_F (torch's cutoff
    for its SVD path), where det A^{-T} cannot be formed or loses all its digits."""
    if A.shape[-1] == 0 or A.numel() == 0:
        return False
    A, det = A.detach(), det.detach()
    eps = float(np.finfo(np.float32 if A.dtype == _C.dtype.float32 else np.float64).eps)
    fro = _C.sqrt(_C.sum(_C.reshape(A * A, list(A.shape[:-2]) + [-1]), -1, False))
    return bool(_C.sum(_C.to_dtype(_C.le(_C.abs(det), fro * eps), _C.dtype.int64), None, False).item())


def _cofactors_svd(A: Tensor, g: Tensor) -> Tensor:
    """g times A's cofactor matrix, also where A is singular (torch's rule there): with A = U diag(S) Vh,
    cof(A) = det(U) det(Vh) U diag(prod_{j != i} S_j) Vh, which divides by nothing. Written with pyad ops (svd,
    det of the orthogonal factors), so that it is differentiable in turn."""
    Uu, S, Vh = svd(A, full_matrices=False)
    alpha = _Det.apply(Uu) * _Det.apply(Vh) * g
    eye = U.eye_like(S, S.shape[-1])
    others = prod(_C.unsqueeze(S, -2) * (1.0 - eye) + eye, -1)  # row i: S with its i-th entry replaced by 1
    D = others * _C.unsqueeze(alpha, -1)
    return (Uu * _C.unsqueeze(D, -2)) @ Vh


def _solve_for_rule(A: Tensor, T: Tensor, op: str) -> Tensor:
    LU, piv = lu_factor_checked(A, op)
    return _LUSolve.apply(A, T, LU, piv, False)


def det(A: Tensor) -> Tensor:
    """The determinant of square A (batched), as torch.linalg.det. Its gradient is the cofactor matrix: det(A) A^{-T}
    where A is invertible, and, as torch, through an SVD where some matrix of the batch is singular to working
    precision; forward mode uses the same cofactors there."""
    return _Det.apply(U.matrix(A, "linalg.det"))


class _Slogdet(Function):
    handles_batch_dims = True

    @staticmethod
    def forward(ctx: Any, A: Tensor) -> tuple[Tensor, Tensor]:
        ctx.set_materialize_grads(False)
        if A.shape[-1] == 0:
            sign = _C.ones(list(A.shape[:-2]), A.dtype, A.device)
            logabs = _C.zeros(list(A.shape[:-2]), A.dtype, A.device)
        else:
            d, psign = _lu_diag(A)
            sign = prod(_C.sign(d), -1) * psign
            logabs = _C.sum(_C.log(_C.abs(d)), -1, False)
        ctx.mark_non_differentiable(sign)
        ctx.save_for_backward(A)
        return sign, logabs

    @staticmethod
    def backward(ctx: Any, g_sign: Tensor | None, g_log: Tensor | None) -> Tensor | None:
        if g_log is None:
            return None
        (A,) = ctx.saved_tensors
        return _C.unsqueeze(_C.unsqueeze(g_log, -1), -1) * U.mT(_inv(A, "linalg.slogdet (backward)"))

    @staticmethod
    def jvp(ctx: Any, tA: Tensor) -> tuple[None, Tensor]:
        (A,) = ctx.saved_tensors
        return None, U.trace(_solve_for_rule(A, tA, "linalg.slogdet (forward AD)"))


def slogdet(A: Tensor) -> Any:
    """(sign, logabsdet) of square A (batched), a named tuple as torch.linalg.slogdet: det = sign * exp(logabsdet),
    (0, -inf) for a singular A. Only logabsdet is differentiable."""
    return slogdet_result(*_Slogdet.apply(U.matrix(A, "linalg.slogdet")))
