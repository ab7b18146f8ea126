"""Backpropagation by hand through a linear-ReLU network, against pyad and finite differences.

    a = W1 x + b1,  h = relu(a),  y_hat = W2 h + b2,  L = mean over the batch of 1/2 ||y_hat - y||^2

By hand (rows are examples, B of them): dL/dy_hat = (y_hat - y) / B; dW2 = dy_hat^T h; db2 = sum of dy_hat;
dh = dy_hat W2; da = dh * [a > 0]; dW1 = da^T x; db1 = sum of da. First for one example (B = 1), then for a
mini-batch; the same numbers come from pyad's backward and from central finite differences.

Usage: python examples/linear_relu_network.py [--quick]
"""

import argparse

import numpy as np

import pyad

NAMES = ("W1", "b1", "W2", "b2")


def make_problem(rng, batch, n_in=3, n_hidden=4, n_out=2):
    params = {
        "W1": rng.standard_normal((n_hidden, n_in)),
        "b1": rng.standard_normal(n_hidden) * 0.5,
        "W2": rng.standard_normal((n_out, n_hidden)),
        "b2": rng.standard_normal(n_out) * 0.5,
    }
    return params, rng.standard_normal((batch, n_in)), rng.standard_normal((batch, n_out))


def loss_numpy(p, x, y):
    h = np.maximum(x @ p["W1"].T + p["b1"], 0.0)
    return 0.5 * np.sum((h @ p["W2"].T + p["b2"] - y) ** 2) / x.shape[0]


def by_hand(p, x, y):
    a = x @ p["W1"].T + p["b1"]
    h = np.maximum(a, 0.0)
    d_yhat = (h @ p["W2"].T + p["b2"] - y) / x.shape[0]
    dh = d_yhat @ p["W2"]
    da = dh * (a > 0)
    return {"W1": da.T @ x, "b1": da.sum(0), "W2": d_yhat.T @ h, "b2": d_yhat.sum(0)}


def by_pyad(p, x, y):
    t = {k: pyad.tensor(v, dtype=pyad.float64, requires_grad=True) for k, v in p.items()}
    xt, yt = pyad.tensor(x, dtype=pyad.float64), pyad.tensor(y, dtype=pyad.float64)
    h = pyad.relu(xt @ t["W1"].T + t["b1"])
    loss = 0.5 * ((h @ t["W2"].T + t["b2"] - yt) ** 2).sum() / x.shape[0]
    loss.backward()
    return loss.item(), {k: v.grad.numpy() for k, v in t.items()}


def by_finite_differences(p, x, y, eps=1e-6):
    grads = {}
    for k in NAMES:
        g = np.empty_like(p[k])
        for idx in np.ndindex(p[k].shape):
            shifted = []
            for sign in (1.0, -1.0):
                q = {**p, k: p[k].copy()}
                q[k][idx] += sign * eps
                shifted.append(loss_numpy(q, x, y))
            g[idx] = (shifted[0] - shifted[1]) / (2 * eps)
        grads[k] = g
    return grads


def compare(p, x, y):
    hand, (loss, ad), fd = by_hand(p, x, y), by_pyad(p, x, y), by_finite_differences(p, x, y)
    return dict(
        loss=loss,
        loss_numpy=loss_numpy(p, x, y),
        hand=hand,
        pyad=ad,
        finite_differences=fd,
        hand_vs_pyad=max(np.max(np.abs(hand[k] - ad[k])) for k in NAMES),
        pyad_vs_fd=max(np.max(np.abs(ad[k] - fd[k])) for k in NAMES),
    )


def main(quick=False, batch=None):
    rng = np.random.default_rng(0)
    results = {}
    for label, b in (("single example", 1), ("mini-batch", batch or (8 if quick else 32))):
        p, x, y = make_problem(rng, b)
        r = results[label] = compare(p, x, y)
        r["batch"] = b
        print(f"{label} (B = {b}): loss {r['loss']:.6f}")
        print(f"  max |by hand - pyad|            = {r['hand_vs_pyad']:.1e}")
        print(f"  max |pyad - finite differences| = {r['pyad_vs_fd']:.1e}")
    return results


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smaller mini-batch")
    ap.add_argument("--batch", type=int)
    a = ap.parse_args()
    main(quick=a.quick, batch=a.batch)
