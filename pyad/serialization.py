"""Copying, pickling and saving tensors.

copy.copy, copy.deepcopy and pickle follow torch:
- copy.copy(t) is a new tensor sharing t's storage (same requires_grad, no .grad).
- copy.deepcopy(t) copies the data, requires_grad and .grad of a leaf; views deep-copied together (in one
  deepcopy call, e.g. a model with tied weights) share one copy of their storage, with their strides and offset.
  A non-leaf raises, as torch: "Only Tensors created explicitly by the user ...".
- pickle keeps the data, shape, strides, offset, dtype, device and requires_grad (a non-leaf comes back as a
  leaf that requires grad, as torch); views pickled in one dump come back sharing storage. Like any pickle,
  a pickled tensor must only be loaded from a trusted source; pyad.load is the safe way to read weights.

pyad.save(obj, path) / pyad.load(path) write and read safetensors files (https://github.com/huggingface/safetensors):
a JSON header and raw little-endian data, nothing that can run code on load. obj may be a tensor or nested
dicts, lists and tuples of tensors and plain values (None, bool, int, float, str): a state_dict, an optimizer
state. The nesting is kept as JSON in the file's metadata (never pickle); tensors are stored under their path
("layer.0.weight"), so a flat state_dict saved by pyad reads as the same dict with other safetensors tools. The
same tensor object met twice is stored once and loads as one object again; distinct views of one storage are
stored (and load) as separate tensors.

weights_only: pyad.load only ever loads tensors and plain values, which is torch 2.6+'s default
weights_only=True; weights_only=False (arbitrary pickled objects) is refused.
"""

from __future__ import annotations

import collections
import copy as _copy
import json
import math
import os
import weakref
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _C
from ._C import Tensor

if TYPE_CHECKING:
    from ._typing import DeviceLike

__all__ = ["load", "save"]

_NON_LEAF_DEEPCOPY = (
    "Only Tensors created explicitly by the user (graph leaves) support the deepcopy protocol at "
    "the moment. Call .detach() (or .clone().detach()) on a non-leaf tensor before copying it."
)


# ---- storages shared by views ----


class _Storage:
    """The storage behind some tensors, as one flat tensor. One object per live storage while it is being copied
    or pickled, so that pickle's and deepcopy's memo see views of one storage as sharing it."""

    __slots__ = ("flat", "__weakref__")

    def __init__(self, flat: Tensor) -> None:
        self.flat = flat

    def __reduce__(self) -> tuple[Any, ...]:
        flat = self.flat
        data = _C.to_numpy(flat.cpu() if flat.device.type != "cpu" else flat)
        return _rebuild_storage, (data.tobytes(), str(flat.dtype), str(flat.device))

    def __deepcopy__(self, memo: dict[int, Any]) -> _Storage:
        return _Storage(_C.copy_to(self.flat, self.flat.dtype, self.flat.device))


# One _Storage per live storage id while views of it are copied or pickled (see _Storage); weak, so it holds nothing.
_live_storages: weakref.WeakValueDictionary[int, _Storage] = weakref.WeakValueDictionary()


def _storage_of(t: Tensor) -> _Storage:
    sid, flat = _C.storage_of(t)
    s = _live_storages.get(sid)
    if s is None:
        s = _live_storages[sid] = _Storage(flat)
    return s


def _rebuild_storage(data: bytes, dtype_name: str, device: str) -> _Storage:
    from ._dtypes import as_dtype

    if not isinstance(data, (bytes, bytearray)):
        raise TypeError("[unpickle] storage data must be bytes")
    dt = as_dtype(dtype_name)
    arr = np.frombuffer(data, dtype=_NP_DTYPES[dt]).copy()
    flat = _C.copy_to(_C.from_numpy(arr), dt, _C.device(device))
    return _Storage(flat)


def _rebuild_tensor(
    storage: _Storage, offset: int, shape: tuple[int, ...], strides: tuple[int, ...], requires_grad: bool
) -> Tensor:
    t = _C.view_of_storage(storage.flat, list(shape), list(strides), int(offset))
    if requires_grad:
        t.requires_grad_(True)
    return t


def _reduce_ex(self: Tensor, protocol: int) -> tuple[Any, ...]:
    return _rebuild_tensor, (
        _storage_of(self),
        self.storage_offset(),
        tuple(self.shape),
        self.stride(),
        self.requires_grad,
    )


