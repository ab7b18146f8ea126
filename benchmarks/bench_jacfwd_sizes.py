"""jacfwd on the main job's f(x) = sum(sigmoid(B @ sigmoid(A @ x))) against the hand-written one-GEMM forward
pass (pyad/bench/experiment.py's numpy_forward) and torch.func.jacfwd, at each d, float64, in one process:
medians of interleaved rounds, every result checked against the NumPy reverse pass. Target: pyad <= 1.1x the
hand-written pass at every size.

Besides the totals it times the pieces of pyad's forward pass on their own, so a regression shows where:
the first tangent (A's transposed slice, Note [Identity tangents]) times sigmoid's derivative (a transposed
operand, Note [Tiled transposed operands]), the GEMM, and the last multiply + sum.

On shared machines every figure is noisy: read the ratios, and rerun.

Usage: python benchmarks/bench_jacfwd_sizes.py [--d 250 500 1000 2000 8000] [--rounds 5] [--threads 1]
"""

import argparse
import json
import os

import numpy as np
from _timing import interleaved  # benchmarks/_timing.py (run as python benchmarks/NAME.py)

import pyad
import pyad.func as pf
from pyad.bench.experiment import make_problem, numpy_forward, numpy_reverse

try:
    import torch
except ImportError:
    torch = None

try:
    from threadpoolctl import threadpool_limits
except ImportError:
    threadpool_limits = None


def methods(d):
    A, B, x = make_problem(d, np.float64)
    pA, pB, px = pyad.from_numpy(A), pyad.from_numpy(B), pyad.from_numpy(x)

    def f(v):
        return pyad.sigmoid(pB @ pyad.sigmoid(pA @ v)).sum()

    jf = pf.jacfwd(f)
    fns = {"pyad jacfwd": lambda: jf(px).numpy(), "numpy forward": lambda: numpy_forward(A, B, x)}
    if torch is not None:
        tA, tB, tx = torch.from_numpy(A), torch.from_numpy(B), torch.from_numpy(x)
        tj = torch.func.jacfwd(lambda v: torch.sigmoid(tB @ torch.sigmoid(tA @ v)).sum())
        fns["torch jacfwd"] = lambda: tj(tx).numpy()
    ref = numpy_reverse(A, B, x)
    for name, fn in fns.items():
        np.testing.assert_allclose(fn(), ref, rtol=1e-9, atol=1e-12, err_msg=name)
    # The pieces of pyad's tangent computation, on tensors shaped as jacfwd's.
    s1 = pyad.sigmoid(pA @ px)
    dv = s1 * (1.0 - s1)
    t1 = pyad.from_numpy(np.ascontiguousarray((A * (s1 * (1 - s1)).numpy()[:, None]).T))
    pieces = {
        "A.T * s'(y1)": lambda: pA.T * dv,
        "tangent @ B.T": lambda: t1 @ pB.T,
        "(T * s'(y2)).sum(1)": lambda: (t1 * dv).sum(1),
    }
    return fns, pieces


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--d", type=int, nargs="+", default=[250, 500, 1000, 2000, 8000])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default="benchmarks/results/bench-jacfwd-sizes.json")
    args = p.parse_args()
    pyad.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    if threadpool_limits is not None:
        threadpool_limits(args.threads)
    rows = []
    print(f"jacfwd, float64, {args.threads} thread(s); medians of {args.rounds} interleaved rounds")
    print(f"{'d':>6} {'pyad ms':>10} {'numpy ms':>10} {'x numpy':>8} {'torch ms':>10}   pieces (ms)")
    for d in args.d:
        fns, pieces = methods(d)
        rounds = args.rounds if d < 4000 else max(1, min(args.rounds, 3))
        t = interleaved(fns, rounds)
        tp = interleaved(pieces, rounds)
        row = {"d": d, "threads": args.threads, **{k + " s": v for k, v in t.items()}}
        row.update({"piece " + k + " s": v for k, v in tp.items()})
        row["pyad / numpy"] = t["pyad jacfwd"] / t["numpy forward"]
        rows.append(row)
        ts = f"{t['torch jacfwd'] * 1e3:10.2f}" if "torch jacfwd" in t else f"{'-':>10}"
        pc = "  ".join(f"{k} {v * 1e3:.2f}" for k, v in tp.items())
        print(
            f"{d:>6} {t['pyad jacfwd'] * 1e3:10.2f} {t['numpy forward'] * 1e3:10.2f} {row['pyad / numpy']:8.2f} "
            f"{ts}   {pc}",
            flush=True,
        )
    print("target: pyad <= 1.1x numpy at every d")
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as fh:
        json.dump(rows, fh, indent=1)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
