"""python -m pyad.bench --device cuda: forward versus reverse mode on a GPU.

f(x) = sum(sigmoid(B @ sigmoid(A @ x))), A and B d x d (default d = 8000), in float64 and in float32. Timed:
pyad's grad (reverse), jacfwd (forward: one d x d x d product) and jacobian(mode="auto"); torch CUDA autograd and
torch.func.jacfwd when torch sees a GPU; hand-written CuPy forward (one GEMM) and reverse (two gemvs back) passes
when CuPy imports. Every result is checked against a float64 NumPy reverse pass on the same (rounded) data.

References: the floor for grad is reading A and B twice (4 d^2 itemsize bytes) at the device-to-device copy
bandwidth measured here (a copy of 1 GiB, counting its read and its write); jacfwd is set against one d^3 GEMM by
cuBLAS (torch's or CuPy's a @ b), and, when pyad uses cuBLAS, pyad's own GEMM kernel against cuBLAS.
Kernels run asynchronously: every timed call ends with a device synchronize; medians after two warm-up calls.
torch and CuPy are imported only here, inside functions.
"""

import json
import platform
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

import pyad
import pyad.func as pf

from . import experiment

DEVICE = "cuda"  # where pyad, torch and CuPy put their arrays
TOLERANCE = {"float64": 1e-9, "float32": 1e-4}  # max |error| / max |reference|, against a float64 reference
MODE = dict(experiment.MODE, **{"cupy reverse (hand-written)": "reverse", "cupy forward (hand-written)": "forward"})


# ---- the optional libraries, imported lazily ----
def _torch():
    """torch when it is installed and sees a GPU, else None."""
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def _cupy():
    """CuPy when it imports and sees a GPU, else None."""
    try:
        import cupy

        cupy.cuda.runtime.getDeviceCount()
    except Exception:  # noqa: BLE001 - ImportError, or a CuPy that finds no driver/GPU: leave it out
        return None
    return cupy


def _syncs(torch, cupy):
    out = {"pyad": pyad.cuda.synchronize}
    if torch is not None:
        out["torch"] = torch.cuda.synchronize
    if cupy is not None:
        out["cupy"] = cupy.cuda.Device().synchronize
    return out


def time_gpu(fn, sync, repeats, slow_after=1.0):
    """(first result, median seconds, all times) of fn() + sync() after two warm-up calls; calls slower than
    `slow_after` seconds get at most 3 timed runs."""
    result = fn()
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    second = time.perf_counter() - t0
    n = min(repeats, 3) if second > slow_after else repeats
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return result, statistics.median(times), times


def _repeat(fn, k):
    def run():
        for _ in range(k):
            fn()

    return run


def copy_bandwidth(torch, cupy, repeats, nbytes=2**30, k=8):
    """Device-to-device copy bandwidth (bytes/s, the read and the write of each byte both counted) of a 1 GiB
    float32 copy (k copies per synchronize), by every library at hand: {"pyad clone": ..., "torch copy_": ...,
    "cupy copyto": ...}."""
    n = nbytes // 4
    moved = 2 * nbytes * k
    out = {}
    src = pyad.rand(n, dtype=pyad.float32, device=DEVICE)
    out["pyad clone"] = moved / time_gpu(_repeat(src.clone, k), pyad.cuda.synchronize, repeats)[1]
    del src
    if torch is not None:
        src = torch.rand(n, dtype=torch.float32, device=DEVICE)
        dst = torch.empty_like(src)
        out["torch copy_"] = moved / time_gpu(_repeat(lambda: dst.copy_(src), k), torch.cuda.synchronize, repeats)[1]
        del src, dst
    if cupy is not None:
        src = cupy.random.random(n, dtype=cupy.float32)
        dst = cupy.empty_like(src)
        out["cupy copyto"] = (
            moved / time_gpu(_repeat(lambda: cupy.copyto(dst, src), k), cupy.cuda.Device().synchronize, repeats)[1]
        )
        del src, dst
    _free(torch, cupy)
    return out


def _free(torch, cupy):
    pyad.cuda.synchronize()
    pyad.cuda.empty_cache()
    if torch is not None:
        torch.cuda.empty_cache()
    if cupy is not None:
        cupy.get_default_memory_pool().free_all_blocks()


# ---- the methods: name -> (call, sync, to NumPy) ----
def pyad_methods(pA, pB, px):
    def f(v):
        return pyad.sigmoid(pB @ pyad.sigmoid(pA @ v)).sum()

    sync, host = pyad.cuda.synchronize, lambda t: t.cpu().numpy()
    auto = pf.jacobian(f)  # its last_mode says which mode the last call chose

    def jacobian_auto():
        return auto(px)

    jacobian_auto.jacobian = auto  # type: ignore[attr-defined]
    return {
        "pyad reverse (grad)": (lambda: pf.grad(f)(px), sync, host),
        "pyad forward (jacfwd)": (lambda: pf.jacfwd(f)(px), sync, host),
        "pyad jacobian(auto)": (jacobian_auto, sync, host),
    }


