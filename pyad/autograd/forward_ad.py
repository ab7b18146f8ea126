"""Forward-mode AD with dual tensors, as torch.autograd.forward_ad.

    with forward_ad.dual_level():
        d = forward_ad.make_dual(x, t)
        y = f(d)
        primal, tangent = forward_ad.unpack_dual(y)   # tangent = J_f(x) @ t

One dual level can be active at a time; entering a second raises RuntimeError.
"""
import collections

from .. import _C

UnpackedDualTensor = collections.namedtuple("UnpackedDualTensor", ["primal", "tangent"])


def enter_dual_level():
    return _C.enter_dual_level()


def exit_dual_level(*, level=None):
    _C.exit_dual_level(level)


class dual_level:
    """Context manager for a dual level; tangents created inside are dropped on exit."""

    def __enter__(self):
        self.level = _C.enter_dual_level()
        return self.level

    def __exit__(self, *exc):
        _C.exit_dual_level(self.level)
        return False


def make_dual(tensor, tangent, *, level=None):
    """A view of `tensor` carrying `tangent` (same shape) at the active level."""
    if not isinstance(tensor, _C.Tensor) or not isinstance(tangent, _C.Tensor):
        raise TypeError("[make_dual] expected two Tensors")
    if tangent.shape != tensor.shape:
        raise ValueError(f"[make_dual] tangent of shape {tangent.shape} does not match the primal's shape "
                         f"{tensor.shape}")
    if tangent.dtype != tensor.dtype:
        raise TypeError(f"[make_dual] tangent dtype {tangent.dtype} does not match the primal's {tensor.dtype}")
    return _C.make_dual(tensor, tangent)


def unpack_dual(tensor, *, level=None):
    """(primal, tangent) of a dual tensor; the tangent is None where there is none."""
    return UnpackedDualTensor(*_C.unpack_dual(tensor))
