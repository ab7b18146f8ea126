"""Custom differentiable operations with PyTorch's contract.

    class Exp(pyad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad):
            y, = ctx.saved_tensors
            return grad * y

        @staticmethod
        def jvp(ctx, tangent):          # optional: forward mode
            y, = ctx.saved_tensors
            return tangent * y

    y = Exp.apply(x)

forward runs without recording a graph; the C++ engine runs backward through a node of its own (FunctionNode).
A backward written with pyad ops is differentiable again (create_graph=True).

Batched cotangents and tangents
-------------------------------
autograd.grad(..., is_grads_batched=True), jacrev, jacfwd, hessian and gradcheck push many directions through
the graph at once: the gradients reaching a node carry leading batch dims (Note [Batched tangents and
cotangents] in csrc/autograd/forward_ad.h). As in torch, where these transforms run a Function's backward and
jvp under vmap, a Function's backward and jvp see the shapes of one example: pyad splits the batch dims, calls
backward (jvp) once per element and stacks the results (an input whose gradient is None for every element gets
None, a None among tensors becomes zeros). With create_graph=True the split and the stack are recorded, so
double backward goes through them.

torch's `generate_vmap_rule = True` and `vmap` staticmethod change nothing here: pyad has no vmap transform, so
it never calls `vmap`, and a generated rule is by definition the per-example computation that pyad runs.
Beyond torch, a Function may set `handles_batch_dims = True` to receive the batch in one call instead: its
backward and jvp then get gradients and tangents of shape (*batch, *shape) (missing ones materialised with the
batch dims) and must return results with the same leading batch dims, so they have to address dims from the
end (g.sum(-2), not g.sum(0)).

Beyond torch: with create_graph=True, a backward that reads a tensor stashed on ctx as an attribute (rather
than through save_for_backward) raises, naming the Function, when that tensor is part of the graph: an input
that requires grad, an output, or a value computed in forward from such inputs. Such a tensor carries no
history from forward, so the second derivatives through it would silently be wrong.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Sequence
from typing import Any

from .. import _C, _batched
from .._C import Tensor

__all__ = ["Function", "FunctionCtx"]


class FunctionCtx:
    """The `ctx` of forward, backward and jvp."""

    # Defaults live on the class, so that a ctx costs one attribute until a Function sets more.
    _to_save: tuple[Tensor | None, ...] = ()
    _node: Any = None  # set only while backward runs
    _saved_direct: tuple[Tensor | None, ...] | None = None  # saved tensors when no graph was recorded
    _graph: tuple[list[Tensor], list[int]] | None = None  # (inputs, output ids), for the stash check
    non_differentiable: frozenset[int] = frozenset()
    materialize_grads = True
    needs_input_grad: tuple[bool, ...] = ()

    def __init__(self, name: str) -> None:
        self._name = name

    def save_for_backward(self, *tensors: Tensor | None) -> None:
        """Keep tensors for backward (and jvp), read back through saved_tensors; checked against in-place
        changes made since."""
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"[{self._name}] save_for_backward takes Tensors or None, got {type(t).__name__}")
        self._to_save = tensors

    @property
    def saved_tensors(self) -> tuple[Tensor | None, ...]:
        """The tensors given to save_for_backward, checked against in-place changes since."""
        if self._node is not None:
            return self._node.unpack_saved()
        if self._saved_direct is not None:
            return self._saved_direct
        return tuple(self._to_save)

    def mark_non_differentiable(self, *tensors: Tensor) -> None:
        """These outputs get no gradient (and no grad_fn), as torch's ctx.mark_non_differentiable."""
        self.non_differentiable = self.non_differentiable | {id(t) for t in tensors}

    def set_materialize_grads(self, value: bool) -> None:
        """False: backward gets None, not zeros, for outputs that received no gradient."""
        self.materialize_grads = bool(value)

    def mark_dirty(self, *tensors: Tensor) -> None:
        """Not supported (in-place custom Functions); raises RuntimeError."""
        raise RuntimeError(
            f"[{self._name}] mark_dirty (in-place custom Functions) is not supported; return a new tensor instead"
        )


