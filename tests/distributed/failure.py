"""Run under `mpiexec -n 2` with argument "raise" or "timeout": a failing or stuck rank must not hang the others.
raise: rank 1 raises right away while rank 0 waits in all_reduce; the job must end (abort) promptly.
timeout: rank 1 never calls all_reduce; rank 0's call gives up after the 2 s timeout with DistBackendError."""

import sys
import time

import pyad
import pyad.distributed as dist

dist.init_process_group("mpi", timeout=2.0)
rank = dist.get_rank()
if sys.argv[1] == "raise":
    if rank == 1:
        raise ValueError("rank 1 failed on purpose")
    dist.all_reduce(pyad.ones(3))
else:
    if rank == 1:
        time.sleep(60)
    dist.all_reduce(pyad.ones(3))
print("unreachable", flush=True)