def torch_methods(torch, tA, tB, tx):
    def f(v):
        return torch.sigmoid(tB @ torch.sigmoid(tA @ v)).sum()

    def reverse():
        xt = tx.detach().requires_grad_(True)
        f(xt).backward()
        return xt.grad

    sync, host = torch.cuda.synchronize, lambda t: t.detach().cpu().numpy()
    return {
        "torch reverse (autograd)": (reverse, sync, host),
        "torch.func.jacfwd": (lambda: torch.func.jacfwd(f)(tx), sync, host),
    }


def cupy_methods(cupy, cA, cB, cx):
    def sig(z):
        return 1 / (1 + cupy.exp(-z))

    def reverse():
        s1 = sig(cA @ cx)
        s2 = sig(cB @ s1)
        g1 = (cB.T @ (s2 * (1 - s2))) * (s1 * (1 - s1))  # the two gemvs back
        return cA.T @ g1

    def forward():
        s1 = sig(cA @ cx)
        s2 = sig(cB @ s1)
        z2 = (s1 * (1 - s1))[:, None] * cA  # J of sigmoid(A x): all d directions
        return (s2 * (1 - s2)) @ (cB @ z2)  # the one d x d x d GEMM, then a vector-matrix product

    sync = cupy.cuda.Device().synchronize
    return {
        "cupy reverse (hand-written)": (reverse, sync, cupy.asnumpy),
        "cupy forward (hand-written)": (forward, sync, cupy.asnumpy),
    }


def _rel_error(result, reference):
    r = np.asarray(result, dtype=np.float64).reshape(-1)
    if r.shape != reference.shape:
        return float("inf")
    return float(np.max(np.abs(r - reference)) / max(1e-300, np.max(np.abs(reference))))


def _gemm_check(C, host, A64, B64, rows=8):
    """Relative error of the first and last `rows` rows of a GEMM result C = A @ B against float64 NumPy."""
    d = A64.shape[0]
    got = np.concatenate([np.asarray(host(C[:rows]), np.float64), np.asarray(host(C[d - rows : d]), np.float64)])
    ref = np.concatenate([A64[:rows] @ B64, A64[d - rows :] @ B64])
    return float(np.max(np.abs(got - ref)) / max(1e-300, np.max(np.abs(ref))))


def gemm_reference(arrays, A64, B64, syncs, hosts, tol, repeats):
    """Median times of one d x d x d product A @ B: cuBLAS through torch and CuPy, pyad with its current backend,
    and pyad's own kernel when the current backend is cuBLAS. {label: {"median_s", "max_rel_error", "ok"}}."""
    out = {}

    def measure(label, lib, mul):
        try:
            C, med, _ = time_gpu(mul, syncs[lib], repeats)
            err = _gemm_check(C, hosts[lib], A64, B64)
            out[label] = {"median_s": med, "max_rel_error": err, "ok": bool(err <= tol)}
        except Exception as e:  # noqa: BLE001 - recorded, and the run goes on
            out[label] = {
                "median_s": float("nan"),
                "max_rel_error": float("nan"),
                "ok": False,
                "error": f"{type(e).__name__}: {e}",
            }

    for lib in ("torch", "cupy"):
        if lib in arrays:
            a, b, _ = arrays[lib]
            measure(f"{lib} (cuBLAS)", lib, lambda: a @ b)
    pA, pB, _ = arrays["pyad"]
    backend = pyad.cuda.matmul_backend()
    measure("pyad (cuBLAS)" if backend == "cublas" else "pyad (pyad kernel)", "pyad", lambda: pA @ pB)
    if backend == "cublas":
        pyad.cuda.set_matmul_backend("pyad")
        try:
            measure("pyad (pyad kernel)", "pyad", lambda: pA @ pB)
        finally:
            pyad.cuda.set_matmul_backend("cublas")
    return out


