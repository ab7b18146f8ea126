"""pinv and matrix_rank: the pseudo-inverse from a truncated SVD (or, for hermitian=True, eigh), and its
derivative at constant rank (Golub and Pereyra 1973, the rule torch uses):

    dP = -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P,

whose adjoint is gA = -P^T G P^T + (I - A P) G^T P P^T + P^T P G^T (I - P A). Both are written with pyad ops,
so the second derivative comes from theirs. The rank (which singular values count) is held fixed, as torch
does: across a change of rank the pseudo-inverse is not continuous, so no derivative exists there."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _C, _functions as F
from ..autograd.function import Function
from . import _util as U

Tensor = _C.Tensor


def _cutoff(s: Tensor, atol: Any, rtol: Any, m: int, n: int, op: str) -> Tensor:
    """Per matrix (shape (..., 1)), the value singular values (or |eigenvalues|) must exceed to count:
    max(atol, rtol * s_max), with torch's defaults: rtol = eps * max(m, n), or 0 where only atol is given and
    is positive."""
    for name, t in (("atol", atol), ("rtol", rtol)):
        if t is not None and not isinstance(t, Tensor) and (not isinstance(t, (int, float)) or t < 0):
            raise ValueError(f"[{op}] {name} must be a non-negative number or a Tensor, got {t!r}")
    lead = list(s.shape[:-1]) + [1]

    def col(t: Any) -> Tensor:  # a number or a batch-shaped tensor as a (..., 1) column
        if isinstance(t, Tensor):
            return _C.unsqueeze(_C.to_dtype(t, s.dtype), -1)
        return _C.full(lead, float(t), s.dtype, s.device)

    eps = float(np.finfo(np.float32 if s.dtype == _C.dtype.float32 else np.float64).eps)
    default = col(eps * max(m, n))
    if rtol is not None:
        rel = col(rtol)
    elif atol is None:
        rel = default
    else:
        a = col(atol)
        rel = F.where(_C.gt(a, 0.0), 0.0, default)
    big = _C.unsqueeze(F.amax(s, -1, False), -1) if s.shape[-1] > 0 else _C.zeros(lead, s.dtype, s.device)
    return F.maximum(big * rel, col(0.0 if atol is None else atol))


def _inverse_values(s: Tensor, cut: Tensor) -> Tensor:
    keep = _C.gt(s, cut)
    return F.where(keep, 1.0 / F.where(keep, s, 1.0), 0.0)


class _Pinv(Function):
    handles_batch_dims = True

    @staticmethod
    def forward(ctx: Any, A: Tensor, atol: Any, rtol: Any, hermitian: bool) -> Tensor:
        op = "linalg.pinv"
        m, n = A.shape[-2], A.shape[-1]
        if hermitian:
            w, V, info = _C._linalg_eigh(A, False, True)
            U.check_info(info, op, lambda i: f"eigh did not converge ({i} off-diagonal elements)")
            inv = _inverse_values(_C.abs(w), _cutoff(_C.abs(w), atol, rtol, m, n, op))
            P = (V * _C.unsqueeze(F.where(_C.lt(w, 0.0), -inv, inv), -2)) @ U.mT(V)
        else:
            U.check_finite(A, op)
            Uu, S, Vh, info = _C._linalg_svd(A, False, True)
            U.check_info(info, op, lambda i: f"the SVD did not converge ({i} superdiagonals)")
            P = U.mT(Vh) @ (U.mT(Uu) * _C.unsqueeze(_inverse_values(S, _cutoff(S, atol, rtol, m, n, op)), -1))
        ctx.save_for_backward(A, P)
        return P

    @staticmethod
    def backward(ctx: Any, G: Tensor) -> Any:
        A, P = ctx.saved_tensors
        Pt, Gt = U.mT(P), U.mT(G)
        PPt, PtP = P @ Pt, Pt @ P
        first = -(Pt @ G @ Pt)
        X = Gt @ PPt  # (I - A P) Gt P P^T
        second = X - A @ (P @ X)
        Y = PtP @ Gt  # P^T P Gt (I - P A)
        third = Y - (Y @ P) @ A
        return first + second + third, None, None, None

    @staticmethod
    def jvp(ctx: Any, dA: Tensor, *_: Any) -> Tensor:
        A, P = ctx.saved_tensors
        Pt, dAt = U.mT(P), U.mT(dA)
        X = (P @ Pt) @ dAt  # P P^T dA^T (I - A P)
        Y = dAt @ (Pt @ P)  # (I - P A) dA^T P^T P
        return -(P @ dA @ P) + (X - (X @ A) @ P) + (Y - P @ (A @ Y))


def pinv(A: Tensor, *, atol: Any = None, rtol: Any = None, hermitian: bool = False) -> Tensor:
    """The Moore-Penrose pseudo-inverse of A (batched), as torch.linalg.pinv: singular values at or below
    max(atol, rtol * the largest) are treated as zero (rtol = eps * max(m, n) when neither is given); with
    hermitian=True A is taken as symmetric (its lower triangle) and goes through eigh. Differentiable in both
    modes where the rank does not change."""
    op = "linalg.pinv"
    U.matrix(A, op, square=hermitian)
    return _Pinv.apply(A, atol, rtol, hermitian)


def singular_values(A: Tensor, op: str, hermitian: bool = False) -> Tensor:
    """A's singular values (|eigenvalues| for hermitian=True), without history, A checked finite first."""
    A = A.detach()
    U.check_finite(A, op)
    if hermitian:
        w, _, info = _C._linalg_eigh(A, False, False)
        U.check_info(info, op, lambda i: f"eigh did not converge ({i} off-diagonal elements)")
        return _C.abs(w)
    _, s, _, info = _C._linalg_svd(A, False, False)
    U.check_info(info, op, lambda i: f"the SVD did not converge ({i} superdiagonals)")
    return s


def rank_of(s: Tensor, atol: Any, rtol: Any, m: int, n: int, op: str) -> Tensor:
    """How many of the singular values s (..., k) of (m, n) matrices exceed the cut (_cutoff), int64."""
    return _C.sum(_C.to_dtype(_C.gt(s, _cutoff(s, atol, rtol, m, n, op)), _C.dtype.int64), -1, False)


def matrix_rank(A: Tensor, *, atol: Any = None, rtol: Any = None, hermitian: bool = False) -> Tensor:
    """The numerical rank of A (batched, int64): how many singular values (|eigenvalues| for hermitian=True)
    exceed max(atol, rtol * the largest), as torch.linalg.matrix_rank."""
    op = "linalg.matrix_rank"
    U.matrix(A, op, square=hermitian)
    return rank_of(singular_values(A, op, hermitian), atol, rtol, A.shape[-2], A.shape[-1], op)
