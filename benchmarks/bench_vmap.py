"""Per-sample gradients of an MLP: pyad.func.vmap(grad(loss), in_dims=(None, 0, 0)) against torch.func's same
program and against a Python loop of pyad.func.grad over the samples, side by side in one process with the same
thread count (medians of interleaved rounds; float32). Target: pyad vmap <= 1.0x torch.func.

The MLP: in -> hidden (tanh) -> hidden (tanh) -> out, mean squared error per sample.

Usage: python benchmarks/bench_vmap.py [--batch 256] [--sizes 64 128 10] [--repeats 15] [--threads 1] [--json out.json]
"""

import argparse
import json
import platform

import numpy as np
import torch
from _timing import interleaved  # benchmarks/_timing.py (run as python benchmarks/NAME.py)

import pyad
from pyad import func


def loss_fn(M):
    def loss(p, x, y):
        h = M.tanh(x @ p["w1"].T + p["b1"])
        h = M.tanh(h @ p["w2"].T + p["b2"])
        return ((h @ p["w3"].T + p["b3"] - y) ** 2).mean()

    return loss


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--sizes", type=int, nargs=3, default=[64, 128, 10], metavar=("IN", "HIDDEN", "OUT"))
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    pyad.set_num_threads(args.threads)
    n_in, hid, n_out = args.sizes
    rng = np.random.default_rng(0)
    shapes = {"w1": (hid, n_in), "b1": (hid,), "w2": (hid, hid), "b2": (hid,), "w3": (n_out, hid), "b3": (n_out,)}
    arrays = {k: (rng.standard_normal(s) / np.sqrt(s[-1])).astype(np.float32) for k, s in shapes.items()}
    x = rng.standard_normal((args.batch, n_in)).astype(np.float32)
    y = rng.standard_normal((args.batch, n_out)).astype(np.float32)
    pp = {k: pyad.from_numpy(v) for k, v in arrays.items()}
    tp = {k: torch.from_numpy(v) for k, v in arrays.items()}
    px, py, tx, ty = pyad.from_numpy(x), pyad.from_numpy(y), torch.from_numpy(x), torch.from_numpy(y)

    p_vmap = func.vmap(func.grad(loss_fn(pyad)), in_dims=(None, 0, 0))
    t_vmap = torch.func.vmap(torch.func.grad(loss_fn(torch)), in_dims=(None, 0, 0))
    p_grad = func.grad(loss_fn(pyad))

    def p_loop():
        per = [p_grad(pp, px[i], py[i]) for i in range(args.batch)]
        return {k: pyad.stack([g[k] for g in per]) for k in pp}

    # the same answer first
    got, exp = p_vmap(pp, px, py), t_vmap(tp, tx, ty)
    for k in exp:
        np.testing.assert_allclose(got[k].numpy(), exp[k].numpy(), rtol=1e-4, atol=1e-5, err_msg=k)

    t = interleaved(
        {
            "pyad vmap": lambda: p_vmap(pp, px, py),
            "torch.func vmap": lambda: t_vmap(tp, tx, ty),
            "pyad loop": p_loop,
        },
        args.repeats,
    )
    print(
        f"per-sample gradients, MLP {n_in}-{hid}-{hid}-{n_out}, batch {args.batch}, float32, "
        f"{args.threads} thread(s), {platform.processor() or platform.machine()}"
    )
    for k, v in t.items():
        print(f"  {k:16s} {v * 1e3:9.3f} ms")
    ratio = t["pyad vmap"] / t["torch.func vmap"]
    print(f"  pyad vmap / torch.func vmap: {ratio:.2f}x (target <= 1.0x)")
    print(f"  pyad loop / pyad vmap:       {t['pyad loop'] / t['pyad vmap']:.1f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"batch": args.batch, "sizes": args.sizes, "seconds": t, "ratio_vs_torch": ratio}, f, indent=1)


if __name__ == "__main__":
    main()
