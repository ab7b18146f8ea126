"""Jacobians under a memory budget (max_memory= of jacobian, jacfwd, jacrev and hessian).

The budget bounds the peak of the allocator's own counter (pyad.memory_allocated on the inputs' device)
above what was live when the call started, the result included. The Jacobian is preallocated once as an
(m, n) block per (output, input) leaf pair and every chunk of directions is written into its slice, so the
result never exists twice (no cat of pieces, no transposed copy).

The chunk size comes from measurement, not from a model of f: the first chunk has one direction and the
second two, each timed by the peak counter (reset_peak_memory_stats before it); the difference is the cost
of one more direction, the rest is the fixed cost (the result, the recorded graph in reverse mode, f's
intermediates). The remaining directions then go in the largest chunks that fit the budget with a margin
for the allocator's rounding. Both probe chunks are real columns (rows) of the Jacobian, so no work is
thrown away. A budget below the measured one-direction peak raises, naming that peak: the smallest budget
that works.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Any

from . import _C
from ._C import Tensor
from ._grad_mode import no_grad

__all__ = ["parse_bytes"]

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
    "k": 2**10,
    "m": 2**20,
    "g": 2**30,
}
# Chunks are sized to this share of the slack the budget leaves, since one more direction's cost is
# measured on one and two directions and rounding in the allocator (or an op switching algorithm with the
# batch size) can make larger chunks cost a little more per direction.
_MARGIN = 0.85


def parse_bytes(value: int | str, fn: str = "jacobian") -> int:
    """A byte count from an int or a string such as "512MB", "1.5 GiB" or "2e6" (kB/MB/GB are powers of
    1000, KiB/MiB/GiB and the bare K/M/G powers of 1024)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"[{fn}] max_memory must be an int (bytes) or a string such as '512MB', got {value!r}")
    if isinstance(value, int):
        n = value
    else:
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", value)
        unit = m.group(2).lower() if m else None
        if m is None or unit not in _UNITS:
            raise ValueError(
                f"[{fn}] cannot read max_memory={value!r}: expected a number of bytes with an optional unit "
                "(B, kB, MB, GB, KiB, MiB, GiB), e.g. '512MB'"
            )
        n = int(float(m.group(1)) * _UNITS[unit])
    if n <= 0:
        raise ValueError(f"[{fn}] max_memory must be positive, got {value!r}")
    return n


def _fmt(n: float) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.2f} {unit} ({int(n)} bytes)"
    return f"{int(n)} bytes"


class Budget:
    """The allocator's view of one budgeted call: bytes in use at its start on `device`, the budget, and
    the largest peak (above the start) seen so far."""

    def __init__(self, budget: int, device: Any, fn: str) -> None:
        self.budget, self.device, self.fn = budget, device, fn
        self.base = _C.memory_allocated(device)
        self.worst = 0

    def used(self) -> int:
        return _C.memory_allocated(self.device) - self.base

    def require(self, nbytes: int, what: str) -> None:
        """Fail before any work when `nbytes` (already live, or about to be) cannot fit."""
        if nbytes > self.budget:
            raise MemoryError(
                f"[{self.fn}] max_memory={_fmt(self.budget)} is too small: {what} alone needs {_fmt(nbytes)}; "
                f"the smallest budget that can work is more than {_fmt(nbytes)}"
            )

    def measure(self, run: Callable[[], None]) -> int:
        """Run `run` and return its peak above the call's start."""
        _C.reset_peak_memory_stats(self.device)
        run()
        peak = _C.max_memory_allocated(self.device) - self.base
        self.worst = max(self.worst, peak)
        return peak


def chunked(total: int, budget: Budget, step: Callable[[int, int], None], unit: str) -> None:
    """Run step(s, e) over [0, total) in chunks sized to the budget (see the module docstring)."""
    if total == 0:
        return
    p1 = budget.measure(lambda: step(0, 1))
    if p1 > budget.budget:
        raise MemoryError(
            f"[{budget.fn}] max_memory={_fmt(budget.budget)} is too small for even one {unit}: one {unit} "
            f"peaked at {_fmt(p1)} above the memory in use before the call; the smallest budget that works is "
            f"{_fmt(p1)}"
        )
    if total == 1:
        return
    # p(c) = live + transient_fixed + c * per_direction. Until a second probe tells them apart, all of
    # p1 - live counts as the cost of a direction: an upper bound, so the two-direction probe runs only
    # where it is sure to fit, and one direction at a time otherwise.
    bound = max(p1 - budget.used(), 1)
    if p1 + bound > budget.budget:
        size, s = 1, 1
    else:
        p2 = budget.measure(lambda: step(1, min(total, 3)))
        s = min(total, 3)
        per = max(p2 - p1, 0)  # two directions against one
        size = total if per == 0 else max(1, int(_MARGIN * (budget.budget - (p1 - per)) / per))
    while s < total:
        e = min(total, s + size)
        peak = budget.measure(functools.partial(step, s, e))
        if peak > budget.budget and e - s > 1:
            # The model underestimated (a nonlinear op): later chunks shrink in proportion.
            size = max(1, int(size * budget.budget / peak * _MARGIN))
        s = e


