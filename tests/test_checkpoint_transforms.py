"""Every pyad.func transform through every checkpoint variant, in float64: the same answer as the plain run
(and as torch.func on the same function), or a clear error where the combination cannot work.

The checkpointed chain mixes elementwise ops, a matmul with a closure weight (matmul's JVP and jacfwd's
identity seed), a reduction-free custom Function (its own backward and jvp) and a product of two branches, so
that recomputed saved inputs, recomputed saved outputs and the tangents of both meet in the backward pass.
Forward over reverse (hessian, hvp, jvp of grad) once returned zeros here: recomputed tensors lost their
tangents.
"""

import numpy as np
import pytest
import torch

import pyad
from pyad import func
from pyad.autograd import Function, forward_ad as fwAD
from pyad.utils.checkpoint import checkpoint, checkpoint_revolve, checkpoint_sequential

try:  # pytest's --import-mode=importlib (the project's setting) registers the conftest as tests.conftest
    from tests.conftest import assert_close, to_torch
except ImportError:  # prepend/append import modes
    from conftest import assert_close, to_torch

pytestmark = pytest.mark.usefixtures("device")

F64 = pyad.float64
N = 4


class Cube(Function):
    """x ** 3 with a backward written in differentiable ops and its own jvp."""

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


def weights(M):
    rng = np.random.default_rng(7)
    W = rng.standard_normal((N, N)) / 2.0
    return pyad.tensor(W, dtype=F64) if M is pyad else torch.tensor(W, dtype=torch.float64)


def layers(M):
    """The chain's layers, written once for M = pyad and M = torch."""
    W = weights(M)
    cube = Cube.apply if M is pyad else (lambda v: v**3)
    return [
        M.tanh,
        lambda v: W @ v,
        lambda v: M.sin(v) * M.exp(v * 0.5),
        lambda v: cube(v) * 0.3,
        lambda v: M.sigmoid(v) + v * v,
    ]


def plain(M):
    ls = layers(M)

    def run(x):
        for f in ls:
            x = f(x)
        return x

    return run


WRAPPERS = {
    "plain": plain(pyad),
    "checkpoint": lambda x: checkpoint(plain(pyad), x),
    "checkpoint_nested": lambda x: checkpoint(lambda v: checkpoint(plain(pyad), v) * 1.0, x),
    "checkpoint_sequential": lambda x: checkpoint_sequential(layers(pyad), 3, x),
    "checkpoint_revolve_0": lambda x: checkpoint_revolve(layers(pyad), x, 0),
    "checkpoint_revolve_2": lambda x: checkpoint_revolve(layers(pyad), x, 2),
}
CHECKPOINTED = [k for k in WRAPPERS if k != "plain"]


def scalar(g):
    """A scalar function of the chain's output, for the transforms that need one."""
    return lambda x: (g(x) * pyad.arange(1, N + 1, dtype=F64)).sum()


def torch_scalar(x):
    return (plain(torch)(x) * torch.arange(1, N + 1, dtype=torch.float64)).sum()


def x_and_t():
    rng = np.random.default_rng(3)
    return rng.uniform(-1.0, 1.0, N), rng.standard_normal(N)


