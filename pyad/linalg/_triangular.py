"""Triangular systems and the Cholesky factorization: solve_triangular (BLAS trsm), cholesky (LAPACK potrf) and
cholesky_solve, with torch's derivatives."""

from __future__ import annotations

from typing import Any

from .. import _C
from ..autograd.function import Function
from . import _util as U

Tensor = _C.Tensor


def _triangle(x: Tensor, upper: bool, unit: bool) -> Tensor:
    """The part of x a triangular solve reads: its upper or lower triangle, without the diagonal when unit."""
    k = (1 if upper else -1) if unit else 0
    return _C.triu(x, k) if upper else _C.tril(x, k)


class _TriSolve(Function):
    """X = M^{-1} B (left) or X = B M^{-1} (right), M = op(T): T the upper or lower triangle of A (unit: ones on
    its diagonal), op the transpose when `trans`; batch dims broadcast."""

    handles_batch_dims = True

    @staticmethod
    def forward(ctx: Any, A: Tensor, B: Tensor, upper: bool, unit: bool, trans: bool, left: bool) -> Tensor:
        ctx.set_materialize_grads(False)
        fold = U.fold_lead(B, A.shape[:-2], left)
        if fold is not None:
            X = fold[1](_C._linalg_triangular_solve(A, fold[0], upper, trans, unit, left))
        else:
            batch = U.broadcast_batch(A.shape[:-2], B.shape[:-2], "linalg.solve_triangular", (A.shape, B.shape))
            Ab, Bb = U.expand_batch(A, batch), U.expand_batch(B, batch)
            X = _C._linalg_triangular_solve(Ab, Bb, upper, trans, unit, left)
        ctx.save_for_backward(A, X)
        ctx.flags, ctx.b_shape = (upper, unit, trans, left), list(B.shape)
        return X

    @staticmethod
    def backward(ctx: Any, gX: Tensor | None) -> Any:
        if gX is None:
            return None, None, None, None, None, None
        A, X = ctx.saved_tensors
        upper, unit, trans, left = ctx.flags
        gB = _TriSolve.apply(A, gX, upper, unit, not trans, left)  # M^{-T} g (left), g M^{-T} (right)
        gA = None
        if ctx.needs_input_grad[0]:
            gM = -(gB @ U.mT(X)) if left else -(U.mT(X) @ gB)
            gA = U.reduce_to(_triangle(U.mT(gM) if trans else gM, upper, unit), A.shape, X.ndim)
        gB = U.reduce_to(gB, ctx.b_shape, X.ndim) if ctx.needs_input_grad[1] else None
        return gA, gB, None, None, None, None

    @staticmethod
    def jvp(ctx: Any, tA: Tensor | None, tB: Tensor | None, *_: Any) -> Tensor | None:
        # left: dX = M^{-1} (dB - dM X); right: dX = (dB - X dM) M^{-1}
        A, X = ctx.saved_tensors
        upper, unit, trans, left = ctx.flags
        rhs = None if tB is None else U.align(tB, len(ctx.b_shape), X.ndim)
        if tA is not None:
            tT = _triangle(U.align(tA, A.ndim, X.ndim), upper, unit)
            dM = U.mT(tT) if trans else tT
            term = dM @ X if left else X @ dM
            rhs = -term if rhs is None else rhs - term
        return None if rhs is None else _TriSolve.apply(A, rhs, upper, unit, trans, left)


def _check_nonsingular(A: Tensor, op: str) -> None:
    # trsm divides by the diagonal without a check; an exact zero there would give inf and NaN in silence
    zero = _C.eq(U.diag(A.detach()), 0.0)
    if bool(_C.sum(_C.to_dtype(zero, _C.dtype.int64), None, False).item()):
        info = _C.sum(_C.to_dtype(zero, _C.dtype.int64), -1, False)
        U.check_info(info, op, lambda _: "the triangular matrix is singular: a diagonal element is exactly zero")


def solve_triangular(A: Tensor, B: Tensor, *, upper: bool, left: bool = True, unitriangular: bool = False) -> Tensor:
    """X with T X = B (left=False: X T = B) for the upper or lower triangle T of A (unitriangular: its diagonal
    taken as ones), batched and broadcast, as torch.linalg.solve_triangular. A zero on T's diagonal raises
    LinAlgError (torch returns inf/NaN there)."""
    op = "linalg.solve_triangular"
    U.matrix(A, op)
    U.matrix(B, op, "B", square=False)
    U.same_kind(A, B, op)
    n = A.shape[-1]
    rows = B.shape[-2] if left else B.shape[-1]
    if rows != n:
        raise ValueError(
            f"[{op}] A of shape {tuple(A.shape)} and B of shape {tuple(B.shape)} do not fit (B needs {n} "
            f"{'rows' if left else 'columns'}, has {rows})"
        )
    if not unitriangular:
        _check_nonsingular(A, op)
    return _TriSolve.apply(A, B, bool(upper), bool(unitriangular), False, bool(left))


