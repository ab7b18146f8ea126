"""Forward-mode AD (pyad.autograd.forward_ad) against torch.func.jvp, in float64, for every differentiable op.

The table test runs every row of tests/op_db.py: each sample runs the row's `call(ns, *inputs)` on pyad dual
tensors (make_dual / unpack_dual) and through torch.func.jvp on torch tensors holding the same data and the same
tangents (zero tangents where pyad's input is not dual), then compares the primal outputs and the tangents.
Tangents go on each differentiable input alone and on all of them. Every test runs on each device (the `device`
fixture of conftest.py).
"""

import math
import re

import numpy as np
import op_db
import pytest
import torch

import pyad
from pyad.autograd import forward_ad as fwAD

try:  # pytest's --import-mode=importlib (the project's setting) registers the conftest as tests.conftest
    from tests.conftest import TNS, assert_close, leaf, make, to_torch
except ImportError:  # prepend/append import modes
    from conftest import TNS, assert_close, leaf, make, to_torch

pytestmark = pytest.mark.usefixtures("device")

F64 = pyad.float64


def fwd_check(fn, arrays, on=None, seed=99, rtol=None, atol=None):
    """Push tangents on inputs `on` (default: all) through fn with pyad's dual API; compare with torch.func.jvp."""
    rng = np.random.default_rng(seed)
    on = set(range(len(arrays))) if on is None else set(on)
    xs = [leaf(a) for a in arrays]
    tans = [leaf(rng.standard_normal(np.shape(a))) if i in on else None for i, a in enumerate(arrays)]
    for x, a in zip(xs, arrays):
        assert tuple(x.shape) == np.shape(a)
    with fwAD.dual_level():
        ds = [fwAD.make_dual(x, t) if t is not None else x for x, t in zip(xs, tans)]
        out = fn(pyad, *ds)
        assert isinstance(out, pyad.Tensor), f"pyad returned {type(out).__name__}"
        primal, tangent = fwAD.unpack_dual(out)
    txs = tuple(to_torch(x, requires_grad=False) for x in xs)
    ttans = tuple(
        to_torch(t, requires_grad=False) if t is not None else torch.zeros_like(tx) for t, tx in zip(tans, txs)
    )
    tout, ttan = torch.func.jvp(lambda *a: fn(TNS, *a), txs, ttans)
    assert_close(primal, tout, rtol=rtol, atol=atol, msg="primal")
    assert tangent is not None, "pyad gave no tangent for an output that depends on a dual input"
    assert_close(tangent, ttan, rtol=rtol, atol=atol, msg="tangent")
    return primal, tangent


def _which(n):
    """Tangent placements for n inputs: each input alone, then all."""
    return [(i,) for i in range(n)] + ([tuple(range(n))] if n > 1 else [])


# ---------------------------------------------------------------- the op table
@pytest.mark.parametrize("op,sample", op_db.params(op_db.FORWARD))
def test_forward(op, sample, device):
    """Every row, every sample, tangents on each differentiable input alone and on all: torch.func.jvp's."""
    op_db.skip_unless_on(op, device)
    arrays = sample.arrays(op.domains(len(sample.inputs)))
    fn = lambda ns, *xs: op.call(ns, *xs, **sample.kwargs)  # noqa: E731
    for on in op_db.tangent_placements(op, len(arrays)):
        fwd_check(fn, arrays, on=on)


UNARY_ELEMENTWISE = op_db.params(
    op_db.FORWARD, with_samples=False, where=lambda op: op.elementwise and op.arity == 1 and not op.variant
)


@pytest.mark.parametrize("op", UNARY_ELEMENTWISE)
def test_unary_on_noncontiguous_view(op, device):
    op_db.skip_unless_on(op, device)
    for seed, view in ((0, lambda x: x.T), (1, lambda x: x[:, ::2])):
        fwd_check(
            lambda ns, x, view=view: op.call(ns, view(x)), [make((3, 4), op.domains()[0], np.random.default_rng(seed))]
        )


def test_softplus_extremes():
    a = np.array([-100.0, -30.0, -20.0, -1.0, 0.0, 1.0, 20.0, 30.0, 100.0])
    _, tan = fwd_check(lambda M, x: M.softplus(x), [a])
    assert np.all(np.isfinite(tan.numpy()))


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize(
    "shape,dim",
    [((2, 3, 4), 0), ((2, 3, 4), 1), ((2, 3, 4), -1), ((3,), 0), ((4, 1, 3), 1)],
    ids=["234-0", "234-1", "234-m1", "3-0", "413-1"],
)
@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_dim(op, shape, dim, keepdim):
    """max/min with dim: the values carry the tangent of the selected element; the indices carry none."""
    a = make(shape, "any", np.random.default_rng(0))
    fwd_check(lambda M, x: getattr(M, op)(x, dim, keepdim).values, [a])
    fwd_check(lambda M, x: getattr(x, op)(dim=dim, keepdim=keepdim)[0], [a])
    x = leaf(a)
    with fwAD.dual_level():
        r = getattr(pyad, op)(fwAD.make_dual(x, leaf(np.ones_like(a))), dim, keepdim)
        assert fwAD.unpack_dual(r.indices).tangent is None
        assert r.indices.dtype == pyad.int64


