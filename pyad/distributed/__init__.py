"""Collective communication across processes, as torch.distributed: MPI (through mpi4py) for CPU tensors, NCCL for
GPU tensors.

pyad hands the communication to a proven engine and never implements its own: ``backend="mpi"`` runs over any MPI
that mpi4py finds (``pip install pyad[mpi]`` brings mpi4py and MPICH), ``backend="nccl"`` loads NCCL at run time
(``pip install pyad[nccl]``). Start the processes with the MPI launcher (``mpiexec -n 4 python train.py``) or, for
NCCL, with torchrun-style variables (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT).

Every collective works in place on the tensors it is given, through their memory (NumPy's buffer protocol on the
CPU, device pointers on the GPU: no copy through Python objects), bumps their version counters as any in-place op
does, and waits for the result unless ``async_op=True``, which returns a :class:`Work` to ``wait()`` on. A
collective that does not complete within the group's ``timeout`` raises :class:`DistBackendError` (so a rank that
died does not hang the others forever); an unhandled exception in one rank aborts the whole job, as mpi4py's
``python -m mpi4py`` runner does.
"""

from __future__ import annotations

import datetime
import enum
import os
from collections.abc import Sequence
from typing import Any

from .._C import Tensor

__all__ = [
    "DistBackendError",
    "ReduceOp",
    "Work",
    "all_gather",
    "all_reduce",
    "all_reduce_gradients",
    "barrier",
    "broadcast",
    "destroy_process_group",
    "get_backend",
    "get_rank",
    "get_world_size",
    "init_process_group",
    "is_available",
    "is_initialized",
    "is_mpi_available",
    "is_nccl_available",
    "reduce_scatter",
]


class ReduceOp(enum.Enum):
    """How all_reduce and reduce_scatter combine the ranks' values (AVG: the sum divided by the world size)."""

    SUM = "sum"
    AVG = "avg"
    MAX = "max"
    MIN = "min"
    PRODUCT = "product"


class DistBackendError(RuntimeError):
    """A collective failed or timed out, or ranks disagree on a tensor's shape or dtype (torch's name)."""


class Work:
    """A collective in flight (async_op=True): wait() blocks until it completes (or times out)."""

    def __init__(self, wait_fn: Any, done_fn: Any = None) -> None:
        self._wait_fn = wait_fn
        self._done_fn = done_fn
        self._finished = False

    def wait(self) -> bool:
        if not self._finished:
            self._wait_fn()
            self._finished = True
        return True

    def is_completed(self) -> bool:
        if not self._finished and self._done_fn is not None and self._done_fn():
            self.wait()
        return self._finished


_group: Any = None  # the backend object of the one default group


def is_available() -> bool:
    """pyad.distributed is always importable; a backend needs its library (see is_mpi_available)."""
    return True


def is_mpi_available() -> bool:
    from . import _mpi

    return _mpi.available()


def is_nccl_available() -> bool:
    from . import _nccl

    return _nccl.available()


def is_initialized() -> bool:
    return _group is not None


def _default_timeout() -> float:
    return float(os.environ.get("PYAD_DIST_TIMEOUT", 1800))


def init_process_group(
    backend: str = "auto",
    *,
    timeout: datetime.timedelta | float | None = None,
    rank: int | None = None,
    world_size: int | None = None,
) -> None:
    """Join the default process group. backend: "mpi" (CPU tensors), "nccl" (GPU tensors) or "auto" (NCCL when a
    GPU and NCCL are available, else MPI). Rank and world size come from the MPI launcher (mpiexec) or from RANK and
    WORLD_SIZE (torchrun); given here, they must agree with it. timeout (seconds or a timedelta; default
    PYAD_DIST_TIMEOUT or 30 minutes, as torch's) bounds every collective."""
    global _group
    if _group is not None:
        raise RuntimeError("[init_process_group] trying to initialize the default process group twice")
    seconds = _default_timeout() if timeout is None else timeout
    if isinstance(seconds, datetime.timedelta):
        seconds = seconds.total_seconds()
    if seconds <= 0:
        raise ValueError(f"[init_process_group] timeout must be positive, got {seconds} s")
    name = backend.lower()
    if name == "auto":
        from .. import cuda

        name = "nccl" if cuda.is_available() and is_nccl_available() else "mpi"
    if name == "mpi":
        from . import _mpi

        group: Any = _mpi.MPIGroup(float(seconds))
    elif name == "nccl":
        from . import _nccl

        group = _nccl.NCCLGroup(float(seconds), rank, world_size)
    else:
        raise ValueError(f'[init_process_group] unknown backend "{backend}"; expected "mpi", "nccl" or "auto"')
    for what, given, actual in (("rank", rank, group.rank), ("world_size", world_size, group.size)):
        if given is not None and given != actual:
            group.close()
            raise ValueError(f"[init_process_group] {what}={given} was given, but the launcher says {actual}")
    _group = group


