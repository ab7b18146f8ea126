"""Gradient checkpointing and custom Function overhead: pyad against torch on the CPU, side by side in one run
with the same thread count (medians of interleaved runs).

(a) an L-layer tanh MLP (width 512, batch 32, float32; input with grad, weights first without grad, then
    with grad), forward + backward: plain, and checkpoint_sequential with sqrt(L) segments (torch:
    torch.utils.checkpoint.checkpoint_sequential, use_reentrant=False); the time ratio checkpointed / plain
    (target <= 1.4 for pyad) next to its floor (the ratio if recomputation cost exactly a no-grad forward), and
    the peak memory above the baseline: pyad.max_memory_allocated; torch has no CPU allocator statistics, so
    its peak is replayed from the profiler's memory timeline (torch.profiler with profile_memory=True and the
    private torch.profiler._memory_profiler), in a separate untimed run. pyad's checkpoint_revolve with sqrt(L)
    slots is shown too.
(b) custom Function overhead: a chain of N identity Functions (forward returns x * 1.0, backward returns the
    gradient) on 16 elements, apply + backward, per call, pyad against torch (target <= 1.2x torch); and
    the same for a built-in op (x * 1.0) for reference.

Usage: python benchmarks/bench_checkpoint.py [--layers 16 32 64] [--repeats 7] [--threads 1] [--json out.json]
"""

import argparse
import gc
import json
import math
import platform

import numpy as np
import torch
import torch.utils.checkpoint as tcp
from _timing import interleaved  # benchmarks/_timing.py (run as python benchmarks/NAME.py)

import pyad
from pyad.utils.checkpoint import checkpoint_revolve, checkpoint_sequential

WIDTH, BATCH = 512, 32
ACT = WIDTH * BATCH * 4


# ---------------------------------------------------------------- (a) checkpointing
def make_layers(L, weights_grad=False, seed=0):
    rng = np.random.default_rng(seed)
    ws = [(rng.standard_normal((WIDTH, WIDTH)) / math.sqrt(WIDTH)).astype(np.float32) for _ in range(L)]
    x0 = rng.standard_normal((BATCH, WIDTH)).astype(np.float32)
    p_ws = [pyad.from_numpy(w).requires_grad_(weights_grad) for w in ws]
    t_ws = [torch.from_numpy(w).requires_grad_(weights_grad) for w in ws]
    p_layers = [lambda x, W=W: pyad.tanh(x @ W) for W in p_ws]
    t_layers = [lambda x, W=W: torch.tanh(x @ W) for W in t_ws]
    return p_layers, t_layers, x0


def chain(layers, x):
    for f in layers:
        x = f(x)
    return x


def pyad_run(kind, layers, x0, k):
    x = pyad.from_numpy(x0).requires_grad_(True)
    if kind == "plain":
        y = chain(layers, x)
    elif kind == "sqrt":
        y = checkpoint_sequential(layers, k, x)
    else:
        y = checkpoint_revolve(layers, x, k)
    y.sum().backward()
    return x.grad


def torch_run(kind, layers, x0, k):
    x = torch.from_numpy(x0).requires_grad_(True)
    if kind == "plain":
        y = chain(layers, x)
    else:
        y = tcp.checkpoint_sequential(layers, k, x, use_reentrant=False)
    y.sum().backward()
    return x.grad


def pyad_peak(fn):
    gc.collect()
    base = pyad.memory_allocated()
    pyad.reset_peak_memory_stats()
    fn()
    return pyad.max_memory_allocated() - base


def torch_peak(fn):
    """Peak bytes allocated while fn runs, replayed from torch.profiler's memory timeline (CPU); None if this
    torch cannot report it."""
    try:
        from torch.profiler import ProfilerActivity, profile
        from torch.profiler._memory_profiler import Action

        with profile(
            activities=[ProfilerActivity.CPU], profile_memory=True, record_shapes=True, with_stack=True
        ) as prof:
            fn()
        cur = peak = 0
        for _, action, _, size in sorted(prof._memory_profile().timeline, key=lambda e: e[0]):
            if action == Action.CREATE:
                cur += size
            elif action == Action.DESTROY:
                cur -= size
            peak = max(peak, cur)
        return peak
    except Exception as e:  # noqa: BLE001 (a private API: report, do not fail)
        print(f"torch cannot report CPU peak memory here ({type(e).__name__}: {e})")
        return None


