"""Forward-mode AD (pyad.autograd.forward_ad) against torch.func.jvp, in float64, for every differentiable op.

Each case runs `fn(M, *inputs)` on pyad dual tensors (make_dual / unpack_dual) and through torch.func.jvp on
torch tensors holding the same data and the same tangents (zero tangents where pyad's input is not dual), then
compares the primal outputs and the tangents.  Tangents go on one input only and on all of them.  Every test runs
on each device (the `device` fixture of conftest.py).
"""
import math
import re

import numpy as np
import pytest
import torch

import pyad
from pyad.autograd import forward_ad as fwAD

try:  # pytest's --import-mode=importlib (the project's setting) registers the conftest as tests.conftest
    from tests.conftest import TNS, assert_close, to_torch
except ImportError:  # prepend/append import modes
    from conftest import TNS, assert_close, to_torch

pytestmark = pytest.mark.usefixtures("device")

F64 = pyad.float64




# ---------------------------------------------------------------- input data
def make(shape, kind, rng):
    """A float64 numpy array of `shape` inside an op's domain (same kinds as test_ops_grad)."""
    shape = tuple(shape)
    if kind == "any":
        a = rng.standard_normal(shape)
    elif kind == "pos":
        a = rng.uniform(0.5, 2.0, shape)
    elif kind == "nz":
        a = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 2.0, shape)
    elif kind == "unit":
        a = rng.uniform(-0.9, 0.9, shape)
    else:
        raise ValueError(kind)
    return np.asarray(a, dtype=np.float64)


def leaf(a, dtype=F64):
    """A pyad tensor on the default device holding a (0-d data stays 0-d)."""
    a = np.asarray(a)
    t = pyad.tensor(a, dtype=dtype)
    assert t.shape == a.shape
    return t


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
    ttans = tuple(to_torch(t, requires_grad=False) if t is not None else torch.zeros_like(tx)
                  for t, tx in zip(tans, txs))
    tout, ttan = torch.func.jvp(lambda *a: fn(TNS, *a), txs, ttans)
    assert_close(primal, tout, rtol=rtol, atol=atol, msg="primal")
    assert tangent is not None, "pyad gave no tangent for an output that depends on a dual input"
    assert_close(tangent, ttan, rtol=rtol, atol=atol, msg="tangent")
    return primal, tangent


def _which(n):
    """Tangent placements for n inputs: each input alone, then all."""
    return [(i,) for i in range(n)] + ([tuple(range(n))] if n > 1 else [])


# ---------------------------------------------------------------- unary elementwise ops
UNARY = {
    "neg": (lambda M, x: M.neg(x), "any"),
    "neg_op": (lambda M, x: -x, "any"),
    "exp": (lambda M, x: M.exp(x), "any"),
    "log": (lambda M, x: M.log(x), "pos"),
    "log1p": (lambda M, x: M.log1p(x), "unit"),
    "sin": (lambda M, x: M.sin(x), "any"),
    "cos": (lambda M, x: M.cos(x), "any"),
    "tanh": (lambda M, x: M.tanh(x), "any"),
    "sigmoid": (lambda M, x: M.sigmoid(x), "any"),
    "relu": (lambda M, x: M.relu(x), "nz"),
    "softplus": (lambda M, x: M.softplus(x), "any"),
    "softplus_wide": (lambda M, x: M.softplus(x * 15.0), "any"),
    "sqrt": (lambda M, x: M.sqrt(x), "pos"),
    "abs": (lambda M, x: M.abs(x), "nz"),
    "abs_op": (lambda M, x: abs(x), "nz"),
    "clamp_min": (lambda M, x: M.clamp(x, min=-0.25), "any"),
    "clamp_max": (lambda M, x: M.clamp(x, max=0.35), "any"),
    "clamp_both": (lambda M, x: M.clamp(x, -0.5, 0.4), "any"),
    "clamp_method": (lambda M, x: x.clamp(min=-0.1, max=0.6), "any"),
    "pow_2": (lambda M, x: x ** 2, "any"),
    "pow_int3": (lambda M, x: x ** 3, "any"),
    "pow_3": (lambda M, x: M.pow(x, 3.0), "any"),
    "pow_half": (lambda M, x: x ** 0.5, "pos"),
    "pow_m1": (lambda M, x: x ** -1, "nz"),
    "pow_m1_float": (lambda M, x: M.pow(x, -1.0), "nz"),
    "pow_method": (lambda M, x: x.pow(2), "any"),
    "rpow": (lambda M, x: 2.0 ** x, "any"),
    "self_mul": (lambda M, x: x * x, "any"),
    "self_chain": (lambda M, x: M.exp(M.sin(x)) * x - x / 3.0, "any"),
    "clone": (lambda M, x: x.clone(), "any"),
    "clone_then_mul": (lambda M, x: x.clone() * x, "any"),
    "to_f64": (lambda M, x: x.to(M.float64) * 2.0, "any"),
    "to_f32": (lambda M, x: x.to(M.float32), "any"),
    "to_f32_f64": (lambda M, x: M.sin(x.to(M.float32)).to(M.float64), "any"),
    "double_method": (lambda M, x: (x * 3.0).double(), "any"),
}

