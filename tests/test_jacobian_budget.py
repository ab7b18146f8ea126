"""max_memory= on jacobian, jacfwd, jacrev and hessian: the allocator's peak above what was live before the
call stays within the budget, the result equals the unbudgeted one, and a budget too small says what works."""

import numpy as np
import pytest

import pyad
from pyad import func
from pyad._jac_budget import parse_bytes

F64 = pyad.float64


def _x(n, seed=0):
    return pyad.tensor(np.random.default_rng(seed).uniform(0.5, 1.5, n), dtype=F64)


def _w(m, n, seed=1):
    return pyad.tensor(np.random.default_rng(seed).standard_normal((m, n)) / n, dtype=F64)


W = _w(300, 120)

FUNCTIONS = {
    "sin_times_sum": lambda x: pyad.sin(x) * x.sum(),
    "mlp": lambda x: pyad.tanh(W @ pyad.exp(x)),
    "outer": lambda x: (x[:, None] * x[None, :]).sum(1) + pyad.sqrt(x),
}
N = {"sin_times_sum": 150, "mlp": 120, "outer": 100}


def _peak(call):
    pyad.reset_peak_memory_stats()
    base = pyad.memory_allocated()
    out = call()
    return out, pyad.max_memory_allocated() - base


@pytest.mark.parametrize("transform", ["jacfwd", "jacrev"])
@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("fraction", [0.75, 0.45])
def test_peak_stays_within_budget(transform, name, fraction):
    f, x = FUNCTIONS[name], _x(N[name])
    make = getattr(func, transform)
    want, unchunked = _peak(lambda: make(f)(x))
    result = want.numel() * 8
    budget = int(result + fraction * (unchunked - result))
    got, peak = _peak(lambda: make(f, max_memory=budget)(x))
    assert peak <= budget, (peak, budget, unchunked)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("budget", ["3MB", 2_000_000])
def test_hessian_budget(budget):
    def f(x):
        return (pyad.sin(x) * x[None, :].T).sum() + (x**3).sum()

    x = _x(120)
    want, unchunked = _peak(lambda: func.hessian(f)(x))
    got, peak = _peak(lambda: func.hessian(f, max_memory=budget)(x))
    assert peak <= parse_bytes(budget) < unchunked
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-14)


def test_pytree_inputs_and_outputs():
    def f(p):
        y = pyad.tanh(p["w"] @ p["b"])
        return {"y": y, "z": p["b"] * 2.0}

    p = {"w": _w(40, 30), "b": _x(30)}
    for make in (func.jacrev, func.jacfwd):
        want = make(f)(p)
        got, peak = _peak(lambda: make(f, max_memory=800_000)(p))  # the result alone is 689 kB
        assert peak <= 800_000
        for k in ("y", "z"):
            for a in ("w", "b"):
                np.testing.assert_allclose(got[k][a].numpy(), want[k][a].numpy(), rtol=1e-12, atol=1e-14)


def _bytes_in(err):
    return int(str(err.value).rsplit("(", 1)[1].split()[0])


@pytest.mark.parametrize("transform", ["jacfwd", "jacrev"])
def test_too_small_budget_names_the_smallest_that_works(transform):
    f, x = FUNCTIONS["mlp"], _x(120)
    make = getattr(func, transform)
    # Below the result's own size (plus the graph in reverse mode): refused before any pass.
    with pytest.raises(MemoryError, match="the Jacobian itself") as info:
        make(f, max_memory=1000)(x)
    floor = _bytes_in(info)
    assert floor >= 300 * 120 * 8
    # Room for the result but not for one direction's pass: the error names the one-direction peak.
    with pytest.raises(MemoryError, match=r"too small for even one .* smallest budget that works is") as info:
        make(f, max_memory=floor + 64)(x)
    smallest = _bytes_in(info)
    got, peak = _peak(lambda: make(f, max_memory=smallest)(x))
    assert peak <= smallest
    np.testing.assert_allclose(got.numpy(), make(f)(x).numpy(), rtol=1e-12)


def test_auto_mode_weighs_the_budget():
    # n > m, where auto picks reverse unbudgeted; but the recorded graph (ten saved 2000-vectors) is far
    # larger than the result (3 x 2000): under a budget the graph cannot fit, auto goes forward.
    def f(x):
        h = x
        for _ in range(10):
            h = pyad.sin(h) * h
        return h[:3]

    x = _x(2000)
    want, mode = func.jacobian(f, return_mode=True)(x)
    assert mode == "reverse"
    budget = 300_000  # forward mode needs ~210 kB here, reverse ~430 kB (its graph alone ~320 kB)
    got, peak = _peak(lambda: func.jacobian(f, return_mode=True, max_memory=budget)(x))
    assert got[1] == "forward" and peak <= budget
    np.testing.assert_allclose(got[0].numpy(), want.numpy(), rtol=1e-12, atol=1e-14)
    got, mode = func.jacobian(f, return_mode=True, max_memory="100MB")(x)
    assert mode == "reverse"
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-14)


def test_parse_bytes():
    assert parse_bytes("512MB") == 512 * 10**6
    assert parse_bytes("1.5 GiB") == int(1.5 * 2**30)
    assert parse_bytes("64k") == 65536
    assert parse_bytes(123) == 123
    for bad in ("lots", "12 parsecs", -1, 0, 1.5, True):
        with pytest.raises((ValueError, TypeError), match="max_memory"):
            parse_bytes(bad)


def test_argument_errors():
    f = FUNCTIONS["mlp"]
    with pytest.raises(ValueError, match="chunk_size or max_memory"):
        func.jacrev(f, chunk_size=4, max_memory="1MB")
    with pytest.raises(ValueError, match="cannot read max_memory"):
        func.jacfwd(f, max_memory="one meg")
    # A budget inside an enclosing transform would be written in place under it: refused by name.
    with pytest.raises(ValueError, match="outermost"):
        func.jacfwd(func.jacrev(lambda x: (x**3).sum(), max_memory="10MB"))(_x(5))