@pytest.mark.parametrize("op", ["softmax", "log_softmax", "logsumexp"])
def test_softmax_large_values_give_finite_tangents(op):
    a = np.array([[1000.0, 999.0, 998.0], [-1000.0, -1001.0, -999.0]])
    _, tan = fwd_check(lambda M, x: getattr(M, op)(x, -1), [a])
    assert np.all(np.isfinite(tan.numpy()))


# ---------------------------------------------------------------- compositions
COMPOSITE = [
    ("mlp", [(4, 3), (3,), (2, 4)], lambda M, x, b, W: M.tanh(W @ M.relu(x @ (b * 1.0) + 0.1))),
    ("sigmoid_Ax", [(3, 4), (4,)], lambda M, A, x: M.sigmoid(A @ x).sum()),
    ("logsumexp_xy", [(3, 4), (3, 4)], lambda M, x, y: M.logsumexp(x * y, dim=1)),
    ("bcast_div_pow", [(2, 1), (1, 3)], lambda M, x, y: x * y / (1.0 + y * y) + (x * x + 1.0) ** 0.5),
    ("softmax_weighted", [(2, 3)], lambda M, x: (M.softmax(x, 0) * M.exp(x)).sum(dim=1, keepdim=True)),
    ("attention", [(3, 4), (5, 4), (5, 2)], lambda M, q, k, v: M.softmax(q @ k.T / 2.0, -1) @ v),
]
COMP_PARAMS = [(c, on) for c in COMPOSITE for on in _which(len(c[1]))]


@pytest.mark.parametrize("case,on", COMP_PARAMS, ids=[f"{c[0]}-{'+'.join(map(str, on))}" for c, on in COMP_PARAMS])
def test_composite(case, on):
    _, shapes, fn = case
    rng = np.random.default_rng(3)
    fwd_check(fn, [make(s, "any", rng) for s in shapes], on=on)


# ---------------------------------------------------------------- dual API semantics
def test_unpack_dual_of_non_dual_has_no_tangent():
    x = leaf(make((3,), "any", np.random.default_rng(0)))
    p, t = fwAD.unpack_dual(x)
    assert t is None
    assert_close(p, to_torch(x))
    with fwAD.dual_level():
        p, t = fwAD.unpack_dual(x)
        assert t is None
        r = fwAD.unpack_dual(x * 2.0)
        assert r.tangent is None and r.primal is not None  # named-tuple fields


def test_result_independent_of_dual_has_no_tangent():
    rng = np.random.default_rng(0)
    x, y = leaf(make((3,), "any", rng)), leaf(make((3,), "any", rng))
    with fwAD.dual_level():
        d = fwAD.make_dual(x, pyad.ones_like(x))
        assert fwAD.unpack_dual(d).tangent is not None
        assert fwAD.unpack_dual(pyad.exp(y) * 2.0 + y).tangent is None
        assert fwAD.unpack_dual(d.detach()).tangent is None  # as torch: detach drops the tangent
        assert fwAD.unpack_dual(d > 0).tangent is None  # comparisons are not differentiable


def test_tangent_dropped_after_level_exit():
    x = leaf(make((3,), "any", np.random.default_rng(0)))
    with fwAD.dual_level():
        y = pyad.sin(fwAD.make_dual(x, pyad.ones_like(x)))
        assert fwAD.unpack_dual(y).tangent is not None
    p, t = fwAD.unpack_dual(y)
    assert t is None
    assert_close(p, torch.sin(to_torch(x)))
    with fwAD.dual_level():  # a fresh level after exit works
        assert fwAD.unpack_dual(y).tangent is None
        z = fwAD.make_dual(x, pyad.ones_like(x)) * 3.0
        assert_close(fwAD.unpack_dual(z).tangent, torch.full((3,), 3.0, dtype=torch.float64))


def test_dual_levels_exit_innermost_first():
    # Levels nest (tests/test_nested_forward.py); exiting an outer one while an inner one is active raises.
    with fwAD.dual_level() as outer:
        inner = fwAD.enter_dual_level()
        with pytest.raises(RuntimeError, match="innermost"):
            fwAD.exit_dual_level(level=outer)
        fwAD.exit_dual_level(level=inner)
        # the outer level is still usable afterwards
        x = pyad.tensor([1.0, 2.0], dtype=F64)
        y = fwAD.make_dual(x, pyad.ones_like(x)) * x
        assert_close(fwAD.unpack_dual(y).tangent, torch.tensor([1.0, 2.0], dtype=torch.float64))
    with fwAD.dual_level():  # and a new one can be entered once the first has exited
        pass


