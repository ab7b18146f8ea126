"""torch's fused-looking products (addmm, baddbmm, addcmul ...), distances and small elementwise functions,
composed of pyad ops: their VJP and JVP are those of the ops they are made of, on the CPU and the GPU."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple

from . import _C, _batched, _composite as C, _functions as F
from ._dtypes import float64, get_default_dtype
from ._logical import logical_and, logical_or

if TYPE_CHECKING:
    from ._functions import Dim
    from ._typing import Number

Tensor = _C.Tensor
_TENSORLIKE = _batched.TENSORLIKE  # a Tensor, or vmap's BatchedTensor standing for one

__all__ = [
    "addcdiv",
    "addcmul",
    "addmm",
    "addmv",
    "aminmax",
    "baddbmm",
    "bmm",
    "cdist",
    "clamp_max",
    "clamp_min",
    "cosine_similarity",
    "cross",
    "dist",
    "float_power",
    "floor_divide",
    "frac",
    "heaviside",
    "lerp",
    "logit",
    "median",
    "mv",
    "sgn",
    "sinc",
    "std_mean",
    "var_mean",
    "xlogy",
]


def _t(x: Any, op: str) -> Tensor:
    return F._tensor_arg(x, op)


def _scaled(x: Tensor, s: Number) -> Any:
    return x if s == 1 else x * s


def mv(input: Tensor, vec: Tensor) -> Tensor:
    """The product of a matrix and a vector, as torch.mv."""
    a, v = _t(input, "mv"), _t(vec, "mv")
    if a.ndim != 2 or v.ndim != 1:
        raise RuntimeError(
            f"[mv] expected a 2-d matrix and a 1-d vector, got shapes {tuple(a.shape)} and {tuple(v.shape)}"
        )
    return F.matmul(a, v)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """Batched matrix products of two 3-d tensors with the same batch size, as torch.bmm."""
    a, b = _t(input, "bmm"), _t(mat2, "bmm")
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise RuntimeError(f"[bmm] expected (b, n, m) and (b, m, p) tensors, got {tuple(a.shape)} and {tuple(b.shape)}")
    return F.matmul(a, b)


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta: Number = 1, alpha: Number = 1) -> Tensor:
    """beta * input + alpha * (mat1 @ mat2), input broadcast, as torch.addmm (beta = 0 ignores input's NaNs)."""
    prod = F.mm(_t(mat1, "addmm"), _t(mat2, "addmm"))
    return _add_scaled(_t(input, "addmm"), prod, beta, alpha)


def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta: Number = 1, alpha: Number = 1) -> Tensor:
    """beta * input + alpha * (mat @ vec), as torch.addmv."""
    return _add_scaled(_t(input, "addmv"), mv(mat, vec), beta, alpha)


def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Number = 1, alpha: Number = 1) -> Tensor:
    """beta * input + alpha * bmm(batch1, batch2), as torch.baddbmm."""
    return _add_scaled(_t(input, "baddbmm"), bmm(batch1, batch2), beta, alpha)


def _add_scaled(base: Tensor, prod: Tensor, beta: Number, alpha: Number) -> Tensor:
    if beta == 0:
        # torch ignores input then, NaN and inf included, and gives it a zero gradient: add it through a where
        # that selects zeros everywhere (so it broadcasts and connects, but contributes nothing).
        everywhere = _C.ones(list(base.shape), _C.dtype.bool, base.device)
        return _scaled(prod, alpha) + F.where(everywhere, 0.0, base)
    return _scaled(base, beta) + _scaled(prod, alpha)


def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Number = 1) -> Tensor:
    """input + value * tensor1 * tensor2, broadcast, as torch.addcmul."""
    return _t(input, "addcmul") + _scaled(_t(tensor1, "addcmul") * _t(tensor2, "addcmul"), value)


def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Number = 1) -> Tensor:
    """input + value * tensor1 / tensor2, broadcast, as torch.addcdiv."""
    return _t(input, "addcdiv") + _scaled(_t(tensor1, "addcdiv") / _t(tensor2, "addcdiv"), value)


def lerp(input: Tensor, end: Tensor, weight: Tensor | Number) -> Tensor:
    """input + weight * (end - input), as torch.lerp."""
    a = _t(input, "lerp")
    return a + weight * (_t(end, "lerp") - a)


