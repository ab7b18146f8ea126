"""pyad.<op> functions with torch's argument conventions; each is a thin call into the C++ core."""

from __future__ import annotations

import collections
import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import _C

# The elementwise ops come from the C++ op list as they are (Note [The op list]: pyad/__init__.py re-exports
# _C.__all__); these are the ones this module needs itself.
from ._C import div, maximum, minimum, mul, neg, sub
from ._dtypes import as_dtype, get_default_dtype

if TYPE_CHECKING:
    from typing import TypeAlias

    from ._typing import DTypeLike, Number

    Dim: TypeAlias = int | Sequence[int] | None

Tensor = _C.Tensor

# The ops written here (pyad/__init__.py exports them with the op list's).
__all__ = [
    "amax",
    "amin",
    "cat",
    "clamp",
    "clip",
    "concat",
    "concatenate",
    "divide",
    "dot",
    "flatten",
    "log_softmax",
    "logsumexp",
    "matmul",
    "max",
    "mean",
    "min",
    "mm",
    "multiply",
    "negative",
    "outer",
    "permute",
    "reshape",
    "softmax",
    "squeeze",
    "stack",
    "subtract",
    "sum",
    "swapaxes",
    "transpose",
    "true_divide",
    "unsqueeze",
    "where",
]

matmul, outer = _C.matmul, _C.outer
negative, subtract, multiply, divide, true_divide = neg, sub, mul, div, div

max_result = collections.namedtuple("max", ["values", "indices"])
min_result = collections.namedtuple("min", ["values", "indices"])


def _batched(x: Any) -> bool:
    """x is a tensor-like object that takes over the ops (Note [The __pyad_function__ protocol]), e.g. vmap's
    BatchedTensor."""
    return hasattr(type(x), "__pyad_function__")


def _tensor_arg(x: Any, op: str) -> Tensor:
    if not isinstance(x, Tensor) and not _batched(x):
        raise TypeError(f"[{op}] expected a Tensor, got {type(x).__name__}")
    return x


def where(condition: Tensor, input: Tensor | Number, other: Tensor | Number, *, safe: bool = False) -> Tensor:
    """input where condition holds, other elsewhere (broadcast together), as torch.where.

    safe=True (not in torch) avoids the double-where trap: the backward pass through this where runs with
    strong zeros, so the branch it masks out contributes exact zeros to every gradient even where that
    branch's local derivative is inf or NaN (the gradient of where(x < 1, x, sqrt(x)) at 0 is 1, not NaN).
    The strong zeros hold for the whole backward pass through a safe where and for the elementwise rules
    (unary ops, +, -, *, /, pow): a zero cotangent times an inf or NaN derivative gives 0. A matmul or a
    reduction that mixes a masked entry with others is not made safe. Forward mode needs nothing: where
    selects tangents, so a masked inf or NaN tangent never reaches the result's."""
    fn = _C.safe_where if safe else _C.where
    return fn(_tensor_arg(condition, "where"), input, other)


def clamp(input: Tensor, min: Tensor | Number | None = None, max: Tensor | Number | None = None) -> Tensor:
    """input limited to [min, max] (either may be omitted, or a tensor), as torch.clamp; clip is the same."""
    if isinstance(min, Tensor) or isinstance(max, Tensor) or _batched(min) or _batched(max):
        out = input
        if min is not None:
            out = maximum(out, min)
        if max is not None:
            out = minimum(out, max)
        return out
    x = _tensor_arg(input, "clamp")
    # A float bound promotes an integer tensor to the default float dtype, as torch.
    if not x.dtype.is_floating_point and any(isinstance(b, float) for b in (min, max)):
        x = x.to(get_default_dtype())
    return _C.clamp(x, None if min is None else float(min), None if max is None else float(max))


clip = clamp


def sum(input: Tensor, dim: Dim = None, keepdim: bool = False, dtype: DTypeLike | None = None) -> Tensor:
    """The sum over dim (all dims when None), as torch.sum."""
    x = input if dtype is None else to_dtype(input, dtype)
    return _C.sum(_tensor_arg(x, "sum"), dim, keepdim)


def mean(input: Tensor, dim: Dim = None, keepdim: bool = False, dtype: DTypeLike | None = None) -> Tensor:
    """The mean over dim (all dims when None), as torch.mean."""
    x = input if dtype is None else to_dtype(input, dtype)
    return _C.mean(_tensor_arg(x, "mean"), dim, keepdim)


