"""Nested dual levels (Note [Nested dual levels] in csrc/autograd/forward_ad.h), in float64: forward over
forward (jacfwd of jacfwd, jvp of jvp, third derivatives) against torch.func, mixing with reverse mode, the
perturbation-confusion case, the forward_ad API at two levels, and its errors."""

import numpy as np
import pytest
import torch

import pyad
from pyad import func
from pyad.autograd import Function, forward_ad as fwAD

try:  # pytest's --import-mode=importlib (the project's setting) registers the conftest as tests.conftest
    from tests.conftest import TNS, assert_close, to_torch
except ImportError:  # prepend/append import modes
    from conftest import TNS, assert_close, to_torch

pytestmark = pytest.mark.usefixtures("device")

F64 = pyad.float64


def const(M, a):
    return pyad.tensor(a, dtype=F64) if M is pyad else torch.tensor(a, dtype=torch.float64)


_rng = np.random.default_rng(11)
W1, B1, W2 = _rng.standard_normal((5, 4)) / 2, _rng.standard_normal(5) / 4, _rng.standard_normal((3, 5)) / 2


def _inplace(M, x):
    y = x.clone()
    y.mul_(x)
    y.add_(M.sin(x))
    y[0] = x[1] * x[2]
    z = M.zeros(x.shape, dtype=x.dtype)
    z.copy_(y * y)
    return z + y


# (name, fn(M, x), input shape, input kind): functions of one tensor, written once for pyad and torch.
FUNCS = [
    ("elementwise", lambda M, x: M.sin(x) * M.exp(x) / (1.0 + x * x) + M.tanh(x) ** 3, (4,), "any"),
    ("matvec_const", lambda M, x: const(M, W1) @ M.sin(x), (4,), "any"),  # jacfwd's identity-seed shortcut
    ("matvec_seed", lambda M, x: const(M, W1) @ x + (const(M, W1) @ x) ** 2, (4,), "any"),
    ("matvec_dependent", lambda M, x: M.outer(x, M.sin(x)) @ x, (4,), "any"),
    ("mlp", lambda M, x: M.tanh(const(M, W2) @ M.softplus(const(M, W1) @ x + const(M, B1))), (4,), "any"),
    ("softmax_lse", lambda M, x: M.softmax(x, -1) * M.logsumexp(x, -1, keepdim=True), (2, 3), "any"),
    (
        "reductions",
        lambda M, x: M.amax(x * x, 1) + M.mean(M.sin(x), 0).sum() - M.log(M.abs(x) + 1.0).sum(1),
        (3, 4),
        "any",
    ),
    ("shape_ops", lambda M, x: M.cat([x.T, x.reshape(4, 3)[:, :2] * 2.0], 1).unsqueeze(0).sum(2), (3, 4), "any"),
    ("pow_div_sqrt", lambda M, x: x**3 / (2.0 + x * x) + M.sqrt(x) * M.log(x), (3,), "pos"),
    ("where", lambda M, x: M.where(x > 0, x**3, M.sin(x) * x), (5,), "nz"),
    ("inplace", _inplace, (3,), "any"),
]
FIDS = [c[0] for c in FUNCS]


def make_input(shape, kind, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "pos":
        a = rng.uniform(0.5, 2.0, shape)
    elif kind == "nz":
        a = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 2.0, shape)
    else:
        a = rng.standard_normal(shape)
    return pyad.tensor(a, dtype=F64), torch.tensor(a, dtype=torch.float64)


def P(fn):
    return lambda *a: fn(pyad, *a)


def T(fn):
    return lambda *a: fn(TNS, *a)


def scalar(M, fn):
    """A scalar function of fn's output (for Hessians)."""

    def s(x):
        y = fn(M, x)
        w = const(M, np.linspace(0.5, 1.5, int(np.prod(tuple(y.shape)))).reshape(tuple(y.shape)))
        return (y * w).sum()

    return s


def close(a, e, msg):
    assert_close(a, e, msg=msg)


# ---------------------------------------------------------------- perturbation confusion
def test_perturbation_confusion_with_jvp():
    # d/dx [x * d/dy (x + y)] = d/dx [x * 1] = 1. A single shared level would see the outer tangent of x
    # inside the inner derivative and answer 2.
    x0 = pyad.tensor(1.5, dtype=F64)
    one = pyad.tensor(1.0, dtype=F64)

    def outer(x):
        inner = func.jvp(lambda y: x + y, (x0,), (one,))[1]
        return x * inner

    _, d = func.jvp(outer, (x0,), (one,))
    assert d.item() == 1.0
    # and the same with the inner point depending on x
    _, d = func.jvp(lambda x: x * func.jvp(lambda y: x + y, (x,), (one,))[1], (x0,), (one,))
    assert d.item() == 1.0


