"""BatchedTensor, the value vmap passes to the function it maps: one physical tensor holding every sample, with
the batch dimension first, tagged with the vmap level it belongs to.

Note [Batched tensors and levels]
Each vmap call opens a level (an increasing id, its batch size and its randomness mode) and wraps the batched
arguments as BatchedTensor(value, level), value's first dim being the batch. A BatchedTensor looks like one sample
(shape, ndim, methods, operators): every _C op it meets calls BatchedTensor.__pyad_function__ (Note [The
__pyad_function__ protocol] in csrc/python/bind.h), which runs the op's batching rule (pyad/_batching_rules.py) on
the values at the innermost level among the arguments, or else loops over the samples and stacks the results.
Nested vmaps nest wrappers: an inner level's value is itself a BatchedTensor of the outer level (or a plain tensor
when only the inner level batches it), so a rule's call on the values dispatches again, one level down; arguments
of outer levels are unbatched at an inner one and pass through to the values' op unchanged. Autograd and forward
mode see only the physical tensors: the graph is recorded on them, so grad, jvp and friends batch for free once
their inputs are batched (pyad/func.py batches unbatched differentiated inputs at every open level first, so each
sample keeps its own gradient).
"""

from __future__ import annotations

import functools
import itertools
import threading
import types
from collections.abc import Callable
from typing import Any

from . import _C
from ._C import Tensor

__all__ = ["BatchedTensor"]


class _Level:
    __slots__ = ("id", "size", "randomness")

    def __init__(self, id: int, size: int, randomness: str) -> None:
        self.id, self.size, self.randomness = id, size, randomness


# The _C ops typed for Tensors, seen untyped: a BatchedTensor reaches them through the protocol.
_ops: Any = _C


class _State(threading.local):
    def __init__(self) -> None:
        self.levels: list[_Level] = []  # this thread's open vmap levels, outermost first


_STATE = _State()
_IDS = itertools.count(1)


def push_level(size: int, randomness: str) -> int:
    level = _Level(next(_IDS), size, randomness)
    _STATE.levels.append(level)
    return level.id


def pop_level() -> None:
    _STATE.levels.pop()


def level_size(level: int) -> int:
    for lv in _STATE.levels:
        if lv.id == level:
            return lv.size
    raise RuntimeError("[vmap] a batched tensor escaped the vmap that made it (its level is closed)")


def is_tensor(x: Any) -> bool:
    return isinstance(x, (Tensor, BatchedTensor))


def unwrap(x: Any, level: int) -> tuple[Any, bool]:
    """(x's value, True) when x is batched at `level`, else (x, False)."""
    if type(x) is BatchedTensor and x.level == level:
        return x.value, True
    return x, False


def wrap(r: Any, level: int) -> Any:
    """An op's result on values, as BatchedTensors of `level` (tuples and named tuples of them kept)."""
    if isinstance(r, (Tensor, BatchedTensor)):
        return BatchedTensor(r, level)
    if isinstance(r, tuple):
        items = [wrap(v, level) for v in r]
        return type(r)(*items) if hasattr(r, "_fields") else tuple(items)
    if isinstance(r, list):
        return [wrap(v, level) for v in r]
    return r


def levels_of(x: Any) -> set[int]:
    out = set()
    while type(x) is BatchedTensor:
        out.add(x.level)
        x = x.value
    return out


def _add_level(x: Any, level: int, size: int) -> Any:
    """x batched at `level` too (each sample the same x), the wrappers kept in level order."""
    if type(x) is BatchedTensor and x.level > level:
        return BatchedTensor(_add_level(x.value, level, size), x.level)
    return BatchedTensor(_C.expand(x, [size, *x.shape]), level)


def batch_at_open_levels(x: Any) -> Any:
    """x batched at every open vmap level (a broadcast, no copy): what grad and vjp differentiate inside vmap,
    so that each sample's gradient stays its own (Note [Batched tensors and levels])."""
    levels = _STATE.levels
    if not levels:
        return x
    have = levels_of(x)
    for lv in levels:
        if lv.id not in have:
            x = _add_level(x, lv.id, lv.size)
    return x


def physical(x: Any) -> Any:
    while type(x) is BatchedTensor:
        x = x.value
    return x