class _CheckingCtx(FunctionCtx):
    """ctx's class while a backward runs under create_graph=True: reading a stashed graph tensor raises."""

    def __getattribute__(self, name: str) -> Any:
        value = object.__getattribute__(self, name)
        if not name.startswith("_") and name in object.__getattribute__(self, "__dict__"):
            _check_stash(self, name, value)
        return value


def _tensors_in(value: Any) -> Iterator[Tensor]:
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _tensors_in(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors_in(v)


def _check_stash(ctx: FunctionCtx, name: str, value: Any) -> None:
    """A stashed tensor belongs to the graph when it is an input that requires grad, an output, or a float value
    computed in forward while some input required grad (it then carries no history)."""
    inputs, outputs = object.__getattribute__(ctx, "_graph")
    input_ids = {id(t) for t in inputs}
    graph_ids = {id(t) for t in inputs if t.requires_grad} | set(outputs)
    for t in _tensors_in(value):
        computed = id(t) not in input_ids and t.dtype.is_floating_point
        if id(t) in graph_ids or computed:
            fn = object.__getattribute__(ctx, "_name")
            raise RuntimeError(
                f"[{fn}] backward reads ctx.{name}, a tensor that is part of the graph but was stashed on ctx "
                "instead of saved with ctx.save_for_backward; with create_graph=True its second derivatives "
                f"would be wrong. Save it with ctx.save_for_backward(...) and read it from ctx.saved_tensors."
            )


class Function:
    """Base class of custom Functions; subclasses define static forward, backward and optionally jvp."""

    # True: backward and jvp take batched gradients and tangents in one call (see the module docstring).
    handles_batch_dims = False

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any, **kwargs: Any) -> Any:
        """The output(s) from the inputs, run without recording a graph; save what backward needs on ctx."""
        raise NotImplementedError("a Function subclass must define forward")

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Tensor | None) -> Any:
        """One gradient (or None) per argument of forward, from one gradient per output."""
        raise NotImplementedError("a Function subclass must define backward")

    @staticmethod
    def jvp(ctx: FunctionCtx, *tangents: Tensor | None) -> Any:
        """Forward mode: one tangent per output from one tangent (or None) per argument of forward."""
        raise NotImplementedError("a Function subclass defines jvp for forward mode")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run forward on args and record one node whose backward (and jvp) is this class's, as torch."""
        if _batched.in_vmap() and any(type(a) is _batched.BatchedTensor for a in args):
            # forward and backward are written for one sample: inside vmap, once per sample.
            return _batched.per_sample(cls.apply, args, kwargs)
        name = cls.__name__
        ctx = FunctionCtx(name)
        inputs = [a for a in args if isinstance(a, Tensor)]
        grad_on = _C.is_grad_enabled()
        ctx.needs_input_grad = tuple([isinstance(a, Tensor) and grad_on and a.requires_grad for a in args])
        levels = _C.tangent_levels(inputs) if _C.dual_level_active() else []
        # forward records nothing and computes no tangents of its own: the Function defines both.
        _C.set_grad_enabled(False)
        try:
            if levels:
                with _C.jvp_rule_guard(0):
                    raw = cls.forward(ctx, *args, **kwargs)
            else:
                raw = cls.forward(ctx, *args, **kwargs)
        finally:
            _C.set_grad_enabled(grad_on)
        is_tuple = isinstance(raw, tuple)
        raws = raw if is_tuple else (raw,)
        # One pass over the outputs: an input returned as is becomes a view of it (so that the output can carry
        # its own history); which outputs are differentiable; the (shape, dtype, device) backward checks against.
        input_ids = {id(t) for t in inputs}
        nondiff = ctx.non_differentiable
        outs: list[Any] = []
        diff: list[bool] = []
        meta: list[Any] = []
        for r in raws:
            if isinstance(r, Tensor):
                o = _C.alias(r) if id(r) in input_ids else r
                dtype = o.dtype
                diff.append(dtype.is_floating_point and id(r) not in nondiff)
                meta.append((o.shape, dtype, o.device))
            else:
                o = r
                diff.append(False)
                meta.append(None)
            outs.append(o)

        node = None
        if any(diff) and grad_on:
            node = _C.function_node(
                name,
                functools.partial(_run_backward, cls, ctx, args, meta),
                inputs,
                [o if isinstance(o, Tensor) else _C.zeros([], _C.dtype.float32, _C.device("cpu")) for o in outs],
                diff,
            )
        if node is not None:
            # Outputs are saved without their history (the node would own itself); unpacking restores it.
            if ctx._to_save:
                saved = []
                for t in ctx._to_save:
                    out = next((o for r, o in zip(raws, outs) if t is r), None)
                    saved.append(_C.SavedTensor(out if out is not None else t, out is not None))
                _C.function_save(node, saved)
            ctx._graph = (inputs, [id(o) for o in outs])  # ids: holding the outputs would make a cycle
        else:
            ctx._saved_direct = tuple(ctx._to_save)

        for level in levels:  # outer levels first (Note [Nested dual levels] in csrc/autograd/forward_ad.h)
            _forward_mode(cls, ctx, args, outs, diff, level)
        if node is not None:
            _unstash_outputs(ctx, raws, outs)
        return tuple(outs) if is_tuple else outs[0]