UNARY_SHAPES = [(3,), (2, 3), (4, 1, 3), (0, 3), (), (1,)]


@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=str)
@pytest.mark.parametrize("op", list(UNARY))
def test_unary(op, shape):
    fn, kind = UNARY[op]
    fwd_check(fn, [make(shape, kind, np.random.default_rng(0))])


@pytest.mark.parametrize("op", ["exp", "sigmoid", "tanh", "log", "sqrt", "abs", "softplus"])
def test_unary_on_noncontiguous_view(op):
    fn, kind = UNARY[op]
    fwd_check(lambda M, x: fn(M, x.T), [make((3, 4), kind, np.random.default_rng(0))])
    fwd_check(lambda M, x: fn(M, x[:, ::2]), [make((3, 4), kind, np.random.default_rng(1))])


def test_softplus_extremes():
    a = np.array([-100.0, -30.0, -20.0, -1.0, 0.0, 1.0, 20.0, 30.0, 100.0])
    _, tan = fwd_check(lambda M, x: M.softplus(x), [a])
    assert np.all(np.isfinite(tan.numpy()))


KINKS = {
    "relu": (lambda M, x: M.relu(x), [0.0, -1.0, 2.0]),
    "abs": (lambda M, x: M.abs(x), [0.0, -1.0, 2.0]),
    "clamp_at_bounds": (lambda M, x: M.clamp(x, -0.5, 0.5), [-0.5, 0.5, -1.0, 0.2, 1.0]),
    "clamp_min_at_bound": (lambda M, x: M.clamp(x, min=0.0), [0.0, -1.0, 1.0]),
    "clamp_max_at_bound": (lambda M, x: M.clamp(x, max=0.0), [0.0, -1.0, 1.0]),
    "pow_2_at_0": (lambda M, x: x ** 2, [0.0, 1.0]),
    "pow_3_at_0": (lambda M, x: x ** 3.0, [0.0, -2.0]),
}


@pytest.mark.parametrize("op", list(KINKS))
def test_unary_at_kinks(op):
    """Tangents at non-differentiable points follow torch's forward-mode conventions."""
    fn, data = KINKS[op]
    fwd_check(fn, [np.array(data)])


# ---------------------------------------------------------------- binary elementwise ops
BINARY = {
    "add": (lambda M, a, b: a + b, "any", "any"),
    "add_fn": (lambda M, a, b: M.add(a, b), "any", "any"),
    "sub": (lambda M, a, b: a - b, "any", "any"),
    "sub_fn": (lambda M, a, b: M.sub(a, b), "any", "any"),
    "mul": (lambda M, a, b: a * b, "any", "any"),
    "mul_fn": (lambda M, a, b: M.mul(a, b), "any", "any"),
    "div": (lambda M, a, b: a / b, "any", "nz"),
    "div_fn": (lambda M, a, b: M.div(a, b), "any", "nz"),
    "pow": (lambda M, a, b: a ** b, "pos", "any"),
    "pow_fn": (lambda M, a, b: M.pow(a, b), "pos", "any"),
    "maximum": (lambda M, a, b: M.maximum(a, b), "any", "any"),
    "minimum": (lambda M, a, b: M.minimum(a, b), "any", "any"),
    "max_binary": (lambda M, a, b: M.max(a, b), "any", "any"),
    "min_binary": (lambda M, a, b: M.min(a, b), "any", "any"),
    "clamp_tensor": (lambda M, a, b: M.clamp(a, min=b), "any", "any"),
    "composite": (lambda M, a, b: M.tanh(a * b + a) / (1.0 + b * b), "any", "any"),
}