def random(fn: Callable[..., Tensor], name: str, shape: list[int], dtype: Any, device: Any) -> Tensor:
    """A random creation op inside vmap, as torch's randomness modes say: "error" raises, "different" draws
    independent numbers per sample (one draw with the batch dims in front), "same" one draw for all samples."""
    batch = []
    for lv in _STATE.levels:
        if lv.randomness == "error":
            raise RuntimeError(
                f"[vmap] {name} called inside vmap with randomness='error': pass randomness='different' (independent "
                "draws per sample) or randomness='same' (one draw shared by the samples)"
            )
        if lv.randomness == "different":
            batch.append(lv)
    out: Any = fn([lv.size for lv in batch] + list(shape), dtype, device)
    for lv in batch:
        out = BatchedTensor(out, lv.id)
    return out


def in_vmap() -> bool:
    return bool(_STATE.levels)


def _innermost(args: Any, kwargs: dict[str, Any]) -> int:
    level = 0
    for a in itertools.chain(args, kwargs.values()):
        if type(a) is BatchedTensor:
            level = max(level, a.level)
        elif isinstance(a, (list, tuple)):
            for v in a:
                if type(v) is BatchedTensor:
                    level = max(level, v.level)
    return level


def _no_python_value(what: str) -> Callable[..., Any]:
    def method(self: BatchedTensor, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(
            f"[vmap] {what} needs one value per sample, which vmap cannot give inside the mapped function "
            "(data-dependent Python control flow): return the tensor from the function instead"
        )

    return method


def _binary(op: Callable[..., Any], reflected: bool = False) -> Callable[..., Any]:
    def method(self: BatchedTensor, other: Any) -> Any:
        return op(other, self) if reflected else op(self, other)

    return method


class BatchedTensor:
    """One sample's view of a batch (Note [Batched tensors and levels]): value holds all samples, batch dim first."""

    __slots__ = ("value", "level", "__weakref__")
    __array_priority__ = 1000  # NumPy defers to our reflected operators

    def __init__(self, value: Any, level: int) -> None:
        self.value = value
        self.level = level

    @classmethod
    def __pyad_function__(
        cls, func: Any, types: tuple[type, ...], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        from . import _batching_rules

        level = _innermost(args, kwargs)
        rule = _batching_rules.RULES.get(func.__name__, _batching_rules.loop)
        return rule(func, level, args, kwargs)

    # ---- one sample's metadata ----
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.value.shape[1:])

    @property
    def ndim(self) -> int:
        return len(self.value.shape) - 1

    def dim(self) -> int:
        return self.ndim

    def size(self, dim: int | None = None) -> Any:
        shape = self.shape
        return shape if dim is None else shape[dim]

    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    @property
    def dtype(self) -> Any:
        return self.value.dtype

    @property
    def device(self) -> Any:
        return self.value.device

    @property
    def is_cuda(self) -> bool:
        return bool(self.value.is_cuda)

    @property
    def requires_grad(self) -> bool:
        return bool(self.value.requires_grad)

    @property
    def is_leaf(self) -> bool:
        return bool(self.value.is_leaf)

    @property
    def grad_fn(self) -> Any:
        return self.value.grad_fn

    @property
    def T(self) -> Any:
        return _ops.permute(self, list(range(self.ndim - 1, -1, -1)))

    @property
    def mT(self) -> Any:
        return _ops.transpose(self, -2, -1)

    def element_size(self) -> int:
        return int(self.value.element_size())

    def is_contiguous(self) -> bool:
        return bool(self.value.is_contiguous())

    # ---- autograd ----
    def detach(self) -> BatchedTensor:
        return BatchedTensor(self.value.detach(), self.level)

    def requires_grad_(self, requires_grad: bool = True) -> BatchedTensor:
        self.value.requires_grad_(requires_grad)
        return self

    def clone(self) -> BatchedTensor:
        return BatchedTensor(self.value.clone(), self.level)

    def contiguous(self) -> BatchedTensor:
        return BatchedTensor(self.value.contiguous(), self.level)

    def backward(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError(
            "[vmap] backward() inside vmap would sum the samples' gradients into .grad: use pyad.func.grad "
            "(or pyad.autograd.grad) inside the mapped function"
        )

    # ---- in place ----
    def _inplace(self, method: str, other: Any) -> BatchedTensor:
        from . import _batching_rules

        getattr(self.value, method)(_batching_rules.aligned(other, self.level, self.ndim))
        return self

    def add_(self, other: Any) -> BatchedTensor:
        return self._inplace("add_", other)

    def sub_(self, other: Any) -> BatchedTensor:
        return self._inplace("sub_", other)

    def mul_(self, other: Any) -> BatchedTensor:
        return self._inplace("mul_", other)

    def div_(self, other: Any) -> BatchedTensor:
        return self._inplace("div_", other)

    __iadd__, __isub__, __imul__, __itruediv__ = add_, sub_, mul_, div_

    def zero_(self) -> BatchedTensor:
        self.value.zero_()
        return self

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

    def __floordiv__(self, other: Any) -> Any:
        from . import _math_more

        return _math_more.floor_divide(self, other)  # type: ignore[arg-type]

    def __rfloordiv__(self, other: Any) -> Any:
        from . import _math_more

        return _math_more.floor_divide(other, self)  # type: ignore[arg-type]

    def __neg__(self) -> Any:
        return _ops.neg(self)

    def __abs__(self) -> Any:
        return _ops.abs(self)

    # (No __float__, __int__ or __index__: the core would take a BatchedTensor for a Python number.)
    __bool__ = _no_python_value("bool(tensor)")
    item = _no_python_value("tensor.item()")
    tolist = _no_python_value("tensor.tolist()")
    numpy = _no_python_value("tensor.numpy()")

    def __repr__(self) -> str:
        return f"BatchedTensor(level={self.level}, shape={self.shape}, value={self.value!r})"

    def __getattr__(self, name: str) -> Any:
        # Tensor's methods written in Python (pyad/_tensor.py) call public functions, which batch; its C++ methods
        # are the _C function of the same name with self first.
        fn = Tensor.__dict__.get(name)
        if isinstance(fn, types.FunctionType):
            return types.MethodType(fn, self)
        op = getattr(_C, name, None)
        if callable(fn) and callable(op) and name not in _METHODS_OF_THEIR_OWN:
            # (a property such as .grad is not a method: no _C.grad here)
            return lambda *args, **kwargs: op(self, *args, **kwargs)
        if callable(fn) and not isinstance(fn, property):
            # A C++ method with no _C function of its signature (copy_, index_add_, index_put_ ...): once per
            # sample; an in-place one then writes the batch (in_place_per_sample).
            method = lambda t, *a, **k: getattr(t, name)(*a, **k)  # noqa: E731
            if name.endswith("_"):
                return lambda *args, **kwargs: in_place_per_sample(method, self, args, kwargs)
            return lambda *args, **kwargs: per_sample(method, (self, *args), kwargs)
        raise AttributeError(f"[vmap] a batched tensor has no attribute {name!r}")


TENSORLIKE = (Tensor, BatchedTensor)  # what the Python-level ops take where they take a Tensor


def _tensor_dunder(name: str) -> Callable[..., Any]:
    # Looked up at call time: pyad/_tensor.py installs Tensor's Python methods after this module is imported.
    def method(self: BatchedTensor, *args: Any) -> Any:
        return Tensor.__dict__[name](self, *args)

    method.__name__ = name
    return method


# Tensor's Python-level dunders (indexing, len, iteration) work on the sample's shape as they are.
for _name in ("__getitem__", "__setitem__", "__len__", "__iter__"):
    setattr(BatchedTensor, _name, _tensor_dunder(_name))


# Tensor methods whose _C function of the same name takes other arguments (_C.index_put_ takes the basic
# indexing steps of pyad/_indexing.py; the method, torch's index tensors).
_METHODS_OF_THEIR_OWN = frozenset({"index_put_"})


def in_place_per_sample(method: Callable[..., Any], x: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """An in-place method on the batched x, run once per sample on a copy of the sample, the results written
    into x's batch with one copy: an in-place op on each sample's view would be a write through a view, which
    forward mode refuses."""
    out = per_sample(lambda t, *a, **k: method(t.clone(), *a, **k), (x, *args), kwargs)
    value, batched = unwrap(x, out.level) if type(out) is BatchedTensor else (x, False)
    if not batched:
        raise RuntimeError(
            "[vmap] an in-place write of a batched value into a tensor that is not batched at that level: write "
            "into a batched copy instead (e.g. x.clone() of a batched tensor, or pyad.where)"
        )
    value.copy_(out.value)
    return x


def loops_under_vmap(fn: Callable[..., Any]) -> Callable[..., Any]:
    """fn, run once per sample when a BatchedTensor is among its arguments: for Python-level ops that check
    for Tensors (and so never reach __pyad_function__), such as pyad.linalg's Functions and the in-place
    indexing methods. Outside vmap it costs one list lookup."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _STATE.levels and _innermost(args, kwargs):
            return per_sample(fn, args, kwargs)
        return fn(*args, **kwargs)

    wrapper.__vmap_loop__ = True  # type: ignore[attr-defined]
    return wrapper


def per_sample(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """fn once per sample of the innermost level among args, the results stacked (for code written for one
    sample that no batching rule sees, such as a custom Function's forward and backward)."""
    from . import _batching_rules

    return _batching_rules.loop(fn, _innermost(args, kwargs), args, kwargs)
