"""The fused cross entropy and embedding (Note [Fused cross entropy], Note [Fused embedding]): the path
F.cross_entropy takes, the fused backwards against the composed ones, derivatives of every order and mode
against torch and finite differences, and the edges (ignored rows, infinities, empty batches, bad targets).
Parity over the loss options is in test_nn_layers.py (test_cross_entropy_class_indices), which runs through
this same op."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import pyad
import pyad.nn.functional as F
from pyad.autograd import gradcheck, gradgradcheck

try:  # pytest's --import-mode=importlib (the project's setting) registers the conftest as tests.conftest
    from tests.conftest import TORCH_DTYPE, assert_close
except ImportError:  # prepend/append import modes
    from conftest import TORCH_DTYPE, assert_close


@pytest.fixture
def fused_calls(monkeypatch):
    calls = []
    real = pyad._C._cross_entropy_rows

    def counting(*args):
        calls.append(tuple(args[0].shape))
        return real(*args)

    monkeypatch.setattr(pyad._C, "_cross_entropy_rows", counting)
    return calls


def logits(shape, dtype=pyad.float64, seed=0):
    a = np.random.default_rng(seed).standard_normal(shape) * 3
    return pyad.tensor(a, dtype=dtype, requires_grad=True), torch.tensor(
        a, dtype=TORCH_DTYPE[dtype], requires_grad=True
    )


def test_class_targets_take_the_fused_op(fused_calls):
    x, _ = logits((3, 4, 2))
    F.cross_entropy(x, pyad.tensor([[0, 1], [2, 3], [1, 1]]))
    F.cross_entropy(x[:, :, 0], pyad.tensor([0, 1, 2]), label_smoothing=0.1)  # composed
    F.cross_entropy(x[:, :, 0], pyad.softmax(x[:, :, 0], 1).detach())  # probabilities: composed
    assert fused_calls == [(6, 4)]


@pytest.mark.parametrize("dtype", [pyad.float64, pyad.float32])
@pytest.mark.parametrize("ignore", [False, True])
def test_fused_backward_equals_composed_backward(dtype, ignore):
    """The backward kernel (no graph recorded) and the composed VJP (create_graph=True) agree."""
    x, _ = logits((37, 19), dtype)
    t = np.random.default_rng(1).integers(0, 19, 37)
    if ignore:
        t[::4] = 5
    target = pyad.tensor(t)
    g = pyad.tensor(np.random.default_rng(2).standard_normal(37), dtype=dtype)
    loss = F.cross_entropy(x, target, reduction="none", ignore_index=5 if ignore else -100)
    (fused,) = pyad.autograd.grad(loss, x, g, retain_graph=True)
    (composed,) = pyad.autograd.grad(loss, x, g, create_graph=True)
    assert composed.grad_fn is not None and fused.grad_fn is None
    tol = 1e-12 if dtype == pyad.float64 else 1e-6
    np.testing.assert_allclose(fused.numpy(), composed.detach().numpy(), rtol=tol, atol=tol)


def test_strided_logits_and_targets():
    """Transposed logits and a strided target: the kernels read them contiguous (forward and backward)."""
    a = np.random.default_rng(10).standard_normal((7, 9))
    t = np.random.default_rng(11).integers(0, 7, 18)
    x = pyad.tensor(a, requires_grad=True)
    tx = torch.tensor(a, requires_grad=True)
    loss = F.cross_entropy(x.t(), pyad.tensor(t)[::2], reduction="sum")
    tloss = torch.nn.functional.cross_entropy(tx.t(), torch.tensor(t)[::2], reduction="sum")
    loss.backward()
    tloss.backward()
    assert_close(loss, tloss)
    assert_close(x.grad, tx.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck_and_gradgradcheck(reduction):
    x, _ = logits((5, 4))
    t = pyad.tensor([0, 3, -100, 2, 1])
    w = pyad.tensor([0.5, 1.0, 2.0, 1.5], dtype=pyad.float64)
    for weight in (None, w):

        def f(x, weight=weight):
            return F.cross_entropy(x, t, weight=weight, reduction=reduction)

        assert gradcheck(f, (x,), check_forward_ad=True)
        assert gradgradcheck(f, (x,))


def test_forward_mode_and_transforms_match_torch():
    x, tx = logits((6, 5))
    t = np.array([0, 4, 1, 1, 3, 2])
    pt, tt = pyad.tensor(t), torch.tensor(t)
    v = np.random.default_rng(3).standard_normal((6, 5))

    def pf(x):
        return F.cross_entropy(x, pt, ignore_index=1)

    def tf(x):
        return torch.nn.functional.cross_entropy(x, tt, ignore_index=1)

    xd, txd = x.detach(), tx.detach()
    out, tan = pyad.func.jvp(pf, (xd,), (pyad.tensor(v),))
    tout, ttan = torch.func.jvp(tf, (txd,), (torch.tensor(v),))
    assert_close(out, tout)
    assert_close(tan, ttan)
    assert_close(pyad.func.jacfwd(pf)(xd), torch.func.jacfwd(tf)(txd))  # batched tangents
    assert_close(pyad.func.jacrev(pf)(xd), torch.func.jacrev(tf)(txd))
    assert_close(pyad.func.hessian(pf)(xd), torch.func.hessian(tf)(txd))
    assert_close(pyad.func.jacrev(pyad.func.grad(pf))(xd), torch.func.jacrev(torch.func.grad(tf))(txd))
    rows = pyad.func.jacrev(lambda x: F.cross_entropy(x, pt, reduction="none"))(xd)  # batched cotangents
    assert_close(rows, torch.func.jacrev(lambda x: torch.nn.functional.cross_entropy(x, tt, reduction="none"))(txd))


@pytest.mark.parametrize("dtype", [pyad.float64, pyad.float32])
def test_large_rows_and_extreme_values_match_torch(dtype):
    a = np.random.default_rng(4).standard_normal((64, 1000)) * 10
    a[0, :] = -np.inf
    a[0, 7] = 3.0  # one finite logit: probability 1
    a[1, 3] = 1e4  # a dominant logit
    a[2, :500] = -np.inf
    t = np.random.default_rng(5).integers(500, 1000, 64)
    t[0], t[1] = 7, 3
    x = pyad.tensor(a, dtype=dtype, requires_grad=True)
    tx = torch.tensor(a, dtype=TORCH_DTYPE[dtype], requires_grad=True)
    loss = F.cross_entropy(x, pyad.tensor(t), reduction="sum")
    tloss = torch.nn.functional.cross_entropy(tx, torch.tensor(t), reduction="sum")
    loss.backward()
    tloss.backward()
    rtol, atol = (1e-7, 1e-7) if dtype == pyad.float64 else (1e-5, 1e-5)
    assert_close(loss, tloss, rtol=rtol, atol=atol * 10)
    assert_close(x.grad, tx.grad, rtol=rtol, atol=atol)


def test_all_ignored_and_empty():
    x, tx = logits((3, 4))
    t = pyad.tensor([-100, -100, -100])
    loss = F.cross_entropy(x, t)
    tloss = torch.nn.functional.cross_entropy(tx, torch.tensor([-100, -100, -100]))
    assert np.isnan(loss.item()) and np.isnan(tloss.item())
    loss.backward()
    tloss.backward()
    assert np.array_equal(x.grad.numpy(), np.zeros((3, 4))) and not tx.grad.any()
    e, te = logits((0, 4))
    for reduction in ("none", "sum", "mean"):
        got = F.cross_entropy(e, pyad.zeros(0, dtype=pyad.int64), reduction=reduction)
        want = torch.nn.functional.cross_entropy(te, torch.zeros(0, dtype=torch.int64), reduction=reduction)
        assert tuple(got.shape) == tuple(want.shape)
        np.testing.assert_array_equal(np.isnan(got.detach().numpy()), np.isnan(want.detach().numpy()))


def test_bad_input_raises():
    x, _ = logits((2, 3))
    with pytest.raises(TypeError, match=r"\[cross_entropy\] expected an int64"):
        pyad._C._cross_entropy_rows(x, pyad.tensor([0.0, 1.0]), -100)
    with pytest.raises(ValueError, match=r"\[cross_entropy\] expected a target of shape \(2,\)"):
        pyad._C._cross_entropy_rows(x, pyad.tensor([0, 1, 2]), -100)
    with pytest.raises(ValueError, match=r"\[cross_entropy\] expected logits of shape \(N, C\)"):
        pyad._C._cross_entropy_rows(pyad.ones(3), pyad.tensor([0]), -100)
    with pytest.raises(IndexError, match=r"\[cross_entropy\] index 3 is out of range for size 3"):
        F.cross_entropy(x, pyad.tensor([3, -100]))
    with pytest.raises(IndexError, match=r"\[cross_entropy\] index -2 is out of range for size 3"):
        F.cross_entropy(x, pyad.tensor([-2, 0]))
    with pytest.raises(TypeError, match=r"\[cross_entropy\] expected an int64"):
        F.cross_entropy(x, pyad.tensor([True, False]))


@pytest.mark.parametrize("dtype", [pyad.float64, pyad.float32])
def test_embedding_matches_torch_with_repeated_indices(dtype):
    a = np.random.default_rng(6).standard_normal((50, 7))
    idx = np.random.default_rng(7).integers(0, 5, (4, 9))  # five rows, each many times
    w = pyad.tensor(a, dtype=dtype, requires_grad=True)
    tw = torch.tensor(a, dtype=TORCH_DTYPE[dtype], requires_grad=True)
    out = F.embedding(pyad.tensor(idx), w)
    tout = torch.nn.functional.embedding(torch.tensor(idx), tw)
    assert_close(out, tout)
    g = np.random.default_rng(8).standard_normal(tout.shape)
    out.backward(pyad.tensor(g, dtype=dtype))
    tout.backward(torch.tensor(g, dtype=TORCH_DTYPE[dtype]))
    assert_close(w.grad, tw.grad)
    assert out.grad_fn.name() == "EmbeddingBackward0"


def test_embedding_fused_backward_equals_composed_and_higher_orders():
    w, tw = logits((6, 3))
    idx = pyad.tensor([[0, 2, 2], [5, 0, 2]])
    tidx = torch.tensor([[0, 2, 2], [5, 0, 2]])
    g = pyad.tensor(np.random.default_rng(9).standard_normal((2, 3, 3)))
    out = F.embedding(idx, w)
    (fused,) = pyad.autograd.grad(out, w, g, retain_graph=True)
    (composed,) = pyad.autograd.grad(out, w, g, create_graph=True)
    np.testing.assert_allclose(fused.numpy(), composed.detach().numpy(), rtol=1e-15, atol=1e-15)

    def f(w):
        return (F.embedding(idx, w) ** 2).sum()

    def tf(w):
        return (torch.nn.functional.embedding(tidx, w) ** 2).sum()

    assert gradcheck(lambda w: F.embedding(idx, w), (w,), check_forward_ad=True)
    assert gradgradcheck(lambda w: F.embedding(idx, w) ** 2, (w,))
    wd, twd = w.detach(), tw.detach()
    assert_close(pyad.func.hessian(f)(wd), torch.func.hessian(tf)(twd))
    assert_close(
        pyad.func.jacfwd(lambda w: F.embedding(idx, w))(wd),
        torch.func.jacfwd(lambda w: torch.nn.functional.embedding(tidx, w))(twd),
    )
    assert_close(
        pyad.func.jacrev(lambda w: F.embedding(idx, w))(wd),
        torch.func.jacrev(lambda w: torch.nn.functional.embedding(tidx, w))(twd),
    )


def test_embedding_errors_and_empty():
    w = pyad.ones(4, 2, requires_grad=True)
    with pytest.raises(IndexError, match=r"\[embedding\] index 4 is out of range for size 4"):
        F.embedding(pyad.tensor([0, 4]), w)
    with pytest.raises(IndexError, match=r"\[embedding\] index -1 is out of range for size 4"):
        F.embedding(pyad.tensor([-1]), w)
    with pytest.raises(TypeError, match=r"\[embedding\] expected an int64"):
        F.embedding(pyad.tensor([0.0]), w)
    e = F.embedding(pyad.zeros(0, 3, dtype=pyad.int64), w)
    assert tuple(e.shape) == (0, 3, 2)
    e.sum().backward()
    assert np.array_equal(w.grad.numpy(), np.zeros((4, 2)))


# Each ISA path of the float32 row loops (Note [Run-time ISA dispatch]) in a process of its own, capped by
# PYAD_CPU_ISA (a cap above what the CPU has runs the widest it has), against torch: row widths around every
# vector width (tails of 1..15 lanes, two-accumulator max), NaN, +-inf, a dominant logit and ignored rows.
_ISA_CHILD = r"""
import numpy as np, torch, pyad, pyad.nn.functional as F
rng = np.random.default_rng(6)
for c in (1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 1000):
    a = (rng.standard_normal((12, c)) * 10).astype(np.float32)
    t = rng.integers(0, c, 12)
    a[0, c - 1] = np.nan
    a[1, :] = -np.inf
    a[1, t[1]] = 2.0
    a[2, c // 2] = np.inf
    a[3, t[3]] = 1e4
    t[4] = -100
    x = pyad.tensor(a, requires_grad=True)
    tx = torch.tensor(a, requires_grad=True)
    loss = F.cross_entropy(x, pyad.tensor(t), reduction="none")
    tloss = torch.nn.functional.cross_entropy(tx, torch.tensor(t), reduction="none")
    (loss * pyad.tensor(np.arange(1, 13, dtype=np.float32))).sum().backward()
    (tloss * torch.arange(1, 13, dtype=torch.float32)).sum().backward()
    np.testing.assert_allclose(loss.detach().numpy(), tloss.detach().numpy(), rtol=1e-5, atol=1e-4, err_msg=str(c))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-5, err_msg=str(c))
print("ok")
"""


@pytest.mark.parametrize("isa", ["baseline", "avx2", "avx512"])
def test_every_isa_path_matches_torch(isa):
    env = dict(os.environ, PYAD_CPU_ISA=isa)
    run = subprocess.run([sys.executable, "-c", _ISA_CHILD], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stdout + run.stderr
