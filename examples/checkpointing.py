"""Gradient checkpointing on an L-layer tanh MLP: peak memory and time of forward + backward without
checkpointing, with sqrt(L) segments (checkpoint_sequential) and with the optimal binomial schedule
(checkpoint_revolve, sqrt(L) slots). The gradients are the same in all three.

Memory against depth: without checkpointing backward keeps every layer's activation, so the peak grows by
one activation per layer; with k = sqrt(L) segments it keeps the L/k segment inputs plus one segment's k
activations, 2 sqrt(L), so the peak grows by two activations per unit of sqrt(L). Both slopes are fitted
below (a constant, the input and the gradient buffers, comes on top); the plot (checkpointing.png in --out)
shows the peaks with the two theory curves.

Usage: python examples/checkpointing.py [--quick] [--layers 16 36 64] [--out DIR]
"""

import argparse
import gc
import math
import os
import statistics
import time

import numpy as np

import pyad
from pyad.utils.checkpoint import checkpoint_revolve, checkpoint_sequential, revolve_evaluations


def make_mlp(n_layers, width, seed=0):
    pyad.manual_seed(seed)
    weights = [pyad.randn(width, width) / math.sqrt(width) for _ in range(n_layers)]
    return [lambda x, W=W: pyad.tanh(x @ W) for W in weights]


def chain(layers, x):
    for f in layers:
        x = f(x)
    return x


STRATEGIES = {
    "none": lambda layers, x, k: chain(layers, x),
    "sqrt(L) segments": lambda layers, x, k: checkpoint_sequential(layers, k, x),
    "revolve": lambda layers, x, k: checkpoint_revolve(layers, x, k),
}


def measure(strategy, layers, x0, k, repeats):
    """(peak bytes above the baseline, median seconds, input gradient) of forward + backward."""
    run = STRATEGIES[strategy]
    times, peak, grad = [], 0, None
    for _ in range(repeats):
        x = x0.detach().clone().requires_grad_(True)
        gc.collect()
        base = pyad.memory_allocated()
        pyad.reset_peak_memory_stats()
        t0 = time.perf_counter()
        run(layers, x, k).sum().backward()
        times.append(time.perf_counter() - t0)
        peak = max(peak, pyad.max_memory_allocated() - base)
        grad = x.grad
    return peak, statistics.median(times), grad


def slope(rows, strategy, of):
    """Least-squares slope of the peak (in activations) against of(L)."""
    rs = [r for r in rows if r["strategy"] == strategy]
    return float(np.polyfit([of(r["layers"]) for r in rs], [r["activations"] for r in rs], 1)[0])


def main(quick=False, layer_counts=None, width=None, batch=32, repeats=None, out="."):
    layer_counts = layer_counts or ([4, 9, 16] if quick else [16, 36, 64])
    width = width or (64 if quick else 512)
    repeats = repeats or (1 if quick else 3)
    act = batch * width * 4  # bytes of one float32 activation
    rows = []
    print(
        f"tanh MLP, width {width}, batch {batch}, float32; one activation = {act / 1024:.0f} KiB; "
        f"{pyad.get_num_threads()} threads"
    )
    print(
        f"{'L':>4} {'strategy':<17} {'peak MiB':>9} {'activations':>12} {'time ms':>9} {'x plain':>8} "
        f"{'layer calls':>12}"
    )
    for L in layer_counts:
        layers = make_mlp(L, width)
        k = max(1, math.isqrt(L))
        x0 = pyad.randn(batch, width)
        ref = None
        for name in STRATEGIES:
            peak, t, g = measure(name, layers, x0, k, repeats)
            if ref is None:
                ref, t_plain = g, t
            assert np.array_equal(g.numpy(), ref.numpy()), f"{name}: gradient differs from the plain run"
            calls = {"none": L, "sqrt(L) segments": 2 * L - math.ceil(L / k), "revolve": revolve_evaluations(L, k)}[
                name
            ]
            rows.append(
                dict(layers=L, strategy=name, peak_bytes=peak, activations=peak / act, seconds=t, layer_calls=calls)
            )
            print(
                f"{L:4d} {name:<17} {peak / 2**20:9.2f} {peak / act:12.1f} {t * 1e3:9.1f} {t / t_plain:8.2f} "
                f"{calls:12d}"
            )
    slopes = {"none": slope(rows, "none", float), "sqrt(L) segments": slope(rows, "sqrt(L) segments", math.sqrt)}
    print(
        f"activations kept per layer without checkpointing: {slopes['none']:.2f} (theory 1); "
        f"per unit of sqrt(L) with sqrt(L) segments: {slopes['sqrt(L) segments']:.2f} (theory 2)"
    )
    plot = os.path.join(out, "checkpointing.png") if out else None
    if plot:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("(matplotlib is not installed: no plot)")
        else:
            fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
            for name in STRATEGIES:
                rs = [r for r in rows if r["strategy"] == name]
                ax1.plot([r["layers"] for r in rs], [r["activations"] for r in rs], "o-", label=name)
                ax2.plot([r["layers"] for r in rs], [r["seconds"] * 1e3 for r in rs], "o-", label=name)
            Ls = np.array(sorted({r["layers"] for r in rows}), dtype=float)
            ax1.plot(Ls, Ls, "k:", lw=1, label="L (theory, no checkpointing)")
            ax1.plot(Ls, 2 * np.sqrt(Ls), "k--", lw=1, label="2 sqrt(L) (theory, sqrt(L) segments)")
            ax1.set(xlabel="layers L", ylabel="peak memory (activations)", title="peak memory")
            ax2.set(xlabel="layers L", ylabel="forward + backward (ms)", title="time")
            ax1.legend()
            fig.tight_layout()
            fig.savefig(plot, dpi=100)
            plt.close(fig)
            print("wrote", plot)
    return dict(rows=rows, slopes=slopes, plot=plot)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small L and width")
    ap.add_argument("--layers", type=int, nargs="+", help="layer counts (default 16 36 64; quick 4 9 16)")
    ap.add_argument("--width", type=int)
    ap.add_argument("--out", default=".", help="folder for the plot (needs matplotlib); '' for none")
    a = ap.parse_args()
    main(quick=a.quick, layer_counts=a.layers, width=a.width, out=a.out)