def pyad_forward_nograd(layers, x0):
    with pyad.no_grad():
        return chain(layers, pyad.from_numpy(x0))


def recompute_floor(t_forward, t_plain, L, k):
    """The ratio checkpointed / plain if recomputing the checkpointed segments cost exactly their forward
    time: the segments but the last (torch's and pyad's convention) run twice."""
    size = -(-L // k)
    recomputed = L - (L - size * ((L - 1) // size))
    return 1 + t_forward * recomputed / L / t_plain


def bench_checkpoint(L, repeats, weights_grad=False, memory=True):
    p_layers, t_layers, x0 = make_layers(L, weights_grad)
    k = max(1, math.isqrt(L))
    ref = torch_run("plain", t_layers, x0, k).numpy()
    for kind in ("plain", "sqrt", "revolve"):
        g = pyad_run(kind, p_layers, x0, k).numpy()
        np.testing.assert_allclose(g, ref, rtol=1e-4, atol=1e-5, err_msg=f"pyad {kind} gradient vs torch")
    np.testing.assert_allclose(torch_run("sqrt", t_layers, x0, k).numpy(), ref, rtol=1e-5, atol=1e-6)
    t = interleaved(
        {
            "pyad_plain": lambda: pyad_run("plain", p_layers, x0, k),
            "pyad_sqrt": lambda: pyad_run("sqrt", p_layers, x0, k),
            "pyad_revolve": lambda: pyad_run("revolve", p_layers, x0, k),
            "torch_plain": lambda: torch_run("plain", t_layers, x0, k),
            "torch_sqrt": lambda: torch_run("sqrt", t_layers, x0, k),
            "pyad_forward_nograd": lambda: pyad_forward_nograd(p_layers, x0),
        },
        repeats,
    )
    r = {"L": L, "segments": k, "weights_grad": weights_grad}
    r.update({f"{key}_ms": v * 1e3 for key, v in t.items()})
    r["pyad_sqrt/plain"] = t["pyad_sqrt"] / t["pyad_plain"]
    r["pyad_revolve/plain"] = t["pyad_revolve"] / t["pyad_plain"]
    r["torch_sqrt/plain"] = t["torch_sqrt"] / t["torch_plain"]
    r["pyad_plain/torch_plain"] = t["pyad_plain"] / t["torch_plain"]
    r["pyad_sqrt_floor"] = recompute_floor(t["pyad_forward_nograd"], t["pyad_plain"], L, k)
    if memory:
        for kind in ("plain", "sqrt", "revolve"):
            r[f"pyad_{kind}_peak_bytes"] = pyad_peak(lambda: pyad_run(kind, p_layers, x0, k))
        for kind in ("plain", "sqrt"):
            r[f"torch_{kind}_peak_bytes"] = torch_peak(lambda: torch_run(kind, t_layers, x0, k))
    return r


# ---------------------------------------------------------------- (b) custom Function overhead
class PyadIdentity(pyad.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 1.0

    @staticmethod
    def backward(ctx, grad):
        return grad


class TorchIdentity(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 1.0

    @staticmethod
    def backward(ctx, grad):
        return grad


def bench_function_overhead(repeats, n=2000):
    xn = np.random.default_rng(1).standard_normal(16)

    def run(lib_from, apply):
        def go():
            x = lib_from(xn).requires_grad_(True)
            y = x
            for _ in range(n):
                y = apply(y)
            y.sum().backward()
            return x.grad

        return go

    fns = {
        "pyad_function": run(pyad.from_numpy, PyadIdentity.apply),
        "torch_function": run(torch.from_numpy, TorchIdentity.apply),
        "pyad_builtin": run(pyad.from_numpy, lambda v: v * 1.0),
        "torch_builtin": run(torch.from_numpy, lambda v: v * 1.0),
    }
    np.testing.assert_array_equal(fns["pyad_function"]().numpy(), np.ones(16))
    np.testing.assert_array_equal(fns["torch_function"]().numpy(), np.ones(16))
    t = interleaved(fns, repeats)
    r = {f"{k}_us_per_call": v / n * 1e6 for k, v in t.items()}
    r["pyad/torch_function"] = t["pyad_function"] / t["torch_function"]
    r["pyad/torch_builtin"] = t["pyad_builtin"] / t["torch_builtin"]
    r["calls_per_run"] = n
    return r


def fmt_peak(b):
    return "n/a" if b is None else f"{b / 2**20:7.2f} MiB ({b / ACT:5.1f} act)"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layers", type=int, nargs="+", default=[16, 32, 64])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    pyad.set_num_threads(args.threads)
    out = {
        "threads": args.threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "width": WIDTH,
        "batch": BATCH,
        "repeats": args.repeats,
        "torch_peak_memory_method": "torch.profiler memory timeline (profile_memory=True, private "
        "torch.profiler._memory_profiler); torch has no CPU allocator statistics",
    }
    print(
        f"threads: {args.threads}; torch {torch.__version__}; tanh MLP width {WIDTH}, batch {BATCH}, float32; "
        f"one activation = {ACT // 1024} KiB; medians of {args.repeats} interleaved runs"
    )
    header = (
        f"{'L':>4} {'k':>3} | {'pyad plain':>10} {'pyad sqrt':>16} {'floor':>5} {'pyad revolve':>16} | "
        f"{'torch plain':>11} {'torch sqrt':>16} | {'pyad/torch plain':>16}"
    )
    for weights_grad in (False, True):
        what = (
            "weights require grad too (training)" if weights_grad else "only the input requires grad (weights do not)"
        )
        print(
            f"(a) forward + backward, {what}: ms (ratio to the same library's plain run; floor: the ratio if "
            "recomputation cost exactly the no-grad forward)"
        )
        print(header)
        rows = []
        for L in args.layers:
            r = bench_checkpoint(L, args.repeats, weights_grad, memory=not weights_grad)
            rows.append(r)
            print(
                f"{L:4d} {r['segments']:3d} | {r['pyad_plain_ms']:10.1f} {r['pyad_sqrt_ms']:9.1f} "
                f"({r['pyad_sqrt/plain']:4.2f}x) {r['pyad_sqrt_floor']:5.2f} {r['pyad_revolve_ms']:9.1f} "
                f"({r['pyad_revolve/plain']:4.2f}x) | {r['torch_plain_ms']:11.1f} {r['torch_sqrt_ms']:9.1f} "
                f"({r['torch_sqrt/plain']:4.2f}x) | {r['pyad_plain/torch_plain']:16.2f}"
            )
        worst = max(r["pyad_sqrt/plain"] for r in rows)
        print(
            f"    pyad sqrt(L) checkpointing / plain: worst {worst:.2f}x (target <= 1.4x): "
            f"{'met' if worst <= 1.4 else 'NOT met'}"
        )
        key = "train" if weights_grad else "input_only"
        out["checkpoint_" + key] = rows
        out[f"pyad_sqrt/plain_worst_{key}"] = worst
    print(
        "    peak memory above the baseline, only the input requiring grad (pyad: max_memory_allocated; torch: "
        + out["torch_peak_memory_method"]
        + ")"
    )
    for r in out["checkpoint_input_only"]:
        print(
            f"{r['L']:4d}   pyad plain {fmt_peak(r['pyad_plain_peak_bytes'])}, sqrt "
            f"{fmt_peak(r['pyad_sqrt_peak_bytes'])}, revolve {fmt_peak(r['pyad_revolve_peak_bytes'])}"
        )
        print(
            f"{'':4}   torch plain {fmt_peak(r['torch_plain_peak_bytes'])}, sqrt {fmt_peak(r['torch_sqrt_peak_bytes'])}"
        )

    r = bench_function_overhead(args.repeats)
    out["function_overhead"] = r
    print(
        f"(b) identity custom Function, apply + backward per call ({r['calls_per_run']} chained calls): "
        f"pyad {r['pyad_function_us_per_call']:.2f} us, torch {r['torch_function_us_per_call']:.2f} us -> "
        f"pyad/torch {r['pyad/torch_function']:.2f} (target <= 1.2: "
        f"{'met' if r['pyad/torch_function'] <= 1.2 else 'NOT met'})"
    )
    print(
        f"    built-in x * 1.0 for reference: pyad {r['pyad_builtin_us_per_call']:.2f} us, torch "
        f"{r['torch_builtin_us_per_call']:.2f} us -> pyad/torch {r['pyad/torch_builtin']:.2f}"
    )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)
        print("wrote", args.json)


if __name__ == "__main__":
    main()