def test_perturbation_confusion_with_dual_levels():
    x0, y0 = pyad.tensor(1.5, dtype=F64), pyad.tensor(-0.5, dtype=F64)
    with fwAD.dual_level() as l1:
        x = fwAD.make_dual(x0, pyad.ones_like(x0), level=l1)
        with fwAD.dual_level() as l2:
            assert l2 != l1
            y = fwAD.make_dual(y0, pyad.ones_like(y0), level=l2)
            inner = fwAD.unpack_dual(x + y, level=l2).tangent
            assert inner.item() == 1.0
            assert fwAD.unpack_dual(inner, level=l1).tangent is None  # no mixed term: x + y is linear
            out = x * inner
        assert fwAD.unpack_dual(out, level=l1).tangent.item() == 1.0


def test_perturbation_confusion_with_jacfwd():
    # The same question through jacfwd (batched, identity-seeded tangents at both levels): the inner
    # gradient of (x + y).sum() in y is all ones whatever x is, so f(x) = 2 x and its Jacobian is 2 I.
    x0 = pyad.tensor([1.5, -2.0], dtype=F64)
    g = func.jacfwd(lambda x: x * func.jacfwd(lambda y: (x + y).sum())(x).sum())(x0)
    close(g, 2.0 * torch.eye(2, dtype=torch.float64), "jacfwd perturbation confusion")


# ---------------------------------------------------------------- forward over forward vs torch.func
@pytest.mark.parametrize("case", FUNCS, ids=FIDS)
def test_jacfwd_of_jacfwd(case):
    _, fn, shape, kind = case
    x, tx = make_input(shape, kind)
    want = torch.func.jacfwd(torch.func.jacfwd(T(fn)))(tx)
    close(func.jacfwd(func.jacfwd(P(fn)))(x), want, "jacfwd(jacfwd)")
    close(func.jacfwd(func.jacfwd(P(fn), chunk_size=2), chunk_size=3)(x), want, "jacfwd(jacfwd) chunked")


@pytest.mark.parametrize("case", FUNCS, ids=FIDS)
def test_mixed_modes(case):
    _, fn, shape, kind = case
    x, tx = make_input(shape, kind)
    want = torch.func.jacfwd(torch.func.jacfwd(T(fn)))(tx)
    close(func.jacfwd(func.jacrev(P(fn)))(x), want, "jacfwd(jacrev)")
    close(func.jacrev(func.jacfwd(P(fn)))(x), want, "jacrev(jacfwd)")
    close(func.jacrev(func.jacrev(P(fn)))(x), want, "jacrev(jacrev)")


@pytest.mark.parametrize("case", FUNCS, ids=FIDS)
def test_hessians(case):
    _, fn, shape, kind = case
    x, tx = make_input(shape, kind)
    want = torch.func.hessian(scalar(TNS, fn))(tx)
    close(func.hessian(scalar(pyad, fn))(x), want, "hessian")
    close(func.jacfwd(func.jacfwd(scalar(pyad, fn)))(x), want, "forward-over-forward hessian")
    close(torch.func.jacfwd(torch.func.jacfwd(scalar(TNS, fn)))(tx), want, "torch's own consistency")


@pytest.mark.parametrize("case", FUNCS, ids=FIDS)
def test_jvp_of_jvp(case):
    _, fn, shape, kind = case
    x, tx = make_input(shape, kind)
    t1, tt1 = make_input(shape, "any", seed=1)
    t2, tt2 = make_input(shape, "any", seed=2)
    got = func.jvp(lambda v: func.jvp(P(fn), (v,), (t1,))[1], (x,), (t2,))
    want = torch.func.jvp(lambda v: torch.func.jvp(T(fn), (v,), (tt1,))[1], (tx,), (tt2,))
    close(got[0], want[0], "inner jvp")
    close(got[1], want[1], "jvp of jvp")


@pytest.mark.parametrize(
    "case", [c for c in FUNCS if c[0] in ("elementwise", "mlp", "softmax_lse", "matvec_seed")], ids=lambda c: c[0]
)
def test_third_derivatives(case):
    # Three levels at once: jacfwd(jacfwd(jacfwd)) and jacfwd over hessian.
    _, fn, shape, kind = case
    x, tx = make_input(shape, kind)
    want = torch.func.jacfwd(torch.func.jacfwd(torch.func.jacfwd(scalar(TNS, fn))))(tx)
    close(func.jacfwd(func.jacfwd(func.jacfwd(scalar(pyad, fn))))(x), want, "jacfwd^3")
    close(func.jacfwd(func.hessian(scalar(pyad, fn)))(x), want, "jacfwd(hessian)")


def test_two_argument_jacfwd_of_jacfwd():
    fn = lambda M, x, y: M.sin(x)[:, None] * M.exp(y)[None, :] + (x @ x) * y.sum()
    a, ta = make_input((3,), "any", 1)
    b, tb = make_input((2,), "any", 2)
    want = torch.func.jacfwd(torch.func.jacfwd(T(fn), argnums=(0, 1)), argnums=1)(ta, tb)
    got = func.jacfwd(func.jacfwd(P(fn), argnums=(0, 1)), argnums=1)(a, b)
    for g, w in zip(got, want):
        close(g, w, "jacfwd(jacfwd) over two arguments")


class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3.0 * x * x

    @staticmethod
    def jvp(ctx, t):
        (x,) = ctx.saved_tensors
        return t * 3.0 * x * x


