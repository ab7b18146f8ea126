"""Sparsity detection for sparse_jacobian: run f once on a tracer that carries, next to each element's value,
the set of inputs it depends on, and read the Jacobian's pattern off the output.

PatternTracer (value, pat) holds the value f would see (a plain Tensor) and pat, a NumPy bool array of shape
value.shape + (n,): pat[..., j] says the element depends on input j. Every _C op the tracer meets calls
PatternTracer.__pyad_function__ (Note [The __pyad_function__ protocol] in csrc/python/bind.h), which computes the
value with the op itself and the pattern with the op's rule, keyed by op name in RULES:

* elementwise ops (the op list's unary and binary rows, where, clamp, the dtype casts): the union of the
  operands' patterns, broadcast; ops whose derivative is zero everywhere (floor, ceil, round, trunc, sign) give
  none. Comparisons keep their operands' pattern (so bool() of one raises), which `where` ignores: it takes the
  union of both branches, since the pattern must hold at other inputs too.
* data movement (index, reshape, view, permute, transpose, expand, squeeze, unsqueeze, flip, roll, diagonal,
  tril, triu, gather, cat, stack, alias): the op is run once more on the element ids (1, 2, ... numel, with 0
  for constants), which gives each output element its source; tril's zeros get id 0 and no pattern.
* products of moved elements (outer, kron): the ids of each operand against ones for the other.
* reductions and ops along a dim (sum, mean, amax, amin, logsumexp, max_dim, min_dim, trace, softmax,
  log_softmax, cumsum, cumprod, sort, topk): the union over what each output element reads.
* matmul: out[i, j] depends on a[i, k] for every k where b[k, j] may be nonzero and on b[k, j] where a[i, k]
  may be (a constant's zeros are exact zeros: a banded constant matrix keeps the band).

An op without a rule raises, naming it; Python control flow on a traced value (bool(), item()) raises too, since
the pattern must not depend on the point it was traced at.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _C
from ._C import Tensor

__all__ = ["PatternTracer", "RULES", "detect"]

Rule = Callable[[Any, tuple[Any, ...], dict[str, Any]], Any]


def _binary(op: Callable[..., Any], reflected: bool = False) -> Callable[..., Any]:
    def method(self: Any, other: Any) -> Any:
        return op(other, self) if reflected else op(self, other)

    return method


class PatternTracer:
    """A value and, per element, the inputs it depends on (see the module docstring)."""

    __slots__ = ("value", "pat")
    __array_priority__ = 1000

    def __init__(self, value: Tensor, pat: np.ndarray) -> None:
        self.value, self.pat = value, pat

    @classmethod
    def __pyad_function__(
        cls, func: Any, types_: tuple[type, ...], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        name = func.__name__
        rule = RULES.get(name)
        if rule is None:
            raise NotImplementedError(
                f"[sparse_jacobian] {name} has no sparsity rule, so the pattern cannot be detected through it: "
                "pass sparsity= to sparse_jacobian (a bool matrix, a scipy.sparse matrix or (rows, cols))"
            )
        return rule(func, args, kwargs)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.value.shape)

    @property
    def ndim(self) -> int:
        return len(self.value.shape)

    def dim(self) -> int:
        return self.ndim

    def size(self, dim: int | None = None) -> Any:
        return self.shape if dim is None else self.shape[dim]

    def numel(self) -> int:
        return int(self.value.numel())

    @property
    def dtype(self) -> Any:
        return self.value.dtype

    @property
    def device(self) -> Any:
        return self.value.device

    @property
    def requires_grad(self) -> bool:
        return False

    @property
    def T(self) -> Any:
        return _C.permute(self._any(), list(range(self.ndim - 1, -1, -1)))

    @property
    def mT(self) -> Any:
        return _C.transpose(self._any(), -2, -1)

    def __bool__(self) -> bool:
        raise RuntimeError(
            "[sparse_jacobian] bool() of a traced tensor: the detected pattern would depend on the point it was "
            "traced at; pass sparsity= explicitly for functions with data-dependent control flow"
        )

    def item(self) -> Any:
        return self.__bool__()

    def __repr__(self) -> str:
        return f"PatternTracer(shape={self.shape}, nnz={int(self.pat.sum())})"

    # ---- operators (the _C ops dispatch back here) ----
    __add__, __radd__ = _binary(_C.add), _binary(_C.add, True)
    __sub__, __rsub__ = _binary(_C.sub), _binary(_C.sub, True)
    __mul__, __rmul__ = _binary(_C.mul), _binary(_C.mul, True)
    __truediv__, __rtruediv__ = _binary(_C.div), _binary(_C.div, True)
    __mod__, __rmod__ = _binary(_C.remainder), _binary(_C.remainder, True)
    __pow__, __rpow__ = _binary(_C.pow), _binary(_C.pow, True)
    __matmul__, __rmatmul__ = _binary(_C.matmul), _binary(_C.matmul, True)
    __eq__, __ne__ = _binary(_C.eq), _binary(_C.ne)
    __lt__, __le__, __gt__, __ge__ = _binary(_C.lt), _binary(_C.le), _binary(_C.gt), _binary(_C.ge)
    __hash__ = object.__hash__

    def __neg__(self) -> Any:
        return _C.neg(self._any())

    def __abs__(self) -> Any:
        return _C.abs(self._any())

    def __getitem__(self, key: Any) -> Any:
        from . import _indexing

        return _indexing.getitem(self._any(), key)

    def _any(self) -> Any:
        """self, typed for the _C functions, which reach __pyad_function__ through their fallback."""
        return self

    def __getattr__(self, name: str) -> Any:
        # As BatchedTensor: Tensor's Python methods call public functions; its C++ methods are the _C function
        # of the same name with self first.
        fn = Tensor.__dict__.get(name)
        if isinstance(fn, types.FunctionType):
            return types.MethodType(fn, self)
        op = getattr(_C, name, None)
        if fn is not None and callable(op):
            return lambda *args, **kwargs: op(self, *args, **kwargs)
        raise AttributeError(f"[sparse_jacobian] a traced tensor has no attribute {name!r}")


# ---------------------------------------------------------------- helpers
def _n() -> int:
    return _STATE[-1]


_STATE: list[int] = []  # the number of inputs of the trace in progress (a stack, for nested detections)


def _value(a: Any) -> Any:
    if isinstance(a, PatternTracer):
        return a.value
    if isinstance(a, (list, tuple)) and not hasattr(a, "_fields"):
        return type(a)(_value(v) for v in a)
    return a


def _pat(a: Any, shape: Sequence[int]) -> np.ndarray:
    """a's pattern broadcast to shape + (n,) (none for a constant)."""
    n = _n()
    if isinstance(a, PatternTracer):
        p = a.pat
        return np.broadcast_to(p.reshape((1,) * (len(shape) - a.ndim) + p.shape), tuple(shape) + (n,))
    return np.zeros(tuple(shape) + (n,), dtype=bool)


