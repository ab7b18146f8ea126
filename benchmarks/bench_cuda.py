"""pyad's CUDA backend against torch CUDA (and CuPy), side by side in one run on one GPU.

(a) bandwidth: elementwise ops (add, mul, sigmoid, relu, exp) and reductions (sum over all, sum over dim 0 and
    over dim -1 of an 8192 x 8192 view, amax) on 2**26 float32 elements; achieved bandwidth = bytes moved (inputs
    read + output written) / time, as a fraction of the device-to-device copy bandwidth measured here (1 GiB
    copies, the read and the write both counted).
(b) GEMM n x n x n, n = 1024 4096 8192, float32 and float64: pyad's own kernel (set_matmul_backend("pyad")),
    pyad through cuBLAS when it is loaded, torch and CuPy matmul (cuBLAS); TFLOP/s and the fraction of the
    fastest cuBLAS time. TF32 stays off everywhere (torch's and CuPy's defaults), so all run true float32.
(c) per-op launch overhead on small tensors (1000 float32 elements): add, mul, sigmoid, sum, a 16 x 16 matmul,
    and an MLP training step 784 -> 256 -> 10, batch 64 (forward, backward, SGD): microseconds per op, pyad/torch.

Kernels run asynchronously: each timed batch of calls ends with a device synchronize, the batch is long enough
(>= 50 ms, or one call) for the synchronize not to matter, after warm-up; medians of --repeats batches. Every
pyad result is checked against NumPy in float64 on the same data.

Usage: python benchmarks/bench_cuda.py [--sections a b c] [--gemm-n 1024 4096 8192] [--repeats 9]
                                       [--no-torch] [--no-cupy] [--json PATH]
Writes benchmarks/results/bench-cuda-<GPU name>.json unless --json says otherwise.
"""

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import pyad
from pyad.bench import gpu

N_ELEMENTS = 2**26
TOL = {"float32": 1e-4, "float64": 1e-9}


def per_call(fn, sync, repeats, target_s=0.05, max_calls=5000):
    """Median seconds per call of fn: batches of k calls then one sync, k chosen so a batch lasts ~target_s."""
    fn()
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    one = time.perf_counter() - t0
    k = max(1, min(max_calls, int(target_s / max(one, 1e-9))))
    gpu._repeat(fn, k)()  # a warm-up batch at the timed length
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(k):
            fn()
        sync()
        times.append((time.perf_counter() - t0) / k)
    return statistics.median(times)


def _err(got, ref, scale):
    return float(np.max(np.abs(np.asarray(got, np.float64) - ref) / scale))