def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:
    """The cross product of 3-vectors along dim (the first dim of size 3 when None, as torch.cross; torch
    warns that this default will become -1, as torch.linalg.cross has it)."""
    a, b = _t(input, "cross"), _t(other, "cross")
    from ._shape_more import broadcast_tensors

    a, b = broadcast_tensors(a, b)
    if dim is None:
        dims = [i for i, n in enumerate(a.shape) if n == 3]
        if not dims:
            raise RuntimeError(f"[cross] no dimension of size 3 in input of shape {tuple(a.shape)}")
        d = dims[0]
    else:
        d = F._wrap_dim(dim, a.ndim, "cross")
        if a.shape[d] != 3:
            raise RuntimeError(f"[cross] inputs dimension {d} must have length 3, got shape {tuple(a.shape)}")
    a0, a1, a2 = (a.narrow(d, i, 1) for i in range(3))
    b0, b1, b2 = (b.narrow(d, i, 1) for i in range(3))
    return F.cat([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], d)


def dist(input: Tensor, other: Tensor, p: Number = 2) -> Tensor:
    """The p-norm of input - other, as torch.dist."""
    return C.norm(_t(input, "dist") - _t(other, "dist"), p)


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0) -> Tensor:
    """Pairwise p-norm distances between the rows of x1 (..., P, M) and x2 (..., R, M): (..., P, R), as
    torch.cdist (computed from differences, not torch's matmul shortcut, so it is exact near zero)."""
    a, b = _t(x1, "cdist"), _t(x2, "cdist")
    if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-1]:
        raise RuntimeError(
            f"[cdist] X1 and X2 must have the same number of columns, got shapes {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if p < 0:
        raise RuntimeError(f"[cdist] only supports non-negative p values, got {p}")
    diff = a.unsqueeze(-2) - b.unsqueeze(-3)  # (..., P, R, M)
    return C.norm(diff, p, -1)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """x1 · x2 / max(|x1| |x2|, eps) along dim, broadcast, as torch.nn.functional.cosine_similarity."""
    a, b = _t(x1, "cosine_similarity"), _t(x2, "cosine_similarity")
    dot = F.sum(a * b, dim)
    na = F.sum(a * a, dim)
    nb = F.sum(b * b, dim)
    return dot / F.clamp(_C.sqrt(na * nb), min=eps)


def clamp_min(input: Tensor, min: Tensor | Number) -> Tensor:
    """torch.clamp_min: clamp(input, min=min)."""
    return F.clamp(input, min=min)


def clamp_max(input: Tensor, max: Tensor | Number) -> Tensor:
    """torch.clamp_max: clamp(input, max=max)."""
    return F.clamp(input, max=max)


def floor_divide(input: Tensor | Number, other: Tensor | Number) -> Tensor:
    """input / other rounded down, as torch.floor_divide (and Python's //): integer inputs give int64. The
    result carries no gradient (a floor's is zero wherever it exists)."""
    a = (input if isinstance(input, _TENSORLIKE) else _t(other, "floor_divide").new_tensor(input)).detach()
    b = other.detach() if isinstance(other, _TENSORLIKE) else other
    ints = not a.dtype.is_floating_point and (
        (isinstance(b, _TENSORLIKE) and not b.dtype.is_floating_point)
        or (isinstance(b, int) and not isinstance(b, bool))
    )
    if ints and (b == 0 if not isinstance(b, _TENSORLIKE) else (b == 0).to(dtype=_C.dtype.int64).sum().item() > 0):
        raise RuntimeError("[floor_divide] ZeroDivisionError: integer division by zero")
    out = _C.floor(_C.div(a, b))
    return out.to(dtype=a.dtype) if ints else out


def float_power(input: Tensor | Number, exponent: Tensor | Number) -> Tensor:
    """input ** exponent computed in float64, as torch.float_power."""
    a = input.to(dtype=float64) if isinstance(input, _TENSORLIKE) else input
    e = exponent.to(dtype=float64) if isinstance(exponent, _TENSORLIKE) else float(exponent)
    if not isinstance(a, _TENSORLIKE):
        a = _C.full([], float(a), float64, e.device)  # type: ignore[union-attr]
    return _C.pow(a, e)


def frac(input: Tensor) -> Tensor:
    """input - trunc(input), as torch.frac."""
    x = _t(input, "frac")
    return x - _C.trunc(x)


def sgn(input: Tensor) -> Tensor:
    """torch.sgn: sign for real tensors."""
    return _C.sign(_t(input, "sgn"))


def heaviside(input: Tensor, values: Tensor) -> Tensor:
    """0 where input < 0, values where input == 0, 1 where input > 0, as torch.heaviside (no gradient)."""
    x, v = _t(input, "heaviside"), _t(values, "heaviside")
    if x.dtype != v.dtype:
        raise RuntimeError(f"[heaviside] input and values must have the same dtype, got {x.dtype} and {v.dtype}")
    xd = x.detach()
    return F.where(xd == 0, v.detach(), (xd > 0).to(dtype=x.dtype))


def sinc(input: Tensor) -> Tensor:
    """sin(pi x) / (pi x), 1 at x = 0 (with the gradient 0 there), as torch.sinc."""
    x = _t(input, "sinc")
    if not x.dtype.is_floating_point:
        x = x.to(dtype=get_default_dtype())
    zero = x == 0
    safe = F.where(zero, 1.0, x) * math.pi  # no 0/0 in either branch, so the gradient at 0 is finite
    return F.where(zero, 1.0, _C.sin(safe) / safe)


def xlogy(input: Tensor | Number, other: Tensor | Number) -> Tensor:
    """input * log(other), 0 where input == 0 (unless other is NaN), as torch.xlogy."""
    x = input if isinstance(input, _TENSORLIKE) else _t(other, "xlogy").new_tensor(float(input))
    y = other if isinstance(other, _TENSORLIKE) else x.new_tensor(float(other))
    if not x.dtype.is_floating_point:
        x = x.to(dtype=y.dtype if y.dtype.is_floating_point else float64)
    if not y.dtype.is_floating_point:
        y = y.to(dtype=x.dtype)
    # 0 * log(y) is 0 (torch's value) where y is 0 or inf too; elsewhere x * log(y), whose gradients (log y for
    # x, x / y for y) are torch's, at x = 0 included.
    edge = logical_and(x == 0, logical_or(y == 0, y == math.inf))
    safe_y = F.where(edge, 1.0, y)
    return F.where(edge, 0.0, x * _C.log(safe_y))


def logit(input: Tensor, eps: float | None = None) -> Tensor:
    """log(p / (1 - p)), p clamped to [eps, 1 - eps] when eps is given, as torch.logit."""
    p = _t(input, "logit")
    if eps is not None:
        p = F.clamp(p, min=eps, max=1.0 - eps)
    return _C.log(p / (1.0 - p))


class _MinMax(NamedTuple):
    min: Tensor
    max: Tensor


def aminmax(input: Tensor, *, dim: int | None = None, keepdim: bool = False) -> Any:
    """(amin, amax) over dim (all dims when None), as torch.aminmax."""
    x = _t(input, "aminmax")
    if x.numel() == 0 and dim is None:
        raise RuntimeError("[aminmax] cannot compute aminmax over an empty tensor when dim is None")
    return _MinMax(F.amin(x, dim, keepdim), F.amax(x, dim, keepdim))


class _StdMean(NamedTuple):
    std: Tensor
    mean: Tensor


class _VarMean(NamedTuple):
    var: Tensor
    mean: Tensor


def var_mean(
    input: Tensor,
    dim: Dim = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: Number | None = None,
) -> Any:
    """(var, mean) over dim, as torch.var_mean."""
    return _VarMean(C.var(input, dim, unbiased, keepdim, correction=correction), F.mean(input, dim, keepdim))


def std_mean(
    input: Tensor,
    dim: Dim = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: Number | None = None,
) -> Any:
    """(std, mean) over dim, as torch.std_mean."""
    return _StdMean(C.std(input, dim, unbiased, keepdim, correction=correction), F.mean(input, dim, keepdim))


class _Median(NamedTuple):
    values: Tensor
    indices: Tensor


def median(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:
    """The lower median (the element at (n - 1) // 2 in sorted order; NaN when there is one, as torch, which
    sorts NaN last), as torch.median: a value over all elements, or (values, indices) along dim. The gradient
    flows to the chosen element."""
    x = _t(input, "median")
    if dim is None:
        flat = x.reshape(-1)
        if flat.numel() == 0:
            return _C.full([], math.nan, x.dtype, x.device) if x.dtype.is_floating_point else flat.sum()
        return median(flat, 0).values
    d = F._wrap_dim(dim, x.ndim, "median")
    n = x.shape[d] if x.ndim else 1
    if n == 0:
        raise IndexError(f"[median] cannot compute median over an empty dimension {d} of shape {tuple(x.shape)}")
    if x.ndim == 0:
        return _Median(x.clone(), _C.zeros([], _C.dtype.int64, x.device))
    values, indices = _C.sort(x, d, False, True)
    last = values.narrow(d, n - 1, 1)
    at_end = _C.full(list(last.shape), float(n - 1), _C.dtype.int64, x.device)
    k = F.where(last != last, at_end, (n - 1) // 2)  # the last one (a NaN) if there is a NaN
    v, i = _C.gather(values, d, k), _C.gather(indices, d, k)
    if not keepdim:
        v, i = v.squeeze(d), i.squeeze(d)
    return _Median(v, i)
