"""nn.Parameter: a leaf tensor that a Module registers as one of its parameters.

Note [Parameter without a subclass]
pyad.Tensor is a pybind11 class with no Python-visible constructor, so `class Parameter(pyad.Tensor)` cannot
make instances (pybind11 requires its own __init__ to build the C++ holder), and a plain tensor's __class__
cannot be swapped (the deallocators differ). So Parameter(data) returns an ordinary pyad.Tensor, a fresh
leaf sharing data's memory with requires_grad set, and records it (by identity, weakly) as a parameter.
isinstance(t, nn.Parameter) asks that record through the metaclass, and repr prints "Parameter containing:"
as torch does. What differs from torch: type(p) is pyad.Tensor, and results of ops on a parameter are
plain tensors (as in torch).
"""

from __future__ import annotations

import functools
import weakref

from .._C import Tensor
from .._creation import empty

__all__ = ["Parameter", "is_parameter"]

# The registry Note [Parameter without a subclass] needs: id(tensor) -> weakref to it (the callback drops it).
_PARAMETERS: dict[int, weakref.ref[Tensor]] = {}


def _drop(key: int, _ref: object) -> None:
    _PARAMETERS.pop(key, None)


def _mark(t: Tensor) -> None:
    key = id(t)
    _PARAMETERS[key] = weakref.ref(t, functools.partial(_drop, key))


def is_parameter(obj: object) -> bool:
    """Whether obj is a tensor made by Parameter (what isinstance(obj, nn.Parameter) asks)."""
    ref = _PARAMETERS.get(id(obj))
    return ref is not None and ref() is obj


class _ParameterMeta(type):
    def __instancecheck__(cls, obj: object) -> bool:
        return is_parameter(obj)


class Parameter(metaclass=_ParameterMeta):
    """Parameter(data=None, requires_grad=True): a tensor that Module attributes register as a parameter.
    See Note [Parameter without a subclass]."""

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True) -> Tensor:  # type: ignore[misc]
        if data is None:
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"[Parameter] data must be a Tensor, got {type(data).__name__}")
        t = data.detach()
        if requires_grad:
            t.requires_grad_(True)
        _mark(t)
        return t


_tensor_repr = Tensor.__repr__


def _repr(self: Tensor) -> str:
    text = _tensor_repr(self)
    return "Parameter containing:\n" + text if is_parameter(self) else text


Tensor.__repr__ = Tensor.__str__ = _repr  # type: ignore[method-assign]
