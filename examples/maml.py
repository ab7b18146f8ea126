"""MAML on sine regression: the inner SGD step theta' = theta - alpha * grad L_train(theta) is taken with
pyad.func.grad over the model's parameter dict (pyad.func.functional_call), and the meta-loss L_val(theta')
is backpropagated through it to theta, second-order terms included. The meta-gradient is checked against
central finite differences before training.

Usage: python examples/maml.py [--quick] [--steps 500]
"""

import argparse

import numpy as np

import pyad
from pyad import func, nn

ALPHA = 0.05


def sample_task(rng, n=10):
    amp, phase = rng.uniform(0.5, 2.0), rng.uniform(0.0, np.pi)

    def batch():
        x = rng.uniform(-3.0, 3.0, (n, 1))
        return pyad.tensor(x, dtype=pyad.float64), pyad.tensor(amp * np.sin(x + phase), dtype=pyad.float64)

    return batch(), batch()


def make_model(hidden):
    return nn.Sequential(nn.Linear(1, hidden, dtype=pyad.float64), nn.Tanh(), nn.Linear(hidden, 1, dtype=pyad.float64))


def meta_loss(model, params, tasks):
    """Mean over tasks of the validation loss after one inner SGD step from params."""

    def loss(p, x, y):
        return nn.functional.mse_loss(func.functional_call(model, p, (x,)), y)

    total = 0.0
    for (x_tr, y_tr), (x_va, y_va) in tasks:
        g = func.grad(loss)(params, x_tr, y_tr)
        total = total + loss({k: params[k] - ALPHA * g[k] for k in params}, x_va, y_va)
    return total / len(tasks)


def check_meta_gradient(model, tasks, eps=1e-6):
    """max |meta-gradient - central finite difference| over a few entries of every parameter."""
    params = {k: v.detach() for k, v in model.named_parameters()}
    grads = func.grad(lambda p: meta_loss(model, p, tasks))(params)
    worst = 0.0
    for k, p in params.items():
        base = p.numpy()
        for idx in list(np.ndindex(base.shape))[:3]:
            vals = []
            for sign in (1.0, -1.0):
                shifted = base.copy()
                shifted[idx] += sign * eps
                vals.append(meta_loss(model, {**params, k: pyad.tensor(shifted, dtype=pyad.float64)}, tasks).item())
            worst = max(worst, abs((vals[0] - vals[1]) / (2 * eps) - grads[k].numpy()[idx]))
    return worst


def main(quick=False, steps=None):
    steps = steps or (30 if quick else 500)
    pyad.manual_seed(0)
    rng = np.random.default_rng(0)
    model = make_model(8 if quick else 32)
    err = check_meta_gradient(model, [sample_task(rng) for _ in range(2)])
    print(f"max |meta-gradient - finite differences| = {err:.2e}")
    opt = pyad.optim.Adam(model.parameters(), lr=1e-2)
    held_out = [sample_task(rng) for _ in range(8)]
    params = dict(model.named_parameters())
    before = meta_loss(model, params, held_out).item()
    for _ in range(steps):
        opt.zero_grad()
        meta_loss(model, params, [sample_task(rng) for _ in range(4)]).backward()
        opt.step()
    after = meta_loss(model, params, held_out).item()
    print(f"held-out meta-loss: {before:.4f} -> {after:.4f}")
    return dict(meta_gradient_err=err, meta_loss_before=before, meta_loss_after=after)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smaller model, 30 meta-steps")
    ap.add_argument("--steps", type=int)
    a = ap.parse_args()
    main(quick=a.quick, steps=a.steps)
