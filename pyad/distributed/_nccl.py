"""The NCCL backend: GPU tensors, through NCCL loaded at run time (the nvidia-nccl wheel of the [nccl] extra, found
by cuda-pathfinder as cuBLAS is, or a system libnccl.so.2).

Collectives are queued on the legacy default stream, the one every pyad kernel runs on, so they start after the
kernels that produced their inputs and finish before any kernel queued later reads their outputs: no extra
synchronisation is needed, and wait() only checks NCCL's asynchronous error state. NCCL forbids two ranks on one
GPU: rank r uses GPU LOCAL_RANK (else r modulo the device count).

The unique id NCCL needs on every rank is made by rank 0 and sent to the others over MPI when the processes were
started by an MPI launcher, or over a TCP socket at MASTER_ADDR:MASTER_PORT (torchrun's variables).
"""

from __future__ import annotations

import ctypes
import os
import socket
import time
from typing import Any

from .. import _C, cuda
from .._C import Tensor
from . import DistBackendError, ReduceOp, Work

_NCCL_DTYPES = {"float32": 7, "float64": 8, "int64": 4, "bool": 0}  # bool travels as int8
_NCCL_OPS = {ReduceOp.SUM: 0, ReduceOp.PRODUCT: 1, ReduceOp.MAX: 2, ReduceOp.MIN: 3, ReduceOp.AVG: 4}
_lib: Any = None


class _UniqueId(ctypes.Structure):
    _fields_ = [("internal", ctypes.c_char * 128)]


def _load() -> Any:
    global _lib
    if _lib is not None:
        return _lib
    paths = []
    try:
        from cuda.pathfinder import load_nvidia_dynamic_lib

        paths.append(load_nvidia_dynamic_lib("nccl").abs_path)
    except Exception:  # noqa: BLE001 - not installed through pip: try the loader's path
        pass
    try:  # the nvidia-nccl wheel's folder, when cuda-pathfinder is not installed
        import nvidia.nccl

        paths.append(os.path.join(list(nvidia.nccl.__path__)[0], "lib", "libnccl.so.2"))
    except ImportError:
        pass
    paths.append("libnccl.so.2")
    errors = []
    for p in paths:
        try:
            lib = ctypes.CDLL(p)
            break
        except OSError as e:
            errors.append(str(e))
    else:
        raise RuntimeError(
            "[init_process_group] the nccl backend needs NCCL: install the [nccl] extra (pip install "
            f'"pyad[nccl]") or put libnccl.so.2 on the loader path ({"; ".join(errors)})'
        )
    lib.ncclGetErrorString.restype = ctypes.c_char_p
    _lib = lib
    return lib


def available() -> bool:
    try:
        _load()
    except RuntimeError:
        return False
    return True


def _call(op: str, status: int) -> None:
    if status != 0:
        raise DistBackendError(f"[{op}] NCCL error {status}: {_lib.ncclGetErrorString(status).decode()}")


def _env_int(*names: str) -> int | None:
    for n in names:
        if n in os.environ:
            return int(os.environ[n])
    return None


def _exchange_id(rank: int, size: int, timeout: float) -> _UniqueId:
    uid = _UniqueId()
    if rank == 0:
        _call("init_process_group", _lib.ncclGetUniqueId(ctypes.byref(uid)))
    if size == 1:
        return uid
    if _env_int("PMI_RANK", "OMPI_COMM_WORLD_RANK") is not None and "MASTER_ADDR" not in os.environ:
        from mpi4py import MPI

        data = MPI.COMM_WORLD.bcast(bytes(uid.internal) if rank == 0 else None, root=0)
        ctypes.memmove(ctypes.byref(uid), data, 128)
        return uid
    addr, port = os.environ.get("MASTER_ADDR", "127.0.0.1"), int(os.environ.get("MASTER_PORT", "29500"))
    if rank == 0:
        with socket.create_server((addr, port)) as server:
            server.settimeout(timeout)
            for _ in range(size - 1):
                conn, _peer = server.accept()
                with conn:
                    conn.sendall(bytes(uid.internal))
        return uid
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((addr, port), timeout=timeout) as conn:
                data = b""
                while len(data) < 128:
                    chunk = conn.recv(128 - len(data))
                    if not chunk:
                        raise ConnectionError("rank 0 closed the connection early")
                    data += chunk
            ctypes.memmove(ctypes.byref(uid), data, 128)
            return uid
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise DistBackendError(
                    f"[init_process_group] rank {rank} could not reach rank 0 at {addr}:{port} within {timeout:g} s"
                ) from None
            time.sleep(0.05)


