"""Gradient checkpointing: trade recomputation for memory.

checkpoint(fn, *args) keeps only fn's inputs and recomputes fn inside backward; checkpoint_sequential
checkpoints segments of a chain of functions; checkpoint_revolve follows the optimal binomial (Revolve)
schedule for a chain of L functions with a fixed number of stored activations.
"""
import functools

from .. import _C
from .._grad_mode import enable_grad, is_grad_enabled, no_grad
from ..autograd import backward as _backward
from ..autograd.function import Function

Tensor = _C.Tensor


class _RngState:
    """Saves the generator state now; `replay()` runs code from that state and then restores the current one."""

    def __init__(self, enabled):
        self.state = _C.get_rng_state() if enabled else None

    def replay(self, fn):
        if self.state is None:
            return fn()
        current = _C.get_rng_state()
        _C.set_rng_state(self.state)
        try:
            return fn()
        finally:
            _C.set_rng_state(current)


def _leaf_like(x):
    """A detached copy-free leaf standing for x in a recomputation, requiring grad as x does."""
    if not isinstance(x, Tensor):
        return x
    return x.detach().requires_grad_(x.requires_grad)


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def _backprop(outputs, grads):
    """Backward from the recomputed outputs that require grad; parameters accumulate into .grad as usual."""
    pairs = [(o, g) for o, g in zip(outputs, grads) if isinstance(o, Tensor) and o.requires_grad and g is not None]
    if pairs:
        _backward([o for o, _ in pairs], [g for _, g in pairs], create_graph=is_grad_enabled())


class _Checkpoint(Function):
    @staticmethod
    def forward(ctx, run, preserve_rng_state, *args):
        ctx.run = run
        ctx.rng = _RngState(preserve_rng_state)
        ctx.args = [None if isinstance(a, Tensor) else a for a in args]
        ctx.save_for_backward(*[a if isinstance(a, Tensor) else None for a in args])
        return run(*args)

    @staticmethod
    def backward(ctx, *grads):
        saved = ctx.saved_tensors
        inputs = [_leaf_like(s) if s is not None else a for s, a in zip(saved, ctx.args)]
        with enable_grad():
            outputs = _as_tuple(ctx.rng.replay(lambda: ctx.run(*inputs)))
        _backprop(outputs, grads)
        return (None, None) + tuple(x.grad if isinstance(x, Tensor) and x.requires_grad else None for x in inputs)


def checkpoint(fn, *args, preserve_rng_state=True, **kwargs):
    """fn(*args, **kwargs), keeping only the inputs: fn runs again inside backward to rebuild its graph.
    Gradients equal those without checkpointing; with preserve_rng_state the recomputation replays the same
    random numbers (pyad.rand, pyad.randn, pyad.nn.functional.dropout)."""
    run = functools.partial(fn, **kwargs) if kwargs else fn
    if not is_grad_enabled() or not any(isinstance(a, Tensor) and a.requires_grad for a in args):
        return run(*args)
    return _Checkpoint.apply(run, preserve_rng_state, *args)