def run(d, dtype, repeats, torch, cupy, bandwidth, progress=print):
    """Rows (one per method, as experiment.run's plus dtype, device and ok) and the references for one d, dtype."""
    A, B, x = experiment.make_problem(d, np.dtype(dtype))
    A64, B64, x64 = A.astype(np.float64), B.astype(np.float64), x.astype(np.float64)
    reference = experiment.numpy_reverse(A64, B64, x64)
    tol = TOLERANCE[dtype]
    syncs = _syncs(torch, cupy)
    arrays = {"pyad": tuple(pyad.from_numpy(a).to(DEVICE) for a in (A, B, x))}
    methods = dict(pyad_methods(*arrays["pyad"]))
    if torch is not None:
        arrays["torch"] = tuple(torch.from_numpy(a).to(DEVICE) for a in (A, B, x))
        methods.update(torch_methods(torch, *arrays["torch"]))
    if cupy is not None:
        arrays["cupy"] = tuple(cupy.asarray(a) for a in (A, B, x))
        methods.update(cupy_methods(cupy, *arrays["cupy"]))
    rows = []
    for name, (fn, sync, host) in methods.items():
        progress(f"  d={d} {dtype}: {name} ...")
        mode = MODE[name]
        row = {
            "method": name,
            "mode": mode,
            "d": d,
            "dtype": dtype,
            "device": "cuda",
            "tolerance": tol,
            "model_flops": experiment.flops(d, "forward" if mode == "forward" else "reverse"),
        }
        try:
            result, med, times = time_gpu(fn, sync, repeats)
            err = _rel_error(host(result), reference)
            del result
            row.update(median_s=med, times_s=times, max_rel_error=err, ok=bool(err <= tol))
        except Exception as e:  # noqa: BLE001 - one failing method must not lose the others' results
            row.update(
                median_s=float("nan"),
                times_s=[],
                max_rel_error=float("nan"),
                ok=False,
                error=f"{type(e).__name__}: {e}",
            )
            progress(f"    FAILED: {row['error']}")
        if mode == "auto":
            row["chosen_mode"] = fn.jacobian.last_mode
        rows.append(row)
    progress(f"  d={d} {dtype}: one d^3 GEMM ...")
    hosts = {lib: next(m[2] for name, m in methods.items() if name.startswith(lib)) for lib in arrays}
    gemm = gemm_reference(arrays, A64, B64, syncs, hosts, tol, repeats)
    itemsize = np.dtype(dtype).itemsize
    bw_name, bw = max(bandwidth.items(), key=lambda kv: kv[1])
    cublas = {k: v["median_s"] for k, v in gemm.items() if "cuBLAS" in k and v["ok"]}
    ref = {
        "d": d,
        "dtype": dtype,
        "gemm": gemm,
        "gemm_flops": 2 * d**3,
        "grad_floor_bytes": 4 * d * d * itemsize,
        "copy_bandwidth_Bps": bw,
        "copy_bandwidth_by": bw_name,
        "grad_floor_s": 4 * d * d * itemsize / bw,
    }
    if cublas:
        ref["cublas_gemm_by"], ref["cublas_gemm_s"] = min(cublas.items(), key=lambda kv: kv[1])
    if "pyad (pyad kernel)" in gemm and cublas:
        ref["pyad_kernel_fraction_of_cublas"] = ref["cublas_gemm_s"] / gemm["pyad (pyad kernel)"]["median_s"]
    del arrays, methods
    _free(torch, cupy)
    return rows, ref


def table(rows, ref, gpu_name, backend):
    d, dtype = ref["d"], ref["dtype"]
    torch_ref = {
        r["mode"]: r["median_s"]
        for r in rows
        if r["ok"] and r["method"] in ("torch reverse (autograd)", "torch.func.jacfwd")
    }
    by = {r["method"]: r for r in rows}
    rev = by["pyad reverse (grad)"]["median_s"]
    fwd = by["pyad forward (jacfwd)"]["median_s"]
    lines = [
        f"d = {d}, {dtype}, on {gpu_name} (pyad matmul backend: {backend})",
        f"{'method':28s} {'median':>11s} {'vs torch':>9s} {'vs pyad grad':>13s} {'max rel err':>12s}",
    ]
    for r in rows:
        t = torch_ref.get("forward" if r["mode"] == "forward" else "reverse")
        vs_torch = f"{r['median_s'] / t:8.2f}x" if t else "        -"
        flag = "" if r["ok"] else f"  FAILED ({r.get('error') or 'tolerance %g' % r['tolerance']})"
        lines.append(
            f"{r['method']:28s} {r['median_s'] * 1e3:9.3f}ms {vs_torch} {r['median_s'] / rev:12.1f}x "
            f"{r['max_rel_error']:12.2g}{flag}"
        )
    lines.append(
        f"grad floor: A and B read twice, {ref['grad_floor_bytes'] / 1e9:.3g} GB at "
        f"{ref['copy_bandwidth_Bps'] / 1e9:.0f} GB/s ({ref['copy_bandwidth_by']}) = "
        f"{ref['grad_floor_s'] * 1e3:.3f} ms; pyad grad takes {rev / ref['grad_floor_s']:.2f}x the floor"
    )
    for label, g in ref["gemm"].items():
        flag = "" if g["ok"] else f"  FAILED ({g.get('error') or 'rel error %.2g' % g['max_rel_error']})"
        lines.append(
            f"one d^3 GEMM, {label:20s} {g['median_s'] * 1e3:9.3f}ms "
            f"{ref['gemm_flops'] / g['median_s'] / 1e12:7.2f} TFLOP/s{flag}"
        )
    if "cublas_gemm_s" in ref:
        lines.append(f"pyad jacfwd takes {fwd / ref['cublas_gemm_s']:.2f}x one cuBLAS GEMM ({ref['cublas_gemm_by']})")
    if "pyad_kernel_fraction_of_cublas" in ref:
        lines.append(
            f"pyad's own GEMM kernel runs at {ref['pyad_kernel_fraction_of_cublas']:.2f} of cuBLAS's throughput"
        )
    auto = by["pyad jacobian(auto)"]
    lines.append(f"jacobian(mode='auto') chose {auto.get('chosen_mode')} mode (n = {d} inputs, m = 1 output)")
    return "\n".join(lines)