# Each transform: (what pyad computes from the wrapped chain g, what torch.func computes from the plain chain).
TRANSFORMS = {
    "grad": (lambda g, x, t: func.grad(scalar(g))(x), lambda x, t: torch.func.grad(torch_scalar)(x)),
    "jacrev": (lambda g, x, t: func.jacrev(g)(x), lambda x, t: torch.func.jacrev(plain(torch))(x)),
    "jacfwd": (lambda g, x, t: func.jacfwd(g)(x), lambda x, t: torch.func.jacfwd(plain(torch))(x)),
    "jacfwd_chunked": (
        lambda g, x, t: func.jacfwd(g, chunk_size=3)(x),
        lambda x, t: torch.func.jacfwd(plain(torch))(x),
    ),
    "hessian": (lambda g, x, t: func.hessian(scalar(g))(x), lambda x, t: torch.func.hessian(torch_scalar)(x)),
    "hvp": (
        lambda g, x, t: func.hvp(scalar(g), x, t)[1],
        lambda x, t: torch.autograd.functional.hvp(torch_scalar, x, t)[1],
    ),
    "jvp_of_grad": (
        lambda g, x, t: func.jvp(func.grad(scalar(g)), (x,), (t,))[1],
        lambda x, t: torch.func.jvp(torch.func.grad(torch_scalar), (x,), (t,))[1],
    ),
    "grad_of_grad": (
        lambda g, x, t: func.grad(lambda v: (func.grad(scalar(g))(v) * t).sum())(x),
        lambda x, t: torch.func.grad(lambda v: (torch.func.grad(torch_scalar)(v) * t).sum())(x),
    ),
    "jacrev_of_jacrev": (
        lambda g, x, t: func.jacrev(func.jacrev(scalar(g)))(x),
        lambda x, t: torch.func.hessian(torch_scalar)(x),
    ),
    "jacrev_of_jacfwd": (
        lambda g, x, t: func.jacrev(func.jacfwd(scalar(g)))(x),
        lambda x, t: torch.func.hessian(torch_scalar)(x),
    ),
    "jacfwd_of_jacfwd": (
        lambda g, x, t: func.jacfwd(func.jacfwd(scalar(g)))(x),
        lambda x, t: torch.func.hessian(torch_scalar)(x),
    ),
}

# Reverse over reverse needs the recomputed layers' history, which checkpoint_revolve's stored activations
# do not have; reverse over forward needs the dual level when the schedule recomputes, and it has exited.
REVOLVE_ERRORS = {
    "grad_of_grad": "second derivatives",
    "jacrev_of_jacrev": "second derivatives",
    "jacrev_of_jacfwd": "dual level",
}


def inputs():
    x, t = x_and_t()
    return pyad.tensor(x, dtype=F64), pyad.tensor(t, dtype=F64), torch.tensor(x), torch.tensor(t)


@pytest.mark.parametrize("transform", list(TRANSFORMS))
def test_plain_chain_matches_torch(transform):
    x, t, tx, ttan = inputs()
    ours, theirs = TRANSFORMS[transform]
    assert_close(ours(WRAPPERS["plain"], x, t), theirs(tx, ttan), msg=transform)


@pytest.mark.parametrize("transform", list(TRANSFORMS))
@pytest.mark.parametrize("wrapper", CHECKPOINTED)
def test_checkpointed_matches_plain_and_torch(wrapper, transform):
    x, t, tx, ttan = inputs()
    ours, theirs = TRANSFORMS[transform]
    if wrapper.startswith("checkpoint_revolve") and transform in REVOLVE_ERRORS:
        with pytest.raises(RuntimeError, match=REVOLVE_ERRORS[transform]):
            ours(WRAPPERS[wrapper], x, t)
        return
    got = ours(WRAPPERS[wrapper], x, t)
    want = ours(WRAPPERS["plain"], x, t)
    # Recomputation runs the same kernels on the same data: the plain run's answer to rounding.
    np.testing.assert_allclose(
        got.cpu().numpy(), want.cpu().numpy(), rtol=1e-12, atol=1e-13, err_msg=f"{transform} through {wrapper}"
    )
    assert_close(got, theirs(tx, ttan), msg=f"{transform} through {wrapper} vs torch.func")


