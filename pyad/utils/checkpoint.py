"""Gradient checkpointing: trade recomputation for memory.

checkpoint(fn, *args) keeps only fn's inputs and recomputes fn inside backward; checkpoint_sequential
checkpoints segments of a chain of functions; checkpoint_revolve follows the optimal binomial (Revolve)
schedule for a chain of L functions with a fixed number of stored activations.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .. import _C
from .._C import Tensor
from .._grad_mode import enable_grad, is_grad_enabled, no_grad

__all__ = ["checkpoint", "checkpoint_revolve", "checkpoint_sequential", "revolve_evaluations", "revolve_schedule"]

# One step of a Revolve schedule: ("advance", a, b), ("store", i), ("free", i), ("restore", i) or ("youturn", i).
Action = tuple[Any, ...]


def _get_states() -> tuple[Any, Any]:
    return _C.get_rng_state(), _C.cuda_get_rng_state()


def _set_states(states: tuple[Any, Any]) -> None:
    _C.set_rng_state(states[0])
    _C.cuda_set_rng_state(states[1])


class _RngState:
    """Saves the generators' states (the CPU's and the GPU's) now; `replay()` runs code from those states and
    then restores the current ones."""

    def __init__(self, enabled: bool) -> None:
        self.state = _get_states() if enabled else None

    def replay(self, fn: Callable[[], Any]) -> Any:
        if self.state is None:
            return fn()
        current = _get_states()
        _set_states(self.state)
        try:
            return fn()
        finally:
            _set_states(current)


def _check_torch_keywords(
    op: str,
    use_reentrant: bool | None,
    kwargs: dict[str, Any],
    context_fn: object = None,
    determinism_check: str = "default",
    debug: bool = False,
) -> None:
    """torch's checkpoint keywords: never passed on to the user's function (Note [use_reentrant])."""
    if use_reentrant not in (None, True, False):
        raise TypeError(f"[{op}] use_reentrant must be True, False or None, got {use_reentrant!r}")
    if use_reentrant and kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    if context_fn is not None or debug:
        raise NotImplementedError(
            f"[{op}] context_fn and debug are not supported by pyad's checkpoint (it has no "
            "selective checkpointing or recomputation log)"
        )
    if determinism_check not in ("default", "none"):
        raise ValueError(f"[{op}] determinism_check should be one of 'default', 'none', but got {determinism_check}")


def checkpoint(
    fn: Callable[..., Any],
    *args: Any,
    use_reentrant: bool | None = None,
    preserve_rng_state: bool = True,
    context_fn: object = None,
    determinism_check: str = "default",
    debug: bool = False,
    **kwargs: Any,
) -> Any:
    """fn(*args, **kwargs) recorded as usual but keeping none of the tensors its ops save for backward: the
    first time backward needs one, fn runs again (Note [Recomputed saved tensors] in csrc/autograd/recompute_frame.h).
    Gradients equal those without checkpointing, through backward(), autograd.grad and create_graph alike;
    with preserve_rng_state the recomputation replays the same random numbers (pyad.rand, pyad.randn,
    pyad.nn.functional.dropout). Forward over reverse (hessian, hvp, jvp of grad) works through it too; reverse
    over forward (jacrev of jacfwd) works too: fn is recomputed when the dual level exits, while its tangents
    still exist, so that call saves no memory. Inputs must not be modified in place before backward.

    Note [use_reentrant]
    torch has two implementations. use_reentrant=True (torch's old default) runs the
    recomputation inside a nested backward call, which cannot serve autograd.grad or backward(inputs=...), and
    takes no **kwargs for fn; use_reentrant=False (torch's advice) hooks the saved tensors instead and supports
    both. pyad has one implementation, of the second kind: both values (and None) mean the same recomputation,
    and autograd.grad, backward(inputs=...), create_graph work either way. use_reentrant=True keeps torch's
    argument rule only: **kwargs are refused (ValueError) so that a program keeps running under torch too.
    The keyword is never passed to fn. determinism_check ("default" or "none") is accepted: pyad's check is
    the in-place check on the inputs below; context_fn and debug raise NotImplementedError."""
    _check_torch_keywords("checkpoint", use_reentrant, kwargs, context_fn, determinism_check, debug)
    run = functools.partial(fn, **kwargs) if kwargs else fn
    if not is_grad_enabled():
        return run(*args)
    rng = _RngState(preserve_rng_state)
    versions = [(a, a._version) for a in args if isinstance(a, Tensor)]

    def recompute() -> None:
        for i, (a, v) in enumerate(versions):
            if a._version != v:
                raise RuntimeError(
                    f"[checkpoint] input {i} was modified in place (version {v} -> {a._version}) "
                    "after the checkpointed call; its recomputation would differ"
                )
        with enable_grad():
            rng.replay(lambda: run(*args))

    frame = _C.RecomputeFrame(recompute)
    with _C.frame_guard(frame, False):
        return run(*args)


def checkpoint_sequential(
    functions: Iterable[Callable[[Any], Any]],
    segments: int,
    input: Any,
    use_reentrant: bool | None = None,
    preserve_rng_state: bool = True,
) -> Any:
    """Run a chain of functions in `segments` pieces; all but the last are checkpointed (as torch).
    use_reentrant is accepted and means nothing different (Note [use_reentrant] in checkpoint)."""
    _check_torch_keywords("checkpoint_sequential", use_reentrant, {})
    functions = list(functions)
    if segments < 1:
        raise ValueError(f"[checkpoint_sequential] segments must be >= 1, got {segments}")
    n = len(functions)
    size = -(-n // segments)

    def run_segment(start: int, end: int) -> Callable[[Any], Any]:
        def run(x: Any) -> Any:
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
@functools.cache
def _cost(length: int, slots: int) -> int:
    """Fewest layer evaluations (advances) to reverse `length` layers from a held state with `slots` free."""
    if length <= 1:
        return 0
    if slots == 0:
        return length * (length - 1) // 2
    return min(_split_cost(length, slots, m) for m in range(1, length))


def _split_cost(length: int, slots: int, m: int) -> int:
    right = length - m
    return m + (_cost(right, slots - 1) if right > 1 else 0) + _cost(m, slots)


@functools.cache
def _split(length: int, slots: int) -> int:
    if slots == 0:
        return length - 1
    return min(range(1, length), key=lambda m: (_split_cost(length, slots, m), -m))


def revolve_schedule(num_layers: int, slots: int) -> list[Action]:
    """The actions of the optimal binomial schedule: ("advance", a, b) runs layers a+1..b without recording,
    ("store", i) / ("free", i) / ("restore", i) manage the stored activation x_i (x_0 is the input, always
    held), and ("youturn", i) runs layer i+1 recording its graph and backpropagates through it."""
    if num_layers < 1:
        raise ValueError("[checkpoint_revolve] need at least one function")
    if slots < 0:
        raise ValueError(f"[checkpoint_revolve] slots must be >= 0, got {slots}")
    actions: list[Action] = []

    def reverse(a: int, b: int, s: int) -> None:
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


def revolve_evaluations(num_layers: int, slots: int) -> int:
    """Layer evaluations over forward plus backward under checkpoint_revolve: Griewank's minimal number of
    advances for num_layers steps and slots + 1 snapshots (the input is the first), t = r*L - C(s+r, s-1) with
    s = slots + 1 and r the repetition number, plus num_layers (each layer is recorded exactly once, when it is
    reversed). With slots >= num_layers - 1 this is 2*num_layers - 1: no layer runs more than twice."""
    return _cost(num_layers, slots) + num_layers


class _RevolveRun:
    """The state of one checkpoint_revolve call: the schedule, where backward is in it, the stored
    activations and the random state each layer first ran with."""

    def __init__(self, functions: Sequence[Callable[[Any], Any]], slots: int) -> None:
        self.functions = functions
        self.actions = revolve_schedule(len(functions), slots)
        self.rng: dict[int, _RngState] = {}
        self.stored: dict[int, Tensor] = {}
        self.current: tuple[int, Tensor] | None = None
        self.pos = 0

    def at(self) -> Tensor:
        """The activation the schedule holds now."""
        if self.current is None:
            raise RuntimeError("[checkpoint_revolve] the schedule holds no activation yet (a restore comes first)")
        return self.current[1]

    def state_for(self, i: int) -> Tensor:
        """x_i, the input of layer i+1, for that layer's recomputation: run the schedule to its youturn."""
        while self.pos < len(self.actions):
            action = self.actions[self.pos]
            self.pos += 1
            if action[0] != "youturn":
                _execute(self, action)
            elif action[1] == i:
                return self.at()
            elif action[1] < i:
                break
            # a youturn for a layer whose gradient nobody asked for (autograd.grad): nothing to recompute
        raise RuntimeError(
            f"[checkpoint_revolve] layer {i + 1} was recomputed out of the schedule's order; the "
            "graph of a checkpoint_revolve call can be differentiated once per forward pass"
        )


def _call_layer(run: _RevolveRun, i: int, x: Any) -> Any:
    """Layer i+1 on x, replaying the random state it had when it first ran."""
    if i not in run.rng:
        run.rng[i] = _RngState(True)
        return run.functions[i](x)
    return run.rng[i].replay(lambda: run.functions[i](x))


def checkpoint_revolve(functions: Iterable[Callable[[Any], Any]], input: Tensor, slots: int) -> Any:
    """The chain functions[-1](...functions[0](input)) keeping at most `slots` activations besides the input
    and following the optimal binomial (Revolve) schedule. The graph is recorded as usual, but no layer except
    the last keeps its saved tensors: when backward first needs one of layer k's, the schedule runs from the
    nearest stored activation to x_(k-1) and layer k runs again (Note [Recomputed saved tensors]). The number of
    layer forward evaluations over forward plus backward is revolve_evaluations(len(functions), slots), the
    minimum Griewank's formula gives (see its docstring for how they are counted); gradients equal those of the
    plain chain, through backward() and autograd.grad alike, and forward over reverse (hessian, hvp,
    jvp of grad: stored activations keep their tangents). Reverse over forward (jacrev of jacfwd) raises: the
    dual level is gone when the schedule recomputes a layer. Second derivatives by reverse over reverse
    (create_graph=True) are not supported: the recomputed layers start from stored values without history."""
    functions = list(functions)
    if not is_grad_enabled():
        x = input
        for f in functions:
            x = f(x)
        return x
    run = _RevolveRun(functions, int(slots))
    # The forward pass covers the schedule's first sweep: store what it stores, stop at its first youturn.
    stores = set()
    for action in run.actions:
        if action[0] == "youturn":
            break
        if action[0] == "store":
            stores.add(action[1])
    run.pos = next(k for k, a in enumerate(run.actions) if a[0] == "youturn") + 1
    # Stored activations keep their tangents, so forward over reverse (hessian, hvp) recomputes duals.
    run.stored[0] = _C.detach_dual(input)
    last = len(functions) - 1
    x = input
    for i in range(len(functions)):
        if i == last:
            x = _call_layer(run, i, x)  # the first youturn: its saved tensors are kept
            break
        frame = _C.RecomputeFrame(functools.partial(_recompute_layer, run, i, _grad_flags(x)))
        frame.eager = False  # only the schedule may recompute a layer (and in its order)
        with _C.frame_guard(frame, False):
            x = _call_layer(run, i, x)
        if i + 1 in stores:
            run.stored[i + 1] = _C.detach_dual(x)
    return x


def _grad_flags(x: Tensor) -> tuple[bool, list[tuple[int, bool]]]:
    """Whether x and each of its tangents (by level) need a gradient: what a layer's ops save depends on it."""
    return x.requires_grad, [(level, _C.unpack_dual(x, level)[1].requires_grad) for level in _C.tangent_levels([x])]


def _recompute_layer(run: _RevolveRun, i: int, flags: tuple[bool, list[tuple[int, bool]]]) -> None:
    if is_grad_enabled():
        raise RuntimeError(
            "[checkpoint_revolve] second derivatives (create_graph=True) are not supported through "
            "checkpoint_revolve; use checkpoint or checkpoint_sequential"
        )
    # The layer's ops must save what they saved the first time: x and its tangents need gradients as then.
    state = run.state_for(i)
    primal_flag, tangent_flags = flags
    with enable_grad():  # make_dual's view must record its history, as x's did
        x = state.detach().requires_grad_(primal_flag)
        for level, flag in tangent_flags:
            tangent = _C.unpack_dual(state, level)[1]
            if tangent is None:
                raise RuntimeError(f"[checkpoint_revolve] the stored activation for layer {i + 1} lost its tangent")
            x = _C.make_dual(x, _C.detach_dual(tangent).requires_grad_(flag), level)
        _call_layer(run, i, x)


def _execute(run: _RevolveRun, action: Action) -> None:
    kind = action[0]
    if kind == "advance":
        a, b = action[1], action[2]
        x = run.at()
        with no_grad():
            for i in range(a, b):
                x = _call_layer(run, i, x)
        run.current = (b, x)
    elif kind == "store":
        run.stored[action[1]] = run.at()
    elif kind == "free":
        del run.stored[action[1]]
    elif kind == "restore":
        run.current = (action[1], run.stored[action[1]])
