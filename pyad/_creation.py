"""Tensor factories with torch's signatures."""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _C, _batched
from ._C import Tensor
from ._dtypes import as_device, as_dtype, bool as bool_, float32, float64, get_default_dtype, int64, to_numpy_dtype

if TYPE_CHECKING:
    from ._typing import DeviceLike, DTypeLike, Number, ShapeLike

__all__ = [
    "arange",
    "empty",
    "empty_like",
    "eye",
    "from_dlpack",
    "from_numpy",
    "full",
    "full_like",
    "ones",
    "ones_like",
    "rand",
    "rand_like",
    "randn",
    "randn_like",
    "tensor",
    "zeros",
    "zeros_like",
]


def _shape(size: Sequence[Any], op: str) -> list[int]:
    if len(size) == 1 and not isinstance(size[0], numbers.Integral):
        size = size[0]
    try:
        shape = tuple(int(s) for s in size)
    except TypeError:
        raise TypeError(f"[{op}] size must be ints or a tuple of ints, got {size!r}") from None
    if any(s < 0 for s in shape):
        raise ValueError(f"[{op}] negative dimension in size {shape}")
    return list(shape)


def _finish(t: Tensor, requires_grad: bool) -> Tensor:
    if requires_grad:
        t.requires_grad_(True)
    return t


def _promote(a: _C.dtype, b: _C.dtype | None) -> _C.dtype:
    order = [bool_, int64, float32, float64]
    return a if b is None or order.index(a) >= order.index(b) else b


def _scan(data: list[Any] | tuple[Any, ...]) -> tuple[_C.dtype, bool]:
    """(torch's dtype for nested sequences, whether a Tensor is among them). Each Python number counts as its
    kind (float as the default dtype), each NumPy scalar or array and each Tensor as its own dtype; the dtype is
    their promotion. The walk gathers the element types of a whole nesting level at C speed, so that big lists
    stay cheap."""
    from ._numpy_interop import pyad_dtype_of

    kinds: set[type] = set()
    typed: list[Any] = []
    level: list[Any] = [data]
    while level:
        here = set(map(type, itertools.chain.from_iterable(level)))
        if here & {np.ndarray, Tensor} or any(issubclass(t, (np.ndarray, Tensor)) for t in here):
            typed.extend(v for v in itertools.chain.from_iterable(level) if isinstance(v, (np.ndarray, Tensor)))
        level = (
            [v for v in itertools.chain.from_iterable(level) if type(v) in (list, tuple)]
            if list in here or tuple in here
            else []
        )
        kinds |= here
    found = None
    for t in kinds - {list, tuple}:
        if issubclass(t, (np.ndarray, Tensor)):
            continue
        if issubclass(t, np.generic):
            found = _promote(pyad_dtype_of(np.dtype(t)), found)
        elif issubclass(t, bool):
            found = _promote(bool_, found)
        elif issubclass(t, numbers.Integral):
            found = _promote(int64, found)
        else:
            found = _promote(get_default_dtype(), found)
    for v in typed:
        found = _promote(v.dtype if isinstance(v, Tensor) else pyad_dtype_of(v.dtype), found)
    return (found if found is not None else get_default_dtype()), any(isinstance(v, Tensor) for v in typed)


def _detached(data: Sequence[Any]) -> list[Any]:
    """Nested lists with their tensors detached: tensor() copies values, and np.asarray refuses a tensor that
    requires grad (torch.tensor([a, b]) takes such 0-d tensors too)."""
    return [v.detach() if isinstance(v, Tensor) else _detached(v) if isinstance(v, (list, tuple)) else v for v in data]