def amax(input: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    """The largest value over dim (ties share the gradient evenly), as torch.amax."""
    return _C.amax(_tensor_arg(input, "amax"), dim, keepdim)


def amin(input: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    """The smallest value over dim (ties share the gradient evenly), as torch.amin."""
    return _C.amin(_tensor_arg(input, "amin"), dim, keepdim)


def max(input: Tensor, dim: int | Tensor | None = None, keepdim: bool = False) -> Any:
    """max(x): the largest element; max(x, dim): a (values, indices) named tuple; max(x, other): maximum."""
    if isinstance(dim, Tensor) or _batched(dim):
        return maximum(input, dim)
    if dim is None:
        return _C.amax(_tensor_arg(input, "max"), None, False)
    if not isinstance(dim, numbers.Integral):
        raise TypeError(f"[max] dim must be an int, got {type(dim).__name__}")
    return max_result(*_C.max_dim(input, int(dim), keepdim))


def min(input: Tensor, dim: int | Tensor | None = None, keepdim: bool = False) -> Any:
    """min(x): the smallest element; min(x, dim): a (values, indices) named tuple; min(x, other): minimum."""
    if isinstance(dim, Tensor) or _batched(dim):
        return minimum(input, dim)
    if dim is None:
        return _C.amin(_tensor_arg(input, "min"), None, False)
    if not isinstance(dim, numbers.Integral):
        raise TypeError(f"[min] dim must be an int, got {type(dim).__name__}")
    return min_result(*_C.min_dim(input, int(dim), keepdim))


def logsumexp(input: Tensor, dim: Dim, keepdim: bool = False) -> Tensor:
    """log(sum(exp(input))) over dim, computed stably, as torch.logsumexp."""
    return _C.logsumexp(_tensor_arg(input, "logsumexp"), dim, keepdim)


def softmax(input: Tensor, dim: int, dtype: DTypeLike | None = None) -> Tensor:
    """exp(input) normalised to sum 1 along dim, as torch.softmax."""
    x = input if dtype is None else to_dtype(input, dtype)
    return _C.softmax(_tensor_arg(x, "softmax"), int(dim))


def log_softmax(input: Tensor, dim: int, dtype: DTypeLike | None = None) -> Tensor:
    """log(softmax(input, dim)), computed stably, as torch.log_softmax."""
    x = input if dtype is None else to_dtype(input, dtype)
    return _C.log_softmax(_tensor_arg(x, "log_softmax"), int(dim))


def _shape_args(shape: Sequence[Any], op: str) -> list[int]:
    if len(shape) == 1 and not isinstance(shape[0], numbers.Integral):
        shape = shape[0]
    try:
        return [int(s) for s in shape]
    except TypeError:
        raise TypeError(f"[{op}] shape must be ints or a tuple of ints, got {shape!r}") from None


def reshape(input: Tensor, *shape: Any) -> Tensor:
    """input with a new shape (a view when the strides allow, else a copy; one dim may be -1), as torch.reshape."""
    return _C.reshape(_tensor_arg(input, "reshape"), _shape_args(shape, "reshape"))


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """A view of input with dims dim0 and dim1 swapped, as torch.transpose; swapaxes is the same."""
    return _C.transpose(_tensor_arg(input, "transpose"), int(dim0), int(dim1))


swapaxes = transpose


def permute(input: Tensor, *dims: Any) -> Tensor:
    """A view of input with its dims reordered, as torch.permute."""
    return _C.permute(_tensor_arg(input, "permute"), _shape_args(dims, "permute"))


def squeeze(input: Tensor, dim: int | None = None) -> Tensor:
    """A view of input without its size-1 dims (or only dim), as torch.squeeze."""
    return _C.squeeze(_tensor_arg(input, "squeeze"), dim)


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """A view of input with a size-1 dim inserted at dim, as torch.unsqueeze."""
    return _C.unsqueeze(_tensor_arg(input, "unsqueeze"), int(dim))


def _tensors(tensors: Any, op: str) -> list[Tensor]:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"[{op}] expected a list or tuple of Tensors, got {type(tensors).__name__}")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor) and not _batched(t):
            raise TypeError(f"[{op}] expected Tensors, got {type(t).__name__} at position {i}")
    return list(tensors)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """The tensors joined along dim, as torch.cat (concat and concatenate are the same)."""
    return _C.cat(_tensors(tensors, "cat"), int(dim))


concat = concatenate = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """The tensors stacked along a new dim, as torch.stack."""
    return _C.stack(_tensors(tensors, "stack"), int(dim))


def _wrap_dim(d: int, ndim: int, op: str) -> int:
    n = ndim if ndim > 0 else 1
    if not -n <= d < n:
        raise IndexError(f"[{op}] dim {d} is out of range for a tensor with {ndim} dimensions")
    return d % n


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """input with dims start_dim..end_dim merged into one, as torch.flatten."""
    shape = list(input.shape)
    s, e = _wrap_dim(start_dim, len(shape), "flatten"), _wrap_dim(end_dim, len(shape), "flatten")
    if not shape:
        return reshape(input, 1)
    n = 1
    for d in shape[s : e + 1]:
        n *= d
    return reshape(input, shape[:s] + [n] + shape[e + 1 :])


def dot(input: Tensor, other: Tensor) -> Tensor:
    """The inner product of two 1-d tensors, as torch.dot."""
    if input.ndim != 1 or other.ndim != 1:
        raise ValueError(f"[dot] expected 1-d tensors, got shapes {input.shape} and {other.shape}")
    return matmul(input, other)


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """The product of two 2-d tensors, as torch.mm."""
    if input.ndim != 2 or mat2.ndim != 2:
        raise ValueError(f"[mm] expected 2-d tensors, got shapes {input.shape} and {mat2.shape}")
    return matmul(input, mat2)


def to_dtype(input: Tensor, dtype: DTypeLike) -> Tensor:
    return _C.to_dtype(input, as_dtype(dtype))
