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

Beyond torch: with create_graph=True, a backward that reads a tensor stashed on ctx as an attribute (rather
than through save_for_backward) raises, naming the Function, when that tensor is part of the graph: an input
that requires grad, an output, or a value computed in forward from such inputs. Such a tensor carries no
history from forward, so the second derivatives through it would silently be wrong.
"""
from .. import _C
from .._grad_mode import is_grad_enabled, no_grad

Tensor = _C.Tensor


class FunctionCtx:
    """The `ctx` of forward, backward and jvp."""

    def __init__(self, name):
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_to_save", ())
        object.__setattr__(self, "_node", None)          # set only while backward runs
        object.__setattr__(self, "_saved_direct", None)  # saved tensors when no graph was recorded
        object.__setattr__(self, "_graph_tensors", {})   # id -> attribute name of stashed graph tensors
        object.__setattr__(self, "_checking", False)
        object.__setattr__(self, "non_differentiable", set())
        object.__setattr__(self, "materialize_grads", True)
        object.__setattr__(self, "needs_input_grad", ())

    def save_for_backward(self, *tensors):
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"[{self._name}] save_for_backward takes Tensors or None, got {type(t).__name__}")
        object.__setattr__(self, "_to_save", tensors)

    @property
    def saved_tensors(self):
        """The tensors given to save_for_backward, checked against in-place changes since."""
        if self._node is not None:
            return self._node.unpack_saved()
        if self._saved_direct is not None:
            return self._saved_direct
        return tuple(self._to_save)

    def mark_non_differentiable(self, *tensors):
        self.non_differentiable.update(id(t) for t in tensors)

    def set_materialize_grads(self, value):
        object.__setattr__(self, "materialize_grads", bool(value))

    def mark_dirty(self, *tensors):
        raise RuntimeError(f"[{self._name}] mark_dirty (in-place custom Functions) is not supported; return a new "
                           "tensor instead")

    def __getattribute__(self, name):
        value = object.__getattribute__(self, name)
        if not name.startswith("_") and object.__getattribute__(self, "_checking"):
            _check_stash(self, name, value)
        return value


def _tensors_in(value):
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _tensors_in(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors_in(v)


def _check_stash(ctx, name, value):
    graph = object.__getattribute__(ctx, "_graph_tensors")
    for t in _tensors_in(value):
        if id(t) in graph:
            fn = object.__getattribute__(ctx, "_name")
            raise RuntimeError(
                f"[{fn}] backward reads ctx.{name}, a tensor that is part of the graph but was stashed on ctx "
                "instead of saved with ctx.save_for_backward; with create_graph=True its second derivatives "
                f"would be wrong. Save it with ctx.save_for_backward(...) and read it from ctx.saved_tensors.")


class Function:
    """Base class of custom Functions; subclasses define static forward, backward and optionally jvp."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("a Function subclass must define forward")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a Function subclass must define backward")

    @staticmethod
    def jvp(ctx, *tangents):
        raise NotImplementedError("a Function subclass defines jvp for forward mode")

    @classmethod
    def apply(cls, *args, **kwargs):
        name = cls.__name__
        ctx = FunctionCtx(name)
        tensor_pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        inputs = [args[i] for i in tensor_pos]
        grad_on = is_grad_enabled()
        object.__setattr__(ctx, "needs_input_grad",
                           tuple(isinstance(a, Tensor) and a.requires_grad and grad_on for a in args))
        # forward records nothing and computes no tangents of its own: the Function defines both.
        with no_grad(), _C.jvp_rule_guard():
            raw = cls.forward(ctx, *args, **kwargs)
        is_tuple = isinstance(raw, tuple)
        outs = list(raw) if is_tuple else [raw]
        input_ids = {id(t) for t in inputs}
        for i, o in enumerate(outs):
            # An input returned as is gets a fresh alias, so that the output can carry its own history.
            if isinstance(o, Tensor) and id(o) in input_ids:
                outs[i] = _C.alias(o)
        raws = raw if is_tuple else (raw,)
        diff_idx = [i for i, o in enumerate(outs) if isinstance(o, Tensor) and o.dtype.is_floating_point
                    and id(raws[i]) not in ctx.non_differentiable]
        diff_outs = [outs[i] for i in diff_idx]
        out_meta = [(list(o.shape), o.dtype) for o in diff_outs]

        to_save = ctx._to_save
        node = None
        if diff_outs:
            node = _C.function_node(name, _backward_fn(cls, ctx, args, tensor_pos, out_meta), inputs, diff_outs)
        if node is not None:
            # Outputs are saved without their history (the node would own itself); unpacking restores it.
            saved = []
            for t in to_save:
                out = next((o for r, o in zip(raws, outs) if t is r), None)
                saved.append(_C.SavedTensor(out if out is not None else t, out is not None))
            _C.function_save(node, saved)
            _record_graph_tensors(ctx, inputs, outs)
        else:
            object.__setattr__(ctx, "_saved_direct", tuple(to_save))

        if any(_C.unpack_dual(t)[1] is not None for t in inputs):
            _forward_mode(cls, ctx, args, tensor_pos, outs, diff_idx)
        return tuple(outs) if is_tuple else outs[0]


