"""What every pyad.linalg function shares: LinAlgError and the checks of its LAPACK info, argument checks that
name the op and the shapes, and the batch-dim bookkeeping of rules that take batched tangents and cotangents."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _C, _functions as F

Tensor = _C.Tensor


class LinAlgError(RuntimeError):
    """A matrix the function cannot work with: singular, not positive definite, or an algorithm that did not
    converge (torch.linalg.LinAlgError's contract: a RuntimeError subclass whose message names the op and the
    batch element)."""


def check_info(info: Tensor, op: str, what: Any) -> None:
    """Raise LinAlgError for the first matrix whose LAPACK info is > 0; what(info) describes the failure."""
    codes = np.asarray(info.numpy()).reshape(-1)
    bad = np.flatnonzero(codes > 0)
    if bad.size:
        i = int(bad[0])
        where = f" (batch element {i})" if info.ndim > 0 else ""
        raise LinAlgError(f"[{op}]{where} {what(int(codes[i]))}")


def check_finite(A: Tensor, op: str) -> None:
    """LinAlgError where A has a NaN or an inf: an SVD cannot converge on it (LAPACK's gesdd then rejects its
    argument, a message that names neither the op nor the cause), and an LU would call it singular."""
    if A.numel() and not math.isfinite(float(F.amax(_C.abs(A.detach()), None, False).item())):  # NaN wins in amax
        raise LinAlgError(f"[{op}] the input matrix contains non-finite values (NaN or inf)")


def matrix(x: Any, op: str, name: str = "A", square: bool = True) -> Tensor:
    """x checked to be a float tensor of matrices (..., m, n), square when asked."""
    if not isinstance(x, Tensor):
        raise TypeError(f"[{op}] expected {name} to be a Tensor, got {type(x).__name__}")
    if not x.dtype.is_floating_point:
        raise TypeError(f"[{op}] expected {name} to be a float32 or float64 tensor, got {x.dtype}")
    if x.ndim < 2:
        raise ValueError(f"[{op}] {name} must have at least 2 dimensions (..., m, n), got shape {tuple(x.shape)}")
    if square and x.shape[-1] != x.shape[-2]:
        raise ValueError(f"[{op}] {name} must be a batch of square matrices, got shape {tuple(x.shape)}")
    return x


def same_kind(a: Tensor, b: Tensor, op: str) -> None:
    if a.dtype != b.dtype:
        raise TypeError(f"[{op}] expected A and B of one dtype, got {a.dtype} and {b.dtype}")
    if a.device != b.device:
        raise RuntimeError(f"[{op}] expected A and B on one device, got {a.device} and {b.device}")


def broadcast_batch(a: Sequence[int], b: Sequence[int], op: str, shapes: tuple) -> list[int]:
    try:
        return list(np.broadcast_shapes(tuple(a), tuple(b)))
    except ValueError:
        raise ValueError(
            f"[{op}] the batch dims of shapes {tuple(shapes[0])} and {tuple(shapes[1])} do not broadcast"
        ) from None


def expand_batch(x: Tensor, batch: Sequence[int]) -> Tensor:
    """x (..., m, n) broadcast to (*batch, m, n) (a view)."""
    target = list(batch) + list(x.shape[-2:])
    return x if list(x.shape) == target else _C.expand(x, target)


def fold_lead(B: Tensor, batch: Sequence[int], left: bool) -> tuple[Tensor, Any] | None:
    """B (*lead, *batch, r, c), whose extra leading dims (a batch of cotangents or tangents, jacrev's and jacfwd's)
    meet a factor of batch `batch`: the lead dims folded into B's columns (left solves) or rows (right solves),
    so that one solve per factor serves them all instead of a copy of the factor per lead element. Returns
    (folded B, unfold) or None where B has no such lead dims."""
    nl = B.ndim - 2 - len(batch)
    if nl <= 0 or list(B.shape[nl:-2]) != list(batch):
        return None
    lead, rest = list(B.shape[:nl]), list(batch)
    r, c, m, nr = B.shape[-2], B.shape[-1], math.prod(B.shape[:nl]), len(batch)
    Bm = _C.reshape(B, [m] + rest + [r, c])
    if left:  # (m, *rest, r, c) -> (*rest, r, m, c) -> (*rest, r, m c)
        folded = _C.reshape(_C.permute(Bm, list(range(1, nr + 2)) + [0, nr + 2]), rest + [r, m * c])

        def unfold(X: Tensor) -> Tensor:
            Xm = _C.reshape(X, rest + [r, m, c])
            back = _C.permute(Xm, [nr + 1] + list(range(nr + 1)) + [nr + 2])
            return _C.reshape(back, lead + rest + [r, c])

    else:  # (m, *rest, r, c) -> (*rest, m, r, c) -> (*rest, m r, c)
        folded = _C.reshape(_C.permute(Bm, list(range(1, nr + 1)) + [0, nr + 1, nr + 2]), rest + [m * r, c])

        def unfold(X: Tensor) -> Tensor:
            back = _C.permute(_C.reshape(X, rest + [m, r, c]), [nr] + list(range(nr)) + [nr + 1, nr + 2])
            return _C.reshape(back, lead + rest + [r, c])

    return folded, unfold


def align(t: Tensor, base_ndim: int, ndim: int) -> Tensor:
    """A batched tangent or cotangent t of shape (*lead, *s), len(s) == base_ndim, with unit dims inserted after
    the lead dims so that s is right-aligned with tensors of ndim dims: the lead dims then broadcast in front of
    every batch dim (Note [Batched tangents and cotangents])."""
    if ndim <= base_ndim:
        return t
    lead = t.ndim - base_ndim
    return _C.reshape(t, list(t.shape[:lead]) + [1] * (ndim - base_ndim) + list(t.shape[lead:]))


def reduce_to(g: Tensor, shape: Sequence[int], out_ndim: int) -> Tensor:
    """g, the gradient of an input of `shape` broadcast into an output of out_ndim dims, carrying leading batch
    dims beyond those, summed back to (*lead, *shape)."""
    lead = list(g.shape[: g.ndim - out_ndim])
    target = lead + list(shape)
    if list(g.shape) == target:
        return g
    # the batch dims broadcast from the right, the lead dims stay in front: sum over what lies between
    aligned = lead + [1] * (out_ndim - len(shape)) + list(shape)
    return _C.reshape(_C.sum_to(g, aligned), target)


def mT(x: Tensor) -> Tensor:
    return _C.transpose(x, -2, -1)


def eye_like(x: Tensor, n: int | None = None) -> Tensor:
    n = x.shape[-1] if n is None else n
    return _C.eye(n, n, x.dtype, x.device)


def diag_embed(d: Tensor) -> Tensor:
    """Vectors (..., n) -> diagonal matrices (..., n, n), written with differentiable ops."""
    return _C.unsqueeze(d, -1) * eye_like(d)


def diag(x: Tensor) -> Tensor:
    return _C.diagonal(x, 0, -2, -1)


def trace(x: Tensor) -> Tensor:
    return _C.sum(diag(x), -1, False)


def numel(shape: Sequence[int]) -> int:
    return math.prod(shape)