def test_custom_function_at_two_levels():
    # The Function's jvp runs once per level; at the inner level its ops are differentiated at the outer one.
    x, tx = make_input((3,), "any")
    want = torch.func.jacfwd(torch.func.jacfwd(lambda v: torch.sin(v**3)))(tx)
    close(func.jacfwd(func.jacfwd(lambda v: pyad.sin(Cube.apply(v))))(x), want, "Function in jacfwd(jacfwd)")
    close(func.jacfwd(func.jacrev(lambda v: pyad.sin(Cube.apply(v))))(x), want, "Function in jacfwd(jacrev)")


# ---------------------------------------------------------------- the forward_ad API at two levels
def test_make_dual_and_unpack_dual_at_two_levels():
    x, tx = make_input((3,), "any")
    a, ta = make_input((3,), "any", 1)
    b, tb = make_input((3,), "any", 2)
    with fwAD.dual_level() as l1:
        x1 = fwAD.make_dual(x, a, level=l1)
        with fwAD.dual_level() as l2:
            x2 = fwAD.make_dual(x1, b)  # the innermost level by default
            y = pyad.sin(x2)
            p2, t2 = fwAD.unpack_dual(y)  # level l2
            close(t2, torch.cos(tx) * tb, "inner tangent")
            close(fwAD.unpack_dual(t2, level=l1).tangent, -torch.sin(tx) * ta * tb, "mixed second-order term")
            close(fwAD.unpack_dual(y, level=l1).tangent, torch.cos(tx) * ta, "outer tangent")
            # the primal at l2 keeps its tangent at l1, and has none at l2
            assert fwAD.unpack_dual(p2, level=l2).tangent is None
            close(fwAD.unpack_dual(p2, level=l1).tangent, torch.cos(tx) * ta, "primal's outer tangent")
            # make_dual at the outer level while the inner one is active
            z = fwAD.make_dual(x, a * 2.0, level=l1)
            close(fwAD.unpack_dual(z * z, level=l1).tangent, 4.0 * tx * ta, "make_dual(level=outer)")
            assert fwAD.unpack_dual(z * z, level=l2).tangent is None
        # exiting l2 dropped its tangents only
        assert fwAD.unpack_dual(y).tangent is not None  # now the default is l1
        close(fwAD.unpack_dual(y).tangent, torch.cos(tx) * ta, "outer tangent after the inner exit")
        assert fwAD.unpack_dual(y, level=l2).tangent is None
        close(fwAD.unpack_dual(t2).tangent, -torch.sin(tx) * ta * tb, "mixed term survives the inner exit")
    assert fwAD.unpack_dual(y).primal is not None
    with fwAD.dual_level():
        assert fwAD.unpack_dual(y).tangent is None


def test_inner_level_tangent_does_not_leak_outward():
    # An op whose only dual input is at the inner level gives the result no outer tangent.
    x, _ = make_input((2,), "any")
    with fwAD.dual_level() as l1:
        with fwAD.dual_level() as l2:
            y = pyad.exp(fwAD.make_dual(x, pyad.ones_like(x), level=l2))
            assert fwAD.unpack_dual(y, level=l1).tangent is None
            assert fwAD.unpack_dual(fwAD.unpack_dual(y, level=l2).tangent, level=l1).tangent is None


def test_dual_level_errors():
    x = pyad.tensor([1.0, 2.0], dtype=F64)
    with pytest.raises(RuntimeError, match="inside a dual level"):
        fwAD.make_dual(x, pyad.ones_like(x))
    with pytest.raises(RuntimeError, match="no dual level is active"):
        fwAD.exit_dual_level()
    with fwAD.dual_level() as l1:
        l2 = fwAD.enter_dual_level()
        with pytest.raises(RuntimeError, match="innermost"):
            fwAD.exit_dual_level(level=l1)
        fwAD.exit_dual_level(level=l2)
        with pytest.raises(RuntimeError, match="not an active dual level"):
            fwAD.make_dual(x, pyad.ones_like(x), level=l2)
        with pytest.raises(TypeError, match="level"):
            fwAD.make_dual(x, pyad.ones_like(x), level="outer")
        with pytest.raises(TypeError, match="level"):
            fwAD.unpack_dual(x, level=True)
        with pytest.raises(RuntimeError, match="already has a tangent at level"):  # as torch
            fwAD.make_dual(fwAD.make_dual(x, pyad.ones_like(x)), pyad.ones_like(x))
        # the refused calls left l1 intact
        d = fwAD.make_dual(x, pyad.ones_like(x))
        close(fwAD.unpack_dual(d * d).tangent, torch.tensor([2.0, 4.0], dtype=torch.float64), "after errors")
    assert pyad._C.dual_levels() == []


def test_a_failing_inner_transform_leaves_no_level_behind():
    x = pyad.tensor([1.0, 2.0], dtype=F64)

    def bad(v):
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        func.jacfwd(func.jacfwd(bad))(x)
    assert pyad._C.dual_levels() == []
    close(func.jacfwd(func.jacfwd(lambda v: (v**3).sum()))(x), torch.diag(6.0 * to_torch(x)), "afterwards")