def _deepcopy(self: Tensor, memo: dict[int, Any]) -> Tensor:
    if not isinstance(memo, dict):
        raise TypeError(f"[__deepcopy__] memo must be a dict, got {type(memo).__name__}")
    if not self.is_leaf:
        raise RuntimeError(f"[deepcopy] {_NON_LEAF_DEEPCOPY}")
    if id(self) in memo:
        return memo[id(self)]
    storage = _copy.deepcopy(_storage_of(self), memo)
    new = _rebuild_tensor(storage, self.storage_offset(), self.shape, self.stride(), self.requires_grad)
    memo[id(self)] = new
    if self.grad is not None:
        new.grad = _copy.deepcopy(self.grad, memo)
    return new


Tensor.__reduce_ex__ = _reduce_ex  # type: ignore[method-assign]
Tensor.__deepcopy__ = _deepcopy  # type: ignore[method-assign]
_C.device.__reduce__ = lambda self: (_C.device, (str(self),))  # type: ignore[method-assign]


# ---- pyad.save / pyad.load ----

_FORMAT = "pyad-1"
_STRUCT_KEY = "pyad.structure"


def _np_dtypes() -> dict[_C.dtype, type[np.generic]]:
    from ._dtypes import bool as b, float32, float64, int64

    return {float32: np.float32, float64: np.float64, int64: np.int64, b: np.bool_}


_NP_DTYPES = _np_dtypes()
# What other dtypes a safetensors file may hold become in pyad (which has no half or narrow integer types).
_WIDEN = {
    np.dtype(np.float16): np.float32,
    np.dtype(np.int8): np.int64,
    np.dtype(np.int16): np.int64,
    np.dtype(np.int32): np.int64,
    np.dtype(np.uint8): np.int64,
    np.dtype(np.uint16): np.int64,
    np.dtype(np.uint32): np.int64,
}


def _safetensors(op: str) -> ModuleType:
    try:
        import safetensors  # noqa: F401
        import safetensors.numpy  # noqa: F401
    except ImportError:
        raise ImportError(f"[{op}] needs the safetensors package (pip install 'safetensors>=0.4')") from None
    return safetensors


def _encode(
    obj: Any, path: tuple[str, ...], arrays: dict[str, np.ndarray], names_by_id: dict[int, str], keep: list[Tensor]
) -> Any:
    """obj as JSON-able structure; tensors go into `arrays` under a name derived from their path."""
    if isinstance(obj, Tensor):
        name = names_by_id.get(id(obj))
        if name is None:
            name = ".".join(path) or "tensor"
            while name in arrays:
                name += "_"
            t = obj.detach()
            arr = _C.to_numpy(t.cpu() if t.device.type != "cpu" else t)
            arrays[name] = arr if arr.flags.c_contiguous else arr.copy(order="C")  # (ascontiguousarray makes 0-d 1-d)
            names_by_id[id(obj)] = name
            keep.append(obj)  # ids stay unique while the walk lasts
        return {"tensor": name, "requires_grad": bool(obj.requires_grad and obj.is_leaf), "device": str(obj.device)}
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"float": repr(obj)}  # JSON has no nan or inf
    if isinstance(obj, (int, float)):
        return obj
    if isinstance(obj, (list, tuple)):
        items = [_encode(v, path + (str(i),), arrays, names_by_id, keep) for i, v in enumerate(obj)]
        return {"tuple": items} if isinstance(obj, tuple) else {"list": items}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"[save] dict keys must be str or int, got {type(k).__name__} at {'.'.join(path)!r}")
            items.append([k, _encode(v, path + (str(k),), arrays, names_by_id, keep)])
        return {"odict" if isinstance(obj, collections.OrderedDict) else "dict": items}
    where = ".".join(path) or "top level"
    raise TypeError(
        f"[save] cannot save an object of type {type(obj).__name__} (at {where!r}): "
        "pyad.save stores tensors and nested dicts, lists and tuples of tensors, None, bool, int, float "
        "and str"
    )


