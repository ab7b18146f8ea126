"""A short run of every CUDA kernel family of pyad, for compute-sanitizer (benchmarks/gpu_check.sh runs it under
memcheck, racecheck and initcheck): elementwise maps (strided, broadcast, casts with NaN and inf), fill, arange,
random numbers, each reduction path (a thread per output, a block per output, outputs split over blocks),
logsumexp, softmax, arg max, the matrix kernels (GEMM, both matrix-vector kernels, batched; cuBLAS when loaded),
anomaly mode's finiteness check, a backward pass, and copies between the host and the GPU.

Sizes are small, since the sanitizers slow kernels down a hundredfold or more, yet past one block and one warp.
Each result is compared with NumPy, so the run is also a smoke test: it exits 1 on a wrong value, 2 without a GPU
(--cpu runs it on the CPU instead).
It never imports torch, so the sanitizers' reports are about pyad's kernels alone.

Usage: python benchmarks/gpu_sanitize.py [--quick] [--cpu]   (--cpu runs the same checks on the CPU, to test them)
"""

import sys

import numpy as np

import pyad
from pyad.autograd import detect_anomaly

FAILED = []


def check(name, got, want, tol=1e-6):
    got = got.cpu().numpy() if isinstance(got, pyad.Tensor) else np.asarray(got)
    want = np.asarray(want)
    if got.shape != want.shape or not np.allclose(got, want, rtol=tol, atol=tol, equal_nan=True):
        FAILED.append(name)
        print(f"WRONG {name}: shape {got.shape} vs {want.shape}", flush=True)


def main(quick, dev="cuda"):
    if dev == "cuda" and not pyad.cuda.is_available():
        print("gpu_sanitize.py: no CUDA device: nothing to check", file=sys.stderr)
        return 2
    rng = np.random.default_rng(0)
    n = 4099 if quick else 70001
    a64 = rng.standard_normal((n,))
    x = pyad.tensor(a64, device=dev)
    x32 = pyad.tensor(a64.astype(np.float32), device=dev)
    for name in ("exp", "log1p", "sin", "tanh", "sigmoid", "relu", "softplus", "abs", "sign"):
        got = getattr(pyad, name)(x)
        check(name, got, getattr(pyad, name)(pyad.tensor(a64)).numpy())
    m = rng.standard_normal((67, 129))
    mc = pyad.tensor(m, device=dev)
    row = pyad.tensor(m[0], device=dev)
    check("broadcast add", mc + row, m + m[0])
    check("strided mul", mc.T * 2.0, m.T * 2.0)
    check("where", pyad.where(mc > 0, mc, -mc), np.abs(m))
    check("float32 maximum", pyad.maximum(x32, x32 * 0.5), np.maximum(a64, a64 * 0.5).astype(np.float32), 1e-5)
    specials = pyad.tensor([np.nan, np.inf, -np.inf, 1e19, -2.5, 2.5], device=dev)
    check("float64 -> int64", specials.to(pyad.int64), np.array([-(2**63)] * 4 + [-2, 2], dtype=np.int64))
    check("float64 -> float32 -> bool", specials.to(pyad.float32).to(pyad.bool), np.ones(6, bool))
    check("fill", pyad.full((1000,), 3.5, device=dev), np.full(1000, 3.5))
    check("arange", pyad.arange(0, n, device=dev), np.arange(0, n))
    u = pyad.rand(n, device=dev, dtype=pyad.float32).cpu().numpy()
    if not (u.min() >= 0 and u.max() < 1):
        FAILED.append("rand range")
    g = pyad.randn(n, device=dev).cpu().numpy()
    if not (abs(g.mean()) < 0.1 and 0.9 < g.std() < 1.1):
        FAILED.append("randn moments")
    big = rng.standard_normal((300, 17000 if not quick else 2000))
    bc = pyad.tensor(big, device=dev)
    check("sum all (split over blocks)", bc.sum(), big.sum(), 1e-8)
    check("sum dim -1 (block per output)", bc.sum(-1), big.sum(-1), 1e-8)
    check("sum dim 0 (thread per output)", bc.sum(0), big.sum(0), 1e-8)
    check("amax dim 0", pyad.amax(bc, 0), big.max(0))
    check("amin dim -1", pyad.amin(bc, -1), big.min(-1))
    check("logsumexp", pyad.logsumexp(mc, 1), np.log(np.exp(m).sum(1)))
    sm = np.exp(m - m.max(1, keepdims=True))
    check("softmax", pyad.softmax(mc, 1), sm / sm.sum(1, keepdims=True))
    check("log_softmax dim 0", pyad.log_softmax(mc, 0), np.log(np.exp(m) / np.exp(m).sum(0)))
    values, idx = pyad.max(mc, 1)
    check("max dim (values, indices)", values, m.max(1))
    check("argmax indices", idx, m.argmax(1))
    start = pyad.cuda.matmul_backend()
    backends = ["pyad"] + (["cublas"] if start == "cublas" else []) if dev == "cuda" else ["cpu"]
    A, B, v = rng.standard_normal((130, 70)), rng.standard_normal((70, 90)), rng.standard_normal(70)
    for be in backends:
        if dev == "cuda":
            pyad.cuda.set_matmul_backend(be)
        for dt, tol in ((pyad.float64, 1e-10), (pyad.float32, 1e-4)):
            Ac, Bc = pyad.tensor(A, dtype=dt, device=dev), pyad.tensor(B, dtype=dt, device=dev)
            vc = pyad.tensor(v, dtype=dt, device=dev)
            check(f"{be} gemm {dt}", Ac @ Bc, A @ B, tol)
            check(f"{be} gemm transposed {dt}", Bc.T @ Ac.T, B.T @ A.T, tol)
            check(f"{be} gemv {dt}", Ac @ vc, A @ v, tol)
            check(f"{be} vector-matrix {dt}", vc @ Bc, v @ B, tol)
            check(f"{be} gemv transposed {dt}", Ac.T.T @ vc, A @ v, tol)
            stack = pyad.stack([Ac[:, :50], Ac[:, 20:]])
            check(f"{be} batched {dt}", stack @ Bc[:50], np.stack([A[:, :50], A[:, 20:]]) @ B[:50], tol)
    if dev == "cuda":
        pyad.cuda.set_matmul_backend(start)
    W = pyad.tensor(rng.standard_normal((64, 32)) * 0.1, device=dev, requires_grad=True)
    inp = pyad.tensor(rng.standard_normal((16, 64)), device=dev)
    with detect_anomaly():  # its finiteness check runs on every gradient
        loss = pyad.log_softmax(pyad.tanh(inp @ W), 1).sum()
        loss.backward()
    Wn, inn = W.detach().cpu().numpy(), inp.cpu().numpy()
    h = np.tanh(inn @ Wn)
    p = np.exp(h) / np.exp(h).sum(1, keepdims=True)
    check("backward", W.grad, inn.T @ ((1 - h**2) * (1 - 32 * p)), 1e-8)
    check("round trip", x.cpu().to(dev).cpu(), a64)
    if dev == "cuda":
        pyad.cuda.synchronize()
    if FAILED:
        print("gpu_sanitize.py: WRONG results: " + "; ".join(FAILED), file=sys.stderr)
        return 1
    print(
        f"gpu_sanitize.py: every check passed on {dev} ({'quick' if quick else 'full'} sizes, matmul "
        f"{', '.join(backends)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main("--quick" in sys.argv[1:], "cpu" if "--cpu" in sys.argv[1:] else "cuda"))
