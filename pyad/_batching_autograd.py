"""Batching rules of the autograd and forward-mode functions (grad, make_dual, unpack_dual, make_identity_dual,
tangent_levels): they run on the physical values, the batch dim placed after the cotangents' or tangents' own
batch dims (Note [Batched tangents and cotangents]: those lead), so that one backward or forward pass serves the
whole batch (Note [Batched tensors and levels] in pyad/_batched.py)."""

from __future__ import annotations

from typing import Any

from . import _C
from ._batched import BatchedTensor, physical, unwrap
from ._batching_rules import SELECT, SLICE, _arg, _batch_size, _expanded, _rule


@_rule("grad")
def _grad(func: Any, level: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    names = ("outputs", "inputs", "grad_outputs", "retain_graph", "create_graph", "allow_unused", "batch_ndim")
    defaults = (None, None, None, None, False, False, 0)
    a = {n: _arg(args, kwargs, i, n, d) for i, (n, d) in enumerate(zip(names, defaults))}
    outs = list(a["outputs"]) if isinstance(a["outputs"], (list, tuple)) else [a["outputs"]]
    ins = list(a["inputs"]) if isinstance(a["inputs"], (list, tuple)) else [a["inputs"]]
    nb = int(a["batch_ndim"])
    size = _batch_size(level, outs + ins)
    seeds = a["grad_outputs"]
    seeds = [None] * len(outs) if seeds is None else list(seeds) if isinstance(seeds, (list, tuple)) else [seeds]
    phys_outs, phys_seeds = [], []
    for o, s in zip(outs, seeds):
        ov = _expanded(o, level, size)
        if s is None:
            if len(o.shape) != 0:
                raise RuntimeError(
                    f"[grad] grad can be implicitly created only for scalar outputs, got shape {o.shape}"
                )
            s = _C.ones([], o.dtype, o.device)
        sv, batched = unwrap(s, level)
        # Cotangent batch dims (batch_ndim) lead the seed; vmap's batch dim goes right after them.
        if batched:
            sv = _C.permute(sv, [*range(1, nb + 1), 0, *range(nb + 1, len(sv.shape))]) if nb else sv
        else:
            shape = list(s.shape)
            sv = _C.expand(_C.unsqueeze(sv, nb), shape[:nb] + [size] + shape[nb:])
        phys_outs.append(ov)
        phys_seeds.append(sv)
    phys_ins = [unwrap(x, level)[0] for x in ins]
    rest = (a["create_graph"], a["allow_unused"], nb)
    if all(unwrap(x, level)[1] for x in ins):
        grads = func(phys_outs, phys_ins, phys_seeds, a["retain_graph"], *rest)
    else:
        grads = _grad_per_sample(func, level, size, nb, phys_outs, phys_ins, phys_seeds, ins, a["retain_graph"], rest)
    out: list[Any] = []
    for g in grads:
        if g is not None and nb:
            g = _C.permute(g, [nb, *range(nb), *range(nb + 1, len(g.shape))])
        out.append(None if g is None else BatchedTensor(g, level))
    return tuple(out)


def _grad_per_sample(
    func: Any,
    level: int,
    size: int,
    nb: int,
    outs: list[Any],
    ins: list[Any],
    seeds: list[Any],
    logical_ins: list[Any],
    retain: bool | None,
    rest: tuple[Any, ...],
) -> list[Any]:
    """Gradients with respect to an input the samples share (made outside vmap): one backward pass per sample,
    so that each sample's gradient stays its own; a batched input's gradient of sample i is its row i."""
    per: list[list[Any]] = [[] for _ in ins]
    for i in range(size):
        o_i = [_C.index(o, [(SELECT, 0, i)]) for o in outs]
        s_i = [_C.index(s, [(SELECT, nb, i)]) for s in seeds]
        keep = True if i < size - 1 else retain
        gs = func(o_i, ins, s_i, keep, *rest)
        for k, (g, x) in enumerate(zip(gs, logical_ins)):
            if g is not None and unwrap(x, level)[1]:
                g = _C.index(g, [(SELECT, nb, i)])
            per[k].append(g)
    out: list[Any] = []
    for k, gs in enumerate(per):
        if all(g is None for g in gs):
            out.append(None)
            continue
        like = logical_ins[k]
        shape = [int(d) for d in seeds[0].shape[:nb]] + list(like.shape)
        full = [g if g is not None else _C.zeros(shape, like.dtype, like.device) for g in gs]
        out.append(_C.stack(full, nb))
    return out


@_rule("make_dual")
def _make_dual(func: Any, level: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    p, t = args[0], args[1]
    rest = args[2:]
    size = _batch_size(level, [p, t])
    pv = _expanded(p, level, size)
    nb = len(t.shape) - len(p.shape)  # batched tangents (jacfwd's directions) lead the tangent
    tv, batched = unwrap(t, level)
    if batched:
        tv = _C.permute(tv, [*range(1, nb + 1), 0, *range(nb + 1, len(tv.shape))]) if nb else tv
    else:
        shape = list(t.shape)
        tv = _C.expand(_C.unsqueeze(tv, nb), shape[:nb] + [size] + shape[nb:])
    return BatchedTensor(func(pv, tv, *rest, **kwargs), level)


@_rule("make_identity_dual")
def _make_identity_dual(func: Any, level: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    # The identity seed of one sample, the same for every sample: rows start..start+count of eye(n).
    x, start, count = args[0], int(args[1]), int(args[2])
    n = x.numel()
    eye = _C.index(_C.eye(n, n, x.dtype, x.device), [(SLICE, 0, start, start + count, 1)])
    seed = _C.reshape(eye, [count, *x.shape])
    return _make_dual(_C.make_dual, level, (x, seed, *args[3:]), kwargs)


@_rule("unpack_dual")
def _unpack_dual(func: Any, level: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    x = args[0]
    v, _ = unwrap(x, level)
    primal, tangent = func(v, *args[1:], **kwargs)
    if tangent is not None:
        nb = len(tangent.shape) - len(v.shape)
        if nb:
            tangent = _C.permute(tangent, [nb, *range(nb), *range(nb + 1, len(tangent.shape))])
        tangent = BatchedTensor(tangent, level)
    return BatchedTensor(primal, level), tangent


@_rule("tangent_levels")
def _tangent_levels(func: Any, level: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return func([physical(x) for x in args[0]], *args[1:], **kwargs)
