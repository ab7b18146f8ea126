"""Note [Flat optimizer state]
pyad's answer to torch's foreach kernels. Each elementwise op costs a few microseconds of dispatch, so an
update of many small tensors is dominated by per-op overhead. When every parameter of a group has a
gradient, the same dtype and device and the same step count, the group's state tensors (exp_avg, ...)
are views of one flat buffer per state name, and the update runs its handful of ops once on the flat
buffers (the gradients are concatenated into one flat tensor), then adds each parameter's slice of the
flat update. The math per element is the per-tensor loop's, so both give identical bits. Anything else
(a missing gradient, a state replaced by load_state_dict, mixed dtypes) falls back to the loop, and the
next flat step re-packs the state once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import _C
from .._C import Tensor
from .._creation import zeros

# The state of one parameter: name -> a tensor, or a number such as "step".
_State = dict[str, Any]


class FlatGroup:
    """The flat buffers of one param group and the views of them that the optimizer's state holds."""

    def __init__(
        self,
        params: list[Tensor],
        buffers: dict[str, Tensor],
        views: dict[str, list[Tensor]],
        slices: list[list[tuple[int, ...]]],
    ) -> None:
        self.params = params
        self.buffers = buffers  # name -> flat tensor
        self.views = views  # name -> [per-parameter view]
        self.slices = slices  # per parameter: the index steps of its slice of a flat tensor

    def matches(self, params: Sequence[Tensor], state: dict[Tensor, _State]) -> bool:
        if len(params) != len(self.params) or any(p is not q for p, q in zip(params, self.params)):
            return False
        return all(state[p].get(name) is view for name, views in self.views.items() for p, view in zip(params, views))

    def piece(self, flat: Tensor, i: int) -> Tensor:
        return _C.view(_C.index(flat, self.slices[i]), list(self.params[i].shape))


def pack(params: list[Tensor], state: dict[Tensor, _State], names: Sequence[str], fresh: bool) -> FlatGroup | None:
    """A FlatGroup for `params` whose buffers hold the current state under `names` (zeros where `fresh`),
    with every state entry re-pointed to its view; None when the parameters cannot share flat buffers."""
    p0 = params[0]
    if any(p.dtype != p0.dtype or p.device != p0.device for p in params):
        return None
    sizes = [p.numel() for p in params]
    slices: list[list[tuple[int, ...]]] = []
    start = 0
    for n in sizes:
        slices.append([(1, 0, start, start + n, 1)])
        start += n
    buffers: dict[str, Tensor] = {}
    views: dict[str, list[Tensor]] = {}
    for name in names:
        if fresh:
            flat = zeros(start, dtype=p0.dtype, device=p0.device)
        else:
            flat = _C.cat([_C.reshape(state[p][name], [-1]) for p in params], 0)
        buffers[name] = flat
        views[name] = []
    group = FlatGroup(params, buffers, views, slices)
    for name in names:
        for i, p in enumerate(params):
            v = group.piece(buffers[name], i)
            views[name].append(v)
            state[p][name] = v
    return group


def flat(tensors: Sequence[Tensor]) -> Tensor:
    return _C.cat([_C.reshape(t, [-1]) for t in tensors], 0)
