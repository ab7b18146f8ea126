"""The indexing ops torch has that are compositions of pyad's indexing ops (csrc/ops/index_ops.cpp) and
where: their VJP and JVP are those of the ops they are made of, on both backends."""

from __future__ import annotations

import numbers

from . import _C
from ._batched import loops_under_vmap

Tensor = _C.Tensor

__all__ = ["masked_fill", "masked_select", "take_along_dim"]


def _broadcast(a: list[int], b: list[int]) -> list[int] | None:
    """NumPy's broadcast of two shapes, None when they do not broadcast."""
    n = max(len(a), len(b))
    a, b = [1] * (n - len(a)) + a, [1] * (n - len(b)) + b
    if any(x != y and 1 not in (x, y) for x, y in zip(a, b)):
        return None
    return [y if x == 1 else x for x, y in zip(a, b)]


def _check_mask(op: str, mask: Tensor) -> None:
    if not isinstance(mask, _C.Tensor) or mask.dtype != _C.dtype.bool:
        got = mask.dtype if isinstance(mask, _C.Tensor) else type(mask).__name__
        raise TypeError(f"[{op}] expected a bool mask tensor, got {got}")


@loops_under_vmap  # value may be a batched 0-d tensor
def masked_fill(input: Tensor, mask: Tensor, value: Tensor | float) -> Tensor:
    """input with value (a number or a 0-d tensor) where mask (broadcast to input's shape) is True."""
    _check_mask("masked_fill", mask)
    if _broadcast(list(input.shape), list(mask.shape)) != list(input.shape):
        raise ValueError(
            f"[masked_fill] mask of shape {tuple(mask.shape)} cannot be broadcast to the input's {tuple(input.shape)}"
        )
    if isinstance(value, _C.Tensor):
        if value.ndim != 0:
            raise ValueError(f"[masked_fill] value must be a number or a 0-d tensor, got shape {tuple(value.shape)}")
        value = _C.to_dtype(value, input.dtype)
    elif not isinstance(value, numbers.Number):
        raise TypeError(f"[masked_fill] value must be a number or a 0-d tensor, got {type(value).__name__}")
    elif input.dtype == _C.dtype.int64 and not isinstance(value, numbers.Integral):
        value = int(value)  # torch casts the value to the input's dtype
    return _C.where(mask, value, input)


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The 1-d tensor of input's elements where mask is True (both broadcast together first)."""
    _check_mask("masked_select", mask)
    shape = _broadcast(list(input.shape), list(mask.shape))
    if shape is None:
        raise ValueError(
            f"[masked_select] mask of shape {tuple(mask.shape)} and input of shape {tuple(input.shape)} cannot be "
            "broadcast together"
        )
    return _C._index(_C.expand(input, shape), [_C.expand(mask, shape)], "masked_select")


def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    """input read along dim at indices, input and indices broadcast together off that dim (dim None: both
    flattened), as torch.take_along_dim."""
    if dim is None:
        return _C.gather(_C.reshape(input, [-1]), 0, _C.reshape(indices, [-1]))
    if input.ndim != indices.ndim:
        raise ValueError(
            f"[take_along_dim] input {tuple(input.shape)} and indices {tuple(indices.shape)} must have the same "
            "number of dims"
        )
    nd = max(input.ndim, 1)
    if not -nd <= dim < nd:
        raise IndexError(f"[take_along_dim] dim {dim} is out of range for a tensor of dimension {input.ndim}")
    d = dim % nd
    if input.ndim == 0:
        return _C.gather(input, 0, indices)
    a, b = list(input.shape), list(indices.shape)
    a[d] = b[d] = 1
    shape = _broadcast(a, b)
    if shape is None:
        raise ValueError(
            f"[take_along_dim] input {tuple(input.shape)} and indices {tuple(indices.shape)} cannot be broadcast "
            f"together off dim {d}"
        )
    sa, sb = list(shape), list(shape)
    sa[d], sb[d] = input.shape[d], indices.shape[d]
    return _C.gather(_C.expand(input, sa), d, _C.expand(indices, sb))
