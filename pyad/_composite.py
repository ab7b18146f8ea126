"""torch functions built from other pyad ops: their VJP and JVP are those of the ops they are made of, so they
need no derivative rule of their own and run wherever those ops run (CPU and CUDA)."""

from __future__ import annotations

import builtins
import math
import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import _C, _functions as F
from ._creation import arange
from ._dtypes import as_dtype, float64, get_default_dtype, int64
from ._einsum import einsum

if TYPE_CHECKING:
    from ._typing import DeviceLike, DTypeLike, Number

Tensor = _C.Tensor

__all__ = [
    "allclose",
    "chunk",
    "einsum",
    "equal",
    "hstack",
    "isclose",
    "linspace",
    "logspace",
    "moveaxis",
    "movedim",
    "narrow",
    "norm",
    "prod",
    "ravel",
    "split",
    "std",
    "tensordot",
    "tile",
    "unbind",
    "var",
    "vstack",
]


def _int(v: Any, what: str, op: str) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"[{op}] {what} must be an int, got {type(v).__name__}")
    return int(v)


def _dim(d: Any, ndim: int, op: str) -> int:
    return F._wrap_dim(_int(d, "dim", op), ndim, op)


def _dim_list(v: Any) -> list[Any]:
    """One dim or a sequence of them, as a list."""
    return [v] if isinstance(v, numbers.Integral) else list(v)


