"""Note [Fused optimizer steps]
pyad's answer to torch's foreach kernels. Each elementwise op costs a few microseconds of dispatch and a pass
over memory, so a per-tensor Adam loop (a dozen ops per parameter) over many small tensors is dominated by
overhead, and over large ones by the dozen passes. With foreach=None (the default) or True, Adam, AdamW and SGD
hand a whole list of parameters to one C++ call (_C._adam_step, _C._sgd_step), which updates every parameter and
its state in place in one pass each, without recording a graph. Its per-element arithmetic is the per-tensor
loop's, operation by operation and in the parameter's dtype (kernels/optim_math.h), so both paths give the same
bits. The lists are grouped by dtype, device and whatever the update's scalars depend on (Adam's step count,
whether SGD's momentum buffers exist yet); a non-contiguous parameter goes through the loop.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

from .._C import Tensor

__all__ = ["buckets"]


def buckets(
    params: Sequence[Tensor], states: Sequence[dict[str, Any]], key: Callable[[dict[str, Any]], Hashable]
) -> tuple[dict[tuple[Any, ...], tuple[list[Tensor], list[dict[str, Any]]]], list[Tensor]]:
    """The parameters (with their states) that a fused step can take, grouped by (dtype, device, key(state)), in
    order, and the rest, for the per-tensor loop. Only contiguity is asked here: a gradient matches its
    parameter's shape and dtype (pyad checks every assignment of .grad), load_state_dict casts state to the
    parameter's dtype and device, and the fused op raises a clear error for anything else."""
    groups: dict[tuple[Any, ...], tuple[list[Tensor], list[dict[str, Any]]]] = {}
    rest: list[Tensor] = []
    for p, s in zip(params, states):
        if p.is_contiguous():
            ps, ss = groups.setdefault((p.dtype, p.device, key(s)), ([], []))
            ps.append(p)
            ss.append(s)
        else:
            rest.append(p)
    return groups, rest