def destroy_process_group() -> None:
    """Leave the default group (a later init_process_group may join again)."""
    global _group
    if _group is not None:
        group, _group = _group, None
        group.close()


def _require(op: str) -> Any:
    if _group is None:
        raise RuntimeError(
            f"[{op}] the default process group has not been initialized; call pyad.distributed.init_process_group()"
        )
    return _group


def get_backend() -> str:
    return _require("get_backend").name


def get_rank() -> int:
    return _require("get_rank").rank


def get_world_size() -> int:
    return _require("get_world_size").size


def _check(op: str, t: Any, group: Any) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"[{op}] expected a pyad Tensor, got {type(t).__name__}")
    if not t.is_contiguous():
        raise ValueError(f"[{op}] tensors must be contiguous (shape {tuple(t.shape)}, strides {t.stride()})")
    group.check_device(op, t)
    return t


def _finish(work: Work, async_op: bool) -> Work | None:
    if async_op:
        return work
    work.wait()
    return None


def barrier() -> None:
    """Block until every rank has reached this call."""
    _require("barrier").barrier()


def all_reduce(tensor: Tensor, op: ReduceOp = ReduceOp.SUM, *, async_op: bool = False) -> Work | None:
    """Combine `tensor` across ranks in place (every rank ends with the result)."""
    group = _require("all_reduce")
    _check("all_reduce", tensor, group)
    group.check_same("all_reduce", tensor)
    return _finish(group.all_reduce(tensor, ReduceOp(op)), async_op)


def broadcast(tensor: Tensor, src: int = 0, *, async_op: bool = False) -> Work | None:
    """Copy rank src's `tensor` into every other rank's `tensor`, in place."""
    group = _require("broadcast")
    _check("broadcast", tensor, group)
    if not 0 <= src < group.size:
        raise ValueError(f"[broadcast] src={src} is not a rank of a group of {group.size}")
    group.check_same("broadcast", tensor)
    return _finish(group.broadcast(tensor, src), async_op)


def all_gather(tensor_list: Sequence[Tensor], tensor: Tensor, *, async_op: bool = False) -> Work | None:
    """Fill tensor_list[r] with rank r's `tensor` (torch's signature: world_size tensors of tensor's shape)."""
    group = _require("all_gather")
    _check("all_gather", tensor, group)
    outs = list(tensor_list)
    if len(outs) != group.size:
        raise ValueError(f"[all_gather] tensor_list has {len(outs)} tensors for a world of size {group.size}")
    for o in outs:
        _check("all_gather", o, group)
        if tuple(o.shape) != tuple(tensor.shape) or o.dtype != tensor.dtype:
            raise ValueError(
                f"[all_gather] each output must have the input's shape {tuple(tensor.shape)} and dtype "
                f"{tensor.dtype}, got {tuple(o.shape)} {o.dtype}"
            )
    group.check_same("all_gather", tensor)
    return _finish(group.all_gather(outs, tensor), async_op)


def reduce_scatter(
    output: Tensor, input_list: Sequence[Tensor], op: ReduceOp = ReduceOp.SUM, *, async_op: bool = False
) -> Work | None:
    """output = the ranks' input_list[rank] combined by op (input_list: world_size tensors of output's shape)."""
    group = _require("reduce_scatter")
    _check("reduce_scatter", output, group)
    ins = list(input_list)
    if len(ins) != group.size:
        raise ValueError(f"[reduce_scatter] input_list has {len(ins)} tensors for a world of size {group.size}")
    for t in ins:
        _check("reduce_scatter", t, group)
        if tuple(t.shape) != tuple(output.shape) or t.dtype != output.dtype:
            raise ValueError(
                f"[reduce_scatter] each input must have the output's shape {tuple(output.shape)} and dtype "
                f"{output.dtype}, got {tuple(t.shape)} {t.dtype}"
            )
    group.check_same("reduce_scatter", output)
    return _finish(group.reduce_scatter(output, ins, ReduceOp(op)), async_op)


def all_reduce_gradients(parameters: Any, op: ReduceOp = ReduceOp.AVG) -> None:
    """Average (by default) the .grad of each parameter across ranks, for training loops written with pyad.func or
    by hand: one all_reduce per dtype and device over the gradients packed together. Parameters without a .grad
    are skipped (every rank must skip the same ones)."""
    from ._buckets import reduce_flat

    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    reduce_flat(_require("all_reduce_gradients"), grads, ReduceOp(op))