# ---- (a) bandwidth ----
def bench_bandwidth(torch, bandwidth, repeats):
    n, side = N_ELEMENTS, int(round(N_ELEMENTS**0.5))
    a = pyad.randn(n, dtype=pyad.float32, device=gpu.DEVICE)
    b = pyad.randn(n, dtype=pyad.float32, device=gpu.DEVICE)
    a2 = a.reshape(side, side)
    itemsize = 4
    # name: (pyad call, torch call on (ta, tb, ta2), bytes moved, NumPy float64 reference on (ha, hb, ha2), scale)
    ha, hb = a.cpu().numpy().astype(np.float64), b.cpu().numpy().astype(np.float64)
    ha2 = ha.reshape(side, side)
    absa = np.abs(ha)
    ops = {
        "add": (lambda: a + b, lambda t: t[0] + t[1], 3 * n, lambda: ha + hb, None),
        "mul": (lambda: a * b, lambda t: t[0] * t[1], 3 * n, lambda: ha * hb, None),
        "sigmoid": (lambda: pyad.sigmoid(a), lambda t: torch.sigmoid(t[0]), 2 * n, lambda: 1 / (1 + np.exp(-ha)), None),
        "relu": (lambda: pyad.relu(a), lambda t: torch.relu(t[0]), 2 * n, lambda: np.maximum(ha, 0), None),
        "exp": (lambda: pyad.exp(a), lambda t: torch.exp(t[0]), 2 * n, lambda: np.exp(ha), None),
        "sum (all)": (lambda: a.sum(), lambda t: t[0].sum(), n + 1, lambda: ha.sum(), lambda: absa.sum()),
        "sum (dim 0)": (
            lambda: a2.sum(0),
            lambda t: t[2].sum(0),
            n + side,
            lambda: ha2.sum(0),
            lambda: absa.reshape(side, side).sum(0),
        ),
        "sum (dim -1)": (
            lambda: a2.sum(-1),
            lambda t: t[2].sum(-1),
            n + side,
            lambda: ha2.sum(-1),
            lambda: absa.reshape(side, side).sum(-1),
        ),
        "amax": (lambda: pyad.amax(a), lambda t: torch.amax(t[0]), n + 1, lambda: ha.max(), lambda: absa.max()),
    }
    tt = None
    if torch is not None:
        ta = torch.randn(n, dtype=torch.float32, device=gpu.DEVICE)
        tb = torch.randn(n, dtype=torch.float32, device=gpu.DEVICE)
        tt = (ta, tb, ta.reshape(side, side))
    rows = []
    for name, (pcall, tcall, elems, ref, scale) in ops.items():
        nbytes = elems * itemsize
        row = {"op": name, "bytes": nbytes}
        rows.append(row)
        try:
            r = ref()
            s = scale() if scale is not None else max(1e-300, float(np.max(np.abs(r))))
            err = _err(pcall().cpu().numpy(), r, s)
            del r
            t = per_call(pcall, pyad.cuda.synchronize, repeats)
            row.update(
                pyad_s=t,
                pyad_GBps=nbytes / t / 1e9,
                pyad_fraction_of_copy=nbytes / t / bandwidth,
                max_rel_error=err,
                ok=bool(err <= TOL["float32"]),
            )
            if tt is not None:
                t2 = per_call(lambda: tcall(tt), torch.cuda.synchronize, repeats)
                row.update(
                    torch_s=t2,
                    torch_GBps=nbytes / t2 / 1e9,
                    torch_fraction_of_copy=nbytes / t2 / bandwidth,
                    pyad_over_torch=t / t2,
                )
        except Exception as e:  # noqa: BLE001 - recorded, and the run goes on
            row.update(ok=False, error=f"{type(e).__name__}: {e}")
            print(f"  {name:13s} FAILED: {row['error']}", flush=True)
            continue
        torch_part = (
            f"  torch {row['torch_GBps']:7.0f} GB/s ({row['torch_fraction_of_copy']:.2f})  pyad/torch "
            f"{row['pyad_over_torch']:.2f}"
            if tt is not None
            else ""
        )
        flag = "" if row["ok"] else f"  FAILED (error {err:.2g})"
        print(
            f"  {name:13s} pyad {row['pyad_GBps']:7.0f} GB/s ({row['pyad_fraction_of_copy']:.2f} of copy)"
            f"{torch_part}{flag}",
            flush=True,
        )
    return rows


