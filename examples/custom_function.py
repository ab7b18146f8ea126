"""A custom Function: a numerically stable softplus with its own backward and forward-mode (jvp) rule.

softplus(x) = log(1 + exp(x)) overflows for large x when written that way (exp(100) is inf in float32,
exp(1000) in float64). Written as max(x, 0) + log1p(exp(-|x|)) it never overflows, and its derivative is
sigmoid(x) = 1 / (1 + exp(-x)).

Usage: python examples/custom_function.py [--quick]
"""

import argparse
import math

import numpy as np

import pyad
from pyad.autograd import Function, gradcheck, gradgradcheck


class StableSoftplus(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return pyad.maximum(x, pyad.zeros_like(x)) + pyad.log1p(pyad.exp(-x.abs()))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors  # read back through save_for_backward: double backward works too
        return grad * pyad.sigmoid(x)

    @staticmethod
    def jvp(ctx, tangent):  # forward mode: pyad.func.jvp / jacfwd
        (x,) = ctx.saved_tensors
        return tangent * pyad.sigmoid(x)


def softplus_float(x):
    """Reference value in plain Python floats (stable form)."""
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def sigmoid_float(x):
    """Reference derivative in plain Python floats, written so that exp never overflows."""
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def main(quick=False, eps=1e-6):
    points = [-1000.0, -100.0, 0.0, 1.5, 100.0, 1000.0]
    if not quick:
        points = sorted(points + [-30.0, -10.0, -1.0, 1.0, 10.0, 30.0])
    x = pyad.tensor(points, dtype=pyad.float64, requires_grad=True)
    y = StableSoftplus.apply(x)
    y.sum().backward()
    naive = pyad.log(1 + pyad.exp(pyad.tensor(points, dtype=pyad.float32)))
    naive64 = pyad.log(1 + pyad.exp(pyad.tensor(points, dtype=pyad.float64)))

    print(f"{'x':>8} {'softplus(x)':>14} {'naive float32':>14} {'grad (pyad)':>14} {'finite diff':>14} {'rel err':>9}")
    rows = []
    for i, p in enumerate(points):
        fd = (softplus_float(p + eps) - softplus_float(p - eps)) / (2 * eps)
        g = x.grad[i].item()
        rel = abs(g - fd) / max(abs(fd), 1e-300)
        rows.append(dict(x=p, value=y[i].item(), grad=g, sigmoid=sigmoid_float(p), finite_difference=fd, rel_err=rel))
        print(f"{p:8.1f} {y[i].item():14.6e} {naive[i].item():14.6e} {g:14.6e} {fd:14.6e} {rel:9.1e}")
    values = np.array([r["value"] for r in rows])
    grads = np.array([r["grad"] for r in rows])
    assert np.isfinite(values).all() and np.isfinite(grads).all()
    assert max(r["rel_err"] for r in rows) < 1e-6
    print("naive log(1 + exp(x)) at x = 1000:", naive64[-1].item(), "in float64 (overflow);", end=" ")
    print("at x = 100:", naive[points.index(100.0)].item(), "in float32")

    # Forward mode uses jvp; second derivatives come from differentiating backward.
    _, tangent = pyad.func.jvp(StableSoftplus.apply, (x.detach(),), (pyad.ones_like(x.detach()),))
    assert np.allclose(tangent.numpy(), grads)
    ok = gradcheck(StableSoftplus.apply, (x,), check_forward_ad=True) and gradgradcheck(StableSoftplus.apply, (x,))
    print("jvp agrees with backward; gradcheck and gradgradcheck:", "pass" if ok else "FAIL")
    return rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer points")
    main(quick=ap.parse_args().quick)
