"""Structure-aware and memory-budgeted Jacobians: pyad against torch.func on the CPU, side by side in one run
with the same thread count (medians of interleaved runs).

(a) A banded n x n Jacobian (n = 4000, bandwidth b = 5): y_i = sum_{|k| <= b} w_k tanh(x_{i+k}), float64.
    pyad.func.sparse_jacobian with the band as pattern (2b + 1 colors: one batched JVP of 11 directions),
    as a CSR and as a dense matrix, against pyad.func.jacfwd and torch.func.jacfwd computing the dense
    Jacobian (targets: sparse >= 100x faster than pyad's dense jacfwd, >= 10x faster than torch's); and with
    the pattern detected (sparsity="auto": the first call traces f and colors, later calls only push).
(b) A chunked Jacobian: f(x) = W2 tanh(W1 x) (x of 1000, hidden 6000, out 250, float64) by jacfwd, unchunked and
    under max_memory = 1/4 of the unchunked peak (pyad.max_memory_allocated above the baseline): the time
    ratio (target <= 1.3) and both peaks.

Usage: python benchmarks/bench_jacobian.py [--n 4000] [--band 5] [--repeats 5] [--threads 1] [--json out.json]
"""

import argparse
import json
import platform
import time

import numpy as np
import torch
from _timing import interleaved  # benchmarks/_timing.py (run as python benchmarks/NAME.py)

import pyad
from pyad import func


# ---------------------------------------------------------------- (a) banded
def banded(ns, b, w):
    def f(x):
        pad = ns.zeros(b, dtype=x.dtype)
        t = ns.tanh(ns.cat([pad, x, pad]))
        n = x.shape[0]
        y = t[0:n] * w[0]
        for k in range(1, 2 * b + 1):
            y = y + t[k : k + n] * w[k]
        return y

    return f


def bench_banded(n, b, repeats):
    rng = np.random.default_rng(0)
    w = [float(v) for v in rng.uniform(0.5, 1.5, 2 * b + 1)]
    x0 = rng.uniform(-1, 1, n)
    px, tx = pyad.tensor(x0, dtype=pyad.float64), torch.tensor(x0, dtype=torch.float64)
    pf, tf = banded(pyad, b, w), banded(torch, b, w)
    i, j = np.indices((n, n))
    pattern = np.abs(i - j) <= b
    sparse_csr = func.sparse_jacobian(pf, pattern, layout="csr")  # the coloring is done here, once
    sparse_dense = func.sparse_jacobian(pf, pattern)
    # Correctness before timing: both sparse results equal pyad's and torch's dense Jacobians.
    dense = func.jacfwd(pf)(px).numpy()
    np.testing.assert_allclose(sparse_csr(px).to_dense().numpy(), dense, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(sparse_dense(px).numpy(), dense, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(torch.func.jacfwd(tf)(tx).numpy(), dense, rtol=1e-12, atol=1e-14)
    del dense
    fast = interleaved(
        {"sparse (csr)": lambda: sparse_csr(px), "sparse (dense out)": lambda: sparse_dense(px)}, repeats * 4
    )
    slow = interleaved(
        {
            "pyad jacfwd (dense)": lambda: func.jacfwd(pf)(px),
            "torch.func.jacfwd (dense)": lambda: torch.func.jacfwd(tf)(tx),
        },
        repeats,
    )
    t = {**fast, **slow}
    # Detection (sparsity="auto"): the first call traces f and colors the pattern, later calls only push.
    auto = func.sparse_jacobian(pf, layout="csr")
    t0 = time.perf_counter()
    auto(px)
    t["sparse auto, first call (detect + color)"] = time.perf_counter() - t0
    t["sparse auto, later calls"] = interleaved({"auto": lambda: auto(px)}, repeats * 4)["auto"]
    out = {k: v * 1e3 for k, v in t.items()}
    out["speedup vs pyad jacfwd"] = t["pyad jacfwd (dense)"] / t["sparse (csr)"]
    out["speedup vs torch.func.jacfwd"] = t["torch.func.jacfwd (dense)"] / t["sparse (csr)"]
    out["dense-out speedup vs torch.func.jacfwd"] = t["torch.func.jacfwd (dense)"] / t["sparse (dense out)"]
    return out


# ---------------------------------------------------------------- (b) chunked
def peak_of(call):
    pyad.reset_peak_memory_stats()
    base = pyad.memory_allocated()
    call()
    return pyad.max_memory_allocated() - base


def bench_chunked(repeats):
    rng = np.random.default_rng(1)
    n, h, m = 1000, 6000, 250
    W1 = pyad.tensor(rng.standard_normal((h, n)) / np.sqrt(n), dtype=pyad.float64)
    W2 = pyad.tensor(rng.standard_normal((m, h)) / np.sqrt(h), dtype=pyad.float64)
    x = pyad.tensor(rng.uniform(-1, 1, n), dtype=pyad.float64)

    def f(x):
        return W2 @ pyad.tanh(W1 @ x)

    full = func.jacfwd(f)
    unchunked = peak_of(lambda: full(x))
    budget = unchunked // 4
    chunked = func.jacfwd(f, max_memory=budget)
    peak = peak_of(lambda: chunked(x))
    np.testing.assert_allclose(chunked(x).numpy(), full(x).numpy(), rtol=1e-12, atol=1e-14)
    t = interleaved({"unchunked": lambda: full(x), "max_memory=peak/4": lambda: chunked(x)}, repeats)
    return {
        "unchunked ms": t["unchunked"] * 1e3,
        "budgeted ms": t["max_memory=peak/4"] * 1e3,
        "time ratio": t["max_memory=peak/4"] / t["unchunked"],
        "unchunked peak MB": unchunked / 1e6,
        "budget MB": budget / 1e6,
        "budgeted peak MB": peak / 1e6,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--band", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    pyad.set_num_threads(args.threads)
    res = {
        "machine": platform.processor() or platform.machine(),
        "threads": args.threads,
        f"banded n={args.n} b={args.band} (ms)": bench_banded(args.n, args.band, args.repeats),
        "chunked jacfwd, x 1000, hidden 6000, out 250": bench_chunked(args.repeats),
    }
    for section, vals in res.items():
        if not isinstance(vals, dict):
            print(f"{section}: {vals}")
            continue
        print(section)
        for k, v in vals.items():
            print(f"  {k:40s} {v:10.3f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=2)


if __name__ == "__main__":
    main()