class NCCLGroup:
    name = "nccl"

    def __init__(self, timeout: float, rank: int | None, world_size: int | None) -> None:
        lib = _load()
        if not cuda.is_available():
            raise RuntimeError("[init_process_group] the nccl backend needs a GPU, and CUDA is not available")
        r = _env_int("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK")
        n = _env_int("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE")
        self.rank = r if r is not None else (rank if rank is not None else 0)
        self.size = n if n is not None else (world_size if world_size is not None else 1)
        self.timeout = timeout
        local = _env_int("LOCAL_RANK", "MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK")
        self.device = _C.device(f"cuda:{(local if local is not None else self.rank) % cuda.device_count()}")
        # NCCL's init and its collectives on the default stream act on this thread's current device;
        # cuda_synchronize makes it current (pyad's kernels select their own device, so it stays current).
        _C.cuda_synchronize(self.device.index)
        uid = _exchange_id(self.rank, self.size, timeout)
        self.comm = ctypes.c_void_p()
        _call("init_process_group", lib.ncclCommInitRank(ctypes.byref(self.comm), self.size, uid, self.rank))

    def close(self) -> None:
        if self.comm:
            _lib.ncclCommDestroy(self.comm)
            self.comm = ctypes.c_void_p()

    def check_device(self, op: str, t: Tensor) -> None:
        if t.device != self.device:
            raise ValueError(
                f"[{op}] the nccl backend of this rank communicates tensors on {self.device}, got {t.device}"
            )

    def _args(self, t: Tensor, op: str, rop: ReduceOp | None = None) -> tuple[Any, ...]:
        dt = _NCCL_DTYPES[t.dtype.name]
        if rop is None:
            return (dt,)
        if t.dtype == _C.dtype.bool:
            if rop == ReduceOp.AVG:
                raise TypeError(f"[{op}] ReduceOp.AVG is not defined for bool tensors")
            rop = ReduceOp.MAX if rop in (ReduceOp.SUM, ReduceOp.MAX) else ReduceOp.MIN
        elif rop == ReduceOp.AVG and not t.dtype.is_floating_point:
            raise TypeError(f"[{op}] ReduceOp.AVG needs a floating-point tensor, got {t.dtype}")
        return dt, _NCCL_OPS[rop]

    def _work(self, op: str, *touched: Tensor) -> Work:
        for t in touched:
            t._bump_version()

        def wait() -> None:
            err = ctypes.c_int(0)
            _call(op, _lib.ncclCommGetAsyncError(self.comm, ctypes.byref(err)))
            _call(op, err.value)

        return Work(wait)

    def check_same(self, op: str, t: Tensor) -> None:
        if self.size == 1:
            return
        import zlib

        fp = zlib.crc32(repr((tuple(t.shape), str(t.dtype))).encode())
        from .. import tensor

        probe = tensor([fp, -fp], dtype=_C.dtype.int64, device=self.device)
        self.all_reduce(probe, ReduceOp.MAX).wait()
        got = probe.tolist()
        if got[0] != fp or -got[1] != fp:
            raise DistBackendError(
                f"[{op}] the ranks disagree on the tensor's shape or dtype (rank {self.rank} has shape "
                f"{tuple(t.shape)}, {t.dtype})"
            )

    def barrier(self) -> None:
        from .. import zeros

        probe = zeros(1, device=self.device)
        self.all_reduce(probe, ReduceOp.SUM).wait()
        cuda.synchronize(self.device)

    def all_reduce(self, t: Tensor, rop: ReduceOp) -> Work:
        dt, nop = self._args(t, "all_reduce", rop)
        p = ctypes.c_void_p(t.data_ptr())
        _call("all_reduce", _lib.ncclAllReduce(p, p, ctypes.c_size_t(t.numel()), dt, nop, self.comm, None))
        return self._work("all_reduce", t)

    def broadcast(self, t: Tensor, src: int) -> Work:
        (dt,) = self._args(t, "broadcast")
        p = ctypes.c_void_p(t.data_ptr())
        _call("broadcast", _lib.ncclBroadcast(p, p, ctypes.c_size_t(t.numel()), dt, src, self.comm, None))
        return self._work("broadcast", t)

    def all_gather(self, outs: list[Tensor], t: Tensor) -> Work:
        (dt,) = self._args(t, "all_gather")
        recv = _C.empty([self.size * t.numel()], t.dtype, t.device)
        _call(
            "all_gather",
            _lib.ncclAllGather(
                ctypes.c_void_p(t.data_ptr()),
                ctypes.c_void_p(recv.data_ptr()),
                ctypes.c_size_t(t.numel()),
                dt,
                self.comm,
                None,
            ),
        )
        n = t.numel()
        for r, o in enumerate(outs):  # queued after the gather on the same stream
            o.copy_(recv[r * n : (r + 1) * n].view(tuple(o.shape)))
        return self._work("all_gather", *outs)

    def reduce_scatter(self, out: Tensor, ins: list[Tensor], rop: ReduceOp) -> Work:
        dt, nop = self._args(out, "reduce_scatter", rop)
        send = _C.cat([t.reshape(-1) for t in ins], 0)
        _call(
            "reduce_scatter",
            _lib.ncclReduceScatter(
                ctypes.c_void_p(send.data_ptr()),
                ctypes.c_void_p(out.data_ptr()),
                ctypes.c_size_t(out.numel()),
                dt,
                nop,
                self.comm,
                None,
            ),
        )
        return self._work("reduce_scatter", out)
