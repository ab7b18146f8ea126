"""Training-step cost: pyad.nn + pyad.optim against torch.nn + torch.optim on the CPU, side by side in one run,
one thread each, medians of interleaved rounds.

(a) one training step of an MLP 784 -> 256 -> 256 -> 10 (ReLU) at batch 64 in float32 with Adam:
    zero_grad, forward, cross-entropy, backward, optimizer step. The issue's goal: pyad <= 0.8x torch's time.
    torch runs its default Adam (on the CPU that is the per-tensor loop, foreach=False) and foreach=True.
(b) an Adam step alone over 100 parameter tensors (shape (64, 64), float32, gradients set), pyad against
    torch's foreach Adam (and its per-tensor loop); (c) the same with SGD with momentum 0.9.
(d) CrossEntropyLoss forward + backward on (4096, 1000) float32 logits with class targets.
(e) Embedding (10000, 64) forward + backward with 2048 indices drawn from 100 rows (so they repeat).
The goals of (b)-(e): pyad <= 1.0x torch (foreach for the optimizers).

Usage: python benchmarks/bench_train.py [--rounds 30] [--steps 20] [--threads 1] [--json out.json]
"""

import argparse
import json
import platform

import numpy as np
import torch
from _timing import interleaved  # benchmarks/_timing.py (run as python benchmarks/NAME.py)

import pyad
import pyad.nn as nn
import pyad.optim as optim


def mlp_step_fns():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 784)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    torch.manual_seed(0)
    tms = [
        torch.nn.Sequential(
            torch.nn.Linear(784, 256),
            torch.nn.ReLU(),
            torch.nn.Linear(256, 256),
            torch.nn.ReLU(),
            torch.nn.Linear(256, 10),
        )
        for _ in range(2)
    ]
    tms[1].load_state_dict(tms[0].state_dict())
    pm = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    pm.load_state_dict({k: v.numpy() for k, v in tms[0].state_dict().items()})
    topts = [
        torch.optim.Adam(tms[0].parameters(), lr=1e-3, foreach=False),
        torch.optim.Adam(tms[1].parameters(), lr=1e-3, foreach=True),
    ]
    popt = optim.Adam(pm.parameters(), lr=1e-3)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    px, py = pyad.tensor(x), pyad.tensor(y)

    def torch_step(i):
        def step():
            topts[i].zero_grad()
            torch.nn.functional.cross_entropy(tms[i](tx), ty).backward()
            topts[i].step()

        return step

    def pyad_step():
        popt.zero_grad()
        nn.functional.cross_entropy(pm(px), py).backward()
        popt.step()

    return {"pyad": pyad_step, "torch": torch_step(0), "torch foreach": torch_step(1)}


def adam_only_fns(n=100, shape=(64, 64)):
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(shape).astype(np.float32) for _ in range(n)]
    grads = [rng.standard_normal(shape).astype(np.float32) * 1e-2 for _ in range(n)]
    pp = [nn.Parameter(pyad.tensor(a)) for a in arrays]
    for p, g in zip(pp, grads):
        p.grad = pyad.tensor(g)
    fns = {"pyad": optim.Adam(pp, lr=1e-3).step}
    for name, foreach in (("torch foreach", True), ("torch", False)):
        tp = [torch.nn.Parameter(torch.tensor(a)) for a in arrays]
        for p, g in zip(tp, grads):
            p.grad = torch.tensor(g)
        fns[name] = torch.optim.Adam(tp, lr=1e-3, foreach=foreach).step
    return fns


def sgd_only_fns(n=100, shape=(64, 64)):
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(shape).astype(np.float32) for _ in range(n)]
    grads = [rng.standard_normal(shape).astype(np.float32) * 1e-2 for _ in range(n)]
    pp = [nn.Parameter(pyad.tensor(a)) for a in arrays]
    for p, g in zip(pp, grads):
        p.grad = pyad.tensor(g)
    fns = {"pyad": optim.SGD(pp, lr=1e-3, momentum=0.9).step}
    for name, foreach in (("torch foreach", True), ("torch", False)):
        tp = [torch.nn.Parameter(torch.tensor(a)) for a in arrays]
        for p, g in zip(tp, grads):
            p.grad = torch.tensor(g)
        fns[name] = torch.optim.SGD(tp, lr=1e-3, momentum=0.9, foreach=foreach).step
    return fns


