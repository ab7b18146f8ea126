"""Forward-mode AD with dual tensors, as torch.autograd.forward_ad.

    with forward_ad.dual_level():
        d = forward_ad.make_dual(x, t)
        y = f(d)
        primal, tangent = forward_ad.unpack_dual(y)   # tangent = J_f(x) @ t

Unlike torch's, dual levels nest (as torch.func's jvp transforms do): each level keeps its own tangents, an
op differentiates its inner levels' JVP rules at the outer levels (so the tangent returned at an inner level
carries its outer tangents: jvp of jvp gives second derivatives), and a level's perturbation never leaks into
another (Note [Nested dual levels] in csrc/autograd/forward_ad.h). make_dual and unpack_dual take level=
(the id dual_level() returns; the innermost level by default). Levels exit innermost first; exiting one drops
its tangents.
"""

from __future__ import annotations

from typing import NamedTuple

from .. import _C
from .._C import Tensor

__all__ = ["UnpackedDualTensor", "dual_level", "enter_dual_level", "exit_dual_level", "make_dual", "unpack_dual"]


class UnpackedDualTensor(NamedTuple):
    """What unpack_dual returns: the primal and its tangent (None where there is none), as torch's."""

    primal: Tensor
    tangent: Tensor | None


def enter_dual_level() -> int:
    """Enter a new (innermost) dual level and return its id."""
    return _C.enter_dual_level()


def exit_dual_level(*, level: int | None = None) -> None:
    """Exit `level` (the innermost one by default); it must be the innermost."""
    _C.exit_dual_level(level)


class dual_level:
    """Context manager for a dual level; tangents created at it are dropped on exit."""

    level: int

    def __enter__(self) -> int:
        self.level = _C.enter_dual_level()
        return self.level

    def __exit__(self, *exc: object) -> None:
        _C.exit_dual_level(self.level)


def _check_level(level: object, fn: str) -> None:
    if level is not None and (not isinstance(level, int) or isinstance(level, bool) or level < 1):
        raise TypeError(f"[{fn}] level must be a dual level id (an int returned by dual_level()), got {level!r}")


def make_dual(tensor: Tensor, tangent: Tensor, *, level: int | None = None) -> Tensor:
    """A view of `tensor` carrying `tangent` (same shape) at `level` (default: the innermost active level);
    its tangents at other levels are kept.

    torch's rules: both must be floating (ValueError otherwise) and of the same size (RuntimeError); their float
    dtypes may differ. torch then keeps the tangent's dtype, so a float64 tangent on a float32 primal later
    fails in matmul's rule; pyad casts it to the primal's dtype, the invariant every JVP rule relies on (as
    .grad is always cast to its tensor's dtype)."""
    if not isinstance(tensor, _C.Tensor) or not isinstance(tangent, _C.Tensor):
        raise TypeError(f"[make_dual] expected two Tensors, got {type(tensor).__name__} and {type(tangent).__name__}")
    if not tensor.dtype.is_floating_point:
        raise ValueError(f"[make_dual] Expected primal to be floating point or complex, but got: {tensor.dtype}")
    if not tangent.dtype.is_floating_point:
        raise ValueError(f"[make_dual] Expected tangent to be floating point or complex, but got: {tangent.dtype}")
    if tuple(tangent.shape) != tuple(tensor.shape):
        raise RuntimeError(
            "[make_dual] Trying to set a forward gradient that has a different size than that of "
            f"the original Tensor, this is not supported. Tensor is of size {tuple(tensor.shape)} "
            f"while the given forward gradient is of size {tuple(tangent.shape)}."
        )
    if tangent.device != tensor.device:
        raise RuntimeError(f"[make_dual] the tangent is on {tangent.device} but the primal on {tensor.device}")
    _check_level(level, "make_dual")
    return _C.make_dual(tensor, tangent, level)


def unpack_dual(tensor: Tensor, *, level: int | None = None) -> UnpackedDualTensor:
    """(primal, tangent) of a dual tensor at `level` (default: the innermost active level); the tangent is
    None where there is none. The primal keeps the tangents at the other levels."""
    _check_level(level, "unpack_dual")
    return UnpackedDualTensor(*_C.unpack_dual(tensor, level))
