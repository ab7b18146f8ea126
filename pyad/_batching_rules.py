"""Batching rules: each _C op on BatchedTensors (Note [Batched tensors and levels] in pyad/_batched.py) as one op
on the physical values, whose batch dim is first. A rule takes (func, level, args, kwargs) and returns the result
wrapped at `level`. The elementwise rules are generated from the op list (_C.__all__, by signature); ops without a
rule run `loop`, once per sample, and stack the results (vmap_rules() lists which is which).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from . import _C
from ._batched import BatchedTensor, is_tensor, level_size, unwrap, wrap

Rule = Callable[[Any, int, tuple[Any, ...], dict[str, Any]], Any]
RULES: dict[str, Rule] = {}
SELECT, SLICE, UNSQUEEZE = 0, 1, 2  # pyad/_indexing.py's step kinds


def _rule(*names: str) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        for n in names:
            RULES[n] = fn
        return fn

    return register


def _wrap_dim(d: Any, ndim: int, op: str) -> int:
    n = max(ndim, 1)
    d = int(d)
    if not -n <= d < n:
        raise IndexError(f"[{op}] dim {d} is out of range for a tensor with {ndim} dimensions (inside vmap)")
    return d % n


def _batch_size(level: int, args: Any) -> int:
    for a in args:
        if type(a) is BatchedTensor and a.level == level:
            return int(a.value.shape[0])
        if isinstance(a, (list, tuple)):
            for v in a:
                if type(v) is BatchedTensor and v.level == level:
                    return int(v.value.shape[0])
    return level_size(level)


def _pad(v: Any, size: int, shape: tuple[int, ...], rank: int) -> Any:
    """A batched value of logical `shape` with size-1 dims after the batch dim up to logical `rank`, so that it
    broadcasts against others of that rank (an unbatched operand broadcasts from the right as it is)."""
    if len(shape) >= rank:
        return v
    return _C.reshape(v, [size] + [1] * (rank - len(shape)) + list(shape))


def aligned(x: Any, level: int, rank: int) -> Any:
    """x's value at `level`, rank-aligned to broadcast against a batched tensor of logical rank `rank`."""
    v, batched = unwrap(x, level)
    return _pad(v, int(v.shape[0]), tuple(x.shape), rank) if batched else v


def _expanded(x: Any, level: int, size: int) -> Any:
    """x's value at `level`; an unbatched x broadcast to the batch (ops that take no broadcasting)."""
    v, batched = unwrap(x, level)
    return v if batched else _C.expand(v, [size, *x.shape])


# ---- the per-sample loop: every op without a rule ----
def _select(x: Any, level: int, i: int) -> Any:
    if isinstance(x, (list, tuple)) and not hasattr(x, "_fields"):
        return type(x)(_select(v, level, i) for v in x)
    v, batched = unwrap(x, level)
    return _C.index(v, [(SELECT, 0, i)]) if batched else x


def _stack(results: list[Any], level: int, name: str) -> Any:
    first = results[0]
    if is_tensor(first):
        shapes = {tuple(r.shape) for r in results}
        if len(shapes) > 1:  # nonzero, masked_select: the shape depends on the data
            raise RuntimeError(
                f"[vmap] {name} gives samples of different shapes ({', '.join(map(str, sorted(shapes)))}), which "
                "vmap cannot batch (torch.func.vmap cannot either): the shape must not depend on the data"
            )
        return BatchedTensor(_C.stack(results, 0), level)
    if first is None:
        return None
    if isinstance(first, (tuple, list)):
        items = [_stack([r[k] for r in results], level, name) for k in range(len(first))]
        return type(first)(*items) if hasattr(first, "_fields") else type(first)(items)
    raise RuntimeError(
        f"[vmap] {name} returns a Python {type(first).__name__} for each sample, which vmap cannot batch "
        "(data-dependent Python control flow): keep the computation in tensors"
    )


