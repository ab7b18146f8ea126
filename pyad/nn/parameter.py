"""nn.Parameter: a leaf tensor that a Module registers as one of its parameters.

Parameter is a real Python subclass of pyad.Tensor, as torch's: Tensor's constructor given a tensor makes a
new leaf sharing its memory (torch's Tensor(t) alias), so Parameter.__init__ builds the C++ holder through it.
Ops on a parameter make new tensors, which pybind11 wraps as plain Tensors; in-place ops and requires_grad_
hand back the same object, still a Parameter, as torch.
"""

from __future__ import annotations

from typing import Any

from .._C import Tensor
from .._creation import empty

__all__ = ["Parameter", "is_parameter"]


def is_parameter(obj: object) -> bool:
    """Whether obj is an nn.Parameter (isinstance(obj, nn.Parameter))."""
    return isinstance(obj, Parameter)


class Parameter(Tensor):
    """Parameter(data=None, requires_grad=True): a tensor that Module attributes register as a parameter.
    It shares data's memory and is a leaf of its own (data's graph is not followed), as torch."""

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        if data is None:
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"[Parameter] data must be a Tensor, got {type(data).__name__}")
        Tensor.__init__(self, data)  # a detached alias of data: same storage, a leaf of its own
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + Tensor.__repr__(self)

    __str__ = __repr__

    def __deepcopy__(self, memo: dict[int, Any]) -> Parameter:
        if id(self) in memo:
            return memo[id(self)]
        # Tensor's deepcopy keeps views deep-copied together sharing storage (tied weights); wrap its result.
        plain = Tensor.__deepcopy__(self, memo)
        new = Parameter(plain, self.requires_grad)
        if plain.grad is not None:
            new.grad = plain.grad
        memo[id(self)] = new
        return new

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return _rebuild_parameter, (Tensor.__reduce_ex__(self, protocol), self.requires_grad)


def _rebuild_parameter(reduced: tuple[Any, ...], requires_grad: bool) -> Parameter:
    fn, args = reduced[0], reduced[1]
    return Parameter(fn(*args), requires_grad)