BINARY_SHAPES = [
    ((3,), (3,)),
    ((2, 3), (2, 3)),
    ((2, 3), (3,)),
    ((3,), (2, 3)),
    ((2, 1), (1, 3)),
    ((4, 1, 3), (1, 5, 3)),
    ((), (2, 3)),
    ((2, 3), ()),
    ((), ()),
    ((0, 3), (1, 3)),
]


@pytest.mark.parametrize("on", _which(2), ids=["a", "b", "ab"])
@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
@pytest.mark.parametrize("op", list(BINARY))
def test_binary(op, shapes, on):
    fn, ka, kb = BINARY[op]
    rng = np.random.default_rng(0)
    fwd_check(fn, [make(shapes[0], ka, rng), make(shapes[1], kb, rng)], on=on)


@pytest.mark.parametrize("on", _which(2), ids=["a", "b", "ab"])
@pytest.mark.parametrize("op", ["maximum", "minimum", "max_binary", "min_binary"])
def test_maximum_minimum_ties(op, on):
    fn = BINARY[op][0]
    a = np.array([[1.0, 2.0, -3.0], [0.5, 0.5, 4.0]])
    b = np.array([[1.0, 1.0, -3.0], [0.5, 0.7, 4.0]])
    fwd_check(fn, [a, b], on=on)
    fwd_check(fn, [np.array([[2.0, 2.0, 2.0], [1.0, 3.0, 2.0]]), np.array([2.0])], on=on)


SCALAR_OPS = {
    "t+s": (lambda M, x: x + 2.5, "any"),
    "s+t": (lambda M, x: 2.5 + x, "any"),
    "t+int": (lambda M, x: x + 2, "any"),
    "t-s": (lambda M, x: x - 1.5, "any"),
    "s-t": (lambda M, x: 2.0 - x, "any"),
    "int-t": (lambda M, x: 2 - x, "any"),
    "t*s": (lambda M, x: x * 3.0, "any"),
    "s*t": (lambda M, x: 3.0 * x, "any"),
    "int*t": (lambda M, x: 3 * x, "any"),
    "t/s": (lambda M, x: x / 4.0, "any"),
    "t/int": (lambda M, x: x / 4, "any"),
    "s/t": (lambda M, x: 3.0 / x, "nz"),
    "int/t": (lambda M, x: 3 / x, "nz"),
    "t**s": (lambda M, x: x ** 2.0, "any"),
    "s**t": (lambda M, x: 3.0 ** x, "any"),
    "int**t": (lambda M, x: 2 ** x, "any"),
    "add_fn_scalar": (lambda M, x: M.add(x, 1.5), "any"),
    "sub_fn_scalar": (lambda M, x: M.sub(x, 1.5), "any"),
    "mul_fn_scalar": (lambda M, x: M.mul(x, -2.0), "any"),
    "div_fn_scalar": (lambda M, x: M.div(x, -2.0), "any"),
}


@pytest.mark.parametrize("shape", [(3,), (2, 3), (), (0, 2)], ids=str)
@pytest.mark.parametrize("op", list(SCALAR_OPS))
def test_scalar_operand(op, shape):
    fn, kind = SCALAR_OPS[op]
    fwd_check(fn, [make(shape, kind, np.random.default_rng(0))])


