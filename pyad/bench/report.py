"""What the main job reports: the machine it ran on, the table, the plot."""

import os
import platform
import sys

import numpy as np

import pyad

from . import experiment


def cpu_model():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas_libraries():
    """Each BLAS loaded in this process (pyad's, NumPy's, torch's) as threadpoolctl sees it."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [
        {k: lib.get(k) for k in ("internal_api", "version", "num_threads", "architecture", "filepath")}
        for lib in threadpool_info()
        if lib.get("user_api") == "blas"
    ]


def machine(threads, torch=None):
    import scipy_openblas32

    info = {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "threads": threads,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "blas": {"pyad": scipy_openblas32.get_openblas_config(), "loaded": _blas_libraries()},
    }
    versions = {"pyad": pyad.__version__, "numpy": np.__version__}
    if torch is not None:
        versions["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    return info, versions


def table(rows, d):
    torch_ref = {
        r["mode"]: r["median_s"] for r in rows if r["method"] in ("torch reverse (autograd)", "torch.func.jacfwd")
    }
    rev = next(r["median_s"] for r in rows if r["method"] == "pyad reverse (grad)")
    lines = [
        f"d = {d}",
        f"{'method':28s} {'median':>11s} {'spread (IQR)':>13s} {'vs torch':>9s} {'vs pyad grad':>13s} "
        f"{'model flops':>12s}",
    ]
    for r in rows:
        ref = torch_ref.get("forward" if r["mode"] == "forward" else "reverse")
        vs_torch = f"{r['median_s'] / ref:8.2f}x" if ref else "        -"
        lines.append(
            f"{r['method']:28s} {r['median_s'] * 1e3:9.2f}ms {r['iqr_s'] * 1e3:11.2f}ms {vs_torch} "
            f"{r['median_s'] / rev:12.1f}x {r['model_flops']:12.3g}"
        )
    model = experiment.flops(d, "forward") / experiment.flops(d, "reverse")
    fwd = next(r["median_s"] for r in rows if r["method"] == "pyad forward (jacfwd)")
    lines.append(f"cost model: forward/reverse = {model:.0f}x the flops; measured pyad jacfwd/grad = {fwd / rev:.0f}x")
    auto = next(r for r in rows if r["mode"] == "auto")
    lines.append(f"jacobian(mode='auto') chose {auto.get('chosen_mode')} mode (n = {d} inputs, m = 1 output)")
    worst = max(rows, key=lambda r: r["max_rel_error"])
    lines.append(
        f"checks: every method agrees with the NumPy reverse pass (worst relative error "
        f"{worst['max_rel_error']:.1e}, {worst['method']}; tolerance {worst['tolerance']:g})"
    )
    return "\n".join(lines)


def plot(results, path, title="Jacobian of sum(sigmoid(B sigmoid(A x))): forward vs reverse mode"):
    """Time against d, log-log, one line per method, with the flop model's slopes (d^2 for reverse mode,
    d^3 for forward mode) drawn through pyad's largest measured point. Returns the path, or None without
    matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for method in dict.fromkeys(r["method"] for r in results):
        pts = sorted((r["d"], r["median_s"]) for r in results if r["method"] == method)
        style = "-" if "forward" in method or "jacfwd" in method else "--"
        ax.plot([p[0] for p in pts], [p[1] for p in pts], style, marker="o", label=method)
    ds = sorted({r["d"] for r in results})
    if len(ds) > 1:
        for name, mode, slope in (("pyad reverse (grad)", "reverse", 2), ("pyad forward (jacfwd)", "forward", 3)):
            anchor = [r for r in results if r["method"] == name and r["d"] == ds[-1]]
            if anchor:
                rate = anchor[0]["median_s"] / experiment.flops(ds[-1], mode)
                ax.plot(
                    ds,
                    [rate * experiment.flops(d, mode) for d in ds],
                    ":",
                    color="grey",
                    linewidth=2,
                    label=f"flop model, {mode} (slope {slope})",
                )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(ds, [str(d) for d in ds])
    ax.minorticks_off()
    ax.set_xlabel("d")
    ax.set_ylabel("median time (s)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
