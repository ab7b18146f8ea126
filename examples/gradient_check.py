"""Compute a gradient with pyad and check it against central finite differences.

Usage: python examples/gradient_check.py [--quick] [--d 50]
"""

import argparse

import numpy as np

import pyad


def f(x, A, B):
    return pyad.sigmoid(B @ pyad.sigmoid(A @ x)).sum()


def main(quick=False, d=None, eps=1e-6):
    d = d or (12 if quick else 50)
    pyad.manual_seed(0)
    A = pyad.randn(d, d, dtype=pyad.float64) / d**0.5
    B = pyad.randn(d, d, dtype=pyad.float64) / d**0.5
    x = pyad.randn(d, dtype=pyad.float64, requires_grad=True)
    f(x, A, B).backward()
    numeric = np.empty(d)
    base = x.detach().numpy()
    for i in range(d):
        e = np.zeros(d)
        e[i] = eps
        numeric[i] = (f(pyad.tensor(base + e), A, B).item() - f(pyad.tensor(base - e), A, B).item()) / (2 * eps)
    err = np.max(np.abs(x.grad.numpy() - numeric))
    print(f"d = {d}: max |pyad - finite differences| = {err:.2e}")
    assert err < 1e-7, err
    return err


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="d = 12")
    ap.add_argument("--d", type=int)
    a = ap.parse_args()
    main(quick=a.quick, d=a.d)