def save(obj: Any, f: str | os.PathLike[str]) -> None:
    """Write obj (a tensor, or nested dicts/lists/tuples of tensors and plain values) to the safetensors file f."""
    st = _safetensors("save")
    arrays: dict[str, np.ndarray] = {}
    keep: list[Tensor] = []
    structure = _encode(obj, (), arrays, {}, keep)
    meta = {"format": _FORMAT, _STRUCT_KEY: json.dumps(structure, allow_nan=False)}
    st.numpy.save_file(arrays, os.fspath(f), metadata=meta)


class _Decoder:
    def __init__(self, tensors: dict[str, np.ndarray], map_location: DeviceLike | None, path: str) -> None:
        self.tensors, self.map_location, self.path = tensors, map_location, path
        self.made: dict[str, Tensor] = {}

    def bad(self, why: str) -> ValueError:
        return ValueError(f"[load] {self.path}: malformed pyad structure in the file's metadata ({why})")

    def tensor(self, spec: dict[str, Any]) -> Tensor:
        name = spec.get("tensor")
        if name in self.made:
            return self.made[name]
        if not isinstance(name, str) or name not in self.tensors:
            raise self.bad(f"it names a tensor {name!r} that the file does not hold")
        t = _to_tensor(self.tensors[name], name, self.path)
        device = self.map_location if self.map_location is not None else spec.get("device", "cpu")
        if str(device) != "cpu":
            t = t.to(device)
        if spec.get("requires_grad") is True:
            if not t.dtype.is_floating_point:
                raise self.bad(f"tensor {name!r} of dtype {t.dtype} is marked requires_grad")
            t.requires_grad_(True)
        self.made[name] = t
        return t

    def __call__(self, node: Any) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if not isinstance(node, dict) or len(node) == 0:
            raise self.bad(f"unexpected {type(node).__name__}")
        if "tensor" in node:
            return self.tensor(node)
        if len(node) != 1:
            raise self.bad(f"unknown node {sorted(node)!r}")
        ((kind, items),) = node.items()
        if kind == "float" and isinstance(items, str) and items in ("nan", "inf", "-inf"):
            return float(items)
        if kind in ("list", "tuple") and isinstance(items, list):
            out = [self(v) for v in items]
            return tuple(out) if kind == "tuple" else out
        if kind in ("dict", "odict") and isinstance(items, list):
            mapping: dict[str | int, Any] = collections.OrderedDict() if kind == "odict" else {}
            for kv in items:
                if not (isinstance(kv, list) and len(kv) == 2 and isinstance(kv[0], (str, int))):
                    raise self.bad("a dict entry is not a [key, value] pair")
                mapping[kv[0]] = self(kv[1])
            return mapping
        raise self.bad(f"unknown node {sorted(node)!r}")


def _to_tensor(arr: np.ndarray, name: str, path: str) -> Tensor:
    from ._creation import tensor

    if arr.dtype in _WIDEN:
        arr = arr.astype(_WIDEN[arr.dtype])
    if arr.dtype not in [np.dtype(d) for d in _NP_DTYPES.values()]:
        raise ValueError(f"[load] {path}: tensor {name!r} has dtype {arr.dtype}, which pyad cannot hold")
    return tensor(arr)


def load(f: str | os.PathLike[str], map_location: DeviceLike | None = None, weights_only: bool = True) -> Any:
    """Read what pyad.save wrote (or any safetensors file: a flat dict of tensors). map_location: a device for
    every tensor (default: the device each was saved from)."""
    if weights_only is not True:
        raise ValueError(
            "[load] pyad.load reads safetensors files only, which hold tensors and plain values: "
            "weights_only=False (loading arbitrary pickled objects) is not supported"
        )
    st = _safetensors("load")
    path = os.fspath(f)
    try:
        with st.safe_open(path, framework="numpy") as fh:
            meta = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except (OSError, FileNotFoundError):
        raise
    except Exception as e:  # safetensors' SafetensorError and the errors of a truncated or corrupt header
        raise ValueError(f"[load] {path} is not a valid safetensors file (truncated or corrupt?): {e}") from None
    if _STRUCT_KEY not in meta:
        return {k: _to_tensor(v, k, path) for k, v in tensors.items()}
    try:
        structure = json.loads(meta[_STRUCT_KEY])
    except ValueError as e:
        raise ValueError(f"[load] {path}: the pyad structure in the file's metadata is not valid JSON: {e}") from None
    return _Decoder(tensors, map_location, path)(structure)
