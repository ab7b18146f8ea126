"""Training steps of a small MLP with every autograd feature at once, and the memory they leave behind.

    python benchmarks/flat_memory.py --steps 100000   # the long run (issue 16, item 5); prints the figures

Each step: forward through a hooked hidden layer, a custom Function and a checkpointed block; a gradient
penalty by double backward (create_graph=True); backward; an SGD update by hand. Every 7th step also runs a
backward that fails in the middle (a custom Function's backward raises) and drops that graph.
tests/test_flat_memory.py runs a bounded version of the same loop.
"""

import argparse
import os

import numpy as np

import pyad
from pyad.utils.checkpoint import checkpoint


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class Square(pyad.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        y = x * x
        ctx.y = y  # a stashed output: the cycle ctx -> y -> grad_fn -> ctx must not outlive the graph
        return y

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g


class Fails(pyad.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 1.0

    @staticmethod
    def backward(ctx, g):
        raise ValueError("mid-backward failure")


def block(h, w):
    return (h @ w).tanh()


def make_model(seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(16, 32), (32,), (32, 32), (32, 1)]
    return [pyad.tensor(rng.standard_normal(s) * 0.1, dtype=pyad.float64, requires_grad=True) for s in shapes]


def step(params, x, y, i, lr=1e-3):
    w1, b1, w2, w3 = params
    h = (x @ w1 + b1).relu()
    h.register_hook(lambda g: g * 1.0)
    h = Square.apply(h) * 0.1
    h = checkpoint(block, h, w2)
    out = h @ w3
    loss = ((out - y) ** 2).mean()
    (gx,) = pyad.autograd.grad(loss, w3, create_graph=True)
    loss = loss + 1e-3 * (gx * gx).sum()
    loss.backward()
    with pyad.no_grad():
        for p in params:
            p.sub_(p.grad * lr)
            p.grad = None
    if i % 7 == 0:
        bad = Fails.apply((x @ w1).tanh()).sum()
        try:
            bad.backward()
        except ValueError:
            pass
        else:
            raise AssertionError("the failing backward did not fail")
        for p in params:
            p.grad = None
    return loss.item()


def run(steps, samples=10, warmup=None):
    """Run `steps` steps; return (memory_allocated, RSS) sampled after warm-up at `samples` even intervals."""
    warmup = warmup if warmup is not None else max(steps // 10, 50)
    rng = np.random.default_rng(1)
    params = make_model()
    x = pyad.tensor(rng.standard_normal((8, 16)), dtype=pyad.float64)
    y = pyad.tensor(rng.standard_normal((8, 1)), dtype=pyad.float64)
    every = max((steps - warmup) // samples, 1)
    allocated, rss, losses = [], [], []  # losses: first and last only (a list of 100,000 floats is 3 MiB of RSS)
    for i in range(steps):
        loss = step(params, x, y, i)
        if i == 0 or i == steps - 1:
            losses.append(loss)
        if i >= warmup and (i - warmup) % every == 0:
            allocated.append(pyad.memory_allocated())
            rss.append(rss_bytes())
    return allocated, rss, losses


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=100_000)
    args = ap.parse_args()
    import time

    t0 = time.time()
    allocated, rss, losses = run(args.steps)
    mib = 2**20
    print(f"steps={args.steps} time_s={time.time() - t0:.1f} loss {losses[0]:.4f} -> {losses[-1]:.4f}")
    print(
        f"memory_allocated after warm-up: min {min(allocated)} max {max(allocated)} bytes "
        f"(drift {allocated[-1] - allocated[0]} bytes)"
    )
    print(
        f"RSS after warm-up: first {rss[0] / mib:.2f} MiB, last {rss[-1] / mib:.2f} MiB, "
        f"drift {(rss[-1] - rss[0]) / mib:.3f} MiB, max-min {(max(rss) - min(rss)) / mib:.3f} MiB"
    )


if __name__ == "__main__":
    main()
