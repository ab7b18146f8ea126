"""The softmax Jacobian: d s_i / d z_j = s_i (δ_ij - s_j), i.e. J = diag(s) - s s^T, against pyad's jacfwd and
jacrev.

J is symmetric, and each of its rows sums to 0 (the outputs sum to 1 whatever z is), so J has the null
vector (1, ..., 1): shifting every logit by the same amount changes nothing.

Usage: python examples/softmax_jacobian.py [--quick] [--n 10]
"""

import argparse

import numpy as np

import pyad
from pyad import func


def softmax(z):
    return pyad.softmax(z, dim=-1)


def closed_form(z):
    e = np.exp(z - z.max())
    s = e / e.sum()
    return np.diag(s) - np.outer(s, s)


def main(quick=False, n=None):
    n = n or (5 if quick else 10)
    z_np = np.random.default_rng(0).standard_normal(n) * 2
    z = pyad.tensor(z_np, dtype=pyad.float64)
    exact = closed_form(z_np)
    J_fwd, J_rev = func.jacfwd(softmax)(z).numpy(), func.jacrev(softmax)(z).numpy()
    res = dict(
        n=n,
        closed_form=exact,
        jacfwd=J_fwd,
        jacrev=J_rev,
        jacfwd_err=float(np.max(np.abs(J_fwd - exact))),
        jacrev_err=float(np.max(np.abs(J_rev - exact))),
        row_sums=float(np.max(np.abs(J_fwd.sum(1)))),
    )
    print(f"softmax of {n} logits, float64")
    print(f"  max |jacfwd - (diag(s) - s s^T)| = {res['jacfwd_err']:.1e}")
    print(f"  max |jacrev - (diag(s) - s s^T)| = {res['jacrev_err']:.1e}")
    print(f"  max |row sum of J|               = {res['row_sums']:.1e}")
    return res


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="n = 5")
    ap.add_argument("--n", type=int)
    a = ap.parse_args()
    main(quick=a.quick, n=a.n)