def _driver_version():
    if not shutil.which("nvidia-smi"):
        return None
    try:
        p = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = p.stdout.strip().splitlines()
    return lines[0].strip() if p.returncode == 0 and lines else None


def meta(torch, cupy):
    m = {
        "gpu": pyad.cuda.get_device_name(),
        "driver_version": _driver_version(),
        "pyad_matmul_backend": pyad.cuda.matmul_backend(),
        "pyad": pyad.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
    if torch is not None:
        m.update(torch=torch.__version__, torch_cuda=torch.version.cuda)
        try:  # TF32 would make torch's float32 products faster and less exact than pyad's
            m["torch_matmul_allow_tf32"] = bool(torch.backends.cuda.matmul.allow_tf32)
            m["torch_matmul_fp32_precision"] = str(getattr(torch.backends.cuda.matmul, "fp32_precision", None))
        except Exception:  # noqa: BLE001 - a torch that changed these settings' API: leave them out
            pass
    if cupy is not None:
        m.update(
            cupy=cupy.__version__,
            cupy_cuda_runtime=cupy.cuda.runtime.runtimeGetVersion(),
            cupy_cuda_driver=cupy.cuda.runtime.driverGetVersion(),
        )
    return m


def unavailable_reason():
    """None when pyad can use a GPU, else the one-line reason."""
    if not pyad.cuda.is_available():
        try:
            pyad.cuda.synchronize()  # raises with the driver's reason
        except RuntimeError as e:
            return str(e)
        return "[cuda] CUDA is not available"
    return None


def main(args, plot=None):
    """The --device cuda run of python -m pyad.bench (args from its parser); returns the exit status."""
    reason = unavailable_reason()
    if reason:
        raise SystemExit(f"pyad-bench: error: --device cuda: {reason}")
    ds = args.d if args.d is not None else [8000]
    dtypes = [args.dtype] if args.dtype else ["float64", "float32"]
    repeats = args.repeats if args.repeats is not None else 20
    path = args.json or "pyad-bench-cuda.json"
    torch = None if args.no_torch else _torch()
    cupy = None if args.no_cupy else _cupy()
    if not args.no_torch and torch is None:
        print("torch with CUDA is not available: no torch comparison")
    if not args.no_cupy and cupy is None:
        print("CuPy is not available: no hand-written CuPy passes")
    t0 = time.time()
    info = meta(torch, cupy)
    print(
        f"{info['gpu']}, driver {info['driver_version']}, pyad matmul backend {info['pyad_matmul_backend']}", flush=True
    )
    bandwidth = copy_bandwidth(torch, cupy, repeats)
    print(
        "device-to-device copy bandwidth (read + write): "
        + ", ".join(f"{k} {v / 1e9:.0f} GB/s" for k, v in bandwidth.items()),
        flush=True,
    )
    results, references = [], []
    for dtype in dtypes:
        for d in ds:
            print(f"d = {d} ({dtype}):", flush=True)
            rows, ref = run(d, dtype, repeats, torch, cupy, bandwidth, progress=lambda s: print(s, flush=True))
            results.extend(rows)
            references.append(ref)
            print(table(rows, ref, info["gpu"], info["pyad_matmul_backend"]), flush=True)
    info.update(device="cuda", dtypes=dtypes, repeats=repeats, copy_bandwidth_Bps=bandwidth, wall_s=time.time() - t0)
    with open(path, "w") as fh:
        json.dump({"meta": info, "results": results, "references": references}, fh, indent=1)
    print(f"results written to {path}")
    if args.plot and plot is not None:
        plot([dict(r, method=f"{r['method']} {r['dtype']}") for r in results], args.plot)
    failed = [f"{r['method']} ({r['dtype']}, d={r['d']})" for r in results if not r["ok"]]
    failed += [
        f"GEMM {k} ({ref['dtype']}, d={ref['d']})" for ref in references for k, g in ref["gemm"].items() if not g["ok"]
    ]
    if failed:
        print("FAILED checks against the float64 reference: " + "; ".join(failed), file=sys.stderr)
        return 1
    return 0
