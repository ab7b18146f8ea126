"""pyad.linalg against torch.linalg on the CPU, side by side in one run with the same thread count (medians of
interleaved rounds), float64:

(a) solve (B with 64 columns at n = 512, 8 on the batch), cholesky and inv, forward + backward (the gradient of the
    sum of the output times a fixed random cotangent with respect to every input), at n = 512 and on a batch
    (64, 64, 64); the goal is pyad <= 1.0x torch.
(b) the implicit derivative of a fixed point z = tanh(W z + theta) (n = 256, contraction; 100 and 1000
    iterations), d sum(z*) / d theta:
    pyad.func.implicit_root (solver: a NumPy loop pyad does not see; derivative: one linear solve with dF/dz)
    against backpropagating through the unrolled iterations (pyad and torch), time and peak memory
    (pyad.max_memory_allocated; torch's CPU allocator has no statistics, so its column is time only). The
    implicit derivative's cost does not grow with the iterations: one n x n Jacobian and one solve; the unrolled
    one keeps every iterate for backward.

Usage: python benchmarks/bench_linalg.py [--repeats 7] [--threads 2] [--json out.json]
"""

import argparse
import gc
import json
import platform

import numpy as np
import torch
from _timing import interleaved  # benchmarks/_timing.py (run as python benchmarks/NAME.py)

import pyad

SHAPES = {"n=512": ((512, 512), (512, 64)), "batch (64, 64, 64)": ((64, 64, 64), (64, 64, 8))}


def well_conditioned(rng, shape):
    n = shape[-1]
    return rng.standard_normal(shape) + n**0.5 * 2.0 * np.eye(n)


def spd(rng, shape):
    a = rng.standard_normal(shape)
    return a @ np.swapaxes(a, -1, -2) / shape[-1] + np.eye(shape[-1])


def op_cases(rng):
    """name -> (pyad fn, torch fn): each runs forward + backward once."""
    cases = {}
    for label, (sa, sb) in SHAPES.items():
        A, B, S = well_conditioned(rng, sa), rng.standard_normal(sb), spd(rng, sa)
        gX, gA = rng.standard_normal(sb), rng.standard_normal(sa)

        def pair(fp, ft, arrays, g):
            pa = [pyad.tensor(a).requires_grad_(True) for a in arrays]
            ta = [torch.tensor(a).requires_grad_(True) for a in arrays]
            pg, tg = pyad.tensor(g), torch.tensor(g)

            def run_p():
                for x in pa:
                    x.grad = None
                fp(*pa).backward(pg)

            def run_t():
                for x in ta:
                    x.grad = None
                ft(*ta).backward(tg)

            return run_p, run_t

        cases[f"solve {label}"] = pair(pyad.linalg.solve, torch.linalg.solve, (A, B), gX)
        cases[f"cholesky {label}"] = pair(pyad.linalg.cholesky, torch.linalg.cholesky, (S,), gA)
        cases[f"inv {label}"] = pair(pyad.linalg.inv, torch.linalg.inv, (A,), gA)
    return cases


# ---------------------------------------------------------------- (b) implicit vs unrolled fixed point
def fixed_point_cases(rng, n=256, iters=100):
    W = rng.standard_normal((n, n)) * (0.5 / n**0.5)  # spectral norm ~ 1: tanh makes it a contraction
    th = rng.standard_normal(n)
    Wp, Wt = pyad.tensor(W), torch.tensor(W)

    def solve(t):
        z, tv = np.zeros(n), t.numpy()
        for _ in range(iters):
            z = np.tanh(W @ z + tv)
        return z

    root = pyad.func.implicit_root(lambda z, t: z - pyad.tanh(Wp @ z + t), solve)

    def implicit():
        x = pyad.tensor(th).requires_grad_(True)
        root(x).sum().backward()
        return x.grad

    def unrolled_pyad():
        x = pyad.tensor(th).requires_grad_(True)
        z = pyad.zeros(n, dtype=pyad.float64)
        for _ in range(iters):
            z = pyad.tanh(Wp @ z + x)
        z.sum().backward()
        return x.grad

    def unrolled_torch():
        x = torch.tensor(th).requires_grad_(True)
        z = torch.zeros(n, dtype=torch.float64)
        for _ in range(iters):
            z = torch.tanh(Wt @ z + x)
        z.sum().backward()
        return x.grad

    err = float(np.abs(implicit().numpy() - unrolled_torch().numpy()).max())
    return {"implicit (pyad)": implicit, "unrolled (pyad)": unrolled_pyad, "unrolled (torch)": unrolled_torch}, err


def peak_bytes(fn):
    gc.collect()
    pyad.reset_peak_memory_stats()
    base = pyad.memory_allocated()
    fn()
    return pyad.max_memory_allocated() - base


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    pyad.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"threads {args.threads}, {platform.processor() or platform.machine()}, torch {torch.__version__}")
    print(f"{'forward + backward, float64':32s} {'pyad ms':>9s} {'torch ms':>9s} {'ratio':>7s}")
    results = {"ops": {}, "fixed_point": {}}
    for name, (fp, ft) in op_cases(rng).items():
        t = interleaved({"pyad": fp, "torch": ft}, args.repeats)
        ratio = t["pyad"] / t["torch"]
        results["ops"][name] = {"pyad_ms": t["pyad"] * 1e3, "torch_ms": t["torch"] * 1e3, "ratio": ratio}
        print(f"{name:32s} {t['pyad'] * 1e3:9.2f} {t['torch'] * 1e3:9.2f} {ratio:6.2f}x")
    for iters in (100, 1000):
        fns, err = fixed_point_cases(rng, iters=iters)
        t = interleaved(fns, args.repeats, warmup=1)
        print(
            f"\nfixed point z = tanh(W z + theta), n = 256, {iters} iterations: d sum(z*)/d theta "
            f"(|implicit - unrolled torch| = {err:.1e})"
        )
        print(f"{'':32s} {'ms':>9s} {'peak MiB':>9s}")
        for k, fn in fns.items():
            mem = peak_bytes(fn) / 2**20 if "pyad" in k else float("nan")
            results["fixed_point"][f"{k}, {iters} iterations"] = {"ms": t[k] * 1e3, "peak_mib": mem}
            print(f"{k:32s} {t[k] * 1e3:9.2f} {mem:9.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