# ---------------------------------------------------------------- matmul / outer
MATMUL = [
    ("1d@1d", (4,), (4,), lambda M, a, b: a @ b),
    ("2d@1d", (3, 4), (4,), lambda M, a, b: a @ b),
    ("1d@2d", (4,), (4, 5), lambda M, a, b: a @ b),
    ("2d@2d", (3, 4), (4, 5), lambda M, a, b: a @ b),
    ("matmul_fn", (3, 4), (4, 5), lambda M, a, b: M.matmul(a, b)),
    ("method", (3, 4), (4, 5), lambda M, a, b: a.matmul(b)),
    ("batched@2d", (2, 3, 4), (4, 5), lambda M, a, b: a @ b),
    ("2d@batched", (3, 4), (2, 4, 5), lambda M, a, b: a @ b),
    ("batched@batched", (2, 3, 4), (2, 4, 5), lambda M, a, b: a @ b),
    ("bcast_batch", (2, 1, 3, 4), (5, 4, 2), lambda M, a, b: a @ b),
    ("batched@1d", (2, 3, 4), (4,), lambda M, a, b: a @ b),
    ("1d@batched", (4,), (2, 4, 5), lambda M, a, b: a @ b),
    ("xT@y", (4, 3), (4, 5), lambda M, a, b: a.T @ b),
    ("x@yT", (3, 4), (5, 4), lambda M, a, b: a @ b.T),
    ("xT@yT", (4, 3), (5, 4), lambda M, a, b: a.T @ b.T),
    ("mT_batched", (2, 4, 3), (2, 5, 4), lambda M, a, b: a.mT @ b.mT),
    ("transpose_batched", (2, 4, 3), (4, 5), lambda M, a, b: a.transpose(1, 2) @ b),
    ("sliced", (3, 6), (3, 5), lambda M, a, b: a[:, ::2] @ b),
    ("empty_m", (0, 4), (4, 5), lambda M, a, b: a @ b),
    ("empty_k", (3, 0), (0, 5), lambda M, a, b: a @ b),
    ("size1", (1, 4), (4, 1), lambda M, a, b: a @ b),
    ("mm", (3, 4), (4, 2), lambda M, a, b: M.mm(a, b)),
    ("dot", (5,), (5,), lambda M, a, b: M.dot(a, b)),
    ("outer", (3,), (4,), lambda M, a, b: M.outer(a, b)),
    ("outer_method", (3,), (1,), lambda M, a, b: a.outer(b)),
]


@pytest.mark.parametrize("on", _which(2), ids=["a", "b", "ab"])
@pytest.mark.parametrize("name,sa,sb,fn", MATMUL, ids=[m[0] for m in MATMUL])
def test_matmul(name, sa, sb, fn, on):
    rng = np.random.default_rng(0)
    fwd_check(fn, [make(sa, "any", rng), make(sb, "any", rng)], on=on)


def test_matmul_same_input():
    fwd_check(lambda M, a: a @ a.T, [make((3, 4), "any", np.random.default_rng(0))])
    fwd_check(lambda M, a: a.T @ a, [make((3, 4), "any", np.random.default_rng(1))])


# ---------------------------------------------------------------- where
WHERE_SHAPES = [((2, 3), (2, 3), (2, 3)), ((2, 1), (1, 3), (2, 3)), ((3,), (2, 3), ()), ((0, 3), (0, 3), (3,))]


@pytest.mark.parametrize("on", _which(2), ids=["a", "b", "ab"])
@pytest.mark.parametrize("shapes", WHERE_SHAPES, ids=str)
def test_where(shapes, on):
    rng = np.random.default_rng(0)
    cond = rng.random(shapes[0]) > 0.5

    def fn(M, a, b):
        c = pyad.tensor(cond) if M is pyad else torch.tensor(cond)
        return M.where(c, a, b)

    fwd_check(fn, [make(shapes[1], "any", rng), make(shapes[2], "any", rng)], on=on)


def test_where_scalar_other_and_dual_condition():
    """where(x > 0, x, 0.0): the condition is computed from the dual tensor itself."""
    fwd_check(lambda M, a: M.where(a > 0, a, 0.0), [make((2, 3), "nz", np.random.default_rng(0))])
    fwd_check(lambda M, a: M.where(a > 0, a * a, M.exp(a)), [make((2, 3), "nz", np.random.default_rng(1))])