def cross_entropy_fns(n=4096, c=1000):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((n, c)).astype(np.float32)
    y = rng.integers(0, c, n)
    px, tx = pyad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    py, ty = pyad.tensor(y), torch.tensor(y)
    ploss, tloss = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()

    def pyad_fn():
        px.grad = None
        ploss(px, py).backward()

    def torch_fn():
        tx.grad = None
        tloss(tx, ty).backward()

    return {"pyad": pyad_fn, "torch": torch_fn}


def embedding_fns(num=10000, dim=64, n=2048, distinct=100):
    rng = np.random.default_rng(4)
    w = rng.standard_normal((num, dim)).astype(np.float32)
    idx = rng.integers(0, distinct, n)
    pe, te = nn.Embedding(num, dim), torch.nn.Embedding(num, dim)
    pe.load_state_dict({"weight": w})
    te.load_state_dict({"weight": torch.from_numpy(w)})
    pi, ti = pyad.tensor(idx), torch.from_numpy(idx)

    def pyad_fn():
        pe.weight.grad = None
        pe(pi).sum().backward()

    def torch_fn():
        te.weight.grad = None
        te(ti).sum().backward()

    return {"pyad": pyad_fn, "torch": torch_fn}


def report(title, times, baseline):
    print(title)
    for k, t in times.items():
        print(f"  {k:14s} {t * 1e3:9.3f} ms   ({t / times[baseline]:.2f}x {baseline})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--steps", type=int, default=20, help="calls per round")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    pyad.set_num_threads(args.threads)
    print(
        f"pyad {pyad.__version__}, torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{args.threads} thread(s); medians of {args.rounds} interleaved rounds of {args.steps} calls"
    )
    step = interleaved(mlp_step_fns(), args.rounds, warmup=3, per_round=args.steps)
    report("(a) MLP 784-256-256-10, batch 64, float32, Adam: one training step", step, "torch")
    print(
        f"  pyad / torch = {step['pyad'] / step['torch']:.2f} (goal <= 0.8); "
        f"pyad / torch foreach = {step['pyad'] / step['torch foreach']:.2f}"
    )
    adam = interleaved(adam_only_fns(), args.rounds, warmup=3, per_round=args.steps)
    report("(b) Adam step over 100 tensors of 64x64 float32", adam, "torch foreach")
    print(f"  pyad / torch foreach = {adam['pyad'] / adam['torch foreach']:.2f} (goal <= 1.0)")
    sgd = interleaved(sgd_only_fns(), args.rounds, warmup=3, per_round=args.steps)
    report("(c) SGD (momentum 0.9) step over 100 tensors of 64x64 float32", sgd, "torch foreach")
    print(f"  pyad / torch foreach = {sgd['pyad'] / sgd['torch foreach']:.2f} (goal <= 1.0)")
    ce = interleaved(cross_entropy_fns(), args.rounds, warmup=3, per_round=max(1, args.steps // 10))
    report("(d) CrossEntropyLoss forward + backward, (4096, 1000) float32 logits", ce, "torch")
    print(f"  pyad / torch = {ce['pyad'] / ce['torch']:.2f} (goal <= 1.0)")
    emb = interleaved(embedding_fns(), args.rounds, warmup=3, per_round=args.steps)
    report("(e) Embedding (10000, 64), 2048 repeated indices: forward + backward", emb, "torch")
    print(f"  pyad / torch = {emb['pyad'] / emb['torch']:.2f} (goal <= 1.0)")
    if args.json:
        figures = {
            "threads": args.threads,
            "train_step_s": step,
            "adam_100_tensors_s": adam,
            "sgd_100_tensors_s": sgd,
            "cross_entropy_4096x1000_s": ce,
            "embedding_backward_s": emb,
        }
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)


if __name__ == "__main__":
    main()
