"""DistributedDataParallel: every rank trains a replica on its shard of each batch; gradients are averaged across
ranks during backward, bucket by bucket, as torch's DDP does.

Note [DDP buckets]
The parameters are cut into buckets of about bucket_cap_mb each, in reverse order of module.parameters() (the
order in which backward usually produces their gradients). A post-accumulate-grad hook on each parameter counts
the gradients that have arrived; when a bucket is complete its gradients are packed into one flat buffer and its
all_reduce(AVG) is started without waiting, so the communication of the late layers runs while backward still
computes the early ones. When the last bucket is started, every bucket is waited on and its averaged values
are copied back into the parameters' .grad. Inside no_sync() the hooks do nothing: .grad accumulates locally, and
the first backward after it averages the accumulated sums, as torch's. Every parameter that requires grad must
receive a gradient in every synchronised backward (torch's find_unused_parameters=False): otherwise its bucket
never completes, and the next forward raises instead of training on stale averages.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from ... import distributed as dist
from ..._C import Tensor
from ..._grad_mode import no_grad
from ...distributed._buckets import Bucket, group_by_kind
from ..module import Module

__all__ = ["DistributedDataParallel"]


class _DDPBucket:
    def __init__(self, params: list[Tensor]) -> None:
        self.params = params
        self.buffer = Bucket(params)
        self.ready = 0
        self.work: Any = None


class DistributedDataParallel(Module):
    """Wrap `module` for data-parallel training over the default process group (init_process_group first).
    Construction broadcasts rank 0's parameters and buffers to every rank; each backward averages the gradients
    (Note [DDP buckets]); broadcast_buffers=True sends rank 0's buffers again before each forward."""

    def __init__(self, module: Module, *, bucket_cap_mb: float = 25.0, broadcast_buffers: bool = True) -> None:
        super().__init__()
        if not dist.is_initialized():
            raise RuntimeError(
                "[DistributedDataParallel] the default process group has not been initialized; call "
                "pyad.distributed.init_process_group() first"
            )
        if bucket_cap_mb <= 0:
            raise ValueError(f"[DistributedDataParallel] bucket_cap_mb must be positive, got {bucket_cap_mb}")
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        self._group = dist._require("DistributedDataParallel")
        params = [p for p in module.parameters() if p.requires_grad]  # parameters() yields a tied one once
        if not params:
            raise ValueError(
                "[DistributedDataParallel] the module has no parameter that requires grad: there is nothing to average"
            )
        self._check_replicas(params)
        with no_grad():
            for t in list(module.parameters()) + list(module.buffers()):
                self._group.broadcast(t, 0).wait()
        self._buckets = self._make_buckets(params, int(bucket_cap_mb * 2**20))
        self._bucket_of = {id(p): b for b in self._buckets for p in b.params}
        self._started = 0
        self._syncing = True
        self._handles = [p.register_post_accumulate_grad_hook(self._grad_ready) for p in params]

    def _check_replicas(self, params: list[Tensor]) -> None:
        """Every rank must wrap the same architecture: compare the parameters' shapes and dtypes once."""
        from ... import tensor

        codes = {"float32": 1, "float64": 2, "int64": 3, "bool": 4}
        sig = [len(params)] + [d for p in params for d in (p.numel(), p.ndim, codes[p.dtype.name])]
        probe = tensor([float(len(sig)), float(sum(i * v for i, v in enumerate(sig, 1)))], device=params[0].device)
        try:
            self._group.check_same("DistributedDataParallel", probe)
            lo, hi = probe.clone(), probe.clone()
            self._group.all_reduce(lo, dist.ReduceOp.MIN).wait()
            self._group.all_reduce(hi, dist.ReduceOp.MAX).wait()
        except dist.DistBackendError as e:
            raise dist.DistBackendError(f"[DistributedDataParallel] the ranks' modules differ: {e}") from None
        if lo.tolist() != hi.tolist():
            raise dist.DistBackendError(
                "[DistributedDataParallel] the ranks' modules have different parameters (count, shapes or dtypes); "
                "every rank must wrap the same architecture"
            )

    @staticmethod
    def _make_buckets(params: list[Tensor], cap_bytes: int) -> list[_DDPBucket]:
        ordered = params[::-1]
        buckets: list[_DDPBucket] = []
        for idx in group_by_kind(ordered):
            current: list[Tensor] = []
            size = 0
            for i in idx:
                p = ordered[i]
                nbytes = p.numel() * p.element_size()
                if current and size + nbytes > cap_bytes:
                    buckets.append(_DDPBucket(current))
                    current, size = [], 0
                current.append(p)
                size += nbytes
            if current:
                buckets.append(_DDPBucket(current))
        return buckets

    def _grad_ready(self, param: Tensor) -> None:
        if not self._syncing:
            return
        bucket = self._bucket_of[id(param)]
        bucket.ready += 1
        if bucket.ready < len(bucket.params):
            return
        grads = [p.grad for p in bucket.params]
        bucket.work = self._group.all_reduce(bucket.buffer.pack(grads), dist.ReduceOp.AVG)
        self._started += 1
        if self._started == len(self._buckets):
            self._finish()

    def _finish(self) -> None:
        for b in self._buckets:
            b.work.wait()
            b.buffer.unpack([p.grad for p in b.params])
            b.ready, b.work = 0, None
        self._started = 0

    def _check_finished(self) -> None:
        incomplete = [b for b in self._buckets if b.ready]
        if incomplete:
            missing = sum(len(b.params) - b.ready for b in incomplete)
            for b in self._buckets:  # reset, so that the caller can go on after fixing the model
                b.ready = 0
            raise RuntimeError(
                "[DistributedDataParallel] Expected to have finished reduction in the prior iteration before "
                f"starting a new one: {missing} parameter(s) received no gradient in the last backward. Every "
                "parameter that requires grad must take part in the loss (or set requires_grad=False on it)."
            )

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        self._check_finished()
        if self.broadcast_buffers and self._group.size > 1:
            with no_grad():
                for b in self.module.buffers():
                    self._group.broadcast(b, 0).wait()
        return self.module(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backward passes inside accumulate .grad locally, without communication; the first backward after the
        block averages the accumulated sums."""
        previous, self._syncing = self._syncing, False
        try:
            yield
        finally:
            self._syncing = previous
