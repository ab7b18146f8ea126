"""Factorizations with their derivatives: qr (LAPACK geqrf / orgqr), eigh and eigvalsh (syevd), svd and svdvals
(gesdd). The rules are torch's (real case), written with pyad ops."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from .. import _C
from .._composite import narrow
from ..autograd.function import Function
from . import _util as U
from ._triangular import _TriSolve

Tensor = _C.Tensor

qr_result = namedtuple("qr", ["Q", "R"])
eigh_result = namedtuple("eigh", ["eigenvalues", "eigenvectors"])
svd_result = namedtuple("svd", ["U", "S", "Vh"])


def _zeros_like(x: Tensor) -> Tensor:
    return _C.zeros(list(x.shape), x.dtype, x.device)


def _right_rinv(Z: Tensor, R: Tensor) -> Tensor:
    """Z R^{-1} for upper triangular R."""
    return _TriSolve.apply(R, Z, True, False, False, False)


def _right_rinvT(Z: Tensor, R: Tensor) -> Tensor:
    """Z R^{-T} for upper triangular R."""
    return _TriSolve.apply(R, Z, True, False, True, False)


def _qr_backward_tall(Q: Tensor, R: Tensor, gQ: Tensor, gR: Tensor) -> Tensor:
    # m >= n: gA = [gQ + Q copyltu(M)] R^{-T}, M = R gR^T - gQ^T Q, copyltu(M) = tril(M) + tril(M, -1)^T
    M = R @ U.mT(gR) - U.mT(gQ) @ Q
    return _right_rinvT(gQ + Q @ (_C.tril(M, 0) + U.mT(_C.tril(M, -1))), R)


def _qr_jvp_tall(Q: Tensor, R: Tensor, dA: Tensor) -> tuple[Tensor, Tensor]:
    # Q^T dA R^{-1} = Q^T dQ (skew) + dR R^{-1} (upper triangular): the strict lower part fixes the skew part
    X = _right_rinv(U.mT(Q) @ dA, R)
    low = _C.tril(X, -1)
    dR = (X - (low - U.mT(low))) @ R
    dQ = _right_rinv(dA - Q @ dR, R)
    return dQ, dR


class _QR(Function):
    handles_batch_dims = True

    @staticmethod
    def forward(ctx: Any, A: Tensor, mode: str) -> tuple[Tensor, Tensor]:
        ctx.set_materialize_grads(False)
        Q, R = _C._linalg_qr(A, mode)
        ctx.save_for_backward(A, Q, R)
        ctx.mode = mode
        return Q, R

    @staticmethod
    def _check(ctx: Any, A: Tensor) -> None:
        m, n = A.shape[-2], A.shape[-1]
        if ctx.mode == "r":
            raise RuntimeError(
                "[linalg.qr] the derivative of linalg.qr depends on Q, which is not computed when mode='r'; use "
                "mode='reduced' to differentiate through it"
            )
        if ctx.mode == "complete" and m > n:
            raise RuntimeError(
                f"[linalg.qr] QR is not differentiable when mode='complete' and rows > columns (A of shape "
                f"{tuple(A.shape)}): Q's last {m - n} columns are not unique"
            )

    @staticmethod
    def backward(ctx: Any, gQ: Tensor | None, gR: Tensor | None) -> Any:
        A, Q, R = ctx.saved_tensors
        _QR._check(ctx, A)
        if gQ is None and gR is None:
            return None, None
        ref = gQ if gQ is not None else gR
        assert ref is not None
        lead = list(ref.shape[: ref.ndim - A.ndim])
        gQ = gQ if gQ is not None else _C.zeros(lead + list(Q.shape), Q.dtype, Q.device)
        gR = gR if gR is not None else _C.zeros(lead + list(R.shape), R.dtype, R.device)
        m, n = A.shape[-2], A.shape[-1]
        if m >= n:
            return _qr_backward_tall(Q, R, gQ, gR), None
        # m < n: A = [X | Y], R = [Ur | V] with X = Q Ur square; Y = Q V adds Y gV^T to Q's gradient
        Y = narrow(A, -1, m, n - m)
        Ur = narrow(R, -1, 0, m)
        gU, gV = narrow(gR, -1, 0, m), narrow(gR, -1, m, n - m)
        gX = _qr_backward_tall(Q, Ur, gQ + Y @ U.mT(gV), gU)
        return _C.cat([gX, Q @ gV], -1), None

    @staticmethod
    def jvp(ctx: Any, dA: Tensor, _: Any) -> tuple[Tensor, Tensor]:
        A, Q, R = ctx.saved_tensors
        _QR._check(ctx, A)
        m, n = A.shape[-2], A.shape[-1]
        if m >= n:
            return _qr_jvp_tall(Q, R, dA)
        dX, dY = narrow(dA, -1, 0, m), narrow(dA, -1, m, n - m)
        Ur, V = narrow(R, -1, 0, m), narrow(R, -1, m, n - m)
        dQ, dU = _qr_jvp_tall(Q, Ur, dX)
        dV = U.mT(Q) @ (dY - dQ @ V)
        return dQ, _C.cat([dU, dV], -1)


def qr(A: Tensor, mode: str = "reduced") -> Any:
    """(Q, R) with A = Q R, Q orthonormal columns and R upper triangular (batched), a named tuple as
    torch.linalg.qr. mode 'reduced' (k = min(m, n) columns of Q), 'complete' (Q square) or 'r' (R only, Q
    empty). Differentiable for 'reduced', and for 'complete' where rows <= columns, as torch."""
    op = "linalg.qr"
    U.matrix(A, op, square=False)
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"[{op}] mode must be 'reduced', 'complete' or 'r', got {mode!r}")
    return qr_result(*_QR.apply(A, mode))


def _no_convergence(op: str) -> Any:
    return lambda i: f"the algorithm failed to converge ({i} off-diagonal elements did not converge to zero)"


def _uplo(UPLO: str, op: str) -> bool:
    if UPLO not in ("L", "U"):
        raise ValueError(f"[{op}] UPLO must be 'L' or 'U', got {UPLO!r}")
    return UPLO == "U"


class _Eigh(Function):
    handles_batch_dims = True

    @staticmethod
    def forward(ctx: Any, A: Tensor, upper: bool) -> tuple[Tensor, Tensor]:
        ctx.set_materialize_grads(False)
        w, V, info = _C._linalg_eigh(A, upper, True)
        U.check_info(info, "linalg.eigh", _no_convergence("linalg.eigh"))
        ctx.save_for_backward(w, V)
        return w, V

    @staticmethod
    def _gaps(w: Tensor) -> Tensor:
        # E[i, j] = w[j] - w[i], ones on the diagonal (divided into zeros only)
        E = _C.unsqueeze(w, -2) - _C.unsqueeze(w, -1)
        return E + U.eye_like(w, w.shape[-1])

    @staticmethod
    def backward(ctx: Any, gw: Tensor | None, gV: Tensor | None) -> Any:
        w, V = ctx.saved_tensors
        if gw is None and gV is None:
            return None, None
        inner = None
        if gV is not None:
            VtgV = U.mT(V) @ gV
            inner = ((VtgV - U.mT(VtgV)) * 0.5) / _Eigh._gaps(w)  # the skew part: the diagonal is zero
        if gw is not None:
            inner = U.diag_embed(gw) if inner is None else inner + U.diag_embed(gw)
        return V @ inner @ U.mT(V), None

    @staticmethod
    def jvp(ctx: Any, dA: Tensor, _: Any) -> tuple[Tensor, Tensor]:
        w, V = ctx.saved_tensors
        dP = U.mT(V) @ dA @ V
        off = dP - U.diag_embed(U.diag(dP))
        return U.diag(dP), V @ (off / _Eigh._gaps(w))


def eigh(A: Tensor, UPLO: str = "L") -> Any:
    """(eigenvalues, eigenvectors) of symmetric A (batched; read from its lower triangle, UPLO='U': upper), a
    named tuple as torch.linalg.eigh: eigenvalues ascending, eigenvectors as columns. The derivative of the
    eigenvectors is finite only for distinct eigenvalues, as torch's."""
    op = "linalg.eigh"
    return eigh_result(*_Eigh.apply(U.matrix(A, op), _uplo(UPLO, op)))


def eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:
    """The eigenvalues of symmetric A in ascending order (batched), as torch.linalg.eigvalsh."""
    op = "linalg.eigvalsh"
    return _Eigh.apply(U.matrix(A, op), _uplo(UPLO, op))[0]


def _svd_failed(i: int) -> str:
    return f"the SVD did not converge ({i} superdiagonals of an intermediate bidiagonal form did not converge)"


class _Svd(Function):
    """The reduced SVD A = U diag(S) Vh, with torch's rules for every output."""

    handles_batch_dims = True

    @staticmethod
    def forward(ctx: Any, A: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        ctx.set_materialize_grads(False)
        Uu, S, Vh, info = _C._linalg_svd(A, False, True)  # A checked finite by the caller, naming itself
        U.check_info(info, "linalg.svd", _svd_failed)
        ctx.save_for_backward(Uu, S, Vh)
        return Uu, S, Vh

    @staticmethod
    def backward(ctx: Any, gU: Tensor | None, gS: Tensor | None, gVh: Tensor | None) -> Tensor | None:
        Uu, S, Vh = ctx.saved_tensors
        if gU is None and gS is None and gVh is None:
            return None
        m, n, k = Uu.shape[-2], Vh.shape[-1], S.shape[-1]
        V = U.mT(Vh)
        if gU is None and gVh is None:
            assert gS is not None
            return (Uu * _C.unsqueeze(gS, -2)) @ Vh
        S2 = S * S
        E = _C.unsqueeze(S2, -2) - _C.unsqueeze(S2, -1) + U.eye_like(S, k)  # E[j, l] = S_l^2 - S_j^2
        inner = None
        if gU is not None:
            UtgU = U.mT(Uu) @ gU
            inner = (UtgU - U.mT(UtgU)) * _C.unsqueeze(S, -2)
        if gVh is not None:
            gV = U.mT(gVh)
            VtgV = U.mT(V) @ gV
            t = _C.unsqueeze(S, -1) * (VtgV - U.mT(VtgV))
            inner = t if inner is None else inner + t
        inner = inner / E
        if gS is not None:
            inner = inner + U.diag_embed(gS)
        gA = Uu @ inner @ Vh
        if gU is not None and m > k:
            gA = gA + ((gU - Uu @ (U.mT(Uu) @ gU)) / _C.unsqueeze(S, -2)) @ Vh
        if gVh is not None and n > k:
            gA = gA + Uu @ U.mT((gV - V @ (U.mT(V) @ gV)) / _C.unsqueeze(S, -2))
        return gA

    @staticmethod
    def jvp(ctx: Any, dA: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        Uu, S, Vh = ctx.saved_tensors
        m, n, k = Uu.shape[-2], Vh.shape[-1], S.shape[-1]
        V = U.mT(Vh)
        dP = U.mT(Uu) @ dA @ V  # (k, k)
        dS = U.diag(dP)
        S2 = S * S
        E = _C.unsqueeze(S2, -2) - _C.unsqueeze(S2, -1) + U.eye_like(S, k)
        Sr, Sc = _C.unsqueeze(S, -2), _C.unsqueeze(S, -1)
        dPt = U.mT(dP)
        # U^T dU = (dP S + S dP^T) / E off the diagonal; V^T dV = (S dP + dP^T S) / E, both skew
        dUU = (dP * Sr + Sc * dPt) / E
        dVV = (Sc * dP + dPt * Sr) / E
        dUU = dUU - U.diag_embed(U.diag(dUU))
        dVV = dVV - U.diag_embed(U.diag(dVV))
        dU = Uu @ dUU
        dV = V @ dVV
        if m > k:
            dU = dU + (dA @ V - Uu @ (U.mT(Uu) @ (dA @ V))) / Sr
        if n > k:
            dAtU = U.mT(dA) @ Uu
            dV = dV + (dAtU - V @ (U.mT(V) @ dAtU)) / Sr
        return dU, dS, U.mT(dV)


def svd(A: Tensor, full_matrices: bool = True) -> Any:
    """(U, S, Vh) with A = U diag(S) Vh (batched), a named tuple as torch.linalg.svd. Differentiable with
    full_matrices=False (and for square A), as torch: the extra columns of a full U or Vh are not unique."""
    op = "linalg.svd"
    U.check_finite(U.matrix(A, op, square=False), op)
    m, n = A.shape[-2], A.shape[-1]
    if full_matrices and m != n:
        Uu, S, Vh, info = _C._linalg_svd(A.detach(), True, True)
        U.check_info(info, op, _svd_failed)
        if A.requires_grad and _C.is_grad_enabled():
            S = _Svd.apply(A)[1]  # the singular values stay differentiable; the full bases are not unique
        return svd_result(Uu, S, Vh)
    return svd_result(*_Svd.apply(A))


def svdvals(A: Tensor) -> Tensor:
    """The singular values of A in descending order (batched), as torch.linalg.svdvals."""
    # through the full rule: its backward reads U and Vh as outputs, with their history, so that the second
    # derivative (which needs how U and Vh move) is right
    U.check_finite(U.matrix(A, "linalg.svdvals", square=False), "linalg.svdvals")
    return _Svd.apply(A)[1]