def tensor(
    data: Any, dtype: DTypeLike | None = None, device: DeviceLike | None = None, requires_grad: bool = False
) -> Tensor:
    """A new tensor holding a copy of `data` (a number, nested lists, a NumPy array or a Tensor). The dtype is
    inferred as torch does: NumPy arrays and scalars keep theirs (integers of every width become int64), Python
    floats take the default dtype, and a nested list promotes all of its entries."""
    if isinstance(data, Tensor):
        src = data.detach()
        dev = as_device(device) if device is not None else src.device
        return _finish(_C.copy_to(src, as_dtype(dtype) if dtype is not None else src.dtype, dev), requires_grad)
    dev = as_device(device)
    inferred, has_tensor = _scan(data) if isinstance(data, (list, tuple)) else (None, False)
    try:
        arr = np.asarray(_detached(data) if isinstance(data, (list, tuple)) and has_tensor else data)
    except (ValueError, TypeError) as e:
        raise ValueError(f"[tensor] cannot build a tensor from this data: {e}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"[tensor] data is not numeric: got values of kind {arr.dtype} "
            "(expected numbers, bools, nested lists of them, or an array)"
        )
    if dtype is not None:
        dt = as_dtype(dtype)
    elif arr.dtype.kind == "b":
        dt = bool_
    elif arr.dtype.kind in "iu":
        dt = int64
    elif isinstance(data, (np.ndarray, np.generic)):
        from ._numpy_interop import pyad_dtype_of

        dt = pyad_dtype_of(arr.dtype) if arr.dtype.itemsize <= 8 else get_default_dtype()
    elif isinstance(data, (list, tuple)) and inferred is not None:
        dt = inferred
    else:
        dt = get_default_dtype()
    arr = np.array(arr, dtype=to_numpy_dtype(dt), order="C")  # a copy that keeps 0-d data 0-d
    out = _C.copy_to(_C.from_numpy(arr), dt, dev)
    if requires_grad and not dt.is_floating_point:
        raise RuntimeError(f"[tensor] only Tensors of floating point dtype can require gradients, got {dt}")
    return _finish(out, requires_grad)


def _legacy_new(*args: Any, device: DeviceLike | None = None) -> Tensor:
    """torch's legacy constructor pyad.Tensor(...): Tensor(sequence or array) copies the data as the default
    float dtype, Tensor(2, 3) (or a shape tuple of a tensor's .shape) is uninitialised memory of that shape,
    Tensor() is empty, Tensor(tensor) an alias of it; the device keyword as torch's."""
    if not args:
        return _C.empty([0], get_default_dtype(), as_device(device))
    if len(args) == 1 and isinstance(args[0], Tensor):
        src = args[0]
        if device is not None and as_device(device) != src.device:
            raise RuntimeError(f"[Tensor] the tensor is on {src.device}, not on {device}: use tensor.to(device)")
        return src.detach()
    if all(isinstance(a, numbers.Integral) and not isinstance(a, (bool, np.bool_)) for a in args):
        return empty(*args, device=device)
    if len(args) == 1 and isinstance(args[0], (list, tuple, np.ndarray)):
        return tensor(args[0], dtype=get_default_dtype(), device=device)
    got = ", ".join(type(a).__name__ for a in args)
    raise TypeError(
        f"[Tensor] Tensor() takes sizes (ints), a sequence, an array or a Tensor, got ({got}); "
        "use pyad.tensor(value) for a tensor of one number"
    )


def _factory(name: str, fn: Callable[..., Tensor], random: bool = False) -> Callable[..., Tensor]:
    def make(
        *size: int | ShapeLike,
        dtype: DTypeLike | None = None,
        device: DeviceLike | None = None,
        requires_grad: bool = False,
    ) -> Tensor:
        dt = as_dtype(dtype) if dtype is not None else get_default_dtype()
        if random and _batched.in_vmap():  # vmap's randomness modes (pyad/_batched.py)
            return _finish(_batched.random(fn, name, _shape(size, name), dt, as_device(device)), requires_grad)
        return _finish(fn(_shape(size, name), dt, as_device(device)), requires_grad)

    make.__name__ = name
    make.__doc__ = f"pyad.{name}(*size, dtype=None, device=None, requires_grad=False), as torch.{name}."
    return make