def test_make_dual_follows_torchs_dtype_and_size_rules():
    x = pyad.tensor([1.0, 2.0], dtype=F64)
    tx = torch.tensor([1.0, 2.0], dtype=torch.float64)
    with fwAD.dual_level(), torch.autograd.forward_ad.dual_level():
        tfw = torch.autograd.forward_ad
        for ours, theirs in [
            (
                lambda: fwAD.make_dual(x, pyad.ones(3, dtype=F64)),
                lambda: tfw.make_dual(tx, torch.ones(3, dtype=torch.float64)),
            ),
            (
                lambda: fwAD.make_dual(x, pyad.ones(2, dtype=pyad.int64)),
                lambda: tfw.make_dual(tx, torch.ones(2, dtype=torch.int64)),
            ),
            (
                lambda: fwAD.make_dual(pyad.ones(2, dtype=pyad.int64), x),
                lambda: tfw.make_dual(torch.ones(2, dtype=torch.int64), tx),
            ),
        ]:
            with pytest.raises(Exception) as want:
                theirs()
            with pytest.raises(want.type, match=r"make_dual\] " + re.escape(str(want.value)[:40])):
                ours()
        # Another float dtype is accepted, as torch; pyad casts it to the primal's dtype (torch keeps it).
        d = fwAD.make_dual(x, pyad.tensor([1.0, 2.0], dtype=pyad.float32))
        td = tfw.make_dual(tx, torch.tensor([1.0, 2.0]))
        assert_close(fwAD.unpack_dual(d * x).tangent, tfw.unpack_dual(td * tx).tangent.double())
        assert fwAD.unpack_dual(d).tangent.dtype == F64


def test_float32_tangent():
    a = make((2, 3), "any", np.random.default_rng(0))
    x = pyad.tensor(a, dtype=pyad.float32)
    t = pyad.tensor(np.ones((2, 3)), dtype=pyad.float32)
    with fwAD.dual_level():
        p, tan = fwAD.unpack_dual(pyad.tanh(fwAD.make_dual(x, t)) * 2.0)
    tx = to_torch(x)
    tout, ttan = torch.func.jvp(lambda v: torch.tanh(v) * 2.0, (tx,), (torch.ones(2, 3),))
    assert_close(p, tout)
    assert_close(tan, ttan)


# ---------------------------------------------------------------- dual-number worked examples
def _scalar(v):
    return pyad.tensor(v, dtype=F64)


def test_example_x2_sinx():
    """f(x) = x^2 sin x at 1.5: value and derivative from one dual evaluation."""
    x0 = 1.5
    with fwAD.dual_level():
        x = fwAD.make_dual(_scalar(x0), _scalar(1.0))
        p, t = fwAD.unpack_dual(x * x * pyad.sin(x))
    assert tuple(p.shape) == () and tuple(t.shape) == ()
    assert p.item() == pytest.approx(x0**2 * math.sin(x0), rel=1e-14)
    assert t.item() == pytest.approx(2 * x0 * math.sin(x0) + x0**2 * math.cos(x0), rel=1e-14)


def test_example_log_sin_x2_plus_exp():
    """g(x) = log(sin(x^2) + e^x) at 0.8."""
    x0 = 0.8
    with fwAD.dual_level():
        x = fwAD.make_dual(_scalar(x0), _scalar(1.0))
        p, t = fwAD.unpack_dual(pyad.log(pyad.sin(x**2) + pyad.exp(x)))
    inner = math.sin(x0**2) + math.exp(x0)
    assert p.item() == pytest.approx(math.log(inner), rel=1e-14)
    assert t.item() == pytest.approx((2 * x0 * math.cos(x0**2) + math.exp(x0)) / inner, rel=1e-13)


def test_example_partials_one_pass_per_input():
    """(x1 + x2) sin x1 at (1, 2): d/dx1 = sin x1 + (x1 + x2) cos x1, d/dx2 = sin x1, one forward pass each."""
    f = lambda x1, x2: (x1 + x2) * pyad.sin(x1)  # noqa: E731
    partials = []
    for seed in ((1.0, 0.0), (0.0, 1.0)):
        with fwAD.dual_level():
            x1 = fwAD.make_dual(_scalar(1.0), _scalar(seed[0]))
            x2 = fwAD.make_dual(_scalar(2.0), _scalar(seed[1]))
            p, t = fwAD.unpack_dual(f(x1, x2))
        assert p.item() == pytest.approx(3 * math.sin(1.0), rel=1e-14)
        partials.append(t.item())
    assert partials[0] == pytest.approx(math.sin(1.0) + 3 * math.cos(1.0), rel=1e-14)
    assert partials[1] == pytest.approx(math.sin(1.0), rel=1e-14)


