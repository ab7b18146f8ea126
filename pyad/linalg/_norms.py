"""vector_norm, matrix_norm and norm with torch.linalg's arguments, composed of pyad ops (and svdvals for the
spectral and nuclear norms), so their derivatives are those of the ops they are made of."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from .. import _C, _composite, _functions as F
from ._decomp import svdvals

Tensor = _C.Tensor


def _float(x: Any, op: str, dtype: Any) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"[{op}] expected a Tensor, got {type(x).__name__}")
    if dtype is not None:
        x = F.to_dtype(x, dtype)
    if not x.dtype.is_floating_point:
        raise TypeError(f"[{op}] expected a float32 or float64 tensor, got {x.dtype}")
    return x


def vector_norm(
    x: Tensor,
    ord: float = 2,
    dim: int | Sequence[int] | None = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,
) -> Tensor:
    """The ord-norm of x's elements over dim (all of them when None), as torch.linalg.vector_norm: ord any
    number, inf or -inf; at a zero vector the gradient is 0, as torch's."""
    op = "linalg.vector_norm"
    x = _float(x, op, dtype)
    if isinstance(ord, str) or isinstance(ord, bool) or not isinstance(ord, numbers.Real):
        raise TypeError(f"[{op}] ord must be a number, got {ord!r}")
    if dim is not None and not isinstance(dim, numbers.Integral) and len(dim) == 0:
        dim = None  # torch: an empty dim list is all dims
    return _composite.norm(x, float(ord), dim, keepdim)


def _matrix_dims(dim: Sequence[int], ndim: int, op: str) -> tuple[int, int]:
    if isinstance(dim, numbers.Integral) or len(dim) != 2:
        raise ValueError(f"[{op}] dim must be a pair of dims, got {dim!r}")
    d0, d1 = (F._wrap_dim(int(d), ndim, op) for d in dim)
    if d0 == d1:
        raise ValueError(f"[{op}] dim must name two different dims, got {tuple(dim)}")
    return d0, d1


def matrix_norm(
    A: Tensor,
    ord: float | str = "fro",
    dim: Sequence[int] = (-2, -1),
    keepdim: bool = False,
    *,
    dtype: Any = None,
) -> Tensor:
    """The matrix norm over the two dims `dim`, as torch.linalg.matrix_norm: ord 'fro', 'nuc', inf, -inf, 1, -1
    (largest / smallest absolute row or column sum), 2 or -2 (largest / smallest singular value)."""
    op = "linalg.matrix_norm"
    A = _float(A, op, dtype)
    if A.ndim < 2:
        raise ValueError(f"[{op}] A must have at least 2 dimensions, got shape {tuple(A.shape)}")
    d0, d1 = _matrix_dims(dim, A.ndim, op)
    if ord == "fro":
        return _composite.norm(A, 2.0, [d0, d1], keepdim)
    if ord not in ("nuc", math.inf, -math.inf, 1, -1, 2, -2) or isinstance(ord, bool):
        raise ValueError(f"[{op}] ord must be 'fro', 'nuc', inf, -inf, 1, -1, 2 or -2, got {ord!r}")
    if ord in ("nuc", 2, -2):
        M = _composite.movedim(A, [d0, d1], [-2, -1])
        s = svdvals(M)
        out = F.sum(s, -1, False) if ord == "nuc" else (F.amax if ord == 2 else F.amin)(s, -1, False)
        if keepdim:
            for d in sorted((d0, d1)):
                out = _C.unsqueeze(out, d)
        return out
    # inf: max row sum (sum over columns d1, then extreme over rows d0); 1: max column sum
    inner, outer = (d1, d0) if ord in (math.inf, -math.inf) else (d0, d1)
    sums = F.sum(_C.abs(A), inner, True)
    ext = F.amax if ord in (math.inf, 1) else F.amin
    out = ext(sums, outer, True)
    if not keepdim:
        out = _C.squeeze(_C.squeeze(out, max(d0, d1)), min(d0, d1))
    return out


def norm(
    A: Tensor,
    ord: float | str | None = None,
    dim: int | Sequence[int] | None = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,
) -> Tensor:
    """torch.linalg.norm: a vector norm when dim is an int or A is 1-d, a matrix norm when dim is a pair or A is
    2-d (with ord given); ord=None and dim=None: the 2-norm of all elements."""
    op = "linalg.norm"
    A = _float(A, op, dtype)
    if dim is not None and not isinstance(dim, int):
        dim = tuple(dim)
        if len(dim) == 2:
            return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim)
        if len(dim) != 1:
            raise ValueError(f"[{op}] dim must be an int or a pair of dims, got {dim!r}")
    if dim is None and ord is not None:
        if A.ndim == 2:
            return matrix_norm(A, ord, (-2, -1), keepdim)
        if A.ndim != 1:
            raise ValueError(f"[{op}] with ord={ord!r} and dim=None, A must be 1-d or 2-d, got shape {tuple(A.shape)}")
    if isinstance(ord, str):
        raise ValueError(f"[{op}] ord={ord!r} is a matrix norm: it needs a 2-d A or a pair of dims")
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim)
