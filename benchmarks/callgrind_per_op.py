"""Per-op cost in instructions, counted by valgrind's callgrind (deterministic, unlike wall time on shared machines).

The chain is issue 17's: `y = (y * 1.0001 + 0.001).tanh()` on 16 float64 elements, forward + backward (3 ops a
link). The program runs under callgrind at two chain lengths; the difference of the two instruction counts,
divided by the ops added, is the cost of one op with every fixed cost (start-up, imports) cancelled.

Usage: python benchmarks/callgrind_per_op.py [--lib pyad|torch|numpy] [--links 200 1200] [--no-grad] [--no-sites]
(--no-sites: pyad without capturing the user's line per op, Note [Source sites], to measure what it costs.)
Needs valgrind on PATH. Prints instructions per op (forward + backward).
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile


def chain(lib, links, no_grad):
    if lib == "numpy":
        import numpy as np

        # A hand-written tape: the forward values kept, the backward pass applying each local derivative.
        y = np.linspace(-1.0, 1.0, 16)
        tape = []
        for _ in range(links):
            t = np.tanh(y * 1.0001 + 0.001)
            tape.append(t)
            y = t
        if no_grad:
            return
        g = np.ones(16)
        for t in reversed(tape):
            g = g * (1.0 - t * t) * 1.0001
        return
    mod = __import__(lib)
    if lib == "pyad" and "--no-sites" in sys.argv:
        mod._C._set_source_sites(False)
    x = mod.linspace(-1.0, 1.0, 16, dtype=mod.float64) if hasattr(mod, "linspace") else None
    if x is None:
        import numpy as np

        x = mod.tensor(np.linspace(-1.0, 1.0, 16))
    if no_grad:
        with mod.no_grad():
            y = x
            for _ in range(links):
                y = (y * 1.0001 + 0.001).tanh()
        return
    x.requires_grad_(True)
    y = x
    for _ in range(links):
        y = (y * 1.0001 + 0.001).tanh()
    y.sum().backward()


def count(lib, links, no_grad, no_sites=False):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "cg.out")
        cmd = (
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                __file__,
                "--run",
                lib,
                str(links),
            ]
            + (["--no-grad"] if no_grad else [])
            + (["--no-sites"] if no_sites else [])
        )
        # One thread, and one hash seed: the count is then the same from run to run.
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONHASHSEED="0")
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        with open(out) as f:
            for line in f:
                m = re.match(r"(?:summary|totals):\s+(\d+)", line)
                if m:
                    return int(m.group(1))
    raise RuntimeError("no instruction total in callgrind's output")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--run":
        # The measured program: import, warm up once, then the chain.
        lib, links = sys.argv[2], int(sys.argv[3])
        no_grad = "--no-grad" in sys.argv
        chain(lib, 2, no_grad)
        chain(lib, links, no_grad)
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lib", choices=["pyad", "torch", "numpy"], nargs="+", default=["pyad"])
    ap.add_argument("--links", type=int, nargs=2, default=[200, 1200])
    ap.add_argument("--no-grad", action="store_true")
    ap.add_argument("--no-sites", action="store_true")
    args = ap.parse_args()
    lo, hi = args.links
    for lib in args.lib:
        a, b = count(lib, lo, args.no_grad, args.no_sites), count(lib, hi, args.no_grad, args.no_sites)
        per_op = (b - a) / ((hi - lo) * 3)
        mode = "forward (no_grad)" if args.no_grad else "forward + backward"
        if args.no_sites and lib == "pyad":
            mode += ", no source sites"
        print(f"{lib}: {per_op:,.0f} instructions per op, {mode} ({lo} and {hi} links of 3 ops)")


if __name__ == "__main__":
    main()