def test_example_jvp_two_outputs():
    """(x1 x2 + sin x1, e^x2 + x1^2) at (1, 0) along (2, -1) has JVP (-1 + 2 cos 1, 3)."""
    with fwAD.dual_level():
        x1 = fwAD.make_dual(_scalar(1.0), _scalar(2.0))
        x2 = fwAD.make_dual(_scalar(0.0), _scalar(-1.0))
        y1 = x1 * x2 + pyad.sin(x1)
        y2 = pyad.exp(x2) + x1**2
        (p1, t1), (p2, t2) = fwAD.unpack_dual(y1), fwAD.unpack_dual(y2)
    assert p1.item() == pytest.approx(math.sin(1.0), rel=1e-14)
    assert p2.item() == pytest.approx(2.0, rel=1e-14)
    assert t1.item() == pytest.approx(-1.0 + 2.0 * math.cos(1.0), rel=1e-14)
    assert t2.item() == pytest.approx(3.0, rel=1e-14)


# ---------------------------------------------------------------- reverse over forward
REV_OVER_FWD = [
    ("sin_sq", [(3,)], lambda M, x: M.sin(x * x)),
    ("x2_sinx", [()], lambda M, x: x * x * M.sin(x)),
    ("mlp", [(3,), (4, 3)], lambda M, x, W: M.tanh(W @ x)),
    ("softmax", [(2, 4)], lambda M, x: M.softmax(x, -1)),
    ("logsumexp", [(2, 4)], lambda M, x: M.logsumexp(x, 1)),
    ("logsumexp_sq", [(2, 4)], lambda M, x: M.logsumexp(x * x, 1)),
    ("log_softmax", [(2, 4)], lambda M, x: M.log_softmax(x, 0)),
    ("sigmoid_softplus", [(5,)], lambda M, x: M.sigmoid(x) * M.softplus(x)),
    ("pow_div", [(3,), (3,)], lambda M, x, y: (M.exp(x) ** y) / (2.0 + M.cos(y))),
    ("matmul_chain", [(3, 4), (4, 2)], lambda M, A, B: (A @ M.tanh(B)) @ B.T),
    ("reductions", [(3, 4)], lambda M, x: M.amax(x * x, 1) + M.mean(M.sin(x), 1) * x.sum(1)),
    ("bcast", [(2, 1), (3,)], lambda M, x, y: M.exp(x) * y / (1.0 + y * y)),
    ("sqrt_log", [(4,)], lambda M, x: M.sqrt(M.exp(x) + 1.0) * M.log(x * x + 1.0)),
]


@pytest.mark.parametrize("name,shapes,fn", REV_OVER_FWD, ids=[c[0] for c in REV_OVER_FWD])
def test_reverse_over_forward(name, shapes, fn):
    """pyad.autograd.grad of a tangent with respect to the primal (and to the tangent itself) equals torch's."""
    rng = np.random.default_rng(7)
    arrays = [make(s, "any", rng) for s in shapes]
    tan_arrays = [rng.standard_normal(s) for s in shapes]
    xs = [leaf(a).requires_grad_(True) for a in arrays]
    ts = [leaf(t).requires_grad_(True) for t in tan_arrays]
    with fwAD.dual_level():
        out = fn(pyad, *[fwAD.make_dual(x, t) for x, t in zip(xs, ts)])
        tangent = fwAD.unpack_dual(out).tangent
        assert tangent is not None and tangent.requires_grad
        v = leaf(rng.standard_normal(tuple(tangent.shape)))
        grads = pyad.autograd.grad([tangent], xs + ts, grad_outputs=[v], allow_unused=True)

    # torch reference through torch.func: the VJP of (primals, tangents) -> jvp tangent.  (torch's own
    # forward_ad + autograd.grad path trips over an in-place op in softmax's forward formula.)
    n = len(xs)

    def tangent_fn(*args):
        return torch.func.jvp(lambda *a: fn(TNS, *a), tuple(args[:n]), tuple(args[n:]))[1]

    targs = [to_torch(x, requires_grad=False) for x in xs + ts]
    ttan, vjp_fn = torch.func.vjp(tangent_fn, *targs)
    assert_close(tangent, ttan, msg="tangent")
    tgrads = vjp_fn(to_torch(v))
    for i, (g, tg) in enumerate(zip(grads, tgrads)):
        what = f"grad of tangent w.r.t. {'primal' if i < n else 'tangent'} {i % n}"
        assert_close(g if g is not None else pyad.zeros_like(leaf(tg.numpy())), tg, msg=what)
