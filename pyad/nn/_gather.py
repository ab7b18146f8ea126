"""Reading entries of a tensor at int64 indices, by composition.

Note [Gather by one-hot]
pyad has no gather/index_select op yet (it comes with the op registry). Until then the one function
that needs it, Embedding's row lookup and the losses' pick of the target class, go through the two
helpers below, which build a one-hot mask `arange(n) == index[..., None]` and reduce with it. Both are
exact: a where() picks values unchanged, and a one-hot row times a matrix adds one product by 1.0 to
exact zeros. They cost O(index.numel() * n) memory; replace their bodies with the real op when it lands,
and nothing else changes.
"""

from __future__ import annotations

from .. import _C
from .._C import Tensor


def check_range(index: Tensor, n: int, op: str, ignore_index: int | None = None) -> bool:
    """Raise IndexError unless every index (other than ignore_index) lies in [0, n); returns whether any
    index may equal ignore_index (False when that is ruled out for free)."""
    if index.dtype != _C.dtype.int64:
        raise TypeError(f"[{op}] expected an int64 (long) index tensor, got {index.dtype}")
    if index.numel() == 0:
        return False
    lo, hi = _C.amin(index, None, False).item(), _C.amax(index, None, False).item()
    if 0 <= lo and hi < n:
        return ignore_index is not None and 0 <= ignore_index < n
    if ignore_index is None:
        bad = lo if lo < 0 else hi
        raise IndexError(f"[{op}] index {bad} is out of range for size {n}")
    checked = _C.where(index == ignore_index, 0, index)
    lo, hi = _C.amin(checked, None, False).item(), _C.amax(checked, None, False).item()
    if lo < 0 or hi >= n:
        bad = lo if lo < 0 else hi
        raise IndexError(f"[{op}] index {bad} is out of range for size {n}")
    return True


def one_hot_mask(index: Tensor, n: int) -> Tensor:
    """(..., n) bool: True where the last coordinate equals index."""
    classes = _C.arange(0.0, float(n), 1.0, _C.dtype.int64, index.device)
    return classes == _C.unsqueeze(index, -1)


def take_along_last(values: Tensor, index: Tensor) -> Tensor:
    """values[..., index] for values (..., n) (or (n,), broadcast) and index (...): (..., ) result."""
    mask = one_hot_mask(index, values.shape[-1])
    return _C.sum(_C.where(mask, values, 0.0), -1, False)


def index_rows(weight: Tensor, index: Tensor) -> Tensor:
    """weight[index] for weight (n, d) and index of any shape: (*index.shape, d)."""
    n, d = weight.shape
    rows = _C.to_dtype(one_hot_mask(index.reshape(-1), n), weight.dtype)
    return (rows @ weight).reshape(list(index.shape) + [d])
