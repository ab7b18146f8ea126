"""all_reduce bandwidth and DDP step time over 1, 2 and 4 MPI processes on this machine (CPU, MPICH's shared memory).

    python benchmarks/bench_distributed.py            # launches itself under mpiexec -n 1, 2, 4
    python benchmarks/bench_distributed.py --quick

Bus bandwidth is NCCL's convention: busbw = 2 (p - 1) / p * bytes / time, the bytes each rank must send and receive
in a ring all-reduce, so that figures for different p compare with the link's bandwidth. Medians of repeated runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time


def worker(quick: bool) -> None:
    import numpy as np

    import pyad
    import pyad.distributed as dist
    from pyad import nn

    pyad.set_num_threads(1)
    dist.init_process_group("mpi")
    rank, p = dist.get_rank(), dist.get_world_size()
    rows = []
    sizes = [2**10, 2**16, 2**20, 2**23] if not quick else [2**10, 2**16, 2**20]
    for nbytes in sizes:
        t = pyad.ones(nbytes // 4, dtype=pyad.float32)
        reps = 20 if nbytes <= 2**20 else 5
        times = []
        for _ in range(reps):
            dist.barrier()
            start = time.perf_counter()
            dist.all_reduce(t)
            times.append(time.perf_counter() - start)
        sec = float(np.median(times))
        busbw = 2 * (p - 1) / p * nbytes / sec / 1e9 if p > 1 else float("nan")
        rows.append({"bytes": nbytes, "seconds": sec, "busbw_GBps": busbw})
    model = nn.Sequential(nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    ddp = nn.parallel.DistributedDataParallel(model)
    opt = pyad.optim.SGD(ddp.parameters(), lr=0.01)
    x, y = pyad.randn(64, 256), pyad.tensor(np.random.default_rng(rank).integers(0, 10, 64))
    loss_fn = nn.CrossEntropyLoss()
    steps = []
    for _ in range(10 if quick else 30):
        dist.barrier()
        start = time.perf_counter()
        opt.zero_grad()
        loss_fn(ddp(x), y).backward()
        opt.step()
        steps.append(time.perf_counter() - start)
    if rank == 0:
        print(json.dumps({"p": p, "all_reduce": rows, "ddp_step_ms": 1e3 * float(np.median(steps))}), flush=True)
    dist.destroy_process_group()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--procs", default="1,2,4")
    args = ap.parse_args()
    if args.worker:
        worker(args.quick)
        return
    launcher = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
    if launcher is None:
        sys.exit("mpiexec not found: install the [mpi] extra")
    results = []
    for p in [int(v) for v in args.procs.split(",")]:
        cmd = [launcher, "-n", str(p), sys.executable, __file__, "--worker"] + (["--quick"] if args.quick else [])
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{'p':>3} {'bytes':>10} {'time (us)':>10} {'busbw (GB/s)':>13}")
    for r in results:
        for row in r["all_reduce"]:
            print(f"{r['p']:>3} {row['bytes']:>10} {1e6 * row['seconds']:>10.1f} {row['busbw_GBps']:>13.2f}")
    print("\nDDP step (MLP 256-256-256-10, batch 64 per rank, SGD), median ms:")
    for r in results:
        print(f"  p = {r['p']}: {r['ddp_step_ms']:.2f} ms")


if __name__ == "__main__":
    main()