def _batch_shape(
    values: Sequence[Tensor | None], shapes: Sequence[Sequence[int] | None], what: str, name: str
) -> tuple[int, ...]:
    """The leading batch dims the defined values carry beyond their unbatched shapes. All that carry some must
    agree; one without any (a tangent set by hand, say) is the same for every element."""
    batch: tuple[int, ...] = ()
    for v, shape in zip(values, shapes):
        if v is None or shape is None:
            continue
        b = tuple(v.shape[: v.ndim - len(shape)])
        if b and batch and b != batch:
            raise RuntimeError(f"[{name}] the {what} carry different batch dims: {batch} and {b}")
        batch = batch or b
    return batch


def _split_batch(
    values: Sequence[Tensor | None], shapes: Sequence[Any], batch: Sequence[int]
) -> list[list[Tensor | None]]:
    """values[i] of shape (*batch, *shapes[i]) -> one list per batch element (None stays None, an unbatched
    value is shared by every element)."""
    n = math.prod(batch)
    flat = [
        None if v is None else _C.reshape(v, [n] + list(s)) if v.ndim > len(s) else v for v, s in zip(values, shapes)
    ]
    return [[None if f is None else f[k] if f.ndim > len(s) else f for f, s in zip(flat, shapes)] for k in range(n)]


def _stack_batch(
    per_element: Sequence[Sequence[Tensor | None]], likes: Sequence[Tensor | None], batch: Sequence[int]
) -> list[Tensor | None]:
    """The per-element results (one list per element, one entry per like) stacked to (*batch, *like.shape)."""
    out: list[Tensor | None] = []
    for j, like in enumerate(likes):
        col = [r[j] for r in per_element]
        if like is None or all(c is None for c in col):
            out.append(None)
            continue
        filled = [c if c is not None else _C.zeros(list(like.shape), like.dtype, like.device) for c in col]
        out.append(_C.reshape(_C.stack(filled, 0), list(batch) + list(like.shape)))
    return out


