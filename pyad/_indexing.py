"""Basic indexing (ints, slices, None, Ellipsis) resolved into the steps the C++ `index` op applies."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from . import _C
from ._C import Tensor

SELECT, SLICE, UNSQUEEZE = 0, 1, 2


def resolve(shape: Sequence[int], key: Any) -> list[tuple[int, ...]]:
    """Steps (kind, dim, start, stop, step) for t[key], with dims counted in the partially indexed tensor."""
    if not isinstance(key, tuple):
        key = (key,)
    for k in key:
        if isinstance(k, _C.Tensor):
            raise IndexError(
                f"[index] indexing with tensors is not supported (shape {tuple(shape)}); use ints, slices, None and ..."
            )
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


def getitem(t: Tensor, key: Any) -> Tensor:
    return _C.index(t, resolve(t.shape, key))


def setitem(t: Tensor, key: Any, value: Any) -> None:
    _C.index_put_(t, resolve(t.shape, key), value)