# ---------------------------------------------------------------- reductions
REDUCE_CASES = [
    ((2, 3, 4), None),
    ((2, 3, 4), 0),
    ((2, 3, 4), 1),
    ((2, 3, 4), -1),
    ((2, 3, 4), (0, 2)),
    ((2, 3, 4), (-1, -2)),
    ((2, 3, 4), (0, 1, 2)),
    ((4, 1, 3), 1),
    ((3,), 0),
    ((3,), None),
    ((), None),
    ((0, 3), 1),
]
REDUCE_PARAMS = [(s, d, k) for s, d in REDUCE_CASES for k in ([False] if d is None else [False, True])]


def _reduce_fn(op, dim, keepdim):
    if dim is None:
        if op in ("sum", "mean", "amax", "amin"):
            return lambda M, x: getattr(M, op)(x)
        return lambda M, x: getattr(x, op)()
    return lambda M, x: getattr(M, op)(x, dim=dim, keepdim=keepdim)


@pytest.mark.parametrize("shape,dim,keepdim", REDUCE_PARAMS,
                         ids=[f"{s}-{d}-{'keep' if k else 'nokeep'}" for s, d, k in REDUCE_PARAMS])
@pytest.mark.parametrize("op", ["sum", "mean", "amax", "amin"])
def test_reduction(op, shape, dim, keepdim):
    fwd_check(_reduce_fn(op, dim, keepdim), [make(shape, "any", np.random.default_rng(0))])


@pytest.mark.parametrize("shape", [(2, 3, 4), (3,), (), (4, 1, 3)], ids=str)
@pytest.mark.parametrize("op", ["sum", "mean", "amax", "amin", "max", "min"])
def test_reduction_method_all(op, shape):
    fwd_check(lambda M, x: getattr(x, op)(), [make(shape, "any", np.random.default_rng(0))])


@pytest.mark.parametrize("op", ["amax", "amin"])
def test_amax_amin_ties(op):
    """torch's forward mode averages the tangents of tied extremes."""
    a = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [-1.0, -1.0, 5.0, -2.0]])
    fwd_check(lambda M, x: getattr(M, op)(x, dim=1), [a])
    fwd_check(lambda M, x: getattr(M, op)(x, dim=0, keepdim=True), [a])
    fwd_check(lambda M, x: getattr(M, op)(x), [a * 0.0 + 1.0])
    fwd_check(lambda M, x: getattr(x, op[1:])(), [a * 0.0 + 1.0])


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", [((2, 3, 4), 0), ((2, 3, 4), 1), ((2, 3, 4), -1), ((3,), 0), ((4, 1, 3), 1)],
                         ids=["234-0", "234-1", "234-m1", "3-0", "413-1"])
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


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_dim_ties(op):
    a = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [-1.0, -1.0, -2.0, -2.0]])
    fwd_check(lambda M, x: getattr(M, op)(x, 1).values, [a])


# ---------------------------------------------------------------- logsumexp / softmax / log_softmax
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", [((2, 3), 0), ((2, 3), -1), ((2, 3, 4), 1), ((2, 3, 4), (0, 2)), ((3,), 0),
                                       ((4, 1, 3), 1), ((0, 3), 1)],
                         ids=["23-0", "23-m1", "234-1", "234-02", "3-0", "413-1", "03-1"])
def test_logsumexp(shape, dim, keepdim):
    fwd_check(lambda M, x: M.logsumexp(x, dim, keepdim=keepdim), [make(shape, "any", np.random.default_rng(0))])


@pytest.mark.parametrize("shape,dim", [((2, 3), 0), ((2, 3), -1), ((2, 3, 4), 1), ((3,), 0), ((4, 1, 3), 1),
                                       ((0, 3), -1)],
                         ids=["23-0", "23-m1", "234-1", "3-0", "413-1", "03-m1"])