def seed_rows(m: int, s: int, e: int, shape: Sequence[int], like: Tensor) -> Tensor:
    """Rows s..e of the m x m identity, shaped (e - s, *shape): built from two aranges so that only the
    chunk's rows are ever allocated (an eye(m) would cost m^2 whatever the budget)."""
    rows = _C.reshape(_C.arange(s, e, 1, _C.dtype.int64, like.device), [e - s, 1])
    cols = _C.reshape(_C.arange(0, m, 1, _C.dtype.int64, like.device), [1, m])
    one = _C.copy_to(_C.eq(rows, cols), like.dtype, like.device)
    return _C.reshape(one, [e - s] + list(shape))


def reverse_jacobian(outs: Sequence[Tensor], ins: Sequence[Tensor], budget: Budget) -> list[tuple[Tensor, ...]]:
    """jac[i][j] (out_i.shape + in_j.shape) by batched backward passes over chunks of out_i's rows, each
    written into the preallocated (m_i, n_j) block. The graph recorded by the caller stays alive throughout
    (retain_graph), so its bytes count against the budget like the result's."""
    blocks = _allocate([(o, x, x.dtype) for o in outs for x in ins], budget)
    jac = []
    for a, o in enumerate(outs):
        m = o.numel()
        row = blocks[a * len(ins) : (a + 1) * len(ins)]
        if o.requires_grad:

            def step(s: int, e: int, o: Tensor = o, m: int = m, row: list[Tensor] = row) -> None:
                gs = _C.grad([o], list(ins), [seed_rows(m, s, e, o.shape, o)], True, False, True, 1)
                with no_grad():
                    for g, r, x in zip(gs, row, ins):
                        if g is not None:
                            r[s:e] = _C.reshape(g, [e - s, x.numel()])

            chunked(m, budget, step, "output row (reverse mode)")
        jac.append(tuple(_C.reshape(r, list(o.shape) + list(x.shape)) for r, x in zip(row, ins)))
    return jac


def forward_jacobian(
    run: Callable[[int, int, int], list[Tensor | None]],
    outs: Sequence[Tensor],
    leaves: Sequence[Tensor],
    budget: Budget,
) -> list[tuple[Tensor, ...]]:
    """jac[i][k] (out_i.shape + leaf_k.shape) by forward mode: run(k, s, e) pushes directions s..e of leaf k
    through f and returns each output's (e - s, *out_i) tangent (None where it got none), which is written,
    transposed, into its preallocated (m_i, n_k) block. `outs` are f's outputs at the primal point (from
    a plain evaluation: they give the blocks' shapes before any pass, so every probe runs beside them)."""
    blocks = _allocate([(o, y, o.dtype) for o in outs for y in leaves], budget)
    nk = len(leaves)
    for k, x in enumerate(leaves):

        def step(s: int, e: int, k: int = k) -> None:
            tans = run(k, s, e)
            with no_grad():
                for i, (o, t) in enumerate(zip(outs, tans)):
                    if t is not None:
                        blocks[i * nk + k][:, s:e] = _C.transpose(_C.reshape(t, [e - s, o.numel()]), 0, 1)

        chunked(x.numel(), budget, step, "input direction (forward mode)")
    return [
        tuple(_C.reshape(blocks[i * nk + k], list(o.shape) + list(x.shape)) for k, x in enumerate(leaves))
        for i, o in enumerate(outs)
    ]


def _allocate(pairs: Sequence[tuple[Tensor, Tensor, Any]], budget: Budget) -> list[Tensor]:
    """Zeroed (m, n) blocks of the given dtype for the (output, input) pairs, after checking that they fit
    the budget at all."""
    nbytes = sum(o.numel() * x.numel() * _C.zeros([], d, x.device).element_size() for o, x, d in pairs)
    budget.require(budget.used() + nbytes, "the Jacobian itself" + (" and the recorded graph" if budget.used() else ""))
    return [_C.zeros([o.numel(), x.numel()], d, x.device) for o, x, d in pairs]
