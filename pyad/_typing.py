"""The type aliases of pyad's annotations.

Modules import this one under `if TYPE_CHECKING:` only, and every module starts with
`from __future__ import annotations`: annotations stay strings at run time, so none of this runs, and pyad's
import costs nothing more. Until pyad/_C.pyi exists, the names from the compiled core are Any to a type checker.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeAlias

import numpy as np

from ._C import Tensor, device, dtype

# What the dtype= and device= arguments take (see _dtypes.as_dtype and as_device).
DTypeLike: TypeAlias = dtype | str | np.dtype | type
DeviceLike: TypeAlias = device | str | int
# A shape given as one sequence (zeros((2, 3))) or spread out (zeros(2, 3)).
ShapeLike: TypeAlias = Sequence[int]
Number: TypeAlias = bool | int | float
TensorOrNumber: TypeAlias = Tensor | Number
# One tensor or a sequence of them, as torch's autograd functions take (the second with None for "no gradient").
Tensors: TypeAlias = Tensor | Sequence[Tensor]
MaybeTensors: TypeAlias = Tensor | Sequence[Tensor | None] | None
# What an optimizer takes: the parameters, or param groups (dicts with "params" and per-group options).
Params: TypeAlias = Iterable[Tensor] | Iterable[dict[str, Any]]
# Which positional arguments a pyad.func transform differentiates.
Argnums: TypeAlias = int | tuple[int, ...]
# A nest of tuples, lists and dicts (optree's pytrees) whose leaves are tensors, as the pyad.func transforms take.
PyTree: TypeAlias = Any

__all__ = [
    "Argnums",
    "DTypeLike",
    "DeviceLike",
    "MaybeTensors",
    "Number",
    "Params",
    "PyTree",
    "ShapeLike",
    "TensorOrNumber",
    "Tensors",
]