@pytest.mark.parametrize("op", ["softmax", "log_softmax", "softmax_method", "log_softmax_method"])
def test_softmax(op, shape, dim):
    if op.endswith("_method"):
        name = op[:-len("_method")]
        fn = lambda M, x: getattr(x, name)(dim)  # noqa: E731
    else:
        fn = lambda M, x: getattr(M, op)(x, dim)  # noqa: E731
    fwd_check(fn, [make(shape, "any", np.random.default_rng(0))])


@pytest.mark.parametrize("op", ["softmax", "log_softmax", "logsumexp"])
def test_softmax_large_values(op):
    a = np.array([[1000.0, 999.0, 998.0], [-1000.0, -1001.0, -999.0]])
    _, tan = fwd_check(lambda M, x: getattr(M, op)(x, -1), [a])
    assert np.all(np.isfinite(tan.numpy()))


@pytest.mark.parametrize("op", ["softmax", "log_softmax", "logsumexp"])
def test_softmax_with_masked_minus_inf(op):
    a = np.array([[0.5, -np.inf, 1.0, -0.3], [2.0, 1.0, -np.inf, -np.inf]])
    fwd_check(lambda M, x: getattr(M, op)(x, -1), [a])


# ---------------------------------------------------------------- shape ops
SHAPE_OPS = [
    ("reshape", (2, 3, 4), lambda M, x: x.reshape(6, 4)),
    ("reshape_tuple", (2, 3, 4), lambda M, x: x.reshape((4, -1))),
    ("reshape_flat", (2, 3, 4), lambda M, x: x.reshape(-1)),
    ("reshape_fn", (2, 3, 4), lambda M, x: M.reshape(x, (3, 8))),
    ("reshape_scalar", (), lambda M, x: x.reshape(1, 1)),
    ("reshape_to_scalar", (1,), lambda M, x: x.reshape(())),
    ("reshape_empty", (0, 3), lambda M, x: x.reshape(3, 0)),
    ("reshape_of_T", (3, 4), lambda M, x: x.T.reshape(12)),
    ("view", (2, 3, 4), lambda M, x: x.view(4, 6)),
    ("view_m1", (2, 3, 4), lambda M, x: x.view(2, -1)),
    ("transpose", (2, 3, 4), lambda M, x: x.transpose(0, 2)),
    ("transpose_neg", (2, 3, 4), lambda M, x: M.transpose(x, -1, -2)),
    ("permute", (2, 3, 4), lambda M, x: x.permute(2, 0, 1)),
    ("permute_tuple", (2, 3, 4), lambda M, x: x.permute((1, 2, 0))),
    ("permute_fn", (2, 3, 4), lambda M, x: M.permute(x, (2, 1, 0))),
    ("T_2d", (3, 4), lambda M, x: x.T),
    ("T_3d", (2, 3, 4), lambda M, x: x.permute(2, 1, 0) * 1.0),
    ("mT", (2, 3, 4), lambda M, x: x.mT),
    ("squeeze_all", (4, 1, 3, 1), lambda M, x: x.squeeze()),
    ("squeeze_dim", (4, 1, 3), lambda M, x: x.squeeze(1)),
    ("squeeze_neg", (4, 1, 3), lambda M, x: x.squeeze(-2)),
    ("squeeze_noop", (4, 1, 3), lambda M, x: x.squeeze(0)),
    ("squeeze_fn", (1, 3), lambda M, x: M.squeeze(x, 0)),
    ("squeeze_scalar", (), lambda M, x: x.squeeze()),
    ("unsqueeze0", (2, 3), lambda M, x: x.unsqueeze(0)),
    ("unsqueeze_last", (2, 3), lambda M, x: x.unsqueeze(-1)),
    ("unsqueeze_mid", (2, 3), lambda M, x: M.unsqueeze(x, 1)),
    ("unsqueeze_scalar", (), lambda M, x: x.unsqueeze(0)),
    ("expand", (4, 1, 3), lambda M, x: x.expand(4, 5, 3)),
    ("expand_new_dims", (3,), lambda M, x: x.expand(2, 4, 3)),
    ("expand_m1", (4, 1, 3), lambda M, x: x.expand(-1, 2, -1)),
    ("expand_tuple", (1, 3), lambda M, x: x.expand((2, 3))),
    ("expand_scalar", (), lambda M, x: x.expand(2, 3)),
    ("expand_then_mul", (2, 1), lambda M, x: x.expand(2, 3) * x),
    ("expand_then_sum", (4, 1, 3), lambda M, x: x.expand(4, 5, 3).sum(1)),
    ("expand_then_T", (3, 1), lambda M, x: x.expand(3, 4).T @ x),
    ("flatten", (2, 3, 4), lambda M, x: x.flatten()),
    ("flatten_partial", (2, 3, 4), lambda M, x: M.flatten(x, 1)),
    ("view_chain", (2, 3, 4), lambda M, x: x.permute(1, 0, 2).reshape(3, 8).T.unsqueeze(0)),
]


