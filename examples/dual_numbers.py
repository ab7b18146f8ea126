"""Dual numbers give partial derivatives: f(x, y) = x^2 y + sin(xy) at (2, 3).

A dual number a + b·ε with ε² = 0 carries a value and a directional derivative: f(x + ε·dx, y + ε·dy) =
f(x, y) + ε·(∇f · (dx, dy)). Seeding (dx, dy) = (1, 0) gives ∂f/∂x, (0, 1) gives ∂f/∂y: one forward pass
per input. Shown twice: a ten-line Dual class with operator overloading, and pyad.autograd.forward_ad, whose
dual tensors are the same idea (make_dual / unpack_dual). The closed form is ∂f/∂x = 2xy + y cos(xy),
∂f/∂y = x^2 + x cos(xy).

Usage: python examples/dual_numbers.py [--quick]
"""

import argparse
import math

import pyad
from pyad.autograd import forward_ad


class Dual:
    """a + b·ε, ε² = 0."""

    def __init__(self, a, b=0.0):
        self.a, self.b = a, b

    def __add__(self, o):
        o = o if isinstance(o, Dual) else Dual(o)
        return Dual(self.a + o.a, self.b + o.b)

    __radd__ = __add__

    def __mul__(self, o):
        o = o if isinstance(o, Dual) else Dual(o)
        return Dual(self.a * o.a, self.a * o.b + self.b * o.a)  # (a + bε)(c + dε) = ac + (ad + bc)ε

    __rmul__ = __mul__


def dual_sin(d):
    return Dual(math.sin(d.a), math.cos(d.a) * d.b) if isinstance(d, Dual) else math.sin(d)


def f(x, y, sin):
    return x * x * y + sin(x * y)


def partials_by_dual_class(x, y):
    return [f(Dual(x, dx), Dual(y, dy), dual_sin).b for dx, dy in ((1.0, 0.0), (0.0, 1.0))]


def partials_by_forward_ad(x, y):
    out = []
    for dx, dy in ((1.0, 0.0), (0.0, 1.0)):
        with forward_ad.dual_level():
            xd = forward_ad.make_dual(pyad.tensor(x, dtype=pyad.float64), pyad.tensor(dx, dtype=pyad.float64))
            yd = forward_ad.make_dual(pyad.tensor(y, dtype=pyad.float64), pyad.tensor(dy, dtype=pyad.float64))
            out.append(forward_ad.unpack_dual(f(xd, yd, pyad.sin)).tangent.item())
    return out


def main(quick=False, x=2.0, y=3.0):
    by_class = partials_by_dual_class(x, y)
    by_pyad = partials_by_forward_ad(x, y)
    closed = [2 * x * y + y * math.cos(x * y), x * x + x * math.cos(x * y)]
    print(f"f(x, y) = x^2 y + sin(xy) at ({x}, {y})")
    print(f"{'':>6} {'Dual class':>20} {'pyad forward_ad':>20} {'closed form':>20}")
    for name, a, b, c in zip(("df/dx", "df/dy"), by_class, by_pyad, closed):
        print(f"{name:>6} {a:20.15f} {b:20.15f} {c:20.15f}")
    return dict(dual_class=by_class, forward_ad=by_pyad, closed_form=closed)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="(the example is already quick)")
    main(quick=ap.parse_args().quick)
