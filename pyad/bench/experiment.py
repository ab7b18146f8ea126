"""The full Jacobian of f(x) = sum(sigmoid(B @ sigmoid(A @ x))) by forward and by reverse mode.

f maps R^d to R, so its Jacobian is the gradient: one reverse pass (a few matrix-vector products, ~8 d^2
flops) gets it, while forward mode pushes d directions (one d x d x d matrix product, ~2 d^3 flops). Every
method is checked against the hand-written NumPy reverse pass before it is timed.
"""

import statistics
import time

import numpy as np

import pyad
import pyad.func as pf


def make_problem(d, dtype, seed=0):
    rng = np.random.default_rng(seed)
    # Scaled so the sigmoids neither saturate nor sit at 0.5: the derivatives stay informative.
    A = rng.standard_normal((d, d)) / np.sqrt(d)
    B = rng.standard_normal((d, d)) / np.sqrt(d)
    x = rng.standard_normal(d)
    return A.astype(dtype), B.astype(dtype), x.astype(dtype)


# ---- hand-written NumPy: the classic derivation ----
def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def numpy_reverse(A, B, x):
    s1 = _sig(A @ x)
    s2 = _sig(B @ s1)
    g2 = s2 * (1 - s2)  # d f / d y2
    g1 = (B.T @ g2) * s1 * (1 - s1)  # d f / d y1
    return A.T @ g1


def numpy_forward(A, B, x):
    s1 = _sig(A @ x)
    s2 = _sig(B @ s1)
    z2 = (s1 * (1 - s1))[:, None] * A  # J of sigmoid(A x) w.r.t. x, all d directions
    z3 = B @ z2  # the one d x d x d product
    return (s2 * (1 - s2)) @ z3


# ---- pyad ----
def pyad_methods(A, B):
    pA, pB = pyad.from_numpy(A), pyad.from_numpy(B)

    def f(x):
        return pyad.sigmoid(pB @ pyad.sigmoid(pA @ x)).sum()

    auto = pf.jacobian(f)  # its last_mode says which mode the last call chose

    def jacobian_auto(x):
        return auto(pyad.from_numpy(x)).numpy()

    jacobian_auto.jacobian = auto  # type: ignore[attr-defined]
    return {
        "pyad reverse (grad)": lambda x: pf.grad(f)(pyad.from_numpy(x)).numpy(),
        "pyad forward (jacfwd)": lambda x: pf.jacfwd(f)(pyad.from_numpy(x)).numpy(),
        "pyad jacobian(auto)": jacobian_auto,
    }


def torch_methods(A, B):
    import torch

    tA, tB = torch.from_numpy(A), torch.from_numpy(B)

    def f(x):
        return torch.sigmoid(tB @ torch.sigmoid(tA @ x)).sum()

    def reverse(x):
        xt = torch.from_numpy(x).requires_grad_(True)
        f(xt).backward()
        return xt.grad.numpy()

    return {
        "torch reverse (autograd)": reverse,
        "torch.func.jacrev": lambda x: torch.func.jacrev(f)(torch.from_numpy(x)).numpy(),
        "torch.func.jacfwd": lambda x: torch.func.jacfwd(f)(torch.from_numpy(x)).numpy(),
    }


MODE = {
    "pyad reverse (grad)": "reverse",
    "pyad forward (jacfwd)": "forward",
    "pyad jacobian(auto)": "auto",
    "numpy reverse": "reverse",
    "numpy forward": "forward",
    "torch reverse (autograd)": "reverse",
    "torch.func.jacrev": "reverse",
    "torch.func.jacfwd": "forward",
}


def flops(d, mode):
    """The cost model: 2 d^2 per matrix-vector product, 2 d^3 for the matrix-matrix product."""
    if mode == "forward":
        return 2 * (2 * d * d) + 2 * d**3 + 2 * d * d  # A x, B s1, B @ z2, the final vector-matrix
    return 4 * (2 * d * d)  # A x, B s1, B^T g2, A^T g1


def method_names(use_torch=True):
    """The methods run() times, in order."""
    names = ["pyad reverse (grad)", "pyad forward (jacfwd)", "pyad jacobian(auto)", "numpy reverse", "numpy forward"]
    return names + (["torch reverse (autograd)", "torch.func.jacrev", "torch.func.jacfwd"] if use_torch else [])


def work(d, name):
    """The model flops of one run of a method, plus a fixed cost per call (a small problem is all overhead):
    the unit the progress display counts in."""
    return flops(d, "forward" if MODE[name] == "forward" else "reverse") + 5e6


def time_method(fn, x, repeats, slow_after=2.0, on_run=lambda: None):
    """Median of `repeats` runs after one warm-up; methods slower than `slow_after` s get at most 3 runs.
    `on_run()` is called after each run, the warm-up included."""
    t0 = time.perf_counter()
    result = fn(x)
    warm = time.perf_counter() - t0
    on_run()
    n = min(repeats, 3) if warm > slow_after else repeats
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t0)
        on_run()
    return result, statistics.median(times), times


def _spread(times):
    q = statistics.quantiles(times, n=4, method="inclusive") if len(times) > 1 else [times[0]] * 3
    return {"min_s": min(times), "max_s": max(times), "iqr_s": q[2] - q[0]}


def run(d, dtype="float64", repeats=5, use_torch=True, progress=None):
    """Time every method at size d; each result is checked against the NumPy reverse pass before it is kept.
    `progress` (a progress.Progress) hears of each method and each run."""
    A, B, x = make_problem(d, np.dtype(dtype))
    reference = numpy_reverse(A, B, x)
    methods = dict(pyad_methods(A, B))
    methods["numpy reverse"] = lambda v: numpy_reverse(A, B, v)
    methods["numpy forward"] = lambda v: numpy_forward(A, B, v)
    if use_torch:
        methods.update(torch_methods(A, B))
    assert list(methods) == method_names(use_torch)
    tol = 1e-9 if dtype == "float64" else 1e-4
    rows = []
    for name, fn in methods.items():
        w = work(d, name)
        if progress is not None:
            progress.method(d, name, 1 + repeats)
        result, med, times = time_method(
            fn, x, repeats, on_run=(lambda: progress.advance(w)) if progress else (lambda: None)
        )
        if progress is not None and len(times) < repeats:
            progress.skip(w * (repeats - len(times)))
        err = float(np.max(np.abs(np.asarray(result).reshape(-1) - reference)) / max(1e-300, np.max(np.abs(reference))))
        if not err <= tol:
            raise AssertionError(f"{name} disagrees with the NumPy reverse pass at d={d}: relative error {err:.3g}")
        rows.append(
            {
                "method": name,
                "mode": MODE[name],
                "d": d,
                "dtype": dtype,
                "median_s": med,
                **_spread(times),
                "times_s": times,
                "max_rel_error": err,
                "tolerance": tol,
                "check_passed": True,
                "model_flops": flops(d, "forward" if MODE[name] == "forward" else "reverse"),
            }
        )
    for r in rows:
        if r["mode"] == "auto":
            r["chosen_mode"] = methods[r["method"]].jacobian.last_mode
    return rows
