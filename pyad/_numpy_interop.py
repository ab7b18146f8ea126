"""NumPy meeting pyad tensors: operands of either side, and NumPy's ufuncs applied to tensors.

Note [NumPy operands]
---------------------
A NumPy value next to a pyad tensor never turns the result into a NumPy array (which would drop the graph in
silence): like JAX, the result is a pyad tensor that keeps the graph, from either side of the operator.

* A NumPy scalar (np.float64(3), np.int64(2), np.bool_(True)) is the Python number it holds, so it follows
  torch's rule for Python scalars: np.float64(3) * float32_tensor is float32, as in torch.
* A NumPy array is the tensor torch.from_numpy would make of it (a copy, on the other operand's device), so it
  follows torch's promotion between tensors: a float64 array of any dims > 0 promotes a float32 tensor to
  float64, a 0-d float64 array does not (a 0-d tensor decides the dtype only from a higher category). Integer
  arrays of every width are int64 (pyad's one integer dtype), float16 arrays float32.
* `ndarray op tensor` and `np.<ufunc>(..., tensor, ...)` reach Tensor.__array_ufunc__, which maps the ufuncs
  pyad has an op for (arithmetic, comparisons, matmul, exp, log, sin, ...) to those ops; any other ufunc, a
  ufunc method (np.add.reduce) or out= raises TypeError rather than compute in NumPy behind autograd's back.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from . import _C
from ._C import Tensor
from ._dtypes import bool as bool_, float32, float64, int64


def pyad_dtype_of(nd: np.dtype) -> _C.dtype:
    """The pyad dtype a NumPy array of dtype `nd` becomes; TypeError for what pyad cannot hold."""
    if nd.kind == "b":
        return bool_
    if nd.kind in "iu":
        return int64
    if nd == np.float64:
        return float64
    if nd.kind == "f" and nd.itemsize <= 4:
        return float32
    raise TypeError(
        f"[numpy] can't use a NumPy value of dtype {nd} with pyad tensors: pyad holds float32, float64, int64 and bool"
    )


def operand(obj: np.generic | np.ndarray, device: _C.device) -> bool | int | float | Tensor:
    """A NumPy scalar as its Python number, a NumPy array as a tensor (a copy) on `device`."""
    if isinstance(obj, np.generic):
        if isinstance(obj, np.bool_):
            return bool(obj)
        if isinstance(obj, np.integer):
            return int(obj)
        if isinstance(obj, np.floating) and obj.dtype.itemsize <= 8:
            return float(obj)
        raise TypeError(
            f"[numpy] can't use a NumPy {type(obj).__name__} with pyad tensors: pyad holds float32, "
            "float64, int64 and bool"
        )
    dt = pyad_dtype_of(obj.dtype)
    arr: np.ndarray = np.array(obj, dtype=_C_NUMPY[dt], order="C", copy=True)
    return _C.copy_to(_C.from_numpy(arr), dt, device)


_C_NUMPY = {float32: np.float32, float64: np.float64, int64: np.int64, bool_: np.bool_}


def _positive(x: Tensor) -> Tensor:
    return x


_UNARY = {
    "negative": _C.neg,
    "positive": _positive,
    "absolute": _C.abs,
    "exp": _C.exp,
    "log": _C.log,
    "log1p": _C.log1p,
    "sin": _C.sin,
    "cos": _C.cos,
    "tanh": _C.tanh,
    "sqrt": _C.sqrt,
    "sign": _C.sign,
    "expm1": _C.expm1,
    "square": _C.square,
    "reciprocal": _C.reciprocal,
    "sinh": _C.sinh,
    "cosh": _C.cosh,
    "tan": _C.tan,
    "arcsin": _C.asin,
    "arccos": _C.acos,
    "arctan": _C.atan,
    "arcsinh": _C.asinh,
    "arccosh": _C.acosh,
    "arctanh": _C.atanh,
    "log2": _C.log2,
    "log10": _C.log10,
    "exp2": _C.exp2,
    "floor": _C.floor,
    "ceil": _C.ceil,
    "rint": _C.round,
    "trunc": _C.trunc,
}
_BINARY = {
    "add": _C.add,
    "subtract": _C.sub,
    "multiply": _C.mul,
    "divide": _C.div,
    "fmod": _C.fmod,
    "remainder": _C.remainder,
    "true_divide": _C.div,
    "power": _C.pow,
    "maximum": _C.maximum,
    "minimum": _C.minimum,
    "matmul": _C.matmul,
    "arctan2": _C.atan2,
    "hypot": _C.hypot,
    "logaddexp": _C.logaddexp,
    "equal": _C.eq,
    "not_equal": _C.ne,
    "less": _C.lt,
    "less_equal": _C.le,
    "greater": _C.gt,
    "greater_equal": _C.ge,
}


def _binary(name: str, a: Any, b: Any) -> Tensor:
    # Numbers and NumPy values stay as they are: the ops turn them into operands by torch's rules for
    # scalars and arrays (and pow refuses an integer to a negative integer power, as torch).
    a, b = (x if isinstance(x, (Tensor, np.ndarray, np.generic, numbers.Number)) else np.asarray(x) for x in (a, b))
    if name == "matmul":
        return b.__rmatmul__(a) if isinstance(b, Tensor) else a.__matmul__(b)
    return _BINARY[name](a, b)


def array_ufunc(self: Tensor, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Tensor:
    """Tensor.__array_ufunc__: see Note [NumPy operands]."""
    name = ufunc.__name__
    if method != "__call__":
        raise TypeError(
            f"[numpy] np.{name}.{method} is not supported on pyad tensors; use pyad's ops (or "
            "tensor.detach().numpy() for a NumPy result without gradients)"
        )
    out = kwargs.get("out")
    if out is not None:  # `array += tensor` too (torch fails on it, with a confusing error)
        where = "a tensor" if any(isinstance(o, Tensor) for o in out) else "a NumPy array"
        raise TypeError(
            f"[numpy] np.{name}(..., out=...) can't write a pyad result into {where}; assign the "
            "returned tensor instead (x = x + a; x.add_(a) for a tensor; a += t.detach().numpy() "
            "for an array)"
        )
    extra = sorted(k for k, v in kwargs.items() if k != "out" and v is not None)
    if extra:
        raise TypeError(f"[numpy] np.{name} on pyad tensors takes no keyword arguments, got {', '.join(extra)}")
    if name in _UNARY and len(inputs) == 1:
        return _UNARY[name](inputs[0])
    if len(inputs) == 2 and name in _BINARY:
        return _binary(name, *inputs)
    raise TypeError(
        f"[numpy] np.{name} has no pyad equivalent for pyad tensors; use pyad's ops (or "
        "tensor.detach().numpy() for a NumPy result without gradients)"
    )
