"""When forward mode beats reverse mode: the Jacobian of f: R^n -> R^m by jacfwd and by jacrev over a grid of
(n, m).

f(x) = W2 tanh(W1 tanh(x)) with a hidden width k. jacfwd pushes n tangents through f (work ~ n), jacrev
pulls m cotangents back (work ~ m): forward mode wins for wide outputs (m > n), reverse mode for wide inputs
(n > m, a gradient is the extreme case m = 1). The table gives both times and their ratio; the plot
(jacobian_crossover.png in --out) colours the grid by it. Both modes' Jacobians agree with each other and
with the closed form W2 diag(1 - tanh^2(a)) W1 diag(1 - tanh^2(x)), a = W1 tanh(x).

Timings on a shared machine are noisy: each is the median of interleaved repeats, on one thread by default
(on a busy machine a second BLAS thread can cost more in waiting than it saves on these small products).

Usage: python examples/jacobian_crossover.py [--quick] [--sizes 4 32 256] [--out DIR]
"""

import argparse
import os
import statistics
import time

import numpy as np

import pyad
from pyad import func


def make_f(n, m, k, rng):
    W1 = pyad.tensor(rng.standard_normal((k, n)) / np.sqrt(n), dtype=pyad.float64)
    W2 = pyad.tensor(rng.standard_normal((m, k)) / np.sqrt(k), dtype=pyad.float64)

    def f(x):
        return W2 @ pyad.tanh(W1 @ pyad.tanh(x))

    def closed_form(x):
        t = np.tanh(x)
        a = W1.numpy() @ t
        return W2.numpy() @ np.diag(1 - np.tanh(a) ** 2) @ W1.numpy() @ np.diag(1 - t**2)

    return f, closed_form


def timed(fn, x):
    t0 = time.perf_counter()
    J = fn(x)
    return time.perf_counter() - t0, J


def measure(n, m, k, repeats, rng):
    f, closed_form = make_f(n, m, k, rng)
    x = pyad.tensor(rng.standard_normal(n), dtype=pyad.float64)
    fwd, rev = func.jacfwd(f), func.jacrev(f)
    t_fwd, t_rev = [], []
    for _ in range(repeats):  # interleaved, so that a slow moment of the machine hits both modes
        t, J_fwd = timed(fwd, x)
        t_fwd.append(t)
        t, J_rev = timed(rev, x)
        t_rev.append(t)
    J_fwd, J_rev = J_fwd.numpy(), J_rev.numpy()
    return dict(
        n=n,
        m=m,
        forward_s=statistics.median(t_fwd),
        reverse_s=statistics.median(t_rev),
        shape=J_fwd.shape,
        fwd_vs_rev=float(np.max(np.abs(J_fwd - J_rev))),
        fwd_vs_closed_form=float(np.max(np.abs(J_fwd - closed_form(x.numpy())))),
    )


def plot(path, rows, sizes):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ratio = np.array([[r["forward_s"] / r["reverse_s"] for r in rows if r["n"] == n] for n in sizes])
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    lim = max(abs(np.log2(ratio)).max(), 1.0)
    im = ax.imshow(np.log2(ratio), cmap="coolwarm", vmin=-lim, vmax=lim, origin="lower")
    for i in range(len(sizes)):
        for j in range(len(sizes)):
            ax.text(j, i, f"{ratio[i, j]:.2g}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(sizes)), [str(s) for s in sizes])
    ax.set_yticks(range(len(sizes)), [str(s) for s in sizes])
    ax.set(xlabel="outputs m", ylabel="inputs n", title="jacfwd time / jacrev time")
    fig.colorbar(im, ax=ax, label="log2(forward / reverse)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(quick=False, sizes=None, hidden=None, repeats=None, threads=1, out="."):
    sizes = sizes or ([2, 16, 128] if quick else [4, 16, 64, 256, 1024])
    hidden = hidden or (32 if quick else 256)
    repeats = repeats or (3 if quick else 7)
    rng = np.random.default_rng(0)
    print(f"f(x) = W2 tanh(W1 tanh(x)), hidden width {hidden}, float64; median of {repeats}, {threads} thread(s)")
    print(f"{'n':>6} {'m':>6} {'jacfwd ms':>10} {'jacrev ms':>10} {'fwd/rev':>8} {'|fwd-rev|':>10} {'winner':>8}")
    rows = []
    before = pyad.get_num_threads()
    pyad.set_num_threads(threads)
    try:
        for n in sizes:
            for m in sizes:
                r = measure(n, m, hidden, repeats, rng)
                rows.append(r)
                ratio = r["forward_s"] / r["reverse_s"]
                print(
                    f"{n:6d} {m:6d} {r['forward_s'] * 1e3:10.3f} {r['reverse_s'] * 1e3:10.3f} {ratio:8.2f} "
                    f"{r['fwd_vs_rev']:10.1e} {'forward' if ratio < 1 else 'reverse':>8}"
                )
    finally:
        pyad.set_num_threads(before)
    png = None
    if out:
        png = os.path.join(out, "jacobian_crossover.png")
        plot(png, rows, sizes)
        print("wrote", png)
    return dict(sizes=sizes, rows=rows, plot=png)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a 3 x 3 grid of small sizes")
    ap.add_argument("--sizes", type=int, nargs="+", help="the values of n and of m")
    ap.add_argument("--hidden", type=int)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=".", help="folder for the plot ('' for none)")
    a = ap.parse_args()
    main(quick=a.quick, sizes=a.sizes, hidden=a.hidden, threads=a.threads, out=a.out)
