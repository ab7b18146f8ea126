"""python -m pyad.bench: forward versus reverse mode on f(x) = sum(sigmoid(B @ sigmoid(A @ x))).

Times pyad's grad, jacfwd and jacobian(mode="auto") against hand-written NumPy forward and reverse passes
and, when torch is installed, torch autograd and torch.func; checks every gradient; prints a table with
ratios and the flop model; writes JSON and, when matplotlib is installed, a plot of time against d.

--device cuda runs the experiment on a GPU instead (pyad/bench/gpu.py): d = 8000 in float64 and float32,
against torch CUDA and hand-written CuPy passes, with the copy-bandwidth floor for grad and one cuBLAS GEMM
as the reference for jacfwd.
"""

import argparse
import json
import os
import sys
import time

import pyad

from . import experiment, report
from .progress import Progress

QUICK_ENV = "PYAD_BENCH_QUICK"  # =1: the CI-sized run (small d, few repeats), as --quick
QUICK_SIZES, QUICK_REPEATS = [50, 100, 200], 3


def _threads(n):
    pyad.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:
        pass


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="pyad-bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--d",
        type=int,
        nargs="+",
        default=None,
        help="problem sizes (default: 250 500 1000 on the cpu, where the full experiment is --d 8000; 8000 on cuda)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"a CI-sized run: d = {' '.join(map(str, QUICK_SIZES))}, {QUICK_REPEATS} repeats "
        f"(also set by the environment variable {QUICK_ENV}=1)",
    )
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="device to run on (default cpu)")
    p.add_argument(
        "--dtype",
        default=None,
        choices=["float64", "float32"],
        help="default: float64 on the cpu; both float64 and float32 on cuda",
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed runs per method after warm-up (median; default 5 on the cpu, 20 on cuda)",
    )
    p.add_argument("--threads", type=int, default=1, help="BLAS threads for pyad, NumPy and torch alike")
    p.add_argument(
        "--json",
        default=None,
        help="where to write the results (default pyad-bench.json; pyad-bench-cuda.json on cuda)",
    )
    p.add_argument(
        "--plot",
        default=None,
        help="PNG path for the plot of time against d (default: the JSON path with .png; needs matplotlib)",
    )
    p.add_argument("--no-plot", action="store_true", help="write no plot")
    p.add_argument("--no-torch", action="store_true", help="leave torch out even when installed")
    p.add_argument("--no-cupy", action="store_true", help="cuda only: leave the hand-written CuPy passes out")
    args = p.parse_args(argv)
    args.quick = args.quick or os.environ.get(QUICK_ENV, "") not in ("", "0")
    if args.quick:
        args.repeats = args.repeats if args.repeats is not None else QUICK_REPEATS
    return args


def _torch(threads):
    try:
        import torch
    except ImportError:
        print("torch is not installed: comparing with NumPy only")
        return None
    torch.set_num_threads(threads)
    return torch


def main(argv=None):
    args = parse_args(argv)
    if args.device == "cuda":
        from . import gpu

        _threads(args.threads)  # for the NumPy reference
        return gpu.main(args, plot=report.plot)
    args.d = args.d or (QUICK_SIZES if args.quick else [250, 500, 1000])
    args.dtype = args.dtype or "float64"
    args.repeats = args.repeats if args.repeats is not None else 5
    args.json = args.json or "pyad-bench.json"
    torch = None if args.no_torch else _torch(args.threads)
    _threads(args.threads)
    machine, versions = report.machine(args.threads, torch)
    print(
        f"pyad {versions['pyad']} on {machine['cpu']} ({args.threads} thread(s), {args.dtype}); "
        f"d = {' '.join(map(str, args.d))}, {args.repeats} repeats" + (" (quick)" if args.quick else ""),
        flush=True,
    )

    names = experiment.method_names(torch is not None)
    progress = Progress(sum(experiment.work(d, n) * (1 + args.repeats) for d in args.d for n in names))
    results = []
    t0 = time.time()
    try:
        for d in args.d:
            rows = experiment.run(d, args.dtype, args.repeats, torch is not None, progress=progress)
            results.extend(rows)
            progress.write(report.table(rows, d))
    finally:
        progress.close()
    plot = None if args.no_plot else report.plot(results, args.plot or os.path.splitext(args.json)[0] + ".png")
    checks = [
        {
            "d": r["d"],
            "method": r["method"],
            "reference": "numpy reverse",
            "max_rel_error": r["max_rel_error"],
            "tolerance": r["tolerance"],
            "passed": r["check_passed"],
        }
        for r in results
    ]
    meta = {
        "machine": machine,
        "versions": versions,
        "device": args.device,
        "dtype": args.dtype,
        "threads": args.threads,
        "repeats": args.repeats,
        "sizes": args.d,
        "quick": args.quick,
        "wall_s": time.time() - t0,
    }
    with open(args.json, "w") as fh:
        json.dump({"meta": meta, "results": results, "checks": checks, "plot": plot}, fh, indent=1)
    print(f"total {time.time() - t0:.1f} s; results written to {args.json}")
    if plot:
        print(f"plot written to {plot}")
    elif not args.no_plot:
        print("matplotlib is not installed: no plot written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
