"""Autograd engine semantics: accumulation, retain_graph, grad mode, autograd.grad, higher order, graph
inspection, deep graphs and memory. Compared with torch wherever torch defines the behaviour. Every test runs on
each device (the `device` fixture of conftest.py) except the memory ones, which count the CPU's bytes."""

import gc
import math
import os
import warnings

import numpy as np
import pytest
import torch

import pyad

try:  # pytest's --import-mode=importlib (the project's setting) registers the conftest as tests.conftest
    from tests.conftest import assert_close, cpu_only, to_torch
except ImportError:  # prepend/append import modes
    from conftest import assert_close, cpu_only, to_torch

pytestmark = pytest.mark.usefixtures("device")

F64 = pyad.float64


def leaf(*shape, low=None, requires_grad=True):
    """A float64 pyad leaf with random values and its torch twin."""
    a = np.random.randn(*shape)
    if low is not None:
        a = np.abs(a) + low
    x = pyad.tensor(a, dtype=F64, requires_grad=requires_grad)
    return x, to_torch(x)


def nonleaf_grad(t):
    """torch's .grad of a non-leaf, without its UserWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return t.grad


# ---------------------------------------------------------------- leaves, accumulation, requires_grad


def test_grad_accumulates_across_backward_calls():
    x, tx = leaf(3, 4)
    for f in (lambda a: (a * a).sum(), lambda a: (a.sin() * 3).sum()):
        f(x).backward()
        f(tx).backward()
        assert_close(x.grad, tx.grad)
    assert x.grad.shape == (3, 4) and x.grad.dtype == F64


def test_grad_identity_is_kept_across_accumulation():
    x, tx = leaf(5)
    (x * 2).sum().backward()
    g = x.grad
    ptr = g.data_ptr()
    (x * x).sum().backward()
    (x.exp()).sum().backward()
    assert x.grad is g
    assert x.grad.data_ptr() == ptr
    (tx * 2).sum().backward()
    (tx * tx).sum().backward()
    (tx.exp()).sum().backward()
    assert_close(g, tx.grad)


def test_grad_set_to_none_then_fresh_grad():
    x, tx = leaf(4)
    (x * 3).sum().backward()
    x.grad = None
    assert x.grad is None
    (x * x).sum().backward()
    (tx * tx).sum().backward()
    assert_close(x.grad, tx.grad)


def test_first_grad_is_not_aliased_to_upstream_gradient():
    # The gradient stolen into .grad must not alias a tensor the user can still see.
    x = pyad.zeros(3, dtype=F64, requires_grad=True)
    g = pyad.ones(3, dtype=F64)
    x.backward(g)
    x.grad.add_(5.0)
    assert g.tolist() == [1.0, 1.0, 1.0]
    assert x.grad.tolist() == [6.0, 6.0, 6.0]


def test_non_leaf_grad_is_none_without_retain_grad():
    x, tx = leaf(3)
    y, ty = x * 2, tx * 2
    z, tz = y.sin(), ty.sin()
    z.sum().backward()
    tz.sum().backward()
    assert y.grad is None and z.grad is None
    assert nonleaf_grad(ty) is None
    assert not y.retains_grad


def test_retain_grad_on_non_leaf_matches_torch():
    x, tx = leaf(3, 2)
    y, ty = x * 2, tx * 2
    z, tz = y.sin(), ty.sin()
    y.retain_grad()
    z.retain_grad()
    ty.retain_grad()
    tz.retain_grad()
    (z * z).sum().backward(retain_graph=True)
    (tz * tz).sum().backward(retain_graph=True)
    assert y.retains_grad and z.retains_grad
    assert_close(y.grad, ty.grad)
    assert_close(z.grad, tz.grad)
    assert_close(x.grad, tx.grad)
    # retained grads accumulate too
    (z * z).sum().backward()
    (tz * tz).sum().backward()
    assert_close(y.grad, ty.grad)
    assert_close(z.grad, tz.grad)


def test_retain_grad_on_leaf_is_a_no_op():
    x, tx = leaf(3)
    x.retain_grad()
    (x * 4).sum().backward()
    assert x.is_leaf
    assert x.grad.tolist() == [4.0, 4.0, 4.0]


def test_is_leaf_grad_fn_and_requires_grad_propagation():
    x, _ = leaf(3)
    c, _ = leaf(3, requires_grad=False)
    assert x.is_leaf and c.is_leaf
    assert x.grad_fn is None and c.grad_fn is None
    assert x.requires_grad and not c.requires_grad

    y = x + c
    assert y.requires_grad and not y.is_leaf and y.grad_fn is not None
    d = c * 2 + c.exp()
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    e = (d * x).sum()
    assert e.requires_grad and e.grad_fn is not None

    with pyad.no_grad():
        n = x * 2
    assert not n.requires_grad and n.is_leaf and n.grad_fn is None

    c.requires_grad_()
    assert c.requires_grad and c.is_leaf and c.grad_fn is None
    assert (c * 1).requires_grad


def test_requires_grad_cannot_be_cleared_on_non_leaf():
    x, tx = leaf(3)
    y, ty = x * 2, tx * 2
    with pytest.raises(RuntimeError):
        ty.requires_grad_(False)
    with pytest.raises(RuntimeError):
        y.requires_grad_(False)


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError):
        pyad.tensor([1, 2]).requires_grad_()


def test_backward_on_tensor_without_grad_raises():
    c, tc = leaf(3, requires_grad=False)
    with pytest.raises(RuntimeError):
        tc.sum().backward()
    with pytest.raises(RuntimeError):
        c.sum().backward()


# ---------------------------------------------------------------- retain_graph


def test_retain_graph_allows_second_backward():
    x, tx = leaf(4)
    y, ty = x.exp().sum(), tx.exp().sum()
    y.backward(retain_graph=True)
    y.backward()
    ty.backward(retain_graph=True)
    ty.backward()
    assert_close(x.grad, tx.grad)
    assert_close(x.grad, 2 * tx.detach().exp())


@pytest.mark.parametrize(
    "make", [lambda a: a.exp().sum(), lambda a: (a * a).sum(), lambda a: a.tanh().mean(), lambda a: (a @ a.T).sum()]
)
def test_second_backward_without_retain_graph_raises(make):
    x, tx = leaf(3, 3)
    y = make(x)
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    ty = make(tx)
    ty.backward()
    with pytest.raises(RuntimeError, match="second time"):
        ty.backward()


def test_second_backward_after_retain_then_release():
    x, _ = leaf(3)
    y = x.sigmoid().sum()
    y.backward(retain_graph=True)
    y.backward()  # this one releases
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_second_autograd_grad_without_retain_graph_raises():
    x, tx = leaf(3)
    y = x.exp().sum()
    pyad.autograd.grad(y, x)
    with pytest.raises(RuntimeError, match="second time"):
        pyad.autograd.grad(y, x)
    ty = tx.exp().sum()
    torch.autograd.grad(ty, tx)
    with pytest.raises(RuntimeError, match="second time"):
        torch.autograd.grad(ty, tx)


def test_graph_without_saved_tensors_can_be_backwarded_twice():
    x, tx = leaf(2, 3)
    y, ty = (x + 1).sum(), (tx + 1).sum()
    y.backward()
    y.backward()
    ty.backward()
    ty.backward()
    assert_close(x.grad, tx.grad)
    assert x.grad.tolist() == [[2.0] * 3] * 2


# ---------------------------------------------------------------- grad mode


def test_no_grad_context_manager():
    x, _ = leaf(3)
    assert pyad.is_grad_enabled()
    with pyad.no_grad():
        assert not pyad.is_grad_enabled()
        y = x * 2
    assert pyad.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None


def test_no_grad_decorator_and_restore_on_exception():
    x, _ = leaf(3)

    @pyad.no_grad()
    def f(a):
        assert not pyad.is_grad_enabled()
        return a * 2

    y = f(x)
    assert not y.requires_grad
    assert pyad.is_grad_enabled()
    assert f.__name__ == "f"

    with pytest.raises(ZeroDivisionError):
        with pyad.no_grad():
            1 / 0
    assert pyad.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x, _ = leaf(3)
    with pyad.no_grad():
        with pyad.enable_grad():
            assert pyad.is_grad_enabled()
            y = x * 2
        assert not pyad.is_grad_enabled()
        z = x * 2
    assert y.requires_grad and y.grad_fn is not None
    assert not z.requires_grad

    @pyad.enable_grad()
    def g(a):
        return a * 3

    with pyad.no_grad():
        w = g(x)
        assert not pyad.is_grad_enabled()
    assert w.requires_grad


def test_set_grad_enabled_context_function_and_decorator():
    x, _ = leaf(3)
    with pyad.set_grad_enabled(False):
        assert not pyad.is_grad_enabled()
        assert not (x * 2).requires_grad
        with pyad.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not pyad.is_grad_enabled()
    assert pyad.is_grad_enabled()

    # as a plain call it takes effect at once, as torch.set_grad_enabled
    pyad.set_grad_enabled(False)
    try:
        assert not pyad.is_grad_enabled()
        assert not (x * 2).requires_grad
    finally:
        pyad.set_grad_enabled(True)
    assert pyad.is_grad_enabled()

    @pyad.set_grad_enabled(False)
    def f(a):
        return a * 2

    assert pyad.is_grad_enabled()  # building the decorator leaves the mode alone
    assert not f(x).requires_grad
    assert pyad.is_grad_enabled()

    with pyad.no_grad():

        @pyad.set_grad_enabled(True)
        def g(a):
            return a * 2

        assert not pyad.is_grad_enabled()
        assert g(x).requires_grad
        assert not pyad.is_grad_enabled()


def test_grad_mode_matches_torch_in_nested_contexts():
    trace = []
    for lib in (torch, pyad):
        t = []
        with lib.no_grad():
            t.append(lib.is_grad_enabled())
            with lib.enable_grad():
                t.append(lib.is_grad_enabled())
                with lib.set_grad_enabled(False):
                    t.append(lib.is_grad_enabled())
                t.append(lib.is_grad_enabled())
            t.append(lib.is_grad_enabled())
        t.append(lib.is_grad_enabled())
        trace.append(t)
    assert trace[0] == trace[1]


def test_detach_shares_memory_and_drops_history():
    x, _ = leaf(2, 3)
    y = x * 2
    d = y.detach()
    assert d.data_ptr() == y.data_ptr()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    with pyad.no_grad():
        d[0, 0] = 100.0
    assert y[0, 0].item() == 100.0
    dx = x.detach()
    dx.mul_(0.0)
    assert x.tolist() == [[0.0] * 3] * 2
    assert (d * 2).requires_grad is False


# ---------------------------------------------------------------- autograd.grad / autograd.backward


def test_autograd_grad_returns_tuple_and_leaves_grad_alone():
    x, tx = leaf(3)
    w, tw = leaf(3)
    y, ty = (x * w).sin().sum(), (tx * tw).sin().sum()
    gs = pyad.autograd.grad(y, [x, w])
    tgs = torch.autograd.grad(ty, [tx, tw])
    assert isinstance(gs, tuple) and len(gs) == 2
    for g, tg in zip(gs, tgs):
        assert_close(g, tg)
    assert x.grad is None and w.grad is None

    g1 = pyad.autograd.grad((x * x).sum(), x)
    assert isinstance(g1, tuple) and len(g1) == 1
    assert_close(g1[0], 2 * tx.detach())
    assert x.grad is None


def test_autograd_grad_does_not_touch_existing_grad():
    x, _ = leaf(3)
    (x * 2).sum().backward()
    before = x.grad.tolist()
    pyad.autograd.grad((x * 5).sum(), x)
    assert x.grad.tolist() == before


def test_autograd_grad_with_respect_to_intermediate():
    x, tx = leaf(4)
    y, ty = x.exp(), tx.exp()
    z, tz = (y * y).sum(), (ty * ty).sum()
    (g,) = pyad.autograd.grad(z, y)
    (tg,) = torch.autograd.grad(tz, ty)
    assert_close(g, tg)
    assert x.grad is None


def test_autograd_grad_of_tensor_with_respect_to_itself():
    x, tx = leaf(3)
    v, tv = leaf(3, requires_grad=False)
    y, ty = x * 2, tx * 2
    (g,) = pyad.autograd.grad(y, y, grad_outputs=v)
    (tg,) = torch.autograd.grad(ty, ty, grad_outputs=tv)
    assert_close(g, tg)
    (g,) = pyad.autograd.grad(x, x, grad_outputs=v)
    (tg,) = torch.autograd.grad(tx, tx, grad_outputs=tv)
    assert_close(g, tg)
    assert x.grad is None


def test_autograd_grad_intermediate_and_leaf_together():
    x, tx = leaf(4)
    y, ty = x.sin(), tx.sin()
    z, tz = (y * x).exp().sum(), (ty * tx).exp().sum()
    gy, gx = pyad.autograd.grad(z, [y, x])
    tgy, tgx = torch.autograd.grad(tz, [ty, tx])
    assert_close(gy, tgy)
    assert_close(gx, tgx)


def test_user_assigned_grad_is_accumulated_in_place():
    x, tx = leaf(3)
    g = pyad.ones(3, dtype=F64)
    x.grad = g
    (x * x).sum().backward()
    assert x.grad is g
    assert_close(g, 1 + 2 * tx.detach())


def test_autograd_grad_allow_unused():
    x, tx = leaf(3)
    u, tu = leaf(3)
    with pytest.raises(RuntimeError, match="allow_unused"):
        torch.autograd.grad((tx * 2).sum(), [tx, tu])
    with pytest.raises(RuntimeError):
        pyad.autograd.grad((x * 2).sum(), [x, u])
    gx, gu = pyad.autograd.grad((x * 2).sum(), [x, u], allow_unused=True)
    tgx, tgu = torch.autograd.grad((tx * 2).sum(), [tx, tu], allow_unused=True)
    assert gu is None and tgu is None
    assert_close(gx, tgx)


def test_autograd_grad_input_without_requires_grad_raises():
    x, tx = leaf(3)
    c, tc = leaf(3, requires_grad=False)
    with pytest.raises(RuntimeError):
        torch.autograd.grad((tx * tc).sum(), [tc])
    with pytest.raises(RuntimeError):
        pyad.autograd.grad((x * c).sum(), [c])


def test_autograd_grad_multiple_outputs_with_grad_outputs():
    x, tx = leaf(3, 2)
    v1, tv1 = leaf(3, 2, requires_grad=False)
    v2, tv2 = leaf(2, requires_grad=False)
    outs = [x.sin(), (x * x).sum(0)]
    touts = [tx.sin(), (tx * tx).sum(0)]
    (g,) = pyad.autograd.grad(outs, [x], grad_outputs=[v1, v2])
    (tg,) = torch.autograd.grad(touts, [tx], grad_outputs=[tv1, tv2])
    assert_close(g, tg)


def test_autograd_grad_non_scalar_without_grad_outputs_raises():
    x, tx = leaf(3)
    with pytest.raises(RuntimeError):
        torch.autograd.grad(tx * 2, tx)
    with pytest.raises(RuntimeError):
        pyad.autograd.grad(x * 2, x)


def test_autograd_grad_grad_outputs_shape_mismatch_raises():
    x, _ = leaf(3)
    with pytest.raises(RuntimeError):
        pyad.autograd.grad(x * 2, x, grad_outputs=pyad.ones(4, dtype=F64))


def test_autograd_grad_retain_graph_argument():
    x, tx = leaf(3)
    y = x.exp().sum()
    (g1,) = pyad.autograd.grad(y, x, retain_graph=True)
    (g2,) = pyad.autograd.grad(y, x)
    assert_close(g1, tx.detach().exp())
    assert_close(g2, tx.detach().exp())


def test_autograd_backward_with_grad_tensors():
    x, tx = leaf(3)
    w, tw = leaf(3)
    g1, tg1 = leaf(3, requires_grad=False)
    outs = [x * w, x.exp()]
    touts = [tx * tw, tx.exp()]
    pyad.autograd.backward(outs, [g1, None if False else pyad.ones(3, dtype=F64)])
    torch.autograd.backward(touts, [tg1, torch.ones(3, dtype=torch.float64)])
    assert_close(x.grad, tx.grad)
    assert_close(w.grad, tw.grad)

    # a single scalar tensor, no grad_tensors
    pyad.autograd.backward((x * x).sum())
    torch.autograd.backward((tx * tx).sum())
    assert_close(x.grad, tx.grad)


def test_backward_with_gradient_for_non_scalar():
    x, tx = leaf(2, 3)
    v, tv = leaf(2, 3, requires_grad=False)
    (x.tanh() * 3).backward(v)
    (tx.tanh() * 3).backward(tv)
    assert_close(x.grad, tx.grad)
    x.grad = None
    (x * x).backward(gradient=v)
    assert_close(x.grad, 2 * tx.detach() * tv)


def test_backward_non_scalar_without_gradient_raises():
    x, tx = leaf(2, 3)
    with pytest.raises(RuntimeError):
        (tx * 2).backward()
    with pytest.raises(RuntimeError):
        (x * 2).backward()


def test_backward_gradient_shape_mismatch_raises():
    x, _ = leaf(2, 3)
    with pytest.raises(RuntimeError):
        (x * 2).backward(pyad.ones(3, 2, dtype=F64))


# ---------------------------------------------------------------- graph shapes


def test_diamond_graph():
    x, tx = leaf(5)

    def f(a):
        b = a * 2
        c = b.sin()
        d = b.cos()
        return (c * d + b).sum()

    f(x).backward()
    f(tx).backward()
    assert_close(x.grad, tx.grad)


def test_same_tensor_used_many_times():
    x, tx = leaf(4)

    def f(a):
        return (a * a * a + a * a.exp() - a / (a * a + 1)).sum()

    f(x).backward()
    f(tx).backward()
    assert_close(x.grad, tx.grad)
    assert_close(
        x.grad,
        3 * tx.detach() ** 2
        + (1 + tx.detach()) * tx.detach().exp()
        - (1 - tx.detach() ** 2) / (tx.detach() ** 2 + 1) ** 2,
    )


def test_shared_subexpression_multiple_outputs_and_depths():
    x, tx = leaf(3, 3)
    w, tw = leaf(3, 3)

    def f(a, b):
        h = (a @ b).tanh()  # shared
        h2 = h @ h  # used twice in one op
        return h2.sum() + h.sigmoid().mean() * 3 + (h * a).sum()

    f(x, w).backward()
    f(tx, tw).backward()
    assert_close(x.grad, tx.grad)
    assert_close(w.grad, tw.grad)


def test_x_plus_x_and_x_times_x():
    x, tx = leaf(3)
    (x + x).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]
    x.grad = None
    (x * x).sum().backward()
    assert_close(x.grad, 2 * tx.detach())


@pytest.mark.parametrize(
    "name",
    [
        "slice",
        "select",
        "T",
        "transpose",
        "reshape",
        "view",
        "expand",
        "permute",
        "unsqueeze_squeeze",
        "step_slice",
        "chain",
    ],
)
def test_gradient_through_views(name):
    ops = {
        "slice": lambda a: a[1:, :2],
        "select": lambda a: a[1],
        "T": lambda a: a.T,
        "transpose": lambda a: a.transpose(0, 1),
        "reshape": lambda a: a.reshape(4, 3),
        "view": lambda a: a.view(12),
        "expand": lambda a: a[:, :1].expand(3, 5),
        "permute": lambda a: a.unsqueeze(0).permute(2, 0, 1),
        "unsqueeze_squeeze": lambda a: a.unsqueeze(1).squeeze(1),
        "step_slice": lambda a: a[::2, 1::2],
        "chain": lambda a: a.T[1:][:, ::2].reshape(-1),
    }
    x, tx = leaf(3, 4)
    f = ops[name]
    y, ty = f(x), f(tx)
    assert_close(y, ty)
    v = np.random.randn(*ty.shape)
    (y * pyad.tensor(v)).sin().sum().backward()
    (ty * torch.from_numpy(v)).sin().sum().backward()
    assert_close(x.grad, tx.grad)


def test_two_views_of_same_base():
    x, tx = leaf(4, 4)

    def f(a):
        return (a[:2] * a[2:] + a.T[1].unsqueeze(0) * a[1:3]).sum()

    f(x).backward()
    f(tx).backward()
    assert_close(x.grad, tx.grad)


def test_float32_grad_dtype_and_mixed_leaves():
    x = pyad.randn(3, requires_grad=True)
    w = pyad.randn(3, dtype=F64, requires_grad=True)
    tx, tw = to_torch(x), to_torch(w)
    (x * w).sum().backward()
    (tx * tw).sum().backward()
    assert x.grad.dtype == pyad.float32 and w.grad.dtype == F64
    assert_close(x.grad, tx.grad)
    assert_close(w.grad, tw.grad)


# ---------------------------------------------------------------- higher order


def test_hessian_vector_product():
    x, tx = leaf(5)
    v, tv = leaf(5, requires_grad=False)

    def f(a):
        return (a.sin() * a.exp()).sum() + (a * a * a).sum() * 0.1 + (a[:-1] * a[1:]).sum()

    (g,) = pyad.autograd.grad(f(x), x, create_graph=True)
    assert g.requires_grad
    (hv,) = pyad.autograd.grad((g * v).sum(), x)
    (tg,) = torch.autograd.grad(f(tx), tx, create_graph=True)
    (thv,) = torch.autograd.grad((tg * tv).sum(), tx)
    assert_close(g, tg)
    assert_close(hv, thv)
    H = torch.autograd.functional.hessian(f, tx.detach())
    assert_close(hv, H @ tv)


def test_third_derivative_of_sin():
    x, tx = leaf(6)
    (g1,) = pyad.autograd.grad(x.sin().sum(), x, create_graph=True)
    (g2,) = pyad.autograd.grad(g1.sum(), x, create_graph=True)
    (g3,) = pyad.autograd.grad(g2.sum(), x)
    assert_close(g1, tx.detach().cos())
    assert_close(g2, -tx.detach().sin())
    assert_close(g3, -tx.detach().cos())


def test_higher_order_via_backward_create_graph():
    x, tx = leaf(4)
    (x**3).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    x.grad = None
    g.sum().backward()
    assert_close(x.grad, 6 * tx.detach())


DOUBLE_BACKWARD = {
    "tanh": (lambda a, b: a.tanh() * b, False),
    "sigmoid": (lambda a, b: a.sigmoid() * b, False),
    "exp": (lambda a, b: a.exp() * b, False),
    "log": (lambda a, b: a.log() * b, True),
    "matmul": (lambda a, b: a @ b, False),
    "matmul_tanh": (lambda a, b: (a @ b).tanh(), False),
    "softmax": (lambda a, b: (a * b).softmax(dim=-1), False),
    "log_softmax": (lambda a, b: (a * b).log_softmax(dim=-1), False),
}


@pytest.mark.parametrize("name", sorted(DOUBLE_BACKWARD))
def test_double_backward_matches_torch(name):
    f, positive = DOUBLE_BACKWARD[name]
    x, tx = leaf(3, 3, low=0.2 if positive else None)
    w, tw = leaf(3, 3)
    u, tu = leaf(3, 3, requires_grad=False)
    vx, tvx = leaf(3, 3, requires_grad=False)
    vw, tvw = leaf(3, 3, requires_grad=False)

    gx, gw = pyad.autograd.grad((f(x, w) * u).sum(), [x, w], create_graph=True)
    tgx, tgw = torch.autograd.grad((f(tx, tw) * tu).sum(), [tx, tw], create_graph=True)
    assert_close(gx, tgx)
    assert_close(gw, tgw)
    ((gx * vx).sum() + (gw * vw).sum()).backward()
    ((tgx * tvx).sum() + (tgw * tvw).sum()).backward()
    assert_close(x.grad, tx.grad)
    assert_close(w.grad, tw.grad)


def test_maml_inner_step_matches_torch():
    X, tX = leaf(8, 4, requires_grad=False)
    Y, tY = leaf(8, 2, requires_grad=False)
    Xv, tXv = leaf(6, 4, requires_grad=False)
    Yv, tYv = leaf(6, 2, requires_grad=False)
    w, tw = leaf(4, 2)
    lr = 0.3

    def loss(W, A, B):
        return (((A @ W).tanh() - B) ** 2).mean()

    def outer(lib, W, A, B, Av, Bv):
        fast = W
        for _ in range(2):  # two inner steps
            (g,) = lib.autograd.grad(loss(fast, A, B), fast, create_graph=True)
            fast = fast - lr * g
        return loss(fast, Av, Bv)

    out = outer(pyad, w, X, Y, Xv, Yv)
    tout = outer(torch, tw, tX, tY, tXv, tYv)
    assert_close(out, tout)
    out.backward()
    tout.backward()
    assert_close(w.grad, tw.grad)
    # first-order MAML (no create_graph) gives a different answer: the second-order term matters
    (g,) = torch.autograd.grad(loss(tw, tX, tY), tw)
    fo = tw.detach() - lr * g
    fo.requires_grad_()
    loss(fo, tXv, tYv).backward()
    assert not torch.allclose(fo.grad, tw.grad)


def test_create_graph_grad_of_grad_accumulates_into_leaf():
    x, tx = leaf(3)
    (g,) = pyad.autograd.grad((x.exp() * x).sum(), x, create_graph=True)
    (tg,) = torch.autograd.grad((tx.exp() * tx).sum(), tx, create_graph=True)
    g.sum().backward()
    tg.sum().backward()
    assert_close(x.grad, tx.grad)


# ---------------------------------------------------------------- graph inspection


def test_grad_fn_names():
    x, _ = leaf(3, 3)
    w, _ = leaf(3, 3)
    assert "SigmoidBackward0" in x.sigmoid().grad_fn.name()
    assert "MmBackward0" in (x @ w).grad_fn.name()
    assert "ExpBackward0" in x.exp().grad_fn.name()
    assert "TanhBackward0" in x.tanh().grad_fn.name()
    assert "MulBackward0" in (x * w).grad_fn.name()
    assert "AddBackward0" in (x + w).grad_fn.name()
    assert "SumBackward1" in x.sum(0).grad_fn.name()


def test_next_functions_and_accumulate_grad():
    x, _ = leaf(3)
    c, _ = leaf(3, requires_grad=False)
    y = x.sigmoid()
    nf = y.grad_fn.next_functions
    assert isinstance(nf, tuple) and len(nf) == 1
    node, idx = nf[0]
    assert idx == 0
    assert node.name() == "AccumulateGrad"
    assert node.variable is x

    z = y + c
    nf = z.grad_fn.next_functions
    assert len(nf) == 2
    assert nf[0][0].name() == y.grad_fn.name()
    assert nf[1] == (None, 0)

    s = (z * x).sum()
    mul = s.grad_fn.next_functions[0][0]
    assert "MulBackward0" in mul.name()
    names = [n.name() if n is not None else None for n, _ in mul.next_functions]
    assert names[0].startswith("AddBackward") and names[1] == "AccumulateGrad"
    assert mul.next_functions[1][0].variable is x


def test_walk_graph_reaches_all_leaves():
    a, _ = leaf(2)
    b, _ = leaf(2)
    c, _ = leaf(2)
    out = ((a * b).exp() + (b - c).tanh() * a).sum()
    seen, stack, leaves, alive = set(), [out.grad_fn], [], []
    while stack:
        n = stack.pop()
        alive.append(n)  # keep wrappers alive so id() stays unique
        if id(n) in seen:
            continue
        seen.add(id(n))
        if n.name() == "AccumulateGrad":
            leaves.append(n.variable)
        for nxt, _ in n.next_functions:
            if nxt is not None:
                stack.append(nxt)
    assert len(leaves) == 3
    assert {id(t) for t in leaves} == {id(a), id(b), id(c)}


def test_torch_agrees_on_next_functions_shape():
    x, tx = leaf(3)
    c, tc = leaf(3, requires_grad=False)

    def shape(nf):  # torch spells the sink "torch::autograd::AccumulateGrad"
        return [(None if n is None else n.name().split("::")[-1], i) for n, i in nf]

    assert shape((x + c).grad_fn.next_functions) == shape((tx + tc).grad_fn.next_functions)
    assert shape((c * x).grad_fn.next_functions) == shape((tc * tx).grad_fn.next_functions)


GRAD_FN_NAMES = {
    "sum": lambda a: a.sum(),
    "sum_dim": lambda a: a.sum(0),
    "mean": lambda a: a.mean(),
    "mean_dim": lambda a: a.mean(1),
    "mm": lambda a: a @ a,
    "mv": lambda a: a @ a[0],
    "add": lambda a: a + a,
    "add_scalar": lambda a: a + 1,
    "sub": lambda a: a - a,
    "mul": lambda a: a * a,
    "div": lambda a: a / 2,
    "neg": lambda a: -a,
    "pow_scalar": lambda a: a**2,
    "pow_tensor": lambda a: a**a,
    "exp": lambda a: a.exp(),
    "log": lambda a: a.log(),
    "sigmoid": lambda a: a.sigmoid(),
    "tanh": lambda a: a.tanh(),
    "relu": lambda a: a.relu(),
    "softmax": lambda a: a.softmax(-1),
    "log_softmax": lambda a: a.log_softmax(-1),
    "select": lambda a: a[0],
    "slice": lambda a: a[1:],
    "T": lambda a: a.T,
    "view": lambda a: a.view(9),
    "unsqueeze": lambda a: a.unsqueeze(0),
    "amax": lambda a: a.amax(),
}


@pytest.mark.parametrize("name", sorted(GRAD_FN_NAMES))
def test_grad_fn_name_matches_torch(name):
    f = GRAD_FN_NAMES[name]
    x, tx = leaf(3, 3, low=0.5)
    assert f(x).grad_fn.name() == f(tx).grad_fn.name()


# ---------------------------------------------------------------- deep graphs


def test_100k_op_chain_backward():
    n = 100_000
    x = pyad.tensor([1.0, 2.0], dtype=F64, requires_grad=True)
    y = x
    for _ in range(n):
        y = y * 1.0001
    y.sum().backward()
    assert_close(x.grad, np.full(2, 1.0001**n), rtol=1e-9, atol=0)
    del y  # freeing a 100k-node graph must not overflow the stack either


def test_100k_alternating_ops_chain():
    n = 50_000  # two ops each: 100,000 nodes
    x = pyad.tensor([0.5], dtype=F64, requires_grad=True)
    y = x
    for i in range(n):
        y = y * -1.0001 if i % 2 else y * 0.9999
        y = y + 0.25
    y.sum().backward()
    expected = (-1.0001) ** (n // 2) * 0.9999 ** (n - n // 2)
    assert_close(x.grad, np.array([expected]), rtol=1e-9, atol=0)


def test_deep_graph_dropped_without_backward():
    x = pyad.tensor([1.0], dtype=F64, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y.sin()  # saves its input: the whole chain of intermediates is alive
    del y
    z = (x * 2).sum()
    z.backward()
    assert x.grad.tolist() == [2.0]


def test_wide_graph_many_consumers():
    x, tx = leaf(3)
    total, ttotal = x * 0, tx * 0
    for i in range(2000):
        total = total + x * (i % 7)
        ttotal = ttotal + tx * (i % 7)
    total.sum().backward()
    ttotal.sum().backward()
    assert_close(x.grad, tx.grad)


# ---------------------------------------------------------------- memory
# CPU accounting (pyad.memory_allocated() and the process's RSS): these run on the CPU only; test_cuda.py checks
# the GPU allocator.


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@cpu_only
def test_no_leak_in_training_loop():
    w = pyad.randn(64, 64, requires_grad=True)
    x = pyad.randn(64, 64)

    def step():
        y = (x @ w).tanh().sum()
        y.backward()
        w.grad = None

    for _ in range(300):
        step()
    gc.collect()
    mem0 = pyad.memory_allocated()
    rss0 = _rss_bytes()
    for _ in range(10_000):
        step()
    gc.collect()
    mem1 = pyad.memory_allocated()
    rss1 = _rss_bytes()
    assert mem1 == mem0, f"pyad storage grew by {mem1 - mem0} bytes"
    if "libasan" not in os.environ.get("LD_PRELOAD", ""):  # AddressSanitizer keeps freed memory in quarantine
        assert rss1 - rss0 < 4 * 2**20, f"RSS grew by {(rss1 - rss0) / 2**20:.1f} MiB"


@cpu_only
def test_no_leak_with_accumulated_grad_and_no_grad_update():
    w = pyad.randn(32, 32, requires_grad=True)
    x = pyad.randn(32, 32)
    for _ in range(50):
        (x @ w).sigmoid().mean().backward()
    mem0 = pyad.memory_allocated()
    for _ in range(2000):
        (x @ w).sigmoid().mean().backward()
        with pyad.no_grad():
            w -= 0.01 * w.grad
        w.grad.zero_()
    assert pyad.memory_allocated() == mem0


@cpu_only
def test_no_leak_with_create_graph():
    x = pyad.randn(16, requires_grad=True)
    mem0 = None
    for i in range(600):
        (g,) = pyad.autograd.grad(x.tanh().sum(), x, create_graph=True)
        g.sum().backward()
        x.grad = None
        del g
        if i == 100:
            mem0 = pyad.memory_allocated()
    assert pyad.memory_allocated() == mem0


@cpu_only
def test_saved_tensors_freed_after_backward():
    n = 256 * 256
    x = pyad.randn(256, 256, dtype=F64, requires_grad=True)
    base = pyad.memory_allocated()
    loss = x.exp().sin().tanh().sigmoid().sum()  # each op saves a 512 KiB tensor
    held = pyad.memory_allocated()
    assert held - base >= 3 * n * 8
    loss.backward()
    # graph buffers released; only x.grad (and the scalar loss) remain
    after = pyad.memory_allocated()
    assert after <= base + n * 8 + 64, f"{after - base - n * 8} bytes still held after backward"
    del loss
    assert pyad.memory_allocated() == base + n * 8
    x.grad = None
    assert pyad.memory_allocated() == base


@cpu_only
def test_retain_graph_keeps_saved_tensors_until_graph_dropped():
    n = 128 * 128
    x = pyad.randn(128, 128, dtype=F64, requires_grad=True)
    base = pyad.memory_allocated()
    loss = x.exp().sin().tanh().sum()
    held = pyad.memory_allocated()
    loss.backward(retain_graph=True)
    assert pyad.memory_allocated() >= held  # still holding the saved tensors
    loss.backward()
    after = pyad.memory_allocated()
    assert after <= base + n * 8 + 64
    del loss
    x.grad = None
    assert pyad.memory_allocated() == base


@cpu_only
def test_autograd_grad_frees_saved_tensors():
    x = pyad.randn(128, 128, dtype=F64, requires_grad=True)
    base = pyad.memory_allocated()
    loss = x.exp().sin().tanh().sum()
    (g,) = pyad.autograd.grad(loss, x)
    assert pyad.memory_allocated() <= base + g.numel() * 8 + 64
    del g, loss
    assert pyad.memory_allocated() == base


@cpu_only
def test_graph_freed_when_output_dropped_without_backward():
    x = pyad.randn(128, 128, dtype=F64, requires_grad=True)
    base = pyad.memory_allocated()
    loss = x.exp().sin().tanh().sigmoid().sum()
    assert pyad.memory_allocated() > base
    del loss
    assert pyad.memory_allocated() == base


@cpu_only
def test_memory_allocated_counts_bytes():
    base = pyad.memory_allocated()
    t = pyad.zeros(1000, dtype=F64)
    assert pyad.memory_allocated() - base == 8000
    v = t[10:20]  # a view allocates nothing
    assert pyad.memory_allocated() - base == 8000
    del t
    assert pyad.memory_allocated() - base == 8000  # the view keeps the storage
    del v
    assert pyad.memory_allocated() == base


def test_closed_form_sanity():
    # guard against the chain tests passing for a trivial reason
    assert math.isclose(1.0001**100_000, 22015.456, rel_tol=1e-6)