zeros = _factory("zeros", _C.zeros)
ones = _factory("ones", _C.ones)
empty = _factory("empty", _C.empty)
rand = _factory("rand", _C.rand, random=True)
randn = _factory("randn", _C.randn, random=True)


def full(
    size: int | ShapeLike,
    fill_value: Number,
    dtype: DTypeLike | None = None,
    device: DeviceLike | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """A tensor of `size` filled with fill_value; the dtype follows fill_value (bool, int64 or the default float
    dtype) unless given, as torch.full."""
    if dtype is None:
        dtype = (
            bool_
            if isinstance(fill_value, bool)
            else int64
            if isinstance(fill_value, numbers.Integral)
            else get_default_dtype()
        )
    return _finish(
        _C.full(_shape((size,), "full"), float(fill_value), as_dtype(dtype), as_device(device)), requires_grad
    )


def eye(
    n: int,
    m: int | None = None,
    dtype: DTypeLike | None = None,
    device: DeviceLike | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """The n x m (n x n) identity matrix, as torch.eye."""
    dt = as_dtype(dtype) if dtype is not None else get_default_dtype()
    return _finish(_C.eye(int(n), int(n if m is None else m), dt, as_device(device)), requires_grad)


def arange(
    start: Number,
    end: Number | None = None,
    step: Number = 1,
    dtype: DTypeLike | None = None,
    device: DeviceLike | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """Values from start (0 with one argument) up to, not including, end by step; int64 when all three are
    ints, the default float dtype otherwise, as torch.arange."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        dtype = int64 if ints else get_default_dtype()
    return _finish(_C.arange(float(start), float(end), float(step), as_dtype(dtype), as_device(device)), requires_grad)


def _like(name: str, fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    def make(
        input: Tensor, dtype: DTypeLike | None = None, device: DeviceLike | None = None, requires_grad: bool = False
    ) -> Tensor:
        return fn(
            input.shape,
            dtype=dtype if dtype is not None else input.dtype,
            device=device or input.device,
            requires_grad=requires_grad,
        )

    make.__name__ = name
    make.__doc__ = (
        f"pyad.{name}(input, dtype=None, device=None, requires_grad=False): pyad.{fn.__name__} with "
        f"input's shape, and its dtype and device unless given, as torch.{name}."
    )
    return make


zeros_like = _like("zeros_like", zeros)
ones_like = _like("ones_like", ones)
empty_like = _like("empty_like", empty)
rand_like = _like("rand_like", rand)
randn_like = _like("randn_like", randn)


def full_like(
    input: Tensor,
    fill_value: Number,
    dtype: DTypeLike | None = None,
    device: DeviceLike | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """pyad.full with input's shape, and its dtype and device unless given, as torch.full_like."""
    return full(
        input.shape,
        fill_value,
        dtype=dtype if dtype is not None else input.dtype,
        device=device or input.device,
        requires_grad=requires_grad,
    )


def from_numpy(a: np.ndarray) -> Tensor:
    """A tensor sharing memory with the NumPy array `a`."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"[from_numpy] expected np.ndarray, got {type(a).__name__}")
    return _C.from_numpy(a)


def from_dlpack(obj: Any) -> Tensor:
    """A tensor sharing memory with any DLPack producer (an object with __dlpack__, or a capsule)."""
    if hasattr(obj, "__dlpack__"):
        kwargs: dict[str, Any] = {}
        if hasattr(obj, "__dlpack_device__") and obj.__dlpack_device__()[0] == 2:  # CUDA memory
            from . import cuda

            cuda._lazy_init()
            kwargs["stream"] = 1  # we read on the legacy default stream: the producer orders its work before it
        try:
            capsule = obj.__dlpack__(max_version=(1, 0), **kwargs)
        except TypeError:  # a producer that predates DLPack 1.0
            capsule = obj.__dlpack__(**kwargs)
        return _C.from_dlpack_capsule(capsule)
    return _C.from_dlpack_capsule(obj)