def _unstash_outputs(ctx: FunctionCtx, raws: Sequence[Any], outs: Sequence[Any]) -> None:
    """An output stashed on ctx (ctx.y = y) would make the cycle y -> grad_fn -> backward -> ctx -> y, which
    Python's gc cannot see through the C++ node: the graph would outlive every user reference when no backward
    runs. The stash is replaced by a history-free alias of the output (same data and version counter), which
    is what a first-order backward reads anyway; under create_graph a stashed output raises (see above). The
    same goes for the outputs given to save_for_backward, which the node holds (without history) already."""
    d = object.__getattribute__(ctx, "__dict__")
    # Most Functions stash nothing: then there is nothing to look at (needs_input_grad holds no tensor).
    stashed = [name for name in d if not name.startswith("_") and name != "needs_input_grad"]
    if not stashed and not ctx._to_save:
        return
    ids = {id(o) for o in outs if isinstance(o, Tensor)} | {id(r) for r in raws if isinstance(r, Tensor)}
    # What save_for_backward was given is read from the node from now on (jvp, which reads it here, has run).
    ctx._to_save = tuple(_unstash(t, ids) for t in ctx._to_save)
    for name in stashed:
        d[name] = _unstash(d[name], ids)


def _unstash(v: Any, ids: set[int]) -> Any:
    # (A module-level function, not a recursive closure: that would be a cycle holding the outputs.)
    if isinstance(v, Tensor):
        return v.detach() if id(v) in ids else v
    if type(v) in (list, tuple) and any(isinstance(e, Tensor) and id(e) in ids for e in v):
        return type(v)(_unstash(e, ids) for e in v)
    return v


def _run_backward(
    cls: type[Function],
    ctx: FunctionCtx,
    args: tuple[Any, ...],
    meta: list[Any],
    node: Any,
    grads: Sequence[Tensor | None],
) -> list[Tensor | None]:
    """The node's backward: run cls.backward (once per batch element unless cls handles batch dims)."""
    grads = list(grads)
    out_shapes = [m[0] if m is not None else None for m in meta]
    # Leading batch dims only where some gradient has more dims than its output (the common case has none).
    batched = any(g is not None and s is not None and g.ndim != len(s) for g, s in zip(grads, out_shapes))
    batch = _batch_shape(grads, out_shapes, "gradients of the outputs", cls.__name__) if batched else ()
    if not batch or cls.handles_batch_dims:
        return _backward_once(cls, ctx, args, meta, node, grads, batch)
    tensor_args = [a for a in args if isinstance(a, Tensor)]
    per_element = [_backward_once(cls, ctx, args, meta, node, gs, ()) for gs in _split_batch(grads, out_shapes, batch)]
    return _stack_batch(per_element, tensor_args, batch)


def _backward_once(
    cls: type[Function],
    ctx: FunctionCtx,
    args: tuple[Any, ...],
    meta: list[Any],
    node: Any,
    grads: list[Tensor | None],
    batch: Sequence[int],
) -> list[Tensor | None]:
    """One call of cls.backward on gradients with leading dims `batch`: materialise missing gradients, check
    what it returns (one gradient of shape (*batch, *arg.shape) or None per tensor argument)."""
    name = cls.__name__
    if ctx.materialize_grads:
        grads = [
            g if g is not None or m is None else _C.zeros(list(batch) + list(m[0]), m[1], m[2])
            for g, m in zip(grads, meta)
        ]
    ctx._node = node
    checking = _C.is_grad_enabled()  # create_graph: reading stashed graph tensors is an error
    if checking:
        ctx.__class__ = _CheckingCtx
    try:
        result = cls.backward(ctx, *grads)
    finally:
        ctx.__class__ = FunctionCtx
        ctx._node = None
    result = result if isinstance(result, tuple) else (result,)
    # Trailing Nones beyond the forward's arguments are allowed, as torch.
    while len(result) > len(args) and result[-1] is None:
        result = result[:-1]
    if len(result) != len(args):
        raise RuntimeError(
            f"[{name}] backward returned {len(result)} gradients, but forward took {len(args)} "
            "arguments (return one per argument, None for non-tensors)" + _applied_at(node)
        )
    out = []
    for i, g in enumerate(result):
        a = args[i]
        if not isinstance(a, Tensor):
            if g is not None:
                raise RuntimeError(
                    f"[{name}] backward returned a gradient for argument {i}, which is not a Tensor (return None there)"
                )
            continue
        if g is not None:
            if not isinstance(g, Tensor):
                raise TypeError(
                    f"[{name}] backward returned a {type(g).__name__} as the gradient of argument "
                    f"{i}; expected a Tensor or None"
                )
            if tuple(g.shape) != tuple(batch) + tuple(a.shape):
                raise RuntimeError(
                    f"[{name}] backward returned a gradient of shape {tuple(g.shape)} for "
                    f"argument {i} of shape {tuple(a.shape)}"
                    + (f" (batch dims {tuple(batch)})" if batch else "")
                    + _applied_at(node)
                )
        out.append(g)
    return out


