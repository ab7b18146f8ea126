"""Reading entries of a tensor at int64 indices: the losses' pick of the target class, through pyad.gather (its
VJP adds into zeros, so a repeated index accumulates, as torch's), after check_range has refused out-of-range
indices with the caller's op name. (Embedding's row lookup is a fused op of its own: Note [Fused embedding].)
"""

from __future__ import annotations

from .. import _C
from .._batched import physical
from .._C import Tensor


def check_range(index: Tensor, n: int, op: str, ignore_index: int | None = None) -> bool:
    """Raise IndexError unless every index (other than ignore_index) lies in [0, n); returns whether any
    index may equal ignore_index (False when that is ruled out for free)."""
    if index.dtype != _C.dtype.int64:
        raise TypeError(f"[{op}] expected an int64 (long) index tensor, got {index.dtype}")
    # Inside vmap, every sample's indices at once: the check holds for each sample when it holds for all.
    index = physical(index)
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


def take_along_last(values: Tensor, index: Tensor) -> Tensor:
    """values[..., index] for values (..., n) (or (n,), broadcast) and index (...): (..., ) result; 0 (and no
    gradient) where index is outside [0, n), which after check_range can only be the losses' ignore_index."""
    n = values.shape[-1]
    inside = _C.where(index >= 0, index < n, index >= 0)  # 0 <= index < n (both False below 0)
    full = _C.expand(values, list(index.shape) + [n])
    picked = _C.squeeze(_C.gather(full, -1, _C.unsqueeze(_C.where(inside, index, 0), -1)), -1)
    return _C.where(inside, picked, 0.0)
