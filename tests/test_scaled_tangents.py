"""An elementwise op's tangent kept as (input tangent, derivative) until a rule reads it (Note [Scaled tangents] in
csrc/autograd/forward_ad.h): the values are the eager product's wherever it is read, a full sum reads it as one
matrix-vector product without making the product, nested levels and tangents that an enclosing transform
differentiates take the eager path, and a tangent written in place before the product is made raises."""

import numpy as np
import pytest
import torch
import torch.autograd.forward_ad as tfw

import pyad
from pyad import _C, func
from pyad.autograd import forward_ad as fwAD

TOL = dict(rtol=1e-10, atol=1e-12)
rng = np.random.default_rng(11)


def t64(a):
    return pyad.tensor(np.asarray(a, dtype=np.float64))


def both_jvp(fn, x, t):
    """fn's JVP at x along t, by pyad and by torch forward mode."""
    with fwAD.dual_level():
        got = fwAD.unpack_dual(fn(pyad, fwAD.make_dual(t64(x), t64(t)))).tangent.numpy()
    with tfw.dual_level():
        want = tfw.unpack_dual(fn(torch, tfw.make_dual(torch.tensor(x), torch.tensor(t)))).tangent.numpy()
    return got, want


CHAINS = {
    "sum": lambda M, v: M.sigmoid(v).sum(),
    "mean": lambda M, v: M.tanh(v).mean(),
    "sum keepdim": lambda M, v: M.exp(v).sum(dim=(0, 1), keepdim=True),
    "partial sum": lambda M, v: M.sin(v).sum(dim=1),  # not a full sum: the product is made
    "two unary ops": lambda M, v: M.sigmoid(M.tanh(v)).sum(),
    "read by mul": lambda M, v: (M.cos(v) * v).sum(),
    "exp then in place": lambda M, v: M.exp(v).mul_(2.0).sum(),  # exp's derivative is its result
    "sum of a transpose": lambda M, v: M.sigmoid(v.T).sum(),
}


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_jvp_equals_torchs(name):
    x, t = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    got, want = both_jvp(CHAINS[name], x, t)
    np.testing.assert_allclose(got, want, **TOL)


def test_full_sum_reads_the_pair_without_making_the_product():
    n = 3000
    x = t64(rng.standard_normal(n))
    with fwAD.dual_level():
        d = _C.make_identity_dual(x, 0, n)
        s = pyad.sigmoid(d * 1.0)  # a dense (n, n) tangent, then a scaled one
        pyad.reset_peak_memory_stats()
        before = pyad.memory_allocated()
        t = fwAD.unpack_dual(s.sum()).tangent
        peak = pyad.max_memory_allocated() - before
    sv = 1 / (1 + np.exp(-x.numpy()))
    np.testing.assert_allclose(t.numpy(), sv * (1 - sv), **TOL)
    assert peak < n * n * 8 / 10, f"peak {peak} bytes: the (n, n) product was made"


def test_jacfwd_of_the_main_job_matches_torch_at_every_chunking():
    A, B, x = rng.standard_normal((7, 5)), rng.standard_normal((6, 7)), rng.standard_normal(5)
    want = torch.func.jacfwd(lambda v: torch.sigmoid(torch.tensor(B) @ torch.sigmoid(torch.tensor(A) @ v)).sum())(
        torch.tensor(x)
    ).numpy()
    for chunk in (None, 1, 3):
        got = func.jacfwd(lambda v: pyad.sigmoid(t64(B) @ pyad.sigmoid(t64(A) @ v)).sum(), chunk_size=chunk)(t64(x))
        np.testing.assert_allclose(got.numpy(), want, **TOL)


def test_nested_and_differentiated_tangents_match_torch():
    x = rng.standard_normal(4)
    # forward over forward: two levels, the eager product at both
    h = func.jacfwd(func.jacfwd(lambda v: pyad.sigmoid(v).sum()))(t64(x)).numpy()
    th = torch.func.jacfwd(torch.func.jacfwd(lambda v: torch.sigmoid(v).sum()))(torch.tensor(x)).numpy()
    np.testing.assert_allclose(h, th, **TOL)
    # reverse over forward: the tangent requires grad, so it is the eager product
    g = func.grad(lambda v: func.jvp(lambda u: pyad.tanh(u).sum(), (v,), (pyad.ones_like(v),))[1])(t64(x)).numpy()
    tg = torch.func.grad(lambda v: torch.func.jvp(lambda u: torch.tanh(u).sum(), (v,), (torch.ones_like(v),))[1])(
        torch.tensor(x)
    ).numpy()
    np.testing.assert_allclose(g, tg, **TOL)


def test_a_tangent_written_in_place_before_the_product_is_made_raises():
    x, t = t64(rng.standard_normal(3)), t64(rng.standard_normal(3))
    with fwAD.dual_level():
        y = pyad.sin(fwAD.make_dual(x, t))
        t.mul_(2.0)
        with pytest.raises(RuntimeError, match=r"\[sin\] the tangent of its input was modified in place"):
            fwAD.unpack_dual(y)
    with fwAD.dual_level():  # a clone written in place changes nothing
        u = t.clone()
        y = pyad.sin(fwAD.make_dual(x, u))
        u.clone().mul_(2.0)
        np.testing.assert_allclose(fwAD.unpack_dual(y).tangent.numpy(), np.cos(x.numpy()) * t.numpy(), **TOL)
