"""pyad.func.vmap: f mapped over a batch dimension of its arguments, as torch.func.vmap, by batching rules (Note
[Batched tensors and levels] in pyad/_batched.py) rather than a Python loop over the samples."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import optree

from . import _C
from ._batched import BatchedTensor, is_tensor, pop_level, push_level

__all__ = ["vmap"]

_RANDOMNESS = ("error", "different", "same")
_WHAT = {"in_dims": "arguments", "out_dims": "outputs"}


def _dims_per_leaf(dims: Any, tree: Any, what: str) -> list[Any]:
    """dims (an int, None, or a prefix tree of tree) as one entry per leaf of tree."""
    if dims is None or isinstance(dims, int):
        return [dims] * optree.tree_structure(tree, none_is_leaf=True).num_leaves
    try:
        return optree.broadcast_prefix(dims, tree, none_is_leaf=True)
    except ValueError as e:
        raise ValueError(
            f"[vmap] {what} must be an int, None, or a tree matching the {_WHAT[what]} (a prefix of their "
            f"structure), got {dims!r}: {e}"
        ) from None


def _check_dim(d: Any, ndim: int, what: str, where: str) -> int:
    if isinstance(d, bool) or not isinstance(d, int):
        raise ValueError(f"[vmap] {what} entries must be ints or None, got {d!r} for {where}")
    if not -ndim <= d < max(ndim, 0) or ndim == 0:
        raise ValueError(f"[vmap] {what} {d} is out of range for {where} with {ndim} dimensions")
    return d % ndim


def _move_to_front(x: Any, d: int) -> Any:
    if d == 0:
        return x
    order = [d] + [i for i in range(len(x.shape)) if i != d]
    return _C.permute(x, order)


def _move_from_front(x: Any, d: int) -> Any:
    if d == 0:
        return x
    n = len(x.shape)
    order = list(range(1, d + 1)) + [0] + list(range(d + 1, n))
    return _C.permute(x, order)


def _narrow(x: Any, d: int, start: int, stop: int) -> Any:
    return _C.index(x, [(1, d, start, stop, 1)])


def vmap(
    func: Callable[..., Any],
    in_dims: Any = 0,
    out_dims: Any = 0,
    randomness: str = "error",
    *,
    chunk_size: int | None = None,
) -> Callable[..., Any]:
    """func mapped over dimension in_dims of its arguments, as torch.func.vmap: the result stacks func's
    per-sample outputs along out_dims. in_dims is an int, None (not batched), or a tuple with one entry per
    positional argument, each a prefix tree of its argument; out_dims likewise for the outputs. Keyword
    arguments are not batched. randomness: "error" (random ops raise), "different" (independent per sample) or
    "same" (one draw shared). chunk_size maps that many samples at a time. Nests, and composes with grad, vjp,
    jvp, jacrev, jacfwd and hessian in either order."""
    if not callable(func):
        raise TypeError(f"[vmap] expected a function, got {type(func).__name__}")
    if randomness not in _RANDOMNESS:
        raise ValueError(f"[vmap] randomness must be one of {_RANDOMNESS}, got {randomness!r}")
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"[vmap] chunk_size must be a positive int or None, got {chunk_size!r}")
    if not (in_dims is None or isinstance(in_dims, (int, tuple))):
        raise ValueError(f"[vmap] in_dims must be an int, None or a tuple, got {type(in_dims).__name__}")

    @functools.wraps(func)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if isinstance(in_dims, tuple) and len(in_dims) != len(args):
            raise ValueError(
                f"[vmap] in_dims is a tuple of {len(in_dims)} entries but the function got {len(args)} positional "
                "arguments: give one entry per argument"
            )
        flat: Any = optree.tree_flatten_with_accessor(args, none_is_leaf=True)  # type: ignore[arg-type]
        accessors, leaves, spec = flat
        dims = _dims_per_leaf(in_dims if isinstance(in_dims, tuple) else in_dims, args, "in_dims")
        sizes: dict[str, int] = {}
        batched: list[int | None] = []
        for acc, x, d in zip(accessors, leaves, dims):
            where = acc.codify("args")
            if d is None:
                batched.append(None)
                continue
            if not is_tensor(x):
                raise ValueError(
                    f"[vmap] in_dims {d} given for {where}, a {type(x).__name__}: only tensors are batched"
                )
            d = _check_dim(d, len(x.shape), "in_dim", f"{where} (shape {tuple(x.shape)})")
            sizes[where] = x.shape[d]
            batched.append(d)
        if not sizes:
            raise ValueError("[vmap] at least one argument must be batched: in_dims is None for every tensor")
        if len(set(sizes.values())) > 1:
            got = ", ".join(f"{w}: {s}" for w, s in sizes.items())
            raise ValueError(f"[vmap] the batched arguments must have the same size along their in_dims, got {got}")
        size = next(iter(sizes.values()))
        if chunk_size is None or chunk_size >= size:
            return _run(func, leaves, batched, spec, kwargs, size)
        pieces = []
        for s in range(0, size, chunk_size):
            e = min(size, s + chunk_size)
            part = [x if d is None else _narrow(x, d, s, e) for x, d in zip(leaves, batched)]
            pieces.append(_run(func, part, batched, spec, kwargs, e - s))
        return _concat(pieces, size)

    def _run(f: Callable[..., Any], leaves: list[Any], batched: list[Any], spec: Any, kwargs: dict, size: int) -> Any:
        level = push_level(size, randomness)
        try:
            ins = [x if d is None else BatchedTensor(_move_to_front(x, d), level) for x, d in zip(leaves, batched)]
            out = f(*spec.unflatten(ins), **kwargs)
        finally:
            pop_level()
        return _unbatch(out, level, size)

    def _unbatch(out: Any, level: int, size: int) -> Any:
        accessors, outs, out_spec = optree.tree_flatten_with_accessor(out, none_is_leaf=True)
        odims = _dims_per_leaf(out_dims, out, "out_dims")
        res = []
        for acc, o, d in zip(accessors, outs, odims):
            where = acc.codify("output")
            if type(o) is BatchedTensor and o.level == level:
                if d is None:
                    raise ValueError(f"[vmap] out_dims is None for {where}, which is batched: give it an out_dim")
                v = o.value
                res.append(_move_from_front(v, _check_dim(d, len(v.shape), "out_dim", f"{where} (batched)")))
            elif is_tensor(o):
                if d is None:
                    res.append(o)
                    continue
                # Each sample gave the same tensor: stacked, that is a broadcast.
                v = _C.expand(_C.unsqueeze(o, 0), [size, *o.shape])
                res.append(_move_from_front(v, _check_dim(d, len(v.shape), "out_dim", where)))
            elif d is None:
                res.append(o)
            else:
                raise ValueError(
                    f"[vmap] the function must return tensors (or pytrees of them), got a {type(o).__name__} at {where}"
                )
        return out_spec.unflatten(res)

    def _concat(pieces: list[Any], size: int) -> Any:
        flat = [optree.tree_flatten(p, none_is_leaf=True) for p in pieces]
        spec = flat[0][1]
        odims = _dims_per_leaf(out_dims, pieces[0], "out_dims")
        joined = []
        for k, d in enumerate(odims):
            items = [leaves[k] for leaves, _ in flat]
            joined.append(items[0] if d is None else _C.cat(items, d % len(items[0].shape)))
        return spec.unflatten(joined)

    return wrapped