def checkpoint_sequential(functions, segments, input, preserve_rng_state=True):
    """Run a chain of functions in `segments` pieces; all but the last are checkpointed (as torch)."""
    functions = list(functions)
    if segments < 1:
        raise ValueError(f"[checkpoint_sequential] segments must be >= 1, got {segments}")
    n = len(functions)
    size = -(-n // segments)

    def run_segment(start, end):
        def run(x):
            for f in functions[start:end]:
                x = f(x)
            return x
        return run

    x = input
    start = 0
    while start < n:
        end = min(n, start + size)
        if end < n:
            x = checkpoint(run_segment(start, end), x, preserve_rng_state=preserve_rng_state)
        else:
            x = run_segment(start, end)(x)
        start = end
    return x


# ---- the binomial (Revolve) schedule ----
@functools.lru_cache(maxsize=None)
def _cost(length, slots):
    """Fewest layer evaluations (advances) to reverse `length` layers from a held state with `slots` free."""
    if length <= 1:
        return 0
    if slots == 0:
        return length * (length - 1) // 2
    return min(_split_cost(length, slots, m) for m in range(1, length))


def _split_cost(length, slots, m):
    right = length - m
    return m + (_cost(right, slots - 1) if right > 1 else 0) + _cost(m, slots)


@functools.lru_cache(maxsize=None)
def _split(length, slots):
    if slots == 0:
        return length - 1
    return min(range(1, length), key=lambda m: (_split_cost(length, slots, m), -m))


def revolve_schedule(num_layers, slots):
    """The actions of the optimal binomial schedule: ("advance", a, b) runs layers a+1..b without recording,
    ("store", i) / ("free", i) / ("restore", i) manage the stored activation x_i (x_0 is the input, always
    held), and ("youturn", i) runs layer i+1 recording its graph and backpropagates through it."""
    if num_layers < 1:
        raise ValueError("[checkpoint_revolve] need at least one function")
    if slots < 0:
        raise ValueError(f"[checkpoint_revolve] slots must be >= 0, got {slots}")
    actions = []

    def reverse(a, b, s):
        if b - a == 1:
            actions.append(("youturn", a))
            return
        m = _split(b - a, s)
        actions.append(("advance", a, a + m))
        if b - a - m > 1:
            actions.append(("store", a + m))
            reverse(a + m, b, s - 1)
            actions.append(("free", a + m))
        else:
            reverse(a + m, b, s)
        actions.append(("restore", a))
        reverse(a, a + m, s)

    reverse(0, num_layers, slots)
    return actions


def revolve_evaluations(num_layers, slots):
    """Layer evaluations over forward plus backward under checkpoint_revolve: Griewank's minimal number of
    advances for num_layers steps and slots + 1 snapshots (the input is the first), t = r*L - C(s+r, s-1) with
    s = slots + 1 and r the repetition number, plus num_layers (each layer is recorded exactly once, when it is
    reversed). With slots >= num_layers - 1 this is 2*num_layers - 1: no layer runs more than twice."""
    return _cost(num_layers, slots) + num_layers


class _Revolve(Function):
    @staticmethod
    def forward(ctx, functions, slots, x0):
        ctx.functions = functions
        ctx.actions = revolve_schedule(len(functions), slots)
        ctx.rng = {}
        ctx.stored = {0: x0}
        ctx.pos = 0
        ctx.current = (0, x0)
        # Run until the first youturn (the last layer), which records the graph the output comes from.
        while True:
            action = ctx.actions[ctx.pos]
            ctx.pos += 1
            if action[0] == "youturn":
                i = action[1]
                ctx.last_in, ctx.last_out = _record_layer(ctx, i, ctx.current[1])
                return ctx.last_out.detach()
            _execute(ctx, action)

    @staticmethod
    def backward(ctx, grad):
        _backprop([ctx.last_out], [grad])
        g = ctx.last_in.grad
        ctx.last_in = ctx.last_out = None
        while ctx.pos < len(ctx.actions):
            action = ctx.actions[ctx.pos]
            ctx.pos += 1
            if action[0] == "youturn":
                x_in, y = _record_layer(ctx, action[1], ctx.current[1])
                _backprop([y], [g])
                g = x_in.grad
            else:
                _execute(ctx, action)
        ctx.stored.clear()
        return None, None, g


def _call_layer(ctx, i, x):
    """Layer i+1 on x, replaying the random state it had when it first ran."""
    if i not in ctx.rng:
        ctx.rng[i] = _RngState(True)
        return ctx.functions[i](x)
    return ctx.rng[i].replay(lambda: ctx.functions[i](x))


def _record_layer(ctx, i, x):
    leaf = _leaf_like(x)
    if not leaf.requires_grad:
        leaf.requires_grad_(True)
    with enable_grad():
        y = _call_layer(ctx, i, leaf)
    return leaf, y


def _execute(ctx, action):
    kind = action[0]
    if kind == "advance":
        a, b = action[1], action[2]
        x = ctx.current[1]
        with no_grad():
            for i in range(a, b):
                x = _call_layer(ctx, i, x)
        ctx.current = (b, x)
    elif kind == "store":
        ctx.stored[action[1]] = ctx.current[1]
    elif kind == "free":
        del ctx.stored[action[1]]
    elif kind == "restore":
        ctx.current = (action[1], ctx.stored[action[1]])


def checkpoint_revolve(functions, input, slots):
    """The chain functions[-1](...functions[0](input)) keeping at most `slots` activations besides the input
    and following the optimal binomial (Revolve) schedule. The number of layer forward evaluations over
    forward plus backward is revolve_evaluations(len(functions), slots), the minimum Griewank's formula gives
    (see its docstring for how they are counted); gradients equal those of the plain chain."""
    functions = list(functions)
    if not is_grad_enabled():
        x = input
        for f in functions:
            x = f(x)
        return x
    # The layers' parameters need the backward pass even when the input needs no gradient: stand in a leaf.
    x0 = input if input.requires_grad else input.detach().requires_grad_(True)
    return _Revolve.apply(functions, int(slots), x0)
