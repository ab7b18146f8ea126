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
import platform
import sys
import time

import numpy as np

import pyad

from . import experiment


def _threads(n):
    pyad.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(n)
    except ImportError:
        pass


def _table(rows, d):
    torch_ref = {r["mode"]: r["median_s"] for r in rows if r["method"] in ("torch reverse (autograd)",
                                                                            "torch.func.jacfwd")}
    rev = next(r["median_s"] for r in rows if r["method"] == "pyad reverse (grad)")
    lines = [f"d = {d}",
             f"{'method':28s} {'median':>11s} {'vs torch':>9s} {'vs pyad grad':>13s} {'model flops':>12s}"]
    for r in rows:
        ref = torch_ref.get("forward" if r["mode"] == "forward" else "reverse")
        vs_torch = f"{r['median_s'] / ref:8.2f}x" if ref else "        -"
        lines.append(f"{r['method']:28s} {r['median_s'] * 1e3:9.2f}ms {vs_torch} {r['median_s'] / rev:12.1f}x "
                     f"{r['model_flops']:12.3g}")
    model = experiment.flops(d, "forward") / experiment.flops(d, "reverse")
    fwd = next(r["median_s"] for r in rows if r["method"] == "pyad forward (jacfwd)")
    lines.append(f"cost model: forward/reverse = {model:.0f}x the flops; measured pyad jacfwd/grad = {fwd / rev:.0f}x")
    auto = next(r for r in rows if r["mode"] == "auto")
    lines.append(f"jacobian(mode='auto') chose {auto.get('chosen_mode')} mode (n = {d} inputs, m = 1 output)")
    return "\n".join(lines)


def _plot(results, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot written")
        return
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method in dict.fromkeys(r["method"] for r in results):
        pts = sorted((r["d"], r["median_s"]) for r in results if r["method"] == method)
        style = "-" if "forward" in method or "jacfwd" in method else "--"
        ax.plot([p[0] for p in pts], [p[1] for p in pts], style, marker="o", label=method)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("d")
    ax.set_ylabel("median time (s)")
    ax.set_title("Jacobian of sum(sigmoid(B sigmoid(A x))): forward vs reverse mode")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot written to {path}")


def main(argv=None):
    p = argparse.ArgumentParser(prog="pyad-bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--d", type=int, nargs="+", default=None,
                   help="problem sizes (default: 250 500 1000 on the cpu, where the full experiment is --d 8000; "
                        "8000 on cuda)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="device to run on (default cpu)")
    p.add_argument("--dtype", default=None, choices=["float64", "float32"],
                   help="default: float64 on the cpu; both float64 and float32 on cuda")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed runs per method after warm-up (median; default 5 on the cpu, 20 on cuda)")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads for pyad, NumPy and torch alike")
    p.add_argument("--json", default=None,
                   help="where to write the results (default pyad-bench.json; pyad-bench-cuda.json on cuda)")
    p.add_argument("--plot", default=None, help="PNG path for a plot of time against d (needs matplotlib)")
    p.add_argument("--no-torch", action="store_true", help="leave torch out even when installed")
    p.add_argument("--no-cupy", action="store_true", help="cuda only: leave the hand-written CuPy passes out")
    args = p.parse_args(argv)

    if args.device == "cuda":
        from . import gpu
        _threads(args.threads)  # for the NumPy reference
        return gpu.main(args, plot=_plot)
    args.d = args.d if args.d is not None else [250, 500, 1000]
    args.dtype = args.dtype or "float64"
    args.repeats = args.repeats if args.repeats is not None else 5
    args.json = args.json or "pyad-bench.json"
    use_torch = not args.no_torch
    if use_torch:
        try:
            import torch
            torch.set_num_threads(args.threads)
        except ImportError:
            print("torch is not installed: comparing with NumPy only")
            use_torch = False
    _threads(args.threads)

    results = []
    t0 = time.time()
    for d in args.d:
        print(f"d = {d} ({args.dtype}, {args.threads} thread(s)):", flush=True)
        rows = experiment.run(d, args.dtype, args.repeats, use_torch,
                              progress=lambda s: print(s, flush=True))
        results.extend(rows)
        print(_table(rows, d), flush=True)
    meta = {"python": sys.version.split()[0], "platform": platform.platform(), "processor": platform.processor(),
            "numpy": np.__version__, "pyad": pyad.__version__, "threads": args.threads, "dtype": args.dtype,
            "device": args.device, "repeats": args.repeats, "wall_s": time.time() - t0}
    if use_torch:
        import torch
        meta["torch"] = torch.__version__
    with open(args.json, "w") as fh:
        json.dump({"meta": meta, "results": results}, fh, indent=1)
    print(f"results written to {args.json}")
    if args.plot:
        _plot(results, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