def loop(func: Any, level: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The fallback for an op without a batching rule: the op once per sample, the results stacked."""
    size = _batch_size(level, list(args) + list(kwargs.values()))
    if size == 0:
        raise RuntimeError(f"[vmap] {func.__name__} has no batching rule, and its per-sample loop needs a sample")
    results = [
        func(*_select(args, level, i), **{k: _select(v, level, i) for k, v in kwargs.items()}) for i in range(size)
    ]
    return _stack(results, level, func.__name__)


# ---- elementwise, from the op list ----
def _unary(func: Any, level: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    v, _ = unwrap(args[0], level)
    return BatchedTensor(func(v, *args[1:], **kwargs), level)


def _broadcasting(func: Any, level: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    rank = max(len(a.shape) for a in args if is_tensor(a))
    return BatchedTensor(func(*(aligned(a, level, rank) if is_tensor(a) else a for a in args), **kwargs), level)


def _signature(name: str) -> str:
    doc = getattr(_C, name).__doc__ or ""
    m = re.search(rf"^(?:1\. )?{name}\((.*)\) ->", doc, re.M)
    return m.group(1) if m else ""


UNARY = [n for n in _C.__all__ if _signature(n) == "input: Tensor" and n != "trace"]
BINARY = [n for n in _C.__all__ if _signature(n) == "input: object, other: object"]
for _n in UNARY:
    RULES[_n] = _unary
for _n in BINARY:
    RULES[_n] = _broadcasting
_rule("where")(_broadcasting)
_rule("safe_where")(_broadcasting)  # issue 15: where(..., safe=True), the same broadcast
# Ops that act on each element, or on the last two dims, or only convert: the value's op as it is.
_rule("clamp", "to_dtype", "to_device", "copy_to", "alias", "detach_dual", "tril", "triu")(_unary)


# ---- reductions, scans, sorts: the dims shift past the batch dim ----
def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], pos: int, name: str, default: Any) -> Any:
    if pos < len(args):
        return args[pos]
    return kwargs.get(name, default)


def _with(args: tuple[Any, ...], kwargs: dict[str, Any], pos: int, name: str, value: Any) -> tuple[list[Any], dict]:
    a, kw = list(args), dict(kwargs)
    if pos < len(a):
        a[pos] = value
    else:
        kw[name] = value
    return a, kw


def _dim_rule(pos: int, name: str, default: Any = None, new_dim: bool = False) -> Rule:
    """An op with one dim argument at args[pos] (or kwargs[name]): dim + 1 on the value."""

    def rule(func: Any, level: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        x = args[0]
        r = len(x.shape) + (1 if new_dim else 0)
        if r == 0:
            return loop(func, level, args, kwargs)
        d = _wrap_dim(_arg(args, kwargs, pos, name, default), r, func.__name__) + 1
        a, kw = _with(args, kwargs, pos, name, d)
        a[0], _ = unwrap(x, level)
        return wrap(func(*a, **kw), level)

    return rule


RULES["softmax"] = RULES["log_softmax"] = _dim_rule(1, "dim")
RULES["cumsum"] = RULES["cumprod"] = _dim_rule(1, "dim")
RULES["max_dim"] = RULES["min_dim"] = _dim_rule(1, "dim")
RULES["sort"] = RULES["argsort"] = _dim_rule(1, "dim", -1)
RULES["topk"] = _dim_rule(2, "dim", -1)
RULES["unsqueeze"] = _dim_rule(1, "dim", new_dim=True)


@_rule("sum", "mean", "amax", "amin", "logsumexp")
def _reduce(func: Any, level: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    x, dim = args[0], _arg(args, kwargs, 1, "dim", None)
    r = len(x.shape)
    if r == 0:
        return loop(func, level, args, kwargs)
    dims = list(range(r)) if dim is None else [dim] if isinstance(dim, int) else list(dim)
    if not dims:  # dim=[] reduces every dim, as torch
        dims = list(range(r))
    shifted = [_wrap_dim(d, r, func.__name__) + 1 for d in dims]
    a, kw = _with(args, kwargs, 1, "dim", shifted)
    a[0], _ = unwrap(x, level)
    return BatchedTensor(func(*a, **kw), level)


@_rule("argmax", "argmin")
def _arg_reduce(func: Any, level: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    x = args[0]
    dim, keepdim = _arg(args, kwargs, 1, "dim", None), _arg(args, kwargs, 2, "keepdim", False)
    v, _ = unwrap(x, level)
    if dim is not None:
        return _dim_rule(1, "dim")(func, level, args, kwargs)
    size = int(v.shape[0])
    out = func(_C.reshape(v, [size, -1]), 1, False)  # over the flattened sample
    return BatchedTensor(_C.reshape(out, [size] + [1] * len(x.shape)) if keepdim else out, level)


@_rule("diagonal")
def _diagonal(func: Any, level: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    x = args[0]
    r = len(x.shape)
    if r < 2:
        return loop(func, level, args, kwargs)
    offset = _arg(args, kwargs, 1, "offset", 0)
    d1 = _wrap_dim(_arg(args, kwargs, 2, "dim1", 0), r, "diagonal") + 1
    d2 = _wrap_dim(_arg(args, kwargs, 3, "dim2", 1), r, "diagonal") + 1
    return BatchedTensor(func(unwrap(x, level)[0], offset, d1, d2), level)


@_rule("trace")
def _trace(func: Any, level: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    x = args[0]
    if len(x.shape) != 2:
        return loop(func, level, args, kwargs)  # the op's own error
    return BatchedTensor(_C.sum(_C.diagonal(unwrap(x, level)[0], 0, 1, 2), [1], False), level)


@_rule("flip")
def _flip(func: Any, level: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    x, dims = args[0], _arg(args, kwargs, 1, "dims", None)
    r = len(x.shape)
    dims = [dims] if isinstance(dims, int) else list(dims)
    if r == 0:
        return loop(func, level, args, kwargs)
    return BatchedTensor(func(unwrap(x, level)[0], [_wrap_dim(d, r, "flip") + 1 for d in dims]), level)


@_rule("roll")
def _roll(func: Any, level: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    x, shifts, dims = args[0], _arg(args, kwargs, 1, "shifts", None), _arg(args, kwargs, 2, "dims", None)
    r = len(x.shape)
    if dims is None or r == 0:  # a roll of the flattened sample
        return loop(func, level, args, kwargs)
    dims = [dims] if isinstance(dims, int) else list(dims)
    return BatchedTensor(func(unwrap(x, level)[0], shifts, [_wrap_dim(d, r, "roll") + 1 for d in dims]), level)


@_rule("gather")
def _gather(func: Any, level: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    x, dim, index = args[0], _arg(args, kwargs, 1, "dim", None), _arg(args, kwargs, 2, "index", None)
    r = len(x.shape)
    if r == 0 or len(index.shape) != r:
        return loop(func, level, args, kwargs)
    size = _batch_size(level, [x, index])
    d = _wrap_dim(dim, r, "gather") + 1
    return BatchedTensor(func(_expanded(x, level, size), d, _expanded(index, level, size)), level)


# ---- shape ops ----
@_rule("reshape", "view")
def _reshape(func: Any, level: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    v, _ = unwrap(args[0], level)
    return BatchedTensor(func(v, [int(v.shape[0])] + list(args[1])), level)


@_rule("expand")
def _expand(func: Any, level: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    x, shape = args[0], list(args[1])
    v, _ = unwrap(x, level)
    size = int(v.shape[0])
    return BatchedTensor(func(_pad(v, size, tuple(x.shape), len(shape)), [size] + shape), level)


@_rule("sum_to")
def _sum_to(func: Any, level: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    x, shape = args[0], list(args[1])
    v, _ = unwrap(x, level)
    extra = len(x.shape) - len(shape)
    if extra > 0:  # the sample's leading dims go first, so the batch dim stays in front
        v = _C.sum(v, list(range(1, extra + 1)), False)
    return BatchedTensor(func(v, [int(v.shape[0])] + shape), level)


@_rule("permute")
def _permute(func: Any, level: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    x, dims = args[0], list(args[1])
    r = len(x.shape)
    if len(dims) != r:
        return loop(func, level, args, kwargs)  # the op's own error
    return BatchedTensor(func(unwrap(x, level)[0], [0] + [_wrap_dim(d, r, "permute") + 1 for d in dims]), level)


@_rule("transpose")
def _transpose(func: Any, level: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    x = args[0]
    r = len(x.shape)
    if r == 0:
        return loop(func, level, args, kwargs)
    a, b = (_wrap_dim(d, r, "transpose") + 1 for d in args[1:3])
    return BatchedTensor(func(unwrap(x, level)[0], a, b), level)


@_rule("squeeze")
def _squeeze(func: Any, level: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    x, dim = args[0], _arg(args, kwargs, 1, "dim", None)
    v, _ = unwrap(x, level)
    if dim is None:  # the sample's size-1 dims, never the batch dim
        return BatchedTensor(_C.reshape(v, [int(v.shape[0])] + [s for s in x.shape if s != 1]), level)
    if len(x.shape) == 0:
        return x
    return BatchedTensor(func(v, _wrap_dim(dim, len(x.shape), "squeeze") + 1), level)


@_rule("index")
def _index(func: Any, level: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    x, steps = args[0], args[1]
    return BatchedTensor(func(unwrap(x, level)[0], [(s[0], s[1] + 1, *s[2:]) for s in steps]), level)


@_rule("index_put_")
def _index_put(func: Any, level: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if len(args) != 3 or not all(isinstance(s, tuple) for s in args[1]):
        return loop(
            func, level, args, kwargs
        )  # index_put_ with index tensors (pyad/_indexing.py's basic form has steps)
    x, steps, value = args
    v, batched = unwrap(x, level)
    if not batched:
        raise RuntimeError(
            "[vmap] an in-place write of a batched value into a tensor that is not batched (made outside vmap, or "
            "unbatched): write into a batched copy instead (e.g. x.clone() of a batched tensor, or pyad.where)"
        )
    rank = len(x.shape) - sum(s[0] == SELECT for s in steps) + sum(s[0] == UNSQUEEZE for s in steps)
    func(v, [(s[0], s[1] + 1, *s[2:]) for s in steps], aligned(value, level, rank) if is_tensor(value) else value)
    return x


@_rule("_index_put_")
def _index_put_tensors(func: Any, level: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    # setitem with index tensors (pyad/_indexing.py): per sample on a copy, then one write into the batch
    from ._batched import in_place_per_sample

    return in_place_per_sample(lambda t, *a, **k: func(t, *a, **k), args[0], tuple(args[1:]), kwargs)


@_rule("cat", "stack")
def _join(func: Any, level: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    tensors, dim = args[0], _arg(args, kwargs, 1, "dim", 0)
    r = len(tensors[0].shape) + (1 if func.__name__ == "stack" else 0)
    if r == 0 or any(len(t.shape) != len(tensors[0].shape) for t in tensors):
        return loop(func, level, args, kwargs)
    size = _batch_size(level, [tensors])
    return BatchedTensor(
        func([_expanded(t, level, size) for t in tensors], _wrap_dim(dim, r, func.__name__) + 1), level
    )


# ---- products ----
@_rule("matmul")
def _matmul(func: Any, level: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    a, b = args
    ra, rb = len(a.shape), len(b.shape)
    if ra == 0 or rb == 0:
        return loop(func, level, args, kwargs)  # the op's own error
    av, ab = unwrap(a, level)
    bv, bb = unwrap(b, level)
    # Vectors become matrices (a row, b a column), taken out again at the end, as matmul's own rule.
    if ra == 1:
        av = _C.unsqueeze(av, -2)
    if rb == 1:
        bv = _C.unsqueeze(bv, -1)
    sa = tuple(av.shape[1:]) if ab else tuple(av.shape)
    sb = tuple(bv.shape[1:]) if bb else tuple(bv.shape)
    if ab and not bb and len(sb) == 2:
        # One GEMM for the whole batch: the samples' rows stacked.
        rows = int(av.shape[0])
        for d in sa[:-1]:
            rows *= d
        out = func(_C.reshape(av, [rows, sa[-1]]), bv)
        out = _C.reshape(out, [int(av.shape[0]), *sa[:-1], int(sb[-1])])
    else:
        r = max(len(sa), len(sb))
        if ab:
            av = _pad(av, int(av.shape[0]), sa, r)
        if bb:
            bv = _pad(bv, int(bv.shape[0]), sb, r)
        out = func(av, bv)
    if rb == 1:
        out = _C.squeeze(out, -1)
    if ra == 1:
        out = _C.squeeze(out, -1 if rb == 1 else -2)
    return BatchedTensor(out, level)


@_rule("outer")
def _outer(func: Any, level: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    a, b = args
    if len(a.shape) != 1 or len(b.shape) != 1:
        return loop(func, level, args, kwargs)  # the op's own error
    return _C.mul(_C.unsqueeze(a, 1), _C.unsqueeze(b, 0))


def _unsupported(what: str) -> Rule:
    def rule(func: Any, level: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        raise RuntimeError(f"[vmap] {func.__name__} is not supported inside vmap: {what}")

    return rule


RULES["backward"] = _unsupported("it would sum the samples' gradients into .grad; use pyad.func.grad")
RULES["register_hook"] = RULES["retain_grad"] = _unsupported("hooks see the whole batch; register them outside vmap")
for _n in ("to_numpy", "storage_of", "view_of_storage", "to_dlpack", "set_tangent", "function_node", "function_save"):
    RULES[_n] = _unsupported("it needs one tensor per sample, not a batch")


from . import _batching_autograd  # noqa: E402,F401  (registers the autograd and forward-mode rules)


def vmap_rules() -> dict[str, str]:
    """For each public op, how vmap batches it: "rule" (a batching rule runs the op once on the batch),
    "loop" (once per sample, the results stacked) or "composite" (an op written in Python over other ops, which
    batch by their own rules)."""
    import pyad

    out = {}
    for module in pyad._OP_MODULES:
        for name in module.__all__:
            fn = getattr(module, name)
            op = getattr(fn, "__name__", name)
            if getattr(fn, "__vmap_loop__", False):
                out[name] = "loop"  # a Python op that checks for Tensors: batched by its per-sample loop
            elif getattr(_C, op, None) is fn or (
                getattr(fn, "__module__", "") == "pyad._functions" and hasattr(_C, op)
            ):
                # A _C op, or its Python wrapper with torch's arguments (pyad.sum -> _C.sum).
                out[name] = "rule" if op in RULES else "loop"
            else:
                out[name] = "composite"
    for name in pyad.linalg.__all__:
        if name != "LinAlgError":
            out[f"linalg.{name}"] = "loop"  # autograd.Functions over LAPACK: once per sample
    return out
