"""Gradients packed into flat buffers, one collective per buffer: all_reduce_gradients and DDP's buckets.

One all_reduce of a large buffer costs far less than many small ones (each collective pays the network latency,
microseconds on one machine, more across machines), so gradients of one dtype and device travel together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import _C
from .._C import Tensor
from .._grad_mode import no_grad
from . import ReduceOp, Work


def _flat_views(flat: Tensor, tensors: Sequence[Tensor]) -> list[Tensor]:
    views, start = [], 0
    for t in tensors:
        n = t.numel()
        views.append(flat[start : start + n].view(tuple(t.shape)))
        start += n
    return views


class Bucket:
    """Tensors of one dtype and device sharing a flat buffer: pack() copies them in, unpack() copies the result
    of a collective back."""

    def __init__(self, tensors: Sequence[Tensor]) -> None:
        first = tensors[0]
        total = sum(t.numel() for t in tensors)
        self.flat = _C.zeros([total], first.dtype, first.device)
        self.numel = total
        self.views = _flat_views(self.flat, tensors)

    def pack(self, tensors: Sequence[Tensor]) -> Tensor:
        with no_grad():
            for v, t in zip(self.views, tensors):
                v.copy_(t.detach())
        return self.flat

    def unpack(self, tensors: Sequence[Tensor]) -> None:
        with no_grad():
            for v, t in zip(self.views, tensors):
                t.copy_(v)


def group_by_kind(tensors: Sequence[Tensor]) -> list[list[int]]:
    """Indices of `tensors` grouped by (dtype, device), in first-seen order."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, t in enumerate(tensors):
        groups.setdefault((str(t.dtype), str(t.device)), []).append(i)
    return list(groups.values())


def reduce_flat(group: Any, tensors: Sequence[Tensor], op: ReduceOp) -> None:
    """all_reduce `tensors` in place, one collective per (dtype, device)."""
    works: list[tuple[Work, Bucket, list[Tensor]]] = []
    for idx in group_by_kind(tensors):
        members = [tensors[i] for i in idx]
        bucket = Bucket(members)
        works.append((group.all_reduce(bucket.pack(members), op), bucket, members))
    for work, bucket, members in works:
        work.wait()
        bucket.unpack(members)
