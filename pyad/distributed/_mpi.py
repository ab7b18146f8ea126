"""The MPI backend: CPU tensors, through mpi4py's buffer interface on NumPy views of the tensors' memory.

Every collective is started non-blocking (MPI_Iallreduce and the like) and waited on by polling its request, so
that a wait can give up after the group's timeout instead of blocking forever on a rank that died.
"""

from __future__ import annotations

import sys
import time
import zlib
from typing import Any

import numpy as np

from .. import _C
from .._C import Tensor
from . import DistBackendError, ReduceOp, Work


def available() -> bool:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def _import_mpi() -> Any:
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise RuntimeError(
            "[init_process_group] the mpi backend needs mpi4py and an MPI library: install the [mpi] extra "
            '(pip install "pyad[mpi]"), which brings mpi4py and MPICH'
        ) from e
    return MPI


def _view(t: Tensor) -> np.ndarray:
    """The tensor's memory as a writable NumPy array (no copy: _C.to_numpy shares a CPU tensor's storage)."""
    return _C.to_numpy(t.detach()).reshape(-1)


_abort_hook_installed = False


def _install_abort_on_exception(comm: Any) -> None:
    """An exception that escapes one rank aborts the job, so the other ranks do not wait for it forever (what
    `python -m mpi4py` does); the traceback is printed first."""
    global _abort_hook_installed
    if _abort_hook_installed or comm.Get_size() == 1:
        return
    _abort_hook_installed = True
    previous = sys.excepthook

    def hook(kind: Any, value: Any, tb: Any) -> None:
        previous(kind, value, tb)
        sys.stderr.flush()
        comm.Abort(1)

    sys.excepthook = hook


class MPIGroup:
    name = "mpi"

    def __init__(self, timeout: float) -> None:
        self.MPI = _import_mpi()
        self.comm = self.MPI.COMM_WORLD.Dup()
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self.timeout = timeout
        self._ops = {
            ReduceOp.SUM: self.MPI.SUM,
            ReduceOp.AVG: self.MPI.SUM,
            ReduceOp.MAX: self.MPI.MAX,
            ReduceOp.MIN: self.MPI.MIN,
            ReduceOp.PRODUCT: self.MPI.PROD,
        }
        _install_abort_on_exception(self.MPI.COMM_WORLD)

    def close(self) -> None:
        self.comm.Free()

    def check_device(self, op: str, t: Tensor) -> None:
        if t.device.type != "cpu":
            raise ValueError(
                f"[{op}] the mpi backend communicates CPU tensors; this one is on {t.device} (use backend='nccl')"
            )

    def _wait(self, op: str, request: Any) -> None:
        deadline = time.monotonic() + self.timeout
        polls = 0
        while not request.Test():
            polls += 1
            if polls < 5000:
                # A collective between live ranks finishes in microseconds: poll, yielding the core (the ranks may
                # share cores) rather than sleeping for a scheduler tick.
                time.sleep(0)
                continue
            if time.monotonic() > deadline:
                raise DistBackendError(
                    f"[{op}] timed out after {self.timeout:g} s waiting for the other ranks (this is rank "
                    f"{self.rank} of {self.size}): a rank may have failed, or be stuck before calling {op}"
                )
            time.sleep(1e-4 if polls < 20000 else 1e-3)

    def _mpi_op(self, op: str, t: Tensor, rop: ReduceOp) -> Any:
        if t.dtype == _C.dtype.bool:
            if rop == ReduceOp.AVG:
                raise TypeError(f"[{op}] ReduceOp.AVG is not defined for bool tensors")
            return self.MPI.LOR if rop in (ReduceOp.SUM, ReduceOp.MAX) else self.MPI.LAND
        if rop == ReduceOp.AVG and not t.dtype.is_floating_point:
            raise TypeError(f"[{op}] ReduceOp.AVG needs a floating-point tensor, got {t.dtype}")
        return self._ops[rop]

    def _work(self, op: str, request: Any, after: Any = None) -> Work:
        def wait() -> None:
            self._wait(op, request)
            if after is not None:
                after()

        return Work(wait, request.Test)

    def check_same(self, op: str, t: Tensor) -> None:
        """Ranks must agree on the tensor's shape and dtype; a mismatch would silently mix unrelated bytes, so
        every rank compares a fingerprint of its own with the ranks' minimum and maximum (one tiny collective)."""
        if self.size == 1:
            return
        fp = zlib.crc32(repr((tuple(t.shape), str(t.dtype))).encode())  # the same on every rank, unlike hash()
        both = np.array([fp, -fp], dtype=np.int64)
        self._wait(op, self.comm.Iallreduce(self.MPI.IN_PLACE, both, op=self.MPI.MAX))
        if both[0] != fp or -both[1] != fp:
            raise DistBackendError(
                f"[{op}] the ranks disagree on the tensor's shape or dtype (rank {self.rank} has shape "
                f"{tuple(t.shape)}, {t.dtype})"
            )

    def barrier(self) -> None:
        self._wait("barrier", self.comm.Ibarrier())

    def all_reduce(self, t: Tensor, rop: ReduceOp) -> Work:
        buf = _view(t)
        mop = self._mpi_op("all_reduce", t, rop)
        request = self.comm.Iallreduce(self.MPI.IN_PLACE, buf, op=mop)

        def after() -> None:
            if rop == ReduceOp.AVG:
                np.divide(buf, self.size, out=buf)
            t._bump_version()

        return self._work("all_reduce", request, after)

    def broadcast(self, t: Tensor, src: int) -> Work:
        request = self.comm.Ibcast(_view(t), root=src)
        return self._work("broadcast", request, t._bump_version)

    def all_gather(self, outs: list[Tensor], t: Tensor) -> Work:
        send = _view(t)
        recv = np.empty((self.size, send.size), dtype=send.dtype)
        request = self.comm.Iallgather(send, recv)

        def after() -> None:
            for r, o in enumerate(outs):
                _view(o)[...] = recv[r]
                o._bump_version()

        return self._work("all_gather", request, after)

    def reduce_scatter(self, out: Tensor, ins: list[Tensor], rop: ReduceOp) -> Work:
        send = np.concatenate([_view(t) for t in ins])
        recv = _view(out)
        mop = self._mpi_op("reduce_scatter", out, rop)
        request = self.comm.Ireduce_scatter_block(send, recv, op=mop)

        def after() -> None:
            if rop == ReduceOp.AVG:
                np.divide(recv, self.size, out=recv)
            out._bump_version()

        return self._work("reduce_scatter", request, after)
