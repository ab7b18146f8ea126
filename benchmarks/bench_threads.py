"""Thread scaling of pyad's CPU kernels (Note [CPU kernel threads] in csrc/kernels/cpu/parallel.h), side by
side with torch and NumPy in one process, medians of interleaved rounds.

(a) the main job's reverse pass at d (default 8000, float64): pyad grad, torch autograd and the hand-written
    NumPy pass, at 1 thread and at every thread; its floor is reading A and B twice (4 d^2 8-byte words), so
    each row also gives GB/s against a read-bandwidth probe run here: NumPy max over a large array, one per
    thread at once (single-threaded, releases the GIL). Not sum: NumPy's pairwise sum reads at ~60 % of the
    bandwidth that max and the gemv kernels reach (8.5 against 13.8 GB/s on the 2-vCPU development box), so a
    sum probe made memory-bound kernels look far from their ceiling.
(b) kernel scaling: an elementwise add, a full sum, a row sum and both matrix-vector products at 1 and N
    threads, with the speedup.
(c) --threshold: the size at which splitting pays, the way kParallelMinBytes was measured: `a + b` on
    float64 vectors from 16 KiB to 8 MiB touched, 1 thread against N with the threshold moved to 0
    (_C._set_parallel_min_bytes), interleaved; the smallest size from which N threads stay faster is
    printed (set kParallelMinBytes near it).

On shared machines (the 2-vCPU development boxes) every figure is noisy: read the ratios, and rerun.

Usage: python benchmarks/bench_threads.py [--d 8000] [--rounds 5] [--threads N] [--threshold] [--json PATH]
"""

import argparse
import json
import os
import statistics
import threading
import time

import numpy as np
from _timing import interleaved  # benchmarks/_timing.py (run as python benchmarks/NAME.py)

import pyad

try:
    import torch
except ImportError:  # the NumPy and pyad columns still run
    torch = None

try:
    from threadpoolctl import threadpool_limits
except ImportError:
    threadpool_limits = None


def set_threads(n):
    pyad.set_num_threads(n)
    if torch is not None:
        torch.set_num_threads(n)
    if threadpool_limits is not None:
        threadpool_limits(n)  # NumPy's BLAS


