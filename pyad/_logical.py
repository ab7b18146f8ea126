"""torch's predicates and logical ops, composed of comparisons: bool results, no gradient (nan_to_num excepted,
whose gradient passes where the input is finite, as torch's)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from . import _C, _functions as F
from ._dtypes import bool as bool_, int64

if TYPE_CHECKING:
    from ._functions import Dim

Tensor = _C.Tensor

__all__ = [
    "all",
    "any",
    "count_nonzero",
    "isfinite",
    "isinf",
    "isnan",
    "isneginf",
    "isposinf",
    "isreal",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "nan_to_num",
]


def _truth(x: Any, op: str) -> Tensor:
    x = F._tensor_arg(x, op)
    return x if x.dtype == bool_ else x != 0


def isnan(input: Tensor) -> Tensor:
    """True where input is NaN, as torch.isnan."""
    x = F._tensor_arg(input, "isnan")
    return x != x


def isinf(input: Tensor) -> Tensor:
    """True where input is +inf or -inf, as torch.isinf."""
    x = F._tensor_arg(input, "isinf")
    if not x.dtype.is_floating_point:
        return _C.zeros(list(x.shape), bool_, x.device)
    return _C.abs(x) == math.inf


def isposinf(input: Tensor) -> Tensor:
    """True where input is +inf, as torch.isposinf."""
    x = F._tensor_arg(input, "isposinf")
    return x == math.inf if x.dtype.is_floating_point else _C.zeros(list(x.shape), bool_, x.device)


def isneginf(input: Tensor) -> Tensor:
    """True where input is -inf, as torch.isneginf."""
    x = F._tensor_arg(input, "isneginf")
    return x == -math.inf if x.dtype.is_floating_point else _C.zeros(list(x.shape), bool_, x.device)


def isfinite(input: Tensor) -> Tensor:
    """True where input is neither infinite nor NaN, as torch.isfinite."""
    x = F._tensor_arg(input, "isfinite")
    if not x.dtype.is_floating_point:
        return _C.ones(list(x.shape), bool_, x.device)
    return _C.abs(x) < math.inf  # False at NaN as at inf


def isreal(input: Tensor) -> Tensor:
    """True everywhere: pyad has no complex dtypes (torch.isreal)."""
    x = F._tensor_arg(input, "isreal")
    return _C.ones(list(x.shape), bool_, x.device)


def logical_not(input: Tensor) -> Tensor:
    """True where input is zero (False), as torch.logical_not."""
    return _truth(input, "logical_not") == False  # noqa: E712 - an elementwise comparison, not a test


def logical_and(input: Tensor, other: Tensor) -> Tensor:
    """True where both are nonzero, broadcast together, as torch.logical_and."""
    a, b = _truth(input, "logical_and"), _truth(other, "logical_and")
    return _C.minimum(a.to(dtype=int64), b.to(dtype=int64)) == 1


def logical_or(input: Tensor, other: Tensor) -> Tensor:
    """True where either is nonzero, broadcast together, as torch.logical_or."""
    a, b = _truth(input, "logical_or"), _truth(other, "logical_or")
    return _C.maximum(a.to(dtype=int64), b.to(dtype=int64)) == 1


def logical_xor(input: Tensor, other: Tensor) -> Tensor:
    """True where exactly one is nonzero, broadcast together, as torch.logical_xor."""
    return _truth(input, "logical_xor") != _truth(other, "logical_xor")


def any(input: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    """Whether any element (over dim, or all dims) is nonzero, as torch.any."""
    return F.sum(_truth(input, "any").to(dtype=int64), dim, keepdim) > 0


def all(input: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    """Whether every element (over dim, or all dims) is nonzero, as torch.all."""
    return F.sum(logical_not(input).to(dtype=int64), dim, keepdim) == 0


def count_nonzero(input: Tensor, dim: Dim = None) -> Tensor:
    """The number of nonzero elements over dim (all dims when None), int64, as torch.count_nonzero."""
    return F.sum(_truth(input, "count_nonzero").to(dtype=int64), dim, False)


def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Tensor:
    """input with NaN, +inf and -inf replaced (by 0 and the dtype's largest and smallest finite values unless
    given), as torch.nan_to_num; the gradient flows where input was finite."""
    x = F._tensor_arg(input, "nan_to_num")
    if not x.dtype.is_floating_point:
        return x.clone()
    big = 3.4028234663852886e38 if x.dtype.name == "float32" else 1.7976931348623157e308
    hi = big if posinf is None else posinf
    lo = -big if neginf is None else neginf
    out = F.where(isnan(x), nan, x)
    out = F.where(out == math.inf, hi, out)
    return F.where(out == -math.inf, lo, out)
