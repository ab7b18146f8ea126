"""Note [Fused optimizer steps]
pyad's answer to torch's foreach kernels. Each elementwise op costs a few microseconds of dispatch and a pass
over memory, so a per-tensor Adam loop (a dozen ops per parameter) over many small tensors is dominated by
overhead, and over large ones by the dozen passes. With foreach=None (the default) or True, Adam, AdamW and SGD
hand a whole list of parameters to one C++ call (_C._adam_step, _C._sgd_step), which updates every parameter and
its state in place in one pass each, without recording a graph. Its per-element arithmetic is the per-tensor
loop's, operation by operation and in the parameter's dtype (kernels/optim_math.h), so both paths give the same
bits. The lists are grouped by dtype, device and whatever the update's scalars depend on (Adam's step count,
whether SGD's momentum buffers exist yet); a parameter the kernel cannot take (non-contiguous, a gradient or a
state tensor of another dtype, device or shape, e.g. after load_state_dict of odd state) goes through the loop.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

from .._C import Tensor

__all__ = ["buckets"]


def _fusable(p: Tensor, state: dict[str, Any], names: Sequence[str]) -> bool:
    g = p.grad
    if g is None or not p.is_contiguous() or g.dtype != p.dtype or g.device != p.device or g.shape != p.shape:
        return False
    if not p.dtype.is_floating_point:
        return False
    for name in names:
        t = state.get(name)
        if t is None:
            continue
        if not isinstance(t, Tensor) or not t.is_contiguous() or t.dtype != p.dtype or t.device != p.device:
            return False
        if t.shape != p.shape:
            return False
    return True


def buckets(
    params: Sequence[Tensor],
    state: dict[Tensor, dict[str, Any]],
    names: Sequence[str],
    key: Callable[[Tensor, dict[str, Any]], Hashable],
) -> tuple[dict[tuple[Any, ...], list[Tensor]], list[Tensor]]:
    """The parameters that a fused step can take, grouped by (dtype, device, key(p, state)), in order, and the
    rest (for the per-tensor loop)."""
    groups: dict[tuple[Any, ...], list[Tensor]] = {}
    rest: list[Tensor] = []
    for p in params:
        s = state[p]
        if _fusable(p, s, names):
            groups.setdefault((p.dtype, p.device, key(p, s)), []).append(p)
        else:
            rest.append(p)
    return groups, rest