# ---- (b) GEMM ----
def bench_gemm(torch, cupy, sizes, repeats):
    rows = []
    rng = np.random.default_rng(0)
    for dtype in ("float32", "float64"):
        for n in sizes:
            A = rng.standard_normal((n, n)).astype(dtype)
            B = rng.standard_normal((n, n)).astype(dtype)
            A64, B64 = A.astype(np.float64), B.astype(np.float64)
            impls = {}  # label -> (call, sync, to NumPy)
            pA, pB = pyad.from_numpy(A).to(gpu.DEVICE), pyad.from_numpy(B).to(gpu.DEVICE)
            backend = pyad.cuda.matmul_backend()
            impls["pyad kernel"] = (lambda pA=pA, pB=pB: pA @ pB, pyad.cuda.synchronize, lambda t: t.cpu().numpy())
            if backend == "cublas":
                impls["pyad (cuBLAS)"] = impls["pyad kernel"]
            if torch is not None:
                tA, tB = torch.from_numpy(A).to(gpu.DEVICE), torch.from_numpy(B).to(gpu.DEVICE)
                impls["torch (cuBLAS)"] = (lambda: tA @ tB, torch.cuda.synchronize, lambda t: t.cpu().numpy())
            if cupy is not None:
                cA, cB = cupy.asarray(A), cupy.asarray(B)
                impls["cupy (cuBLAS)"] = (lambda: cA @ cB, cupy.cuda.Device().synchronize, cupy.asnumpy)
            row = {"n": n, "dtype": dtype, "flops": 2 * n**3}
            for label, (call, sync, host) in impls.items():
                if label.startswith("pyad"):
                    pyad.cuda.set_matmul_backend("pyad" if label == "pyad kernel" else "cublas")
                try:
                    C = call()
                    err = gpu._gemm_check(C, host, A64, B64)
                    del C
                    t = per_call(call, sync, repeats)
                    row[label] = {
                        "s": t,
                        "TFLOPs": 2 * n**3 / t / 1e12,
                        "max_rel_error": err,
                        "ok": bool(err <= TOL[dtype]),
                    }
                except Exception as e:  # noqa: BLE001 - recorded, and the run goes on
                    row[label] = {
                        "s": float("nan"),
                        "TFLOPs": float("nan"),
                        "max_rel_error": float("nan"),
                        "ok": False,
                        "error": f"{type(e).__name__}: {e}",
                    }
                finally:
                    if label.startswith("pyad"):
                        pyad.cuda.set_matmul_backend(backend)
            cublas = [v["s"] for k, v in row.items() if isinstance(v, dict) and "cuBLAS" in k and v["ok"]]
            if cublas and row["pyad kernel"]["ok"]:
                row["pyad_kernel_fraction_of_cublas"] = min(cublas) / row["pyad kernel"]["s"]
            rows.append(row)
            parts = [
                f"{k} {v['TFLOPs']:6.2f} TFLOP/s"
                + ("" if v["ok"] else f" FAILED ({v.get('error') or 'error ' + format(v['max_rel_error'], '.2g')})")
                for k, v in row.items()
                if isinstance(v, dict)
            ]
            frac = (
                f"; pyad kernel at {row['pyad_kernel_fraction_of_cublas']:.2f} of cuBLAS"
                if "pyad_kernel_fraction_of_cublas" in row
                else ""
            )
            print(f"  n={n:5d} {dtype}: " + ", ".join(parts) + frac, flush=True)
            del impls, pA, pB
            if torch is not None:
                del tA, tB
            if cupy is not None:
                del cA, cB
            gpu._free(torch, cupy)
    return rows


# ---- (c) launch overhead ----
def _mlp_step(lib, from_np, params_np, X, Y, batch):
    params = [from_np(p.copy()).to(gpu.DEVICE).requires_grad_() for p in params_np]
    xb, yb = from_np(X).to(gpu.DEVICE), from_np(Y).to(gpu.DEVICE)

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


