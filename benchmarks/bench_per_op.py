"""Per-op cost in wall time, pyad against torch (and a hand-written NumPy tape), side by side in one process.

(a) issue 17's chain `y = (y * 1.0001 + 0.001).tanh()` on 16 float64 elements, forward + backward;
(b) the same chain under no_grad (forward only);
(c) a trivial custom Function (y = 2x, backward 2g) applied to 16 elements, apply + backward.
Each figure is the median of interleaved rounds (the machine is shared: read the ratios, not the times).
The instruction counts of (a) and (b), which do not depend on the machine's load, are
benchmarks/callgrind_per_op.py's.

Usage: python benchmarks/bench_per_op.py [--links 2000] [--repeats 15] [--json out.json]
"""

import argparse
import json

import numpy as np
import torch
from _timing import interleaved  # benchmarks/_timing.py (run as python benchmarks/NAME.py)

import pyad


def chain(lib, links, grad):
    x = lib.linspace(-1.0, 1.0, 16, dtype=lib.float64)
    if not grad:
        with lib.no_grad():
            y = x
            for _ in range(links):
                y = (y * 1.0001 + 0.001).tanh()
        return
    x.requires_grad_(True)
    y = x
    for _ in range(links):
        y = (y * 1.0001 + 0.001).tanh()
    y.sum().backward()


def numpy_tape(links, grad):
    y = np.linspace(-1.0, 1.0, 16)
    tape = []
    for _ in range(links):
        y = np.tanh(y * 1.0001 + 0.001)
        tape.append(y)
    if grad:
        g = np.ones(16)
        for t in reversed(tape):
            g = g * (1.0 - t * t) * 1.0001


def double_function(lib):
    class Double(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2.0

        @staticmethod
        def backward(ctx, g):
            return g * 2.0

    return Double


def function_calls(lib, fn, calls):
    x = lib.ones(16, dtype=lib.float64, requires_grad=True)

    def run():
        for _ in range(calls):
            fn.apply(x).sum().backward()

    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--links", type=int, default=2000)
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    pyad.set_num_threads(1)
    ops = 3 * args.links
    rows = {}
    for grad, label in ((True, "chain, forward + backward"), (False, "chain, no_grad")):
        t = interleaved(
            {
                "pyad": lambda: chain(pyad, args.links, grad),
                "torch": lambda: chain(torch, args.links, grad),
                "numpy": lambda: numpy_tape(args.links, grad),
            },
            args.repeats,
        )
        rows[label] = {k: v / ops * 1e6 for k, v in t.items()}
    # A Function call is measured together with the sum and backward that use it; the same for both libraries.
    fns = {lib.__name__: function_calls(lib, double_function(lib), args.calls) for lib in (pyad, torch)}
    t = interleaved(fns, args.repeats)
    rows["custom Function, apply + backward"] = {k: v / args.calls * 1e6 for k, v in t.items()}

    targets = {"chain, forward + backward": 0.35, "chain, no_grad": 0.5, "custom Function, apply + backward": 1.0}
    print(
        f"{'µs per op (per call for the Function)':40s} {'pyad':>8s} {'torch':>8s} {'numpy':>8s} "
        f"{'pyad/torch':>11s} target"
    )
    for label, r in rows.items():
        ratio = r["pyad"] / r["torch"]
        r["pyad/torch"] = ratio
        numpy_col = f"{r['numpy']:8.2f}" if "numpy" in r else f"{'':8s}"
        print(f"{label:40s} {r['pyad']:8.2f} {r['torch']:8.2f} {numpy_col} {ratio:11.2f} <= {targets[label]}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