@pytest.mark.parametrize("name,shape,fn", SHAPE_OPS, ids=[s[0] for s in SHAPE_OPS])
def test_shape_op(name, shape, fn):
    fwd_check(fn, [make(shape, "any", np.random.default_rng(0))])


CAT_CASES = [
    ("cat0", [(2, 3), (4, 3)], lambda M, *t: M.cat(list(t), 0)),
    ("cat1", [(2, 3), (2, 1), (2, 2)], lambda M, *t: M.cat(list(t), dim=1)),
    ("cat_neg", [(2, 3, 1), (2, 3, 2)], lambda M, *t: M.cat(t, -1)),
    ("cat_empty", [(0, 3), (2, 3)], lambda M, *t: M.cat(list(t), 0)),
    ("cat_1d", [(3,), (2,), (1,)], lambda M, *t: M.cat(list(t))),
    ("cat_single", [(2, 3)], lambda M, *t: M.cat(list(t), 1)),
    ("cat_same", [(2, 3)], lambda M, *t: M.cat([t[0], t[0] * 2.0], 0)),
    ("concat", [(2, 3), (1, 3)], lambda M, *t: M.concat(list(t), 0)),
    ("stack0", [(2, 3), (2, 3)], lambda M, *t: M.stack(list(t), 0)),
    ("stack1", [(2, 3), (2, 3), (2, 3)], lambda M, *t: M.stack(list(t), dim=1)),
    ("stack_neg", [(2, 3), (2, 3)], lambda M, *t: M.stack(t, -1)),
    ("stack_scalars", [(), (), ()], lambda M, *t: M.stack(list(t))),
    ("cat_views", [(3, 2), (2, 3)], lambda M, *t: M.cat([t[0].T, t[1][:, ::2].T.T], 1)),
]
CAT_PARAMS = [(c, on) for c in CAT_CASES for on in _which(len(c[1]))]


@pytest.mark.parametrize("case,on", CAT_PARAMS, ids=[f"{c[0]}-{'+'.join(map(str, on))}" for c, on in CAT_PARAMS])
def test_cat_stack(case, on):
    """Tangents on some of the concatenated inputs: the others contribute zero tangent."""
    _, shapes, fn = case
    rng = np.random.default_rng(0)
    fwd_check(fn, [make(s, "any", rng) for s in shapes], on=on)


# ---------------------------------------------------------------- indexing
INDEX_CASES = [
    ("int", lambda M, x: x[1]),
    ("neg_int", lambda M, x: x[-1]),
    ("int_int", lambda M, x: x[1, 2]),
    ("int_int_int", lambda M, x: x[1, -1, 0]),
    ("slice", lambda M, x: x[:, 1:3]),
    ("neg_slice", lambda M, x: x[:, -2:]),
    ("neg_slice_stop", lambda M, x: x[:-1, :, 1:-1]),
    ("ellipsis_step", lambda M, x: x[..., ::2]),
    ("step", lambda M, x: x[::2, 1::2]),
    ("none_int", lambda M, x: x[None, 0]),
    ("int_none", lambda M, x: x[0, :, None]),
    ("mixed", lambda M, x: x[1:, ..., 0]),
    ("ellipsis_int", lambda M, x: x[..., 1]),
    ("empty_slice", lambda M, x: x[1:1]),
    ("out_of_range_slice", lambda M, x: x[:, 2:10]),
    ("double_index", lambda M, x: x[1][2]),
    ("index_twice_add", lambda M, x: x[0] + x[0] * 2.0 + x[-1]),
    ("index_of_permuted", lambda M, x: x.permute(2, 1, 0)[1:, 0]),
    ("full", lambda M, x: x[:]),
]