def _applied_at(node: Any) -> str:
    """Where the Function was applied, for backward's errors (Note [Source sites] in csrc/core/site.h)."""
    site = getattr(node, "_site", "") if node is not None else ""
    return f"; the Function was applied at {site}" if site else ""


def _forward_mode(
    cls: type[Function], ctx: FunctionCtx, args: tuple[Any, ...], outs: list[Any], diff: list[bool], level: int
) -> None:
    """Run cls.jvp on the level-`level` tangents; its ops compute tangents at the outer levels only."""
    name = cls.__name__
    if cls.jvp is Function.jvp:
        raise RuntimeError(
            f"[{name}] this Function is used in forward mode (an input is a dual tensor) but does not "
            "define jvp(ctx, *tangents); reverse mode works with its backward: use jacrev, vjp or "
            "jacobian(mode='reverse') instead of jacfwd or jvp, or define jvp"
        )
    tangents = [_C.unpack_dual(a, level)[1] if isinstance(a, Tensor) else None for a in args]
    arg_shapes = [list(a.shape) if isinstance(a, Tensor) else None for a in args]
    batch = _batch_shape(tangents, arg_shapes, "tangents of the inputs", name)
    saved_node = ctx._node
    with _C.jvp_rule_guard(level):
        if not batch or cls.handles_batch_dims:
            res = _jvp_once(cls, ctx, args, outs, diff, tangents, batch)
        else:
            per_element = [
                _jvp_once(cls, ctx, args, outs, diff, ts, ()) for ts in _split_batch(tangents, arg_shapes, batch)
            ]
            res = _stack_batch(per_element, [o if d else None for o, d in zip(outs, diff)], batch)
    object.__setattr__(ctx, "_node", saved_node)
    for i in (i for i, d in enumerate(diff) if d):
        r = res[i]
        if r is not None:
            _C.set_tangent(outs[i], r, level)


def _jvp_once(
    cls: type[Function],
    ctx: FunctionCtx,
    args: tuple[Any, ...],
    outs: list[Any],
    diff: list[bool],
    tangents: list[Tensor | None],
    batch: Sequence[int],
) -> list[Tensor | None]:
    """One call of cls.jvp on tangents with leading dims `batch`: the checked tangent of each output."""
    name = cls.__name__
    if ctx.materialize_grads:
        tangents = [
            t
            if t is not None or not (isinstance(a, Tensor) and a.dtype.is_floating_point)
            else _C.zeros(list(batch) + list(a.shape), a.dtype, a.device)
            for t, a in zip(tangents, args)
        ]
    res = cls.jvp(ctx, *tangents)
    res = res if isinstance(res, tuple) else (res,)
    if len(res) != len(outs):
        raise RuntimeError(f"[{name}] jvp returned {len(res)} tangents for {len(outs)} outputs")
    for i, t in enumerate(res):
        if not diff[i] or t is None:
            continue
        if not isinstance(t, Tensor) or tuple(t.shape) != tuple(batch) + tuple(outs[i].shape):
            raise RuntimeError(
                f"[{name}] jvp returned a tangent of shape {tuple(getattr(t, 'shape', ()))} for "
                f"output {i} of shape {tuple(outs[i].shape)}" + (f" (batch dims {tuple(batch)})" if batch else "")
            )
    return list(res)