def _not_pd(i: int) -> str:
    return (
        f"the factorization could not be completed because the input is not positive-definite (the leading minor "
        f"of order {i} is not positive-definite)"
    )


class _Cholesky(Function):
    """L lower triangular with A = L L^T, read from A's lower triangle (as LAPACK and torch)."""

    handles_batch_dims = True

    @staticmethod
    def forward(ctx: Any, A: Tensor) -> Tensor:
        L, info = _C._linalg_cholesky(A)
        U.check_info(info, "linalg.cholesky", _not_pd)
        ctx.save_for_backward(L)
        return L

    @staticmethod
    def backward(ctx: Any, gL: Tensor) -> Tensor:
        # torch's rule: gA = L^{-T} Phi*(tril(L^T gL)) L^{-1}, Phi*(X) = (X + X^T - diag X) / 2
        (L,) = ctx.saved_tensors
        P = _C.tril(U.mT(L) @ gL, 0)
        P = (P + U.mT(_C.tril(P, -1))) * 0.5
        S = _TriSolve.apply(L, P, False, False, True, True)  # L^{-T} P
        return _TriSolve.apply(L, S, False, False, False, False)  # S L^{-1}

    @staticmethod
    def jvp(ctx: Any, tA: Tensor) -> Tensor:
        # dL = L Phi(L^{-1} dA L^{-T}), Phi(X) = tril(X) - diag(X) / 2
        (L,) = ctx.saved_tensors
        Y = _TriSolve.apply(L, U.align(tA, L.ndim, L.ndim), False, False, False, True)  # L^{-1} dA
        Y = _TriSolve.apply(L, Y, False, False, True, False)  # L^{-1} dA L^{-T}
        Phi = _C.tril(Y, 0) - U.diag_embed(U.diag(Y) * 0.5)
        return L @ Phi


def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:
    """The Cholesky factor of symmetric positive-definite A (batched; read from its lower triangle): lower L with
    A = L L^T, or upper=True: U = L^T. Raises LinAlgError where A is not positive-definite."""
    L = _Cholesky.apply(U.matrix(A, "linalg.cholesky"))
    return U.mT(L) if upper else L


class _CholeskySolve(Function):
    """X = (L L^T)^{-1} B, L lower triangular; differentiated in L as a full matrix, as torch's cholesky_solve."""

    handles_batch_dims = True

    @staticmethod
    def forward(ctx: Any, B: Tensor, L: Tensor) -> Tensor:
        ctx.set_materialize_grads(False)
        batch = U.broadcast_batch(L.shape[:-2], B.shape[:-2], "linalg.cholesky_solve", (B.shape, L.shape))
        Lb = U.expand_batch(L, batch)
        Y = _C._linalg_triangular_solve(Lb, U.expand_batch(B, batch), False, False, False, True)
        X = _C._linalg_triangular_solve(Lb, Y, False, True, False, True)
        ctx.save_for_backward(L, X)
        ctx.b_shape = list(B.shape)
        return X

    @staticmethod
    def backward(ctx: Any, gX: Tensor | None) -> Any:
        if gX is None:
            return None, None
        L, X = ctx.saved_tensors
        gB = _CholeskySolve.apply(gX, L)
        gL = None
        if ctx.needs_input_grad[1]:
            C = gB @ U.mT(X)
            gL = U.reduce_to(-((C + U.mT(C)) @ L), L.shape, X.ndim)
        gB = U.reduce_to(gB, ctx.b_shape, X.ndim) if ctx.needs_input_grad[0] else None
        return gB, gL

    @staticmethod
    def jvp(ctx: Any, tB: Tensor | None, tL: Tensor | None) -> Tensor | None:
        L, X = ctx.saved_tensors
        rhs = None if tB is None else U.align(tB, len(ctx.b_shape), X.ndim)
        if tL is not None:
            tL = U.align(tL, L.ndim, X.ndim)
            dA = tL @ U.mT(L) + L @ U.mT(tL)
            rhs = -(dA @ X) if rhs is None else rhs - dA @ X
        return None if rhs is None else _CholeskySolve.apply(rhs, L)


def cholesky_solve(B: Tensor, L: Tensor, upper: bool = False) -> Tensor:
    """X with A X = B where A = L L^T (upper=True: A = U^T U) from A's Cholesky factor, batched and broadcast, as
    torch.cholesky_solve."""
    op = "linalg.cholesky_solve"
    U.matrix(L, op, "L")
    U.matrix(B, op, "B", square=False)
    U.same_kind(L, B, op)
    if B.shape[-2] != L.shape[-1]:
        raise ValueError(f"[{op}] B of shape {tuple(B.shape)} does not fit L of shape {tuple(L.shape)}")
    _check_nonsingular(L, op)
    Lo = U.mT(L) if upper else L
    return _CholeskySolve.apply(B, Lo)
