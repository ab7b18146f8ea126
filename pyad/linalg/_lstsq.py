"""lstsq through a QR factorization where A has full rank: X = R^{-1} Q^T B for tall A, the minimum-norm
X = Q R^{-T} B (from A^T = Q R) for wide A; where it does not, the minimum-norm solution pinv(A) B, with the rank
cut at rcond as LAPACK's drivers cut it. Composed of qr, the triangular solve and pinv, so both modes and higher
derivatives come from theirs."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from .. import _C, _functions as F
from . import _util as U
from ._decomp import qr
from ._pinv import pinv, rank_of, singular_values
from ._triangular import _TriSolve

Tensor = _C.Tensor

lstsq_result = namedtuple("lstsq", ["solution", "residuals", "rank", "singular_values"])

_DRIVERS = (None, "gels", "gelsy", "gelsd", "gelss")


def lstsq(A: Tensor, B: Tensor, rcond: float | None = None, *, driver: str | None = None) -> Any:
    """The least-squares solution X of A X = B (batched, broadcast), a named tuple (solution, residuals, rank,
    singular_values) as torch.linalg.lstsq, with each field filled as torch fills it for the driver (default
    'gelsy': rank only; 'gelsd' / 'gelss': singular values and, for tall A, the squared residuals; 'gels':
    residuals, computed where A is tall and every matrix has full rank, as torch). Rank-deficient A gets the
    minimum-norm solution, singular values at or below rcond * the largest counting as zero (rcond defaults to
    eps * max(m, n))."""
    op = "linalg.lstsq"
    U.matrix(A, op, square=False)
    if not isinstance(B, Tensor):
        raise TypeError(f"[{op}] expected B to be a Tensor, got {type(B).__name__}")
    U.same_kind(A, B, op)
    if driver not in _DRIVERS:
        raise ValueError(f"[{op}] driver must be one of 'gels', 'gelsy', 'gelsd', 'gelss' or None, got {driver!r}")
    vector = B.ndim == A.ndim - 1
    B2 = _C.unsqueeze(B, -1) if vector else B
    m, n = A.shape[-2], A.shape[-1]
    if B2.ndim < 2 or B2.shape[-2] != m:
        raise ValueError(f"[{op}] A of shape {tuple(A.shape)} and B of shape {tuple(B.shape)} do not fit")
    s = singular_values(A, op)
    # rcond None: torch's default, eps * max(m, n); a negative one counts every nonzero singular value
    tol = None if rcond is None else max(float(rcond), 0.0)
    rank = rank_of(s, None, tol, m, n, op)
    full = bool((rank.numpy() == min(m, n)).all())
    if not full:
        X = pinv(A, rtol=tol) @ B2
    elif m >= n:
        Q, R = qr(A)
        X = _TriSolve.apply(R, U.mT(Q) @ B2, True, False, False, True)
    else:
        Q, R = qr(U.mT(A))
        X = Q @ _TriSolve.apply(R, B2, True, False, True, True)
    empty = _C.zeros([0], A.dtype, A.device)
    residuals = empty
    if m > n and full and driver in ("gels", "gelsd", "gelss"):
        r = A @ X - B2
        residuals = F.sum(r * r, -2, False)
    sv = s if driver in ("gelsd", "gelss") else empty
    rk = rank if driver != "gels" else _C.zeros([0], _C.dtype.int64, A.device)
    return lstsq_result(_C.squeeze(X, -1) if vector else X, residuals, rk, sv)