def _record_graph_tensors(ctx, inputs, outs):
    """Tensors stashed on ctx that belong to the graph (see the module docstring)."""
    graph_ids = {id(t) for t in inputs if t.requires_grad} | {id(o) for o in outs if isinstance(o, Tensor)}
    any_diff = any(t.requires_grad for t in inputs)
    input_ids = {id(t) for t in inputs}
    found = {}
    for key, value in vars(ctx).items():
        if key.startswith("_"):
            continue
        for t in _tensors_in(value):
            computed = id(t) not in input_ids and t.dtype.is_floating_point and any_diff
            if id(t) in graph_ids or computed:
                found[id(t)] = key
    object.__setattr__(ctx, "_graph_tensors", found)


def _backward_fn(cls, ctx, args, tensor_pos, out_meta):
    name = cls.__name__

    def run(node, grads):
        grads = list(grads)
        if ctx.materialize_grads:
            grads = [g if g is not None else _C.zeros(shape, dt, _C.device("cpu"))
                     for g, (shape, dt) in zip(grads, out_meta)]
        object.__setattr__(ctx, "_node", node)
        object.__setattr__(ctx, "_checking", is_grad_enabled())   # create_graph: reading stashed tensors is an error
        try:
            result = cls.backward(ctx, *grads)
        finally:
            object.__setattr__(ctx, "_node", None)
            object.__setattr__(ctx, "_checking", False)
        result = result if isinstance(result, tuple) else (result,)
        # Trailing Nones beyond the forward's arguments are allowed, as torch.
        while len(result) > len(args) and result[-1] is None:
            result = result[:-1]
        if len(result) != len(args):
            raise RuntimeError(f"[{name}] backward returned {len(result)} gradients, but forward took {len(args)} "
                               "arguments (return one per argument, None for non-tensors)")
        out = []
        for i, g in enumerate(result):
            a = args[i]
            if not isinstance(a, Tensor):
                if g is not None:
                    raise RuntimeError(f"[{name}] backward returned a gradient for argument {i}, which is not a "
                                       "Tensor (return None there)")
                continue
            if g is not None:
                if not isinstance(g, Tensor):
                    raise TypeError(f"[{name}] backward returned a {type(g).__name__} as the gradient of argument "
                                    f"{i}; expected a Tensor or None")
                # Batched cotangents (jacrev, is_grads_batched) carry leading batch dims.
                if g.ndim < a.ndim or tuple(g.shape[g.ndim - a.ndim:]) != tuple(a.shape):
                    raise RuntimeError(f"[{name}] backward returned a gradient of shape {tuple(g.shape)} for "
                                       f"argument {i} of shape {tuple(a.shape)}")
            out.append(g)
        return out
    return run


def _forward_mode(cls, ctx, args, tensor_pos, outs, diff_idx):
    name = cls.__name__
    if cls.jvp is Function.jvp:
        raise RuntimeError(f"[{name}] this Function is used in forward mode (an input is a dual tensor) but does not "
                           "define jvp(ctx, *tangents)")
    tangents = []
    for i, a in enumerate(args):
        if not isinstance(a, Tensor):
            tangents.append(None)
            continue
        t = _C.unpack_dual(a)[1]
        if t is None and ctx.materialize_grads and a.dtype.is_floating_point:
            t = _C.zeros(list(a.shape), a.dtype, a.device)
        tangents.append(t)
    saved_node = ctx._node
    with _C.jvp_rule_guard():
        res = cls.jvp(ctx, *tangents)
    object.__setattr__(ctx, "_node", saved_node)
    res = res if isinstance(res, tuple) else (res,)
    if len(res) != len(outs):
        raise RuntimeError(f"[{name}] jvp returned {len(res)} tangents for {len(outs)} outputs")
    for i in diff_idx:
        t = res[i]
        if t is None:
            continue
        if tuple(t.shape[t.ndim - outs[i].ndim:]) != tuple(outs[i].shape):
            raise RuntimeError(f"[{name}] jvp returned a tangent of shape {tuple(t.shape)} for output {i} of shape "
                               f"{tuple(outs[i].shape)}")
        _C.set_tangent(outs[i], t)
