"""pyad against torch on the CPU, side by side in one run with the same thread count.

(a) f(x) = sum(sigmoid(B @ sigmoid(A @ x))), A and B d x d float64, forward + backward to x, and the
    hand-written NumPy reverse pass; the floor is reading A and B twice (4 d^2 8-byte words).
(b) per-op overhead: a chain of 2,000 x (y * 1.0001 + 0.001).tanh() on 16 elements, forward + backward.
(c) an MLP training step 784 -> 256 -> 10, batch 64, float32 (log-softmax cross-entropy, SGD update).

Usage: python benchmarks/bench_core.py [--d 2000 8000] [--repeats 7] [--threads 1] [--json out.json]
"""

import argparse
import json
import statistics
import time

import numpy as np
import torch
from _timing import interleaved  # benchmarks/_timing.py (run as python benchmarks/NAME.py)

import pyad


def median_time(fn, repeats, warmup=2):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def copy_bandwidth(nbytes=512 * 2**20):
    """Bytes per second of a large memory read (max over a big array: reads only; NumPy's sum is slower than
    the memory, see benchmarks/bench_threads.py)."""
    a = np.ones(nbytes // 8)
    t = median_time(lambda: a.max(), 5, 1)
    return nbytes / t


def bench_sigmoid_mlp(d, repeats):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((d, d)) / np.sqrt(d)
    B = rng.standard_normal((d, d)) / np.sqrt(d)
    x = rng.standard_normal(d)
    pA, pB, tA, tB = pyad.from_numpy(A), pyad.from_numpy(B), torch.from_numpy(A), torch.from_numpy(B)

    def run_pyad():
        xx = pyad.from_numpy(x).requires_grad_()
        pyad.sigmoid(pB @ pyad.sigmoid(pA @ xx)).sum().backward()
        return xx.grad

    def run_torch():
        xx = torch.from_numpy(x).requires_grad_()
        torch.sigmoid(tB @ torch.sigmoid(tA @ xx)).sum().backward()
        return xx.grad

    def run_numpy():
        s1 = 1 / (1 + np.exp(-(A @ x)))
        s2 = 1 / (1 + np.exp(-(B @ s1)))
        g1 = (B.T @ (s2 * (1 - s2))) * s1 * (1 - s1)
        return A.T @ g1

    ref = run_numpy()
    np.testing.assert_allclose(run_pyad().numpy(), ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(run_torch().numpy(), ref, rtol=1e-10, atol=1e-12)
    t = interleaved({"pyad": run_pyad, "torch": run_torch, "numpy": run_numpy}, repeats)
    floor_bytes = 4 * d * d * 8
    return {
        "d": d,
        **{k + "_s": v for k, v in t.items()},
        "pyad/torch": t["pyad"] / t["torch"],
        "pyad/numpy": t["pyad"] / t["numpy"],
        "floor_bytes": floor_bytes,
    }


def bench_overhead(repeats, n=2000):
    def chain(lib):
        x = lib.ones(16, requires_grad=True)
        y = x
        for _ in range(n):
            y = (y * 1.0001 + 0.001).tanh()
        y.sum().backward()

    t = interleaved({"pyad": lambda: chain(pyad), "torch": lambda: chain(torch)}, repeats, 1)
    ops = 3 * n
    return {
        "ops": ops,
        "pyad_us_per_op": t["pyad"] / ops * 1e6,
        "torch_us_per_op": t["torch"] / ops * 1e6,
        "pyad/torch": t["pyad"] / t["torch"],
    }


def bench_mlp(repeats, batch=64):
    rng = np.random.default_rng(0)
    W1 = (rng.standard_normal((784, 256)) / 28).astype(np.float32)
    W2 = (rng.standard_normal((256, 10)) / 16).astype(np.float32)
    b1, b2 = np.zeros(256, np.float32), np.zeros(10, np.float32)
    X = rng.standard_normal((batch, 784)).astype(np.float32)
    Y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, batch)]

    def make(lib, from_np):
        params = [from_np(p.copy()).requires_grad_() for p in (W1, b1, W2, b2)]
        xb, yb = from_np(X), from_np(Y)

        def step():
            w1, c1, w2, c2 = params
            h = (xb @ w1 + c1).relu()
            logp = (h @ w2 + c2).log_softmax(1)
            loss = -(logp * yb).sum() / batch
            loss.backward()
            with lib.no_grad():
                for p in params:
                    p -= 0.01 * p.grad
                    p.grad = None
            return loss

        return step

    t = interleaved({"pyad": make(pyad, pyad.from_numpy), "torch": make(torch, torch.from_numpy)}, repeats)
    return {"pyad_ms": t["pyad"] * 1e3, "torch_ms": t["torch"] * 1e3, "pyad/torch": t["pyad"] / t["torch"]}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--d", type=int, nargs="+", default=[2000, 8000])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    pyad.set_num_threads(args.threads)
    try:  # the hand-written NumPy pass gets the same thread count
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
    except ImportError:
        print("threadpoolctl is not installed: NumPy uses its default thread count")
    out = {"threads": args.threads, "torch": torch.__version__, "read_bandwidth_GBps": copy_bandwidth() / 1e9}
    print(f"threads: {args.threads}; measured read bandwidth {out['read_bandwidth_GBps']:.1f} GB/s")
    out["sigmoid_mlp"] = []
    for d in args.d:
        r = bench_sigmoid_mlp(d, args.repeats)
        floor = r["floor_bytes"] / (out["read_bandwidth_GBps"] * 1e9)
        r["floor_s"] = floor
        out["sigmoid_mlp"].append(r)
        print(
            f"(a) d={d}: pyad {r['pyad_s'] * 1e3:.1f} ms, torch {r['torch_s'] * 1e3:.1f} ms, numpy "
            f"{r['numpy_s'] * 1e3:.1f} ms -> pyad/torch {r['pyad/torch']:.2f}, pyad/numpy {r['pyad/numpy']:.2f}, "
            f"pyad/floor {r['pyad_s'] / floor:.2f} (floor {floor * 1e3:.1f} ms)"
        )
    r = bench_overhead(args.repeats)
    out["overhead"] = r
    print(
        f"(b) per op (fwd+bwd): pyad {r['pyad_us_per_op']:.2f} us, torch {r['torch_us_per_op']:.2f} us -> "
        f"pyad/torch {r['pyad/torch']:.2f}"
    )
    r = bench_mlp(max(args.repeats, 20))
    out["mlp"] = r
    print(f"(c) MLP step: pyad {r['pyad_ms']:.3f} ms, torch {r['torch_ms']:.3f} ms -> pyad/torch {r['pyad/torch']:.2f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
