"""Indexing keys resolved for the C++ ops: basic indexing (ints, slices, None, Ellipsis) into the steps that
`_C.index` applies (a view), and tensor indices (int64 tensors, bool masks, lists of ints) into the per-dim list
that `_C._index` / `_C._index_put_` take (Note [Advanced indexing as one gather], csrc/ops/index_ops.cpp).

Mixed keys follow torch: the ints, slices and None are applied first, as a view, and the tensors then index
that view's dims, so x[0, :, idx] of a (5, 6, 7) tensor is (6, len(idx)), as in torch (NumPy would say
(len(idx), 6)).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _C
from ._C import Tensor

SELECT, SLICE, UNSQUEEZE = 0, 1, 2


def resolve(shape: Sequence[int], key: Any) -> list[tuple[int, ...]]:
    """Steps (kind, dim, start, stop, step) for t[key], with dims counted in the partially indexed tensor."""
    if not isinstance(key, tuple):
        key = (key,)
    for k in key:
        if not (k is None or k is Ellipsis or isinstance(k, (slice, numbers.Integral))):
            raise IndexError(
                f"[index] only integers, slices (`:`), ellipsis (`...`) and None are valid indices, "
                f"got {type(k).__name__}"
            )
    if any(isinstance(k, bool) for k in key):
        raise IndexError("[index] bool indices are not supported")
    if sum(k is Ellipsis for k in key) > 1:
        raise IndexError("[index] an index can only have a single ellipsis ('...')")
    consumed = sum(1 for k in key if k is not None and k is not Ellipsis)
    if consumed > len(shape):
        raise IndexError(f"[index] too many indices for tensor of dimension {len(shape)} (shape {tuple(shape)})")
    if Ellipsis in key:
        i = key.index(Ellipsis)
        key = key[:i] + (slice(None),) * (len(shape) - consumed) + key[i + 1 :]
    steps: list[tuple[int, ...]] = []
    dim = 0  # position in the tensor being built
    src = 0  # dim of the original tensor
    for k in key:
        if k is None:
            steps.append((UNSQUEEZE, dim))
            dim += 1
        elif isinstance(k, slice):
            if k.step is not None and int(k.step) <= 0:
                raise ValueError("[index] slice step must be positive")
            n = shape[src]
            start, stop, step = k.indices(n)
            if (start, stop, step) != (0, n, 1):
                steps.append((SLICE, dim, start, stop, step))
            dim += 1
            src += 1
        else:
            n = shape[src]
            i = int(k)
            if not -n <= i < n:
                raise IndexError(
                    f"[index] index {i} is out of bounds for dimension {src} with size {n} "
                    f"(tensor shape {tuple(shape)})"
                )
            steps.append((SELECT, dim, i))
            src += 1
    return steps


class _NewDimMask:
    """x[True] / x[False]: a new dim of size 1 (as None adds), indexed by a mask of shape (1,)."""

    def __init__(self, mask: Tensor) -> None:
        self.mask = mask


def _as_index(k: Any, like: Tensor) -> Any:
    """k as a key element: lists (and NumPy arrays) of ints or bools become index tensors on like's device;
    a Python bool or a 0-d bool tensor becomes a _NewDimMask, as torch treats it, and a 0-d int64 tensor an int."""
    from ._creation import tensor  # (a cycle at import time otherwise)

    if isinstance(k, bool):
        k = tensor(k, device=like.device)
    elif isinstance(k, (list, np.ndarray)):
        arr = np.asarray(k)
        if arr.dtype != np.bool_ and not np.issubdtype(arr.dtype, np.integer) and arr.size > 0:
            raise IndexError(f"[index] a list index must hold ints or bools, got {arr.dtype} values")
        arr = arr.astype(np.bool_ if arr.dtype == np.bool_ else np.int64)
        k = tensor(arr.tolist() if arr.ndim else arr.item(), device=like.device)
        if arr.size == 0:
            k = _C.reshape(_C.to_dtype(k, _C.dtype.int64), list(arr.shape))
    if isinstance(k, _C.Tensor):
        if k.dtype == _C.dtype.bool and k.ndim == 0:
            return _NewDimMask(_C.reshape(k, [1]))
        if k.dtype == _C.dtype.int64 and k.ndim == 0:
            return k.item()  # torch indexes with a 0-d int64 tensor as with an int (a select)
        if k.dtype not in (_C.dtype.int64, _C.dtype.bool):
            raise IndexError(f"[index] tensors used as indices must be int64 (long) or bool tensors, got {k.dtype}")
    return k


def _split(t: Tensor, key: Any) -> tuple[list[tuple[int, ...]], list[Tensor | None] | None]:
    """The basic steps (tensors as whole-dim slices) and the per-dim tensor list of the view they give (None
    for a key without tensors)."""
    if not isinstance(key, tuple):
        key = (key,)
    flat = [_as_index(k, t) for k in key]
    if not any(isinstance(k, (_C.Tensor, _NewDimMask)) for k in flat):
        return resolve(t.shape, tuple(flat)), None
    basic: list[Any] = []
    placed: list[tuple[int, Tensor]] = []  # (dim of the view, index tensor)
    dim = 0
    for k in flat:
        if isinstance(k, _NewDimMask):
            basic.append(None)
            placed.append((dim, k.mask))
            dim += 1
        elif isinstance(k, _C.Tensor):
            placed.append((dim, k))
            n = k.ndim if k.dtype == _C.dtype.bool else 1
            basic.extend([slice(None)] * n)
            dim += n
        else:
            basic.append(k)
            if k is None or isinstance(k, slice):
                dim += 1
            elif k is Ellipsis:
                consumed = sum(1 for b in flat if isinstance(b, (slice, numbers.Integral)))
                consumed += sum(b.ndim if b.dtype == _C.dtype.bool else 1 for b in flat if isinstance(b, _C.Tensor))
                dim += max(len(t.shape) - consumed, 0)
    steps = resolve(t.shape, tuple(basic))
    # One entry per dim of the view, except that a bool mask's one entry covers as many dims as it has.
    indices: list[Tensor | None] = []
    covered = 0
    for pos, k in placed:
        indices.extend([None] * (pos - covered))
        indices.append(k)
        covered = pos + (k.ndim if k.dtype == _C.dtype.bool else 1)
    return steps, indices


def getitem(t: Tensor, key: Any) -> Tensor:
    steps, indices = _split(t, key)
    if indices is None:
        return _C.index(t, steps)
    return _C._index(_C.index(t, steps) if steps else t, indices)


def setitem(t: Tensor, key: Any, value: Any) -> None:
    steps, indices = _split(t, key)
    if indices is None:
        _C.index_put_(t, steps, value)
        return
    if steps and t.ndim > 0:
        # Ints, slices or None next to the tensors: the written places, in torch's layout of t[key], are
        # read off each dim's coordinate grid (an expanded arange, no memory of t's size) through the same
        # key, and written with one index per dim of t itself. No view is written, so forward mode and
        # empty tensors work as for a key of tensors alone.
        shape = list(t.shape)
        coords: list[Tensor | None] = []
        for d, n in enumerate(shape):
            grid = _C.arange(0.0, float(n), 1.0, _C.dtype.int64, t.device)
            line = [1] * len(shape)
            line[d] = n
            coords.append(getitem(_C.expand(_C.reshape(grid, line), shape), key))
        _C._index_put_(t, coords, value, False, "setitem")
        return
    _C._index_put_(_C.index(t, steps) if steps else t, indices, value, False, "setitem")