def _wrap(value: Any, pat: np.ndarray) -> Any:
    if not pat.any():  # no dependence: a constant
        return value
    return PatternTracer(value, np.ascontiguousarray(pat))


def _dims(dim: Any, ndim: int) -> tuple[int, ...]:
    if dim is None:
        return tuple(range(ndim))
    ds = [dim] if isinstance(dim, int) else list(dim)
    return tuple(d % ndim if ndim else 0 for d in ds) if ds else tuple(range(ndim))


# ---------------------------------------------------------------- rules
def elementwise(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    # (comparisons too: their bool result stays traced, so that Python control flow on it raises, while a
    # where reads only its value)
    out = func(*_value(args), **_value(kwargs))
    pat = np.zeros(tuple(out.shape) + (_n(),), dtype=bool)
    for a in list(args) + list(kwargs.values()):
        if isinstance(a, PatternTracer):
            pat = pat | _pat(a, out.shape)
    return _wrap(out, pat)


def constant(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Ops whose result does not vary with the traced values (zero derivative, bool or index results)."""
    return func(*_value(args), **_value(kwargs))


def where(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    cond, a, b = args[0], args[1], args[2]
    return elementwise(func, (_value(cond), a, b), kwargs)


def _ids(a: Any, offset: int) -> Any:
    """a's element ids (offset + 1 ...) as a float64 tensor of its shape, or zeros for a constant."""
    if isinstance(a, PatternTracer):
        k = a.numel()
        ids = np.arange(offset + 1, offset + k + 1, dtype=np.float64).reshape(a.shape)
        return _C.from_numpy(ids)
    if isinstance(a, Tensor):
        return _C.zeros(list(a.shape), _C.dtype.float64, a.device)
    return a


def movement(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    out = func(*_value(args), **_value(kwargs))
    tracers: list[PatternTracer] = []

    def ids_of(a: Any) -> Any:
        if isinstance(a, PatternTracer):
            off = sum(t.numel() for t in tracers)
            tracers.append(a)
            return _ids(a, off)
        if isinstance(a, Tensor) and a.dtype.is_floating_point:
            return _ids(a, 0)
        if isinstance(a, (list, tuple)) and not hasattr(a, "_fields"):
            return type(a)(ids_of(v) for v in a)
        return a

    # (the first argument, or the tensors of the list cat and stack take; gather's index stays as it is)
    id_args = (ids_of(args[0]),) + tuple(args[1:])
    src = np.asarray(func(*_value(id_args), **_value(kwargs)).numpy()).astype(np.int64)
    table = np.concatenate([np.zeros((1, _n()), dtype=bool)] + [t.pat.reshape(-1, _n()) for t in tracers])
    return _wrap(out, table[src])


def product(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """outer, kron: each output element is a product of one element of each operand."""
    a, b = args[0], args[1]
    out = func(_value(a), _value(b))
    pat = np.zeros(tuple(out.shape) + (_n(),), dtype=bool)
    for mine, other, first in ((a, b, True), (b, a, False)):
        if not isinstance(mine, PatternTracer):
            continue
        ones = _C.ones(list(_value(other).shape), _C.dtype.float64, out.device)
        ids = func(_ids(mine, 0), ones) if first else func(ones, _ids(mine, 0))
        src = np.asarray(ids.numpy()).astype(np.int64)
        pat = pat | np.concatenate([np.zeros((1, _n()), dtype=bool), mine.pat.reshape(-1, _n())])[src]
    return _wrap(out, pat)


def _reduce_pat(x: Any, dims: tuple[int, ...], keepdim: bool) -> np.ndarray:
    return np.any(x.pat, axis=dims, keepdims=keepdim) if dims else x.pat


def reduction(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """sum, mean, amax, amin, logsumexp: (x, dim, keepdim)."""
    x = args[0]
    out = func(*_value(args), **_value(kwargs))
    if not isinstance(x, PatternTracer):
        return out
    dim = args[1] if len(args) > 1 else kwargs.get("dim")
    keepdim = bool(args[2] if len(args) > 2 else kwargs.get("keepdim", False))
    pat = _reduce_pat(x, _dims(dim, x.ndim), keepdim)
    return _wrap(out, pat.reshape(tuple(out.shape) + (_n(),)))


def along_dim(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """softmax, log_softmax, sort, topk, max_dim, min_dim: every output element reads the whole dim (values)."""
    x = args[0]
    out = func(*_value(args), **_value(kwargs))
    if not isinstance(x, PatternTracer):
        return out
    name = func.__name__
    default = -1 if name in ("sort", "topk") else 0
    pos = 2 if name == "topk" else 1
    dim = args[pos] if len(args) > pos else kwargs.get("dim", default)
    d = _dims(dim, x.ndim)
    whole = np.any(x.pat, axis=d, keepdims=True) if x.ndim else x.pat
    if isinstance(out, tuple):  # (values, indices): the indices are integers
        vals = out[0]
        pat = np.broadcast_to(whole, tuple(vals.shape) + (_n(),))
        items = [_wrap(vals, pat)] + list(out[1:])
        return type(out)(*items) if hasattr(out, "_fields") else tuple(items)
    return _wrap(out, np.broadcast_to(whole, tuple(out.shape) + (_n(),)))


def scan(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """cumsum, cumprod: each element reads the prefix up to it."""
    x = args[0]
    out = func(*_value(args), **_value(kwargs))
    if not isinstance(x, PatternTracer):
        return out
    dim = args[1] if len(args) > 1 else kwargs["dim"]
    if x.ndim == 0:
        return _wrap(out, x.pat)
    return _wrap(out, np.logical_or.accumulate(x.pat, axis=_dims(dim, x.ndim)[0]))


def trace(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    x = args[0]
    out = func(_value(x))
    if not isinstance(x, PatternTracer):
        return out
    k = min(x.shape)
    diag = x.pat[np.arange(k), np.arange(k)]
    return _wrap(out, np.any(diag, axis=0))


def _nonzero(a: Any) -> np.ndarray:
    """Where a may be nonzero: anywhere it depends on an input, and where its value is nonzero."""
    v = np.asarray(_value(a).numpy()) != 0
    return v | a.pat.any(-1) if isinstance(a, PatternTracer) else v


def matmul(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    a, b = args[0], args[1]
    out = func(_value(a), _value(b))
    n = _n()
    va, vb = _value(a), _value(b)
    # 1-d operands as matrices, as matmul treats them.
    pa = a.pat if isinstance(a, PatternTracer) else np.zeros(tuple(va.shape) + (n,), dtype=bool)
    pb = b.pat if isinstance(b, PatternTracer) else np.zeros(tuple(vb.shape) + (n,), dtype=bool)
    na, nb = _nonzero(a), _nonzero(b)
    if va.ndim == 1:
        pa, na = pa[None], na[None]
    if vb.ndim == 1:
        pb, nb = pb[..., None, :], nb[..., None]
    f32 = np.float32
    pat = np.einsum("...ikn,...kj->...ijn", pa.astype(f32), nb.astype(f32)) > 0
    pat |= np.einsum("...ik,...kjn->...ijn", na.astype(f32), pb.astype(f32)) > 0
    if va.ndim == 1:
        pat = pat[..., 0, :, :]
    if vb.ndim == 1:
        pat = pat[..., 0, :]
    return _wrap(out, pat.reshape(tuple(out.shape) + (n,)))


# The op list's elementwise rows (kernels/math.h), by derivative.
_ZERO_DERIVATIVE = ("floor", "ceil", "round", "trunc", "sign")
_COMPARE = ("eq", "ne", "lt", "le", "gt", "ge")
_ELEMENTWISE = (
    "neg abs exp expm1 log log1p sqrt sin cos tanh sigmoid relu softplus erf erfc sinh cosh tan asin acos atan "
    "asinh acosh atanh log2 log10 exp2 rsqrt reciprocal square add sub mul div pow maximum minimum atan2 hypot "
    "logaddexp fmod remainder clamp to_dtype copy_to"
).split()
_MOVEMENT = (
    "index reshape view permute transpose expand squeeze unsqueeze flip roll diagonal tril triu gather cat stack alias"
).split()

RULES: dict[str, Rule] = {
    **{n: elementwise for n in _ELEMENTWISE},
    **{n: constant for n in _ZERO_DERIVATIVE + ("argmax", "argmin", "argsort")},
    **{n: elementwise for n in _COMPARE},
    "unpack_dual": lambda func, args, kwargs: (args[0], None),  # a traced value carries no tangent
    **{n: movement for n in _MOVEMENT},
    **{n: reduction for n in ("sum", "mean", "amax", "amin", "logsumexp")},
    **{n: along_dim for n in ("softmax", "log_softmax", "sort", "topk", "max_dim", "min_dim")},
    "where": where,
    "safe_where": where,
    "outer": product,
    "kron": product,
    "cumsum": scan,
    "cumprod": scan,
    "trace": trace,
    "matmul": matmul,
}


def detect(f: Callable[[Any], Any], x: Tensor) -> tuple[np.ndarray, tuple[int, ...]]:
    """(the (m, n) bool pattern of f's Jacobian at x, f(x)'s shape), from one traced run of f."""
    n = x.numel()
    _STATE.append(n)
    try:
        out = f(PatternTracer(x.detach(), np.eye(n, dtype=bool).reshape(tuple(x.shape) + (n,))))
    finally:
        _STATE.pop()
    if isinstance(out, PatternTracer):
        return out.pat.reshape(-1, n), out.shape
    if isinstance(out, Tensor):  # f does not depend on x
        return np.zeros((out.numel(), n), dtype=bool), tuple(out.shape)
    raise TypeError(f"[sparse_jacobian] the function must return one tensor, got {type(out).__name__}")