@pytest.mark.parametrize("name,fn", INDEX_CASES, ids=[c[0] for c in INDEX_CASES])
def test_indexing(name, fn):
    fwd_check(fn, [make((3, 4, 5), "any", np.random.default_rng(0))])


def test_indexing_1d_and_scalar_result():
    a = make((5,), "any", np.random.default_rng(0))
    fwd_check(lambda M, x: x[2], [a])
    fwd_check(lambda M, x: x[-5], [a])
    fwd_check(lambda M, x: x[1:4:2], [a])
    fwd_check(lambda M, x: x[None], [a])


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
        assert r.tangent is None and r.primal is not None   # named-tuple fields


def test_result_independent_of_dual_has_no_tangent():
    rng = np.random.default_rng(0)
    x, y = leaf(make((3,), "any", rng)), leaf(make((3,), "any", rng))
    with fwAD.dual_level():
        d = fwAD.make_dual(x, pyad.ones_like(x))
        assert fwAD.unpack_dual(d).tangent is not None
        assert fwAD.unpack_dual(pyad.exp(y) * 2.0 + y).tangent is None
        assert fwAD.unpack_dual(d.detach()).tangent is None             # as torch: detach drops the tangent
        assert fwAD.unpack_dual(d > 0).tangent is None               # comparisons are not differentiable


def test_tangent_dropped_after_level_exit():
    x = leaf(make((3,), "any", np.random.default_rng(0)))
    with fwAD.dual_level():
        y = pyad.sin(fwAD.make_dual(x, pyad.ones_like(x)))
        assert fwAD.unpack_dual(y).tangent is not None
    p, t = fwAD.unpack_dual(y)
    assert t is None
    assert_close(p, torch.sin(to_torch(x)))
    with fwAD.dual_level():                                          # a fresh level after exit works
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
    with fwAD.dual_level():   # and a new one can be entered once the first has exited
        pass


def test_make_dual_follows_torchs_dtype_and_size_rules():
    x = pyad.tensor([1.0, 2.0], dtype=F64)
    tx = torch.tensor([1.0, 2.0], dtype=torch.float64)
    with fwAD.dual_level(), torch.autograd.forward_ad.dual_level():
        tfw = torch.autograd.forward_ad
        for ours, theirs in [(lambda: fwAD.make_dual(x, pyad.ones(3, dtype=F64)),
                              lambda: tfw.make_dual(tx, torch.ones(3, dtype=torch.float64))),
                             (lambda: fwAD.make_dual(x, pyad.ones(2, dtype=pyad.int64)),
                              lambda: tfw.make_dual(tx, torch.ones(2, dtype=torch.int64))),
                             (lambda: fwAD.make_dual(pyad.ones(2, dtype=pyad.int64), x),
                              lambda: tfw.make_dual(torch.ones(2, dtype=torch.int64), tx))]:
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
    assert p.item() == pytest.approx(x0 ** 2 * math.sin(x0), rel=1e-14)
    assert t.item() == pytest.approx(2 * x0 * math.sin(x0) + x0 ** 2 * math.cos(x0), rel=1e-14)


def test_example_log_sin_x2_plus_exp():
    """g(x) = log(sin(x^2) + e^x) at 0.8."""
    x0 = 0.8
    with fwAD.dual_level():
        x = fwAD.make_dual(_scalar(x0), _scalar(1.0))
        p, t = fwAD.unpack_dual(pyad.log(pyad.sin(x ** 2) + pyad.exp(x)))
    inner = math.sin(x0 ** 2) + math.exp(x0)
    assert p.item() == pytest.approx(math.log(inner), rel=1e-14)
    assert t.item() == pytest.approx((2 * x0 * math.cos(x0 ** 2) + math.exp(x0)) / inner, rel=1e-13)


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
        y2 = pyad.exp(x2) + x1 ** 2
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