def read_probe(threads, nbytes=256 * 2**20, rounds=5):
    """Bytes per second that `threads` concurrent NumPy sums read, each over its own nbytes / threads."""
    parts = [np.ones(nbytes // 8 // threads) for _ in range(threads)]

    def once():
        ts = [threading.Thread(target=p.max) for p in parts]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    once()
    return nbytes / interleaved({"probe": once}, rounds)["probe"]


def reverse_methods(d):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((d, d)) / np.sqrt(d)
    B = rng.standard_normal((d, d)) / np.sqrt(d)
    x = rng.standard_normal(d)
    pA, pB = pyad.from_numpy(A), pyad.from_numpy(B)

    def pyad_grad():
        v = pyad.from_numpy(x).requires_grad_(True)
        pyad.sigmoid(pB @ pyad.sigmoid(pA @ v)).sum().backward()
        return v.grad.numpy()

    def numpy_reverse():
        s1 = 1 / (1 + np.exp(-(A @ x)))
        s2 = 1 / (1 + np.exp(-(B @ s1)))
        return A.T @ ((B.T @ (s2 * (1 - s2))) * s1 * (1 - s1))

    fns = {"pyad grad": pyad_grad, "numpy reverse": numpy_reverse}
    if torch is not None:
        tA, tB = torch.from_numpy(A), torch.from_numpy(B)

        def torch_reverse():
            v = torch.from_numpy(x).requires_grad_(True)
            torch.sigmoid(tB @ torch.sigmoid(tA @ v)).sum().backward()
            return v.grad.numpy()

        fns["torch autograd"] = torch_reverse
    ref = numpy_reverse()
    for name, fn in fns.items():
        np.testing.assert_allclose(fn(), ref, rtol=1e-9, atol=1e-12, err_msg=name)
    return fns


def bench_reverse(d, thread_counts, rounds):
    fns = reverse_methods(d)
    floor_bytes = 4 * d * d * 8
    rows = []
    for n in thread_counts:
        set_threads(n)
        probe = read_probe(n)
        t = interleaved(fns, rounds)
        for name, s in t.items():
            rows.append(
                {
                    "part": "reverse",
                    "d": d,
                    "threads": n,
                    "method": name,
                    "median_s": s,
                    "gb_per_s": floor_bytes / s / 1e9,
                    "probe_gb_per_s": probe / 1e9,
                    "vs_torch": s / t["torch autograd"] if "torch autograd" in t else None,
                    "vs_numpy": s / t["numpy reverse"],
                }
            )
    return rows


def kernel_cases(n_vec=4_000_000, d=2000):
    rng = np.random.default_rng(1)
    a, b = (pyad.from_numpy(rng.standard_normal(n_vec)) for _ in range(2))
    M, v = pyad.from_numpy(rng.standard_normal((d, d))), pyad.from_numpy(rng.standard_normal(d))
    return {
        f"add {n_vec:,} float64": (lambda: a + b, 24 * n_vec),
        f"sum {n_vec:,} float64": (lambda: a.sum(), 8 * n_vec),
        f"row sums {d}x{d}": (lambda: M.sum(1), 8 * d * d),
        f"A @ x {d}x{d}": (lambda: M @ v, 8 * d * d),
        f"x @ A {d}x{d}": (lambda: v @ M, 8 * d * d),
        f"A.T * x {d}x{d} (tiled)": (lambda: M.T * v, 16 * d * d),
    }


def bench_kernels(threads, rounds):
    rows = []
    for name, (fn, nbytes) in kernel_cases().items():
        t = {}
        for n in (1, threads):  # interleaved across the thread counts too
            t[n] = []
        for _ in range(rounds):
            for n in (1, threads):
                set_threads(n)
                fn()
                t0 = time.perf_counter()
                fn()
                t[n].append(time.perf_counter() - t0)
        one, many = statistics.median(t[1]), statistics.median(t[threads])
        rows.append(
            {
                "part": "kernels",
                "kernel": name,
                "threads": threads,
                "one_thread_s": one,
                "n_threads_s": many,
                "speedup": one / many,
                "n_threads_gb_per_s": nbytes / many / 1e9,
            }
        )
    return rows


def bench_threshold(threads, rounds):
    """1 thread against `threads` with the threshold at 0 (every loop split), size by size."""
    saved = pyad._C._set_parallel_min_bytes(0)
    try:
        return _threshold_rows(threads, rounds)
    finally:
        pyad._C._set_parallel_min_bytes(saved)


def _threshold_rows(threads, rounds):
    rows = []
    for kib in [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192]:
        n = kib * 1024 // 24  # a + b touches 24 bytes per element
        a, b = pyad.ones([n], dtype=pyad.float64), pyad.ones([n], dtype=pyad.float64)
        reps = max(1, 2_000_000 // n)
        t = {1: [], threads: []}
        for _ in range(rounds):
            for k in (1, threads):
                set_threads(k)
                t0 = time.perf_counter()
                for _ in range(reps):
                    a + b
                t[k].append((time.perf_counter() - t0) / reps)
        one, many = statistics.median(t[1]), statistics.median(t[threads])
        rows.append({"part": "threshold", "kib_touched": kib, "one_thread_s": one, "n_threads_s": many})
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--d", type=int, default=8000, help="the reverse pass's size (0: skip part a)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)), help="the 'all threads' count")
    p.add_argument("--threshold", action="store_true", help="also sweep the parallel threshold (part c)")
    p.add_argument("--json", default="benchmarks/results/bench-threads.json")
    args = p.parse_args()
    saved = pyad.get_num_threads()
    rows = []
    counts = sorted({1, args.threads})
    if args.d:
        rows += bench_reverse(args.d, counts, args.rounds)
        print(
            f"(a) reverse pass, d = {args.d}, float64; floor = reading A and B twice ({4 * args.d**2 * 8 / 1e9:.2f} GB)"
        )
        print(f"{'threads':>7} {'method':<16} {'ms':>9} {'GB/s':>7} {'probe':>7} {'x torch':>8} {'x numpy':>8}")
        for r in (r for r in rows if r["part"] == "reverse"):
            vt = f"{r['vs_torch']:.2f}" if r["vs_torch"] is not None else "-"
            print(
                f"{r['threads']:>7} {r['method']:<16} {r['median_s'] * 1e3:9.1f} {r['gb_per_s']:7.1f} "
                f"{r['probe_gb_per_s']:7.1f} {vt:>8} {r['vs_numpy']:8.2f}"
            )
        print("targets: pyad grad <= 0.8x torch and <= 1.1x numpy at each thread count")
    if args.threads > 1:
        krows = bench_kernels(args.threads, args.rounds)
        rows += krows
        print(f"\n(b) kernels, 1 against {args.threads} threads")
        for r in krows:
            print(
                f"  {r['kernel']:<28} 1: {r['one_thread_s'] * 1e3:8.3f} ms  {args.threads}: "
                f"{r['n_threads_s'] * 1e3:8.3f} ms  speedup {r['speedup']:.2f}  ({r['n_threads_gb_per_s']:.1f} GB/s)"
            )
    if args.threshold and args.threads > 1:
        trows = bench_threshold(args.threads, args.rounds)
        rows += trows
        print(f"\n(c) a + b, float64: 1 against {args.threads} threads, every loop split")
        for r in trows:
            print(
                f"  {r['kib_touched']:>6} KiB  1: {r['one_thread_s'] * 1e6:9.1f} us  {args.threads}: "
                f"{r['n_threads_s'] * 1e6:9.1f} us  ratio {r['n_threads_s'] / r['one_thread_s']:.2f}"
            )
        faster = [r["kib_touched"] for r in trows if r["n_threads_s"] < r["one_thread_s"]]
        # The crossover: the smallest size from which every larger one is faster on N threads.
        cross = next(
            (k for k in faster if all(x in faster for x in [r["kib_touched"] for r in trows if r["kib_touched"] >= k])),
            None,
        )
        print(f"  N threads faster from {cross} KiB on" if cross else "  N threads never faster here")
    pyad.set_num_threads(saved)
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"threads": args.threads, "rows": rows}, f, indent=1)
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
