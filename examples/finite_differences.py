"""Finite differences vs symbolic vs automatic differentiation for f(x) = x^2 sin x at x = 1.5.

The symbolic derivative is f'(x) = 2x sin x + x^2 cos x; pyad's reverse mode gives it to rounding. A finite
difference trades truncation error (shrinks with the step h) against rounding error (grows like eps/h), so
its error against h is a V: for the forward difference (f(x+h) - f(x))/h the error is about
h|f''|/2 + 2 eps|f|/h, smallest at h* = 2 sqrt(eps |f| / |f''|) (about 1e-8); for the central difference
(f(x+h) - f(x-h))/2h it is about h^2|f'''|/6 + eps|f|/h, smallest at h* = (3 eps |f| / |f'''|)^(1/3)
(about 1e-5). The plot (finite_differences.png in --out) shows both Vs with the theory's minima.

Usage: python examples/finite_differences.py [--quick] [--out DIR]
"""

import argparse
import math
import os

import numpy as np

import pyad

EPS = np.finfo(np.float64).eps


def f(x):
    return x**2 * pyad.sin(x)


def symbolic(x):
    """f', f'' and f''' written out by hand."""
    s, c = math.sin(x), math.cos(x)
    return (2 * x * s + x * x * c, 2 * s + 4 * x * c - x * x * s, 6 * c - 6 * x * s - x * x * c)


def autodiff(x0):
    x = pyad.tensor(x0, dtype=pyad.float64, requires_grad=True)
    f(x).backward()
    return x.grad.item()


def errors(x0, steps, exact):
    """|forward difference - f'| and |central difference - f'| at every step, all steps evaluated at once."""
    h = pyad.tensor(steps, dtype=pyad.float64)
    x = pyad.tensor(x0, dtype=pyad.float64)
    fx = f(x)
    fwd = ((f(x + h) - fx) / h).numpy()
    cen = ((f(x + h) - f(x - h)) / (2 * h)).numpy()
    return np.abs(fwd - exact), np.abs(cen - exact)


def smoothed(err, width):
    """Running geometric mean over `width` neighbouring steps: at a single step rounding errors can cancel
    by luck, which puts the raw minimum anywhere near the bottom of the V."""
    logs = np.log(np.maximum(err, 1e-300))
    pad = width // 2
    padded = np.pad(logs, pad, mode="edge")
    return np.exp(np.convolve(padded, np.ones(width) / width, mode="valid"))


def theory(x0):
    """The steps that minimise the forward and central differences' error bounds."""
    fx = abs(x0 * x0 * math.sin(x0))
    _, d2, d3 = symbolic(x0)
    return 2 * math.sqrt(EPS * fx / abs(d2)), (3 * EPS * fx / abs(d3)) ** (1 / 3)


def plot(path, steps, err_fwd, err_cen, h_fwd, h_cen):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    # An exact 0 error (it happens by luck at a few steps) cannot go on a log axis.
    ax.loglog(steps, np.maximum(err_fwd, 1e-18), "o-", ms=3, label="forward difference")
    ax.loglog(steps, np.maximum(err_cen, 1e-18), "s-", ms=3, label="central difference")
    ax.axvline(h_fwd, color="C0", ls=":", label=f"theory h* = {h_fwd:.1e}")
    ax.axvline(h_cen, color="C1", ls=":", label=f"theory h* = {h_cen:.1e}")
    ax.set(xlabel="step h", ylabel="|error| against f'(1.5)", title="f(x) = x² sin x at x = 1.5")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(quick=False, x=1.5, out="."):
    steps = np.logspace(-16, -1, 31 if quick else 151)
    exact = symbolic(x)[0]
    ad = autodiff(x)
    err_fwd, err_cen = errors(x, steps, exact)
    h_fwd, h_cen = theory(x)
    width = max(1, len(steps) // 30) | 1  # about half a decade of steps, an odd count
    smooth_fwd, smooth_cen = smoothed(err_fwd, width), smoothed(err_cen, width)
    best_fwd, best_cen = steps[np.argmin(smooth_fwd)], steps[np.argmin(smooth_cen)]
    print(f"f(x) = x^2 sin x at x = {x}")
    print(f"symbolic f'(x)      = {exact:.17g}")
    print(f"pyad (reverse mode) = {ad:.17g}   |difference| = {abs(ad - exact):.1e}")
    print(f"{'h':>9} {'forward err':>12} {'central err':>12}")
    for i in range(0, len(steps), max(1, len(steps) // 15)):
        print(f"{steps[i]:9.1e} {err_fwd[i]:12.3e} {err_cen[i]:12.3e}")
    print("best h (the minimum of the error averaged over half a decade of steps) against the theory's h*:")
    print(f"  forward difference: best h = {best_fwd:.1e} (error {smooth_fwd.min():.1e}); h* = {h_fwd:.1e}")
    print(f"  central difference: best h = {best_cen:.1e} (error {smooth_cen.min():.1e}); h* = {h_cen:.1e}")
    png = None
    if out:
        png = os.path.join(out, "finite_differences.png")
        plot(png, steps, err_fwd, err_cen, h_fwd, h_cen)
        print("wrote", png)
    return dict(
        symbolic=exact,
        autodiff=ad,
        steps=steps,
        forward_error=err_fwd,
        central_error=err_cen,
        forward_error_smoothed=smooth_fwd,
        central_error_smoothed=smooth_cen,
        best_forward_step=best_fwd,
        best_central_step=best_cen,
        theory_forward_step=h_fwd,
        theory_central_step=h_cen,
        plot=png,
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer steps")
    ap.add_argument("--x", type=float, default=1.5)
    ap.add_argument("--out", default=".", help="folder for the plot ('' for none)")
    a = ap.parse_args()
    main(quick=a.quick, x=a.x, out=a.out)