def test_hessian_of_checkpointed_tanh_is_not_zero():
    # The issue's own example.
    f = lambda v: pyad.tanh(v).sum()
    x = pyad.tensor([0.3, -0.7], dtype=F64)
    want = torch.func.hessian(lambda v: torch.tanh(v).sum())(torch.tensor([0.3, -0.7], dtype=torch.float64))
    for g in (
        lambda v: checkpoint(f, v),
        lambda v: checkpoint_sequential([pyad.tanh, lambda u: u.sum()], 2, v),
        lambda v: checkpoint_revolve([pyad.tanh, lambda u: u * 1.0], v, 1).sum(),
    ):
        assert_close(func.hessian(g)(x), want)


def test_reverse_over_forward_recomputes_when_the_level_exits():
    # jacrev(jacfwd(checkpoint(f))): backward runs after jacfwd's level is gone, so the checkpoint is
    # recomputed (once) as the level exits, while the tangents still exist; backward then recomputes nothing.
    calls = []

    def f(v):
        calls.append(1)
        return pyad.sin(v) * v

    x = pyad.tensor([0.2, 0.9, -1.3], dtype=F64)
    got = func.jacrev(func.jacfwd(lambda v: checkpoint(f, v).sum()))(x)
    assert len(calls) == 2, f"f ran {len(calls)} times (first run + one recomputation expected)"
    tx = torch.tensor([0.2, 0.9, -1.3], dtype=torch.float64)
    assert_close(got, torch.func.hessian(lambda v: (torch.sin(v) * v).sum())(tx))


def test_forward_mode_alone_recomputes_nothing():
    # jacfwd through a checkpoint records no graph: exiting its level must not run fn again.
    calls = []

    def f(v):
        calls.append(1)
        return pyad.sin(v) * v

    x = pyad.tensor([0.2, 0.9, -1.3], dtype=F64)
    got = func.jacfwd(lambda v: checkpoint(f, v))(x)
    assert len(calls) == 1
    tx = torch.tensor([0.2, 0.9, -1.3], dtype=torch.float64)
    assert_close(got, torch.func.jacfwd(lambda v: torch.sin(v) * v)(tx))


def test_recomputation_ignores_a_level_entered_after_the_first_run():
    # A closure tensor that gains a tangent at a newer level must not change what the recomputation saves.
    w = pyad.tensor([0.5, -1.5, 2.0], dtype=F64)
    box = [w]
    x = pyad.tensor([0.1, 0.4, -0.8], dtype=F64).requires_grad_()
    f = lambda v: pyad.exp(v * box[0]) * box[0]
    y = checkpoint(f, x).sum()
    (want,) = pyad.autograd.grad(f(x).sum(), [x])
    with fwAD.dual_level():
        box[0] = fwAD.make_dual(w, pyad.ones_like(w))
        (got,) = pyad.autograd.grad(y, [x])
        assert fwAD.unpack_dual(got).tangent is None
    assert_close(got, to_torch(want))


def test_revolve_reverse_over_forward_error_says_why():
    x = pyad.tensor([0.2, 0.9], dtype=F64)
    g = lambda v: checkpoint_revolve([pyad.sin, pyad.tanh, lambda u: u * u], v, 1).sum()
    with pytest.raises(RuntimeError, match="checkpoint_revolve cannot recompute early"):
        func.jacrev(func.jacfwd(g))(x)


def test_jvp_inside_the_checkpointed_function():
    # fn's own dual level is entered again by the recomputation itself (it is not one of the first run's).
    def f(v):
        return func.jvp(lambda u: pyad.sin(u) * u, (v,), (pyad.ones_like(v),))[1]

    x = pyad.tensor([0.3, -1.1, 2.0], dtype=F64)
    got = func.grad(lambda v: checkpoint(f, v).sum())(x)
    want = func.grad(lambda v: f(v).sum())(x)
    tx = torch.tensor([0.3, -1.1, 2.0], dtype=torch.float64)
    assert_close(got, to_torch(want))
    tjvp = lambda v: torch.func.jvp(lambda u: torch.sin(u) * u, (v,), (torch.ones_like(v),))[1]
    assert_close(got, torch.func.grad(lambda v: tjvp(v).sum())(tx))