# ---------------------------------------------------------------- creation
def linspace(
    start: Number | Tensor,
    end: Number | Tensor,
    steps: int,
    *,
    dtype: DTypeLike | None = None,
    device: DeviceLike | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """steps values evenly spaced from start to end (both included), as torch.linspace."""
    n = _int(steps, "steps", "linspace")
    if n < 0:
        raise RuntimeError(f"[linspace] number of steps must be non-negative, got {n}")
    dt = as_dtype(dtype) if dtype is not None else get_default_dtype()
    lo, hi = float(start), float(end)
    if not dt.is_floating_point:  # torch truncates the ends to the integer dtype first
        lo, hi = float(int(lo)), float(int(hi))
    i = arange(n, dtype=float64, device=device)
    step = (hi - lo) / (n - 1) if n > 1 else 0.0
    # torch's symmetric form: the first half counts up from start, the second down from end, so both ends exact
    vals = F.where(i < builtins.max(n // 2, 1), i * step + lo, (i - (n - 1)) * step + hi)
    out = _C.to_dtype(vals, dt)
    return out.requires_grad_(True) if requires_grad else out


def logspace(
    start: Number | Tensor,
    end: Number | Tensor,
    steps: int,
    base: float = 10.0,
    *,
    dtype: DTypeLike | None = None,
    device: DeviceLike | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """base ** linspace(start, end, steps), as torch.logspace."""
    exps = linspace(start, end, steps, dtype=float64, device=device)
    out = _C.to_dtype(_C.pow(float(base), exps), as_dtype(dtype) if dtype is not None else get_default_dtype())
    return out.requires_grad_(True) if requires_grad else out


# ---------------------------------------------------------------- comparisons
def _tensorlike(x: Any) -> bool:
    """A Tensor, or an object that takes over the ops (vmap's BatchedTensor: Note [The __pyad_function__ protocol])."""
    return isinstance(x, Tensor) or hasattr(type(x), "__pyad_function__")


def _same_dtype(a: Tensor, b: Tensor, op: str) -> None:
    if not _tensorlike(a) or not _tensorlike(b):
        raise TypeError(f"[{op}] expected two Tensors, got {type(a).__name__} and {type(b).__name__}")
    if a.dtype != b.dtype:
        raise RuntimeError(f"[{op}] expected both inputs to have the same dtype, got {a.dtype} and {b.dtype}")


def isclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
    """|input - other| <= atol + rtol * |other| elementwise (equal infinities are close), as torch.isclose."""
    _same_dtype(input, other, "isclose")
    a, b = input.detach(), other.detach()
    if a.dtype == _C.dtype.bool:
        a, b = a.to(int64), b.to(int64)
    within = (a - b).abs() <= (b.abs() * float(rtol) + float(atol))
    # an infinite `other` would make any finite input "close": only equality counts there
    close = F.where(b.abs() < math.inf, within, False)
    close = F.where(a.eq(b), True, close)
    if equal_nan:
        close = F.where(F.where(a.ne(a), b.ne(b), False), True, close)
    return close


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """Whether isclose holds for every element, as torch.allclose."""
    c = isclose(input, other, rtol, atol, equal_nan)
    return int(_C.sum(c, None, False).item()) == c.numel()


def equal(input: Tensor, other: Tensor) -> bool:
    """Whether the two tensors have the same shape and the same elements, as torch.equal."""
    if not _tensorlike(input) or not _tensorlike(other):
        raise TypeError(f"[equal] expected two Tensors, got {type(input).__name__} and {type(other).__name__}")
    if tuple(input.shape) != tuple(other.shape):
        return False
    same = input.detach().eq(other.detach())
    return int(_C.sum(same, None, False).item()) == same.numel()


# ---------------------------------------------------------------- reductions
def _float_input(x: Any, op: str) -> Tensor:
    x = F._tensor_arg(x, op)
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"[{op}] expected a floating point tensor as input, got {x.dtype}")
    return x


def _safe_root(s: Tensor, root: Any) -> Tensor:
    """root(s) for s >= 0, with a zero derivative where s == 0 (torch's subgradient of a norm at the zero
    vector): the root only ever sees positive values, so no inf * 0 reaches the gradient."""
    pos = s > 0
    return F.where(pos, root(F.where(pos, s, 1.0)), 0.0)


def norm(
    input: Tensor,
    p: float | str | None = "fro",
    dim: int | Sequence[int] | None = None,
    keepdim: bool = False,
    dtype: DTypeLike | None = None,
) -> Tensor:
    """The p-norm over dim (all elements when None): p = 2 or 'fro' (the default), 1, inf, -inf, 0 or any other
    number, as torch.norm; the gradient at a zero vector is 0, as torch's."""
    x = _float_input(input if dtype is None else F.to_dtype(input, dtype), "norm")
    if p is None or p == "fro":
        p = 2.0
    if p == "nuc":  # linalg: the nuclear norm of the matrices in dim (the last two by default), as torch.norm
        from .linalg import matrix_norm

        if x.ndim < 2:
            raise ValueError(f"[norm] p='nuc' is a matrix norm: it needs 2 or more dims, got shape {tuple(x.shape)}")
        return matrix_norm(x, "nuc", (-2, -1) if dim is None else _dim_list(dim), keepdim)
    if isinstance(p, str):
        raise ValueError(f"[norm] p={p!r} is not supported (numbers, 'fro' and 'nuc'), for input of shape {x.shape}")
    if isinstance(dim, numbers.Integral):
        dim = [int(dim)]
    p = float(p)
    a = x.abs()
    if p == math.inf:
        return F.amax(a, dim, keepdim)
    if p == -math.inf:
        return F.amin(a, dim, keepdim)
    if p == 0:
        # the count of nonzeros, through sign so that it has torch's zero derivative (and a grad_fn)
        return F.sum(_C.abs(_C.sign(x)), dim, keepdim)
    if p == 1:
        return F.sum(a, dim, keepdim)
    if p == 2:
        return _safe_root(F.sum(x * x, dim, keepdim), _C.sqrt)
    return _safe_root(F.sum(a**p, dim, keepdim), lambda s: s ** (1.0 / p))


def prod(input: Tensor, dim: int | None = None, keepdim: bool = False, dtype: DTypeLike | None = None) -> Tensor:
    """The product over dim (of all elements when None), as torch.prod; zeros get their gradient right, as the
    last slice of cumprod (bool inputs give int64)."""
    x = F._tensor_arg(input, "prod")
    if dtype is not None:
        x = F.to_dtype(x, dtype)
    elif x.dtype == _C.dtype.bool:
        x = x.to(int64)
    if dim is None:
        flat = F.reshape(x, -1)
        if flat.shape[0] == 0:
            return F.sum(flat * 0, None) + 1
        return F.reshape(_C.cumprod(flat, 0)[-1:], [])
    d = _dim(dim, x.ndim, "prod")
    if x.ndim == 0:
        return x * 1
    if x.numel() == 0:  # ones over an empty dim; an empty result otherwise
        return F.sum(x, d, keepdim) * 0 + 1
    # a fresh tensor, as torch's (the slice of cumprod is a strided view of a temporary); `* 1` rather than
    # .contiguous() so that the sparsity tracer, which has no methods, passes through
    last = narrow(_C.cumprod(x, d), d, x.shape[d] - 1, 1) * 1
    return last if keepdim else F.squeeze(last, d)


def _correction(unbiased: bool | None, correction: Number | None, op: str) -> float:
    if unbiased is not None and correction is not None:
        raise ValueError(f"[{op}] pass either unbiased or correction, not both")
    if correction is not None:
        return float(correction)
    return 1.0 if unbiased is None or unbiased else 0.0


def var(
    input: Tensor,
    dim: int | Sequence[int] | bool | None = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: Number | None = None,
) -> Tensor:
    """The variance over dim (all elements when None), divided by N - correction (1 by default; unbiased=False
    is correction=0), as torch.var."""
    x = _float_input(input, "var")
    if isinstance(dim, bool):  # torch.var(x, unbiased)
        dim, unbiased = None, dim
    c = _correction(unbiased, correction, "var")
    dims: list[Any] = list(range(x.ndim)) if dim is None else _dim_list(dim)
    n = 1
    for d in dims:
        n *= x.shape[F._wrap_dim(int(d), x.ndim, "var")] if x.ndim else 1
    dev = x - F.mean(x, dims if x.ndim else None, True)
    return F.sum(dev * dev, dims if x.ndim else None, keepdim) / builtins.max(0.0, n - c)


def std(
    input: Tensor,
    dim: int | Sequence[int] | bool | None = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: Number | None = None,
) -> Tensor:
    """The standard deviation over dim: sqrt(var(...)) with var's arguments, as torch.std."""
    _float_input(input, "std")
    return _C.sqrt(var(input, dim, unbiased, keepdim, correction=correction))


# ---------------------------------------------------------------- shapes
def ravel(input: Tensor) -> Tensor:
    """input as a 1-d tensor (a view when its strides allow), as torch.ravel."""
    return F.reshape(F._tensor_arg(input, "ravel"), -1)


def narrow(input: Tensor, dim: int, start: int | Tensor, length: int) -> Tensor:
    """The view of input holding length entries of dim from start (which may be negative), as torch.narrow."""
    x = F._tensor_arg(input, "narrow")
    if x.ndim == 0:
        raise RuntimeError("[narrow] cannot be applied to a 0-dim tensor")
    d = _dim(dim, x.ndim, "narrow")
    size = x.shape[d]
    s = int(start) if isinstance(start, Tensor) else _int(start, "start", "narrow")
    n = _int(length, "length", "narrow")
    if not -size <= s <= size:
        raise IndexError(f"[narrow] start {s} is out of range for dim {d} of size {size} (shape {x.shape})")
    s = s + size if s < 0 else s
    if n < 0 or s + n > size:
        raise RuntimeError(f"[narrow] start ({s}) + length ({n}) exceeds dimension size ({size}) (shape {x.shape})")
    return x[(slice(None),) * d + (slice(s, s + n),)]


def movedim(input: Tensor, source: int | Sequence[int], destination: int | Sequence[int]) -> Tensor:
    """A view of input with the dims at source moved to destination (the others keep their order), as
    torch.movedim; moveaxis is the same."""
    x = F._tensor_arg(input, "movedim")
    src = _dim_list(source)
    dst = _dim_list(destination)
    if len(src) != len(dst):
        raise ValueError(
            f"[movedim] source and destination must have the same number of dims, got {len(src)} and {len(dst)}"
        )
    src = [_dim(d, x.ndim, "movedim") for d in src]
    dst = [_dim(d, x.ndim, "movedim") for d in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"[movedim] repeated dim in source {src} or destination {dst}")
    order: list[int | None] = [None] * x.ndim
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(d for d in range(x.ndim) if d not in src)
    return F.permute(x, [next(rest) if o is None else o for o in order])


moveaxis = movedim


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """input split into at most `chunks` views of ceil(size / chunks) along dim (the last may be smaller), as
    torch.chunk."""
    x = F._tensor_arg(input, "chunk")
    k = _int(chunks, "chunks", "chunk")
    if k <= 0:
        raise RuntimeError(f"[chunk] expects `chunks` to be greater than 0, got: {k}")
    d = _dim(dim, x.ndim, "chunk")
    size = x.shape[d]
    if size == 0:
        return tuple(narrow(x, d, 0, 0) for _ in range(k))
    return split(x, -(-size // k), d)


def split(tensor: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
    """Views of tensor along dim: pieces of split_size (the last may be smaller), or of the sizes listed (which
    must add up to the dim's size), as torch.split."""
    x = F._tensor_arg(tensor, "split")
    d = _dim(dim, x.ndim, "split")
    size = x.shape[d]
    if isinstance(split_size_or_sections, numbers.Integral):
        step = _int(split_size_or_sections, "split_size", "split")
        if step < 0 or (step == 0 and size != 0):
            raise RuntimeError(f"[split] split_size {step} is invalid for dim {d} of size {size} (shape {x.shape})")
        sizes = [builtins.min(step, size - s) for s in range(0, size, step)] if size else [0]
    else:
        sizes = [_int(s, "split size", "split") for s in _dim_list(split_size_or_sections)]
        if any(s < 0 for s in sizes) or builtins.sum(sizes) != size:
            raise RuntimeError(
                f"[split] split sizes {sizes} must be non-negative and sum exactly to {size} (the size of dim {d} "
                f"of shape {x.shape})"
            )
    out, at = [], 0
    for s in sizes:
        out.append(narrow(x, d, at, s))
        at += s
    return tuple(out)


def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices of input along dim, each without that dim, as torch.unbind."""
    x = F._tensor_arg(input, "unbind")
    if x.ndim == 0:
        raise IndexError("[unbind] dimension specified as 0 but tensor has no dimensions")
    d = _dim(dim, x.ndim, "unbind")
    return tuple(x[(slice(None),) * d + (i,)] for i in range(x.shape[d]))


def _atleast(t: Tensor, n: int) -> Tensor:
    return F.reshape(t, [1] * (n - t.ndim) + list(t.shape)) if t.ndim < n else t


def vstack(tensors: Sequence[Tensor]) -> Tensor:
    """The tensors (1-d ones as rows) joined along dim 0, as torch.vstack."""
    ts = F._tensors(tensors, "vstack")
    return F.cat([_atleast(t, 2) for t in ts], 0)


def hstack(tensors: Sequence[Tensor]) -> Tensor:
    """The tensors joined along dim 1 (along dim 0 when they are 1-d), as torch.hstack."""
    ts = [_atleast(t, 1) for t in F._tensors(tensors, "hstack")]
    return F.cat(ts, 0 if ts and ts[0].ndim == 1 else 1)


def repeat(input: Tensor, *sizes: Any) -> Tensor:
    """input repeated sizes[i] times along dim i (leading sizes add dims), as torch.Tensor.repeat."""
    x = F._tensor_arg(input, "repeat")
    reps = F._shape_args(sizes, "repeat")
    if len(reps) < x.ndim:
        raise RuntimeError(
            f"[repeat] number of repeat dims ({len(reps)}) can not be smaller than the number of dims of the "
            f"tensor (shape {x.shape})"
        )
    if any(r < 0 for r in reps):
        raise RuntimeError(f"[repeat] repeats must be non-negative, got {reps}")
    shape = [1] * (len(reps) - x.ndim) + list(x.shape)
    # (1, s0, 1, s1, ...) expanded to (r0, s0, r1, s1, ...) and merged pairwise: expand's VJP sums the copies
    paired = F.reshape(x, [v for s in shape for v in (1, s)])
    big = _C.expand(paired, [v for r, s in zip(reps, shape) for v in (r, s)])
    return F.reshape(big, [r * s for r, s in zip(reps, shape)])


def tile(input: Tensor, dims: Sequence[int]) -> Tensor:
    """input repeated dims[i] times along dim i, with dims padded by leading 1s to input's rank, as
    torch.tile."""
    x = F._tensor_arg(input, "tile")
    reps = F._shape_args(tuple(dims) if isinstance(dims, (list, tuple)) else (dims,), "tile")
    return repeat(x, [1] * (x.ndim - len(reps)) + reps)


# ---------------------------------------------------------------- contractions
def tensordot(a: Tensor, b: Tensor, dims: int | Sequence[Sequence[int]] = 2) -> Tensor:
    """The sum of a * b over dims (the last `dims` of a with the first of b, or the pair of dim lists given),
    as torch.tensordot; computed as one matmul."""
    a, b = F._tensor_arg(a, "tensordot"), F._tensor_arg(b, "tensordot")
    if isinstance(dims, numbers.Integral):
        k = _int(dims, "dims", "tensordot")
        if k < 0 or k > a.ndim or k > b.ndim:
            raise RuntimeError(f"[tensordot] dims={k} is invalid for shapes {a.shape} and {b.shape}")
        da, db = list(range(a.ndim - k, a.ndim)), list(range(k))
    else:
        pair: Any = dims
        if len(pair) != 2:
            raise ValueError(f"[tensordot] dims must be an int or a pair of dim lists, got {dims!r}")
        da, db = _dim_list(pair[0]), _dim_list(pair[1])
        if len(da) != len(db):
            raise RuntimeError(f"[tensordot] both dim lists must have the same length, got {da} and {db}")
        da = [_dim(d, a.ndim, "tensordot") for d in da]
        db = [_dim(d, b.ndim, "tensordot") for d in db]
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j]:
            raise RuntimeError(
                f"[tensordot] contracted dims do not match: dim {i} of {a.shape} has size {a.shape[i]}, dim {j} "
                f"of {b.shape} has size {b.shape[j]}"
            )
    fa = [d for d in range(a.ndim) if d not in da]
    fb = [d for d in range(b.ndim) if d not in db]
    k = math.prod(a.shape[d] for d in da)
    am = F.reshape(F.permute(a, fa + da), [math.prod(a.shape[d] for d in fa), k])
    bm = F.reshape(F.permute(b, db + fb), [k, math.prod(b.shape[d] for d in fb)])
    return F.reshape(F.matmul(am, bm), [a.shape[d] for d in fa] + [b.shape[d] for d in fb])