def bench_overhead(torch, repeats, n=1000, batch=64):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    m = rng.standard_normal((16, 16)).astype(np.float32)
    params_np = [
        (rng.standard_normal((784, 256)) / 28).astype(np.float32),
        np.zeros(256, np.float32),
        (rng.standard_normal((256, 10)) / 16).astype(np.float32),
        np.zeros(10, np.float32),
    ]
    X = rng.standard_normal((batch, 784)).astype(np.float32)
    Y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, batch)]

    def ops(lib, from_np):
        a, b, mm = (from_np(v).to(gpu.DEVICE) for v in (x, y, m))
        return {
            "add": lambda: a + b,
            "mul": lambda: a * b,
            "sigmoid": lambda: lib.sigmoid(a),
            "sum": lambda: a.sum(),
            "matmul 16x16": lambda: mm @ mm,
            "MLP step (fwd+bwd+SGD)": _mlp_step(lib, from_np, params_np, X, Y, batch),
        }

    p_ops = ops(pyad, pyad.from_numpy)
    t_ops = ops(torch, torch.from_numpy) if torch is not None else None
    rows = []
    for name, pcall in p_ops.items():
        row = {"op": name}
        rows.append(row)
        try:
            if name.startswith("MLP"):  # the first step from the same weights: the same loss
                lp = float(pcall().item())
                row["pyad_first_loss"] = lp
                if t_ops is not None:
                    lt = float(t_ops[name]().item())
                    row.update(torch_first_loss=lt, ok=bool(abs(lp - lt) <= 1e-4 * max(1.0, abs(lt))))
            t = per_call(pcall, pyad.cuda.synchronize, repeats, target_s=0.1)
            row["pyad_us"] = t * 1e6
            if t_ops is not None:
                t2 = per_call(t_ops[name], torch.cuda.synchronize, repeats, target_s=0.1)
                row.update(torch_us=t2 * 1e6, pyad_over_torch=t / t2)
        except Exception as e:  # noqa: BLE001 - recorded, and the run goes on
            row.update(ok=False, error=f"{type(e).__name__}: {e}")
            print(f"  {name:24s} FAILED: {row['error']}", flush=True)
            continue
        torch_part = (
            f"  torch {row['torch_us']:8.2f} us  pyad/torch {row['pyad_over_torch']:.2f}" if t_ops is not None else ""
        )
        flag = "  FAILED (losses differ)" if row.get("ok") is False else ""
        print(f"  {name:24s} pyad {row['pyad_us']:8.2f} us{torch_part}{flag}", flush=True)
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sections", nargs="+", default=["a", "b", "c"], choices=["a", "b", "c"])
    p.add_argument("--gemm-n", type=int, nargs="+", default=[1024, 4096, 8192])
    p.add_argument("--repeats", type=int, default=9, help="timed batches per measurement (median)")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--no-cupy", action="store_true")
    p.add_argument("--json", default=None, help="default: benchmarks/results/bench-cuda-<GPU name>.json")
    args = p.parse_args()
    reason = gpu.unavailable_reason()
    if reason:
        print(f"bench_cuda.py: no GPU to benchmark: {reason}", file=sys.stderr)
        return 1
    torch = None if args.no_torch else gpu._torch()
    cupy = None if args.no_cupy else gpu._cupy()
    if not args.no_torch and torch is None:
        print("torch with CUDA is not available: pyad only")
    info = gpu.meta(torch, cupy)
    print(
        f"{info['gpu']}, driver {info['driver_version']}, pyad matmul backend {info['pyad_matmul_backend']}", flush=True
    )
    out = {"meta": info}
    t0 = time.time()
    bw = gpu.copy_bandwidth(torch, cupy, args.repeats)
    out["copy_bandwidth_Bps"] = bw
    best = max(bw.values())
    print(
        "device-to-device copy bandwidth (read + write): "
        + ", ".join(f"{k} {v / 1e9:.0f} GB/s" for k, v in bw.items()),
        flush=True,
    )
    if "a" in args.sections:
        print(
            f"(a) bandwidth on {N_ELEMENTS} float32 elements (fraction of the best copy, {best / 1e9:.0f} GB/s):",
            flush=True,
        )
        out["bandwidth"] = bench_bandwidth(torch, best, args.repeats)
        gpu._free(torch, cupy)
    if "b" in args.sections:
        print("(b) GEMM n x n x n:", flush=True)
        out["gemm"] = bench_gemm(torch, cupy, args.gemm_n, args.repeats)
    if "c" in args.sections:
        print("(c) per-op overhead on small tensors:", flush=True)
        out["overhead"] = bench_overhead(torch, args.repeats)
    out["meta"]["wall_s"] = time.time() - t0
    if args.json:
        path = Path(args.json)
    else:
        name = re.sub(r"[^A-Za-z0-9.]+", "-", info["gpu"]).strip("-")
        path = Path(__file__).resolve().parent / "results" / f"bench-cuda-{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        json.dump(out, fh, indent=1)
    print(f"results written to {path}")
    failed = [r["op"] for r in out.get("bandwidth", []) + out.get("overhead", []) if r.get("ok") is False]
    failed += [
        f"GEMM {k} n={r['n']} {r['dtype']}"
        for r in out.get("gemm", [])
        for k, v in r.items()
        if isinstance(v, dict) and not v["ok"]
    ]
    if failed:
        print("FAILED checks: " + "; ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
