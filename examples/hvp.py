"""A Hessian-vector product three ways, without forming the Hessian: f(x) = sum(tanh(Ax)) + sum(x^4)/4.

- forward-over-reverse: the JVP of the gradient, jvp(grad(f), (x,), (v,)): one forward pass through the
  backward graph, the cheapest of the three (what pyad.func.hvp does);
- reverse-over-reverse: differentiate <grad f(x), v> once more, autograd.grad with create_graph=True;
- finite differences of the gradient: (grad f(x + eps v) - grad f(x - eps v)) / 2eps, accurate to ~eps^2
  plus rounding.
All three against the closed form H v, H = A^T diag(-2 t (1 - t^2)) A + diag(3 x^2), t = tanh(Ax).

Usage: python examples/hvp.py [--quick] [--n 200]
"""

import argparse

import numpy as np

import pyad
from pyad import func


def make_f(A):
    def f(x):
        return pyad.tanh(A @ x).sum() + (x**4).sum() / 4

    return f


def forward_over_reverse(f, x, v):
    return func.jvp(func.grad(f), (x,), (v,))[1]


def reverse_over_reverse(f, x, v):
    x = x.detach().requires_grad_(True)
    (g,) = pyad.autograd.grad(f(x), x, create_graph=True)
    (hv,) = pyad.autograd.grad((g * v).sum(), x)
    return hv


def finite_differences(f, x, v, eps=1e-5):
    g = func.grad(f)
    return (g(x + eps * v) - g(x - eps * v)) / (2 * eps)


def closed_form(A, x, v):
    t = np.tanh(A @ x)
    H = A.T @ np.diag(-2 * t * (1 - t**2)) @ A + np.diag(3 * x**2)
    return H @ v


def main(quick=False, n=None):
    n = n or (20 if quick else 200)
    rng = np.random.default_rng(0)
    A_np, x_np, v_np = rng.standard_normal((n, n)) / np.sqrt(n), rng.standard_normal(n), rng.standard_normal(n)
    A, x, v = (pyad.tensor(a, dtype=pyad.float64) for a in (A_np, x_np, v_np))
    f = make_f(A)
    exact = closed_form(A_np, x_np, v_np)
    ways = {
        "forward-over-reverse": forward_over_reverse(f, x, v).numpy(),
        "reverse-over-reverse": reverse_over_reverse(f, x, v).numpy(),
        "finite differences": finite_differences(f, x, v).numpy(),
        "pyad.func.hvp": func.hvp(f, (x,), (v,))[1].numpy(),
    }
    print(f"f(x) = sum(tanh(Ax)) + sum(x^4)/4, n = {n}, float64")
    errors = {}
    for name, hv in ways.items():
        errors[name] = float(np.max(np.abs(hv - exact)))
        print(f"  {name:<22} max |Hv - closed form| = {errors[name]:.1e}")
    return dict(n=n, exact=exact, hvp=ways, errors=errors)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="n = 20")
    ap.add_argument("--n", type=int)
    a = ap.parse_args()
    main(quick=a.quick, n=a.n)
