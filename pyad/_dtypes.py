"""dtype objects and the conversions that accept names and NumPy dtypes."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

import numpy as np

from . import _C
from ._C import device, dtype

if TYPE_CHECKING:
    from ._typing import DeviceLike, DTypeLike

__all__ = [
    "bool",
    "double",
    "dtype",
    "float",
    "float32",
    "float64",
    "get_default_device",
    "get_default_dtype",
    "int64",
    "long",
    "set_default_device",
    "set_default_dtype",
]

# Print dtypes as torch does (pyad.float32), and let their str round-trip through as_dtype.
dtype.__repr__ = dtype.__str__ = lambda self: f"pyad.{self.name}"  # type: ignore[method-assign]
float32 = _C.dtype.float32
float64 = _C.dtype.float64
int64 = _C.dtype.int64
bool = _C.dtype.bool  # noqa: A001 - torch names it so
float = float32  # noqa: A001
double = float64
long = int64

_BY_NAME = {
    "float32": float32,
    "float": float32,
    "float64": float64,
    "double": float64,
    "int64": int64,
    "long": int64,
    "bool": bool,
}
# The process-wide defaults, as torch's (set_default_dtype, set_default_device); lists so the setters need no
# `global`.
_DEFAULT = [float32]


def get_default_dtype() -> dtype:
    """The dtype factories and Python floats take when none is given (float32 unless set_default_dtype)."""
    return _DEFAULT[0]


def set_default_dtype(d: DTypeLike) -> None:
    """Make float32 or float64 the default floating dtype, as torch.set_default_dtype."""
    d = as_dtype(d)
    if d not in (float32, float64):
        raise TypeError(f"[set_default_dtype] only float32 and float64 can be the default, got {d}")
    _DEFAULT[0] = d


def as_dtype(d: DTypeLike) -> dtype:
    """pyad.dtype from a pyad dtype, its name, or a NumPy dtype; TypeError otherwise."""
    if isinstance(d, _C.dtype):
        return d
    if isinstance(d, str):
        name = d[5:] if d.startswith("pyad.") else d
        if name in _BY_NAME:
            return _BY_NAME[name]
        raise TypeError(f"[dtype] unknown dtype {d!r} (expected one of float32, float64, int64, bool)")
    try:
        nd = np.dtype(d)
    except TypeError:
        raise TypeError(
            f"[dtype] {d!r} is not a dtype (expected pyad.float32, pyad.float64, pyad.int64, "
            "pyad.bool, their names, or a NumPy dtype)"
        ) from None
    if nd == np.float32:
        return float32
    if nd == np.float64:
        return float64
    if nd == np.int64:
        return int64
    if nd == np.bool_:
        return bool
    raise TypeError(f"[dtype] NumPy dtype {nd} has no pyad equivalent (float32, float64, int64, bool)")


_DEFAULT_DEVICE = [_C.device("cpu")]


def get_default_device() -> device:
    """The device factories use when given device=None ('cpu' unless set_default_device)."""
    return _DEFAULT_DEVICE[0]


def set_default_device(d: DeviceLike | None) -> None:
    """The device factories use when given device=None (as torch.set_default_device)."""
    _DEFAULT_DEVICE[0] = as_device(d if d is not None else "cpu")


def as_device(d: DeviceLike | None) -> device:
    """A pyad.device from a device, a string ('cpu', 'cuda', 'cuda:1') or a GPU index; None is the default
    device. A CUDA device is checked to exist (RuntimeError naming it otherwise)."""
    if d is None:
        return _DEFAULT_DEVICE[0]
    if isinstance(d, _C.device):
        dev = d
    elif isinstance(d, str):
        dev = _C.device(d)
    elif isinstance(d, int) and not isinstance(d, builtins.bool):
        dev = _C.device(f"cuda:{d}")
    else:
        raise TypeError(f"[device] expected a device or a string such as 'cpu' or 'cuda', got {type(d).__name__}")
    if dev.type == "cuda":
        from . import cuda

        cuda._lazy_init()
        if dev.index >= cuda.device_count():
            raise RuntimeError(f"[device] {dev} does not exist: this machine has {cuda.device_count()} CUDA device(s)")
    return dev


def to_numpy_dtype(d: dtype) -> type[np.generic]:
    """The NumPy scalar type of a pyad dtype."""
    return {float32: np.float32, float64: np.float64, int64: np.int64, bool: np.bool_}[d]
