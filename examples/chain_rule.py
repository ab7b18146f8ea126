"""The chain rule in both modes on h1 = 2x, h2 = h1^2, y = sin(h2) at x = 0.3.

Forward mode carries a tangent with each value from x to y (pyad.autograd.forward_ad: each intermediate is a
dual number); reverse mode runs the graph once forward, then carries an adjoint from y back to x (backward,
with retain_grad so that the intermediates' adjoints are kept). Both give dy/dx = 8x cos(4x^2).

Usage: python examples/chain_rule.py [--quick] [--x 0.3]
"""

import argparse

import pyad
from pyad.autograd import forward_ad


def forward_mode(x0):
    """Every intermediate's value and tangent d(.)/dx, pushed from x to y in one pass."""
    with forward_ad.dual_level():
        x = forward_ad.make_dual(pyad.tensor(x0, dtype=pyad.float64), pyad.tensor(1.0, dtype=pyad.float64))
        h1 = 2 * x
        h2 = h1**2
        y = pyad.sin(h2)
        out = {}
        for name, t in (("x", x), ("h1", h1), ("h2", h2), ("y", y)):
            primal, tangent = forward_ad.unpack_dual(t)
            out[name] = (primal.item(), tangent.item())
    return out


def reverse_mode(x0):
    """Every intermediate's value and adjoint dy/d(.), pulled from y back to x in one backward pass."""
    x = pyad.tensor(x0, dtype=pyad.float64, requires_grad=True)
    h1 = 2 * x
    h2 = h1**2
    y = pyad.sin(h2)
    for t in (h1, h2, y):
        t.retain_grad()
    y.backward()
    return {name: (t.item(), t.grad.item()) for name, t in (("x", x), ("h1", h1), ("h2", h2), ("y", y))}


def main(quick=False, x=0.3):
    fwd, rev = forward_mode(x), reverse_mode(x)
    print(f"x = {x}: h1 = 2x, h2 = h1^2, y = sin(h2)")
    print(f"{'':>4} {'value':>12} {'tangent d/dx':>14} {'adjoint dy/d':>14}")
    for name in ("x", "h1", "h2", "y"):
        print(f"{name:>4} {fwd[name][0]:12.8f} {fwd[name][1]:14.8f} {rev[name][1]:14.8f}")
    dydx = fwd["y"][1]
    print(f"dy/dx: forward {dydx:.15f}, reverse {rev['x'][1]:.15f}")
    return dict(forward=fwd, reverse=rev, dydx_forward=dydx, dydx_reverse=rev["x"][1])


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="(the example is already quick)")
    ap.add_argument("--x", type=float, default=0.3)
    a = ap.parse_args()
    main(quick=a.quick, x=a.x)
