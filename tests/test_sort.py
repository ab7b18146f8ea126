"""sort, argsort, topk, argmax, argmin and gather: the cases the op table (tests/op_db.py, which holds their
parity rows on random data without ties) cannot say: ties and stability, NaN, integer and bool inputs, 0-d and
empty inputs, the result types, repeated gather indices, and the errors."""

import numpy as np
import pytest
import torch

import pyad
from pyad import func

try:  # pytest's --import-mode=importlib (the project's setting) registers the conftest as tests.conftest
    from tests.conftest import assert_close, to_torch
except ImportError:  # prepend/append import modes
    from conftest import assert_close, to_torch

pytestmark = pytest.mark.usefixtures("device")

NAN = float("nan")


def both(a, dtype=pyad.float64):
    x = pyad.tensor(np.asarray(a), dtype=dtype)
    return x, to_torch(x)


# ---------------------------------------------------------------- ties, stability, NaN
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_stable_sort_of_ties_is_torchs(descending, dim):
    """Many ties (integers 0..2 in float): with stable=True the indices are torch's exactly, either direction."""
    a = np.random.default_rng(1).integers(0, 3, (7, 9)).astype(np.float64)
    x, t = both(a)
    r, rt = pyad.sort(x, dim, descending, stable=True), torch.sort(t, dim=dim, descending=descending, stable=True)
    assert_close(r.values, rt.values)
    assert_close(r.indices, rt.indices)
    assert_close(
        pyad.argsort(x, dim, descending, stable=True), torch.argsort(t, dim=dim, descending=descending, stable=True)
    )


def test_stable_sort_of_a_long_line_with_ties():
    a = np.random.default_rng(2).integers(-5, 5, (3, 500)).astype(np.float64)
    x, t = both(a)
    assert_close(x.sort(stable=True).indices, t.sort(stable=True).indices)
    assert_close(x.sort(descending=True, stable=True).indices, t.sort(descending=True, stable=True).indices)


@pytest.mark.parametrize("descending", [False, True])
def test_nan_sorts_as_the_largest(descending):
    a = [[3.0, NAN, -1.0, float("inf"), NAN, 0.5], [NAN, NAN, NAN, 1.0, -float("inf"), 1.0]]
    x, t = both(a)
    r, rt = pyad.sort(x, descending=descending, stable=True), torch.sort(t, descending=descending, stable=True)
    np.testing.assert_array_equal(r.values.cpu().numpy(), rt.values.numpy())  # NaNs in the same places
    assert_close(r.indices, rt.indices)
    k, kt = pyad.topk(x, 3, largest=not descending), torch.topk(t, 3, largest=not descending)
    np.testing.assert_array_equal(k.values.cpu().numpy(), kt.values.numpy())


def test_argmax_argmin_take_the_first_extreme_and_nan():
    x, t = both([[1.0, 3.0, 3.0, 0.0], [2.0, NAN, 5.0, NAN], [-1.0, -1.0, 4.0, -1.0]])
    for f in ("argmax", "argmin"):
        for kw in ({}, {"dim": 1}, {"dim": 0, "keepdim": True}, {"keepdim": True}):
            assert_close(getattr(pyad, f)(x, **kw), getattr(torch, f)(t, **kw), msg=f"{f} {kw}")


@pytest.mark.parametrize("dtype", [pyad.int64, pyad.bool])
def test_sort_of_integers_and_bools(dtype):
    a = np.random.default_rng(3).integers(0, 2 if dtype == pyad.bool else 50, (4, 6))
    x, t = both(a, dtype)
    r, rt = pyad.sort(x, 1, stable=True), torch.sort(t, dim=1, stable=True)
    assert_close(r.values, rt.values)
    assert_close(r.indices, rt.indices)
    if dtype == pyad.int64:  # torch has no topk, argmax for bools
        assert_close(pyad.topk(x, 2, 0).values, torch.topk(t, 2, 0).values)
        assert_close(pyad.argmax(x, 1), torch.argmax(t, 1))
    assert not r.values.requires_grad


def test_a_stride_along_the_sorted_dim():
    x, t = both(np.random.default_rng(4).standard_normal((6, 5)))
    r, rt = pyad.sort(x[::2].T, 1, descending=True), torch.sort(t[::2].T, 1, descending=True)
    assert_close(r.values, rt.values)
    assert_close(r.indices, rt.indices)


# ---------------------------------------------------------------- 0-d, empty, results
def test_0d_and_empty():
    x, t = both(2.5)
    for r, rt in [
        (pyad.sort(x), torch.sort(t)),
        (pyad.topk(x, 1), torch.topk(t, 1)),
        (pyad.topk(x, 0), torch.topk(t, 0)),
    ]:
        assert_close(r.values, rt.values)
        assert_close(r.indices, rt.indices)
    assert_close(pyad.argmax(x), torch.argmax(t))
    e, et = both(np.zeros((0, 4)))
    assert_close(pyad.sort(e, 0).indices, torch.sort(et, 0).indices)
    assert_close(pyad.topk(e, 2).indices, torch.topk(et, 2).indices)
    assert_close(pyad.argmax(e, 1), torch.argmax(et, 1))


def test_results_are_named_tuples_and_k0_has_no_elements():
    x = pyad.tensor([[3.0, 1.0, 2.0]], requires_grad=True)
    r = pyad.sort(x)
    values, indices = r
    assert type(r).__name__ == "sort" and r._fields == ("values", "indices") and values is r.values
    assert indices.dtype == pyad.int64 and not indices.requires_grad
    assert r.values.grad_fn.name() == "SortBackward0"
    k = x.topk(0)
    assert type(k).__name__ == "topk" and tuple(k.values.shape) == (1, 0) and tuple(k.indices.shape) == (1, 0)
    assert k.values.grad_fn.name() == "TopkBackward0"
    k.values.sum().backward()
    assert_close(x.grad, torch.zeros(1, 3))


# ---------------------------------------------------------------- gradients
def test_topk_gradient_reaches_only_the_selected():
    a = np.random.default_rng(5).standard_normal((3, 6))
    x, t = pyad.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    g = np.random.default_rng(6).standard_normal((3, 2))
    pyad.topk(x, 2, largest=False).values.backward(pyad.tensor(g))
    torch.topk(t, 2, largest=False).values.backward(torch.tensor(g))
    assert_close(x.grad, t.grad)


def test_gather_with_repeated_indices_accumulates():
    a = np.random.default_rng(7).standard_normal((2, 3))
    x, t = pyad.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    idx = [[0, 0, 0, 2], [1, 1, 0, 1]]
    out = pyad.gather(x, 1, pyad.tensor(idx))
    outt = torch.gather(t, 1, torch.tensor(idx))
    assert_close(out, outt)
    w = np.arange(8.0).reshape(2, 4)
    (out * pyad.tensor(w)).sum().backward()
    (outt * torch.tensor(w)).sum().backward()
    assert_close(x.grad, t.grad)


def test_sort_jacobians_and_hessian():
    a = np.random.default_rng(8).standard_normal((2, 4))
    x, t = pyad.tensor(a), torch.tensor(a)

    def f(ns):
        return lambda v: (ns.sort(v, 1, descending=True).values ** 3 * ns.arange(4.0, dtype=v.dtype)).sum(0)

    jt = torch.func.jacrev(f(torch))(t)
    assert_close(func.jacrev(f(pyad))(x), jt)
    assert_close(func.jacfwd(f(pyad))(x), jt)
    h = func.hessian(lambda v: f(pyad)(v).sum())(x)
    assert_close(h, torch.func.hessian(lambda v: f(torch)(v).sum())(t))


# ---------------------------------------------------------------- errors
def test_topk_k_out_of_range():
    x = pyad.zeros(2, 3)
    for k in (4, -1):
        with pytest.raises(RuntimeError, match=r"\[topk\] k=.* out of range for dim -1 of size 3"):
            pyad.topk(x, k)
    with pytest.raises(RuntimeError, match=r"\[topk\]"):
        pyad.topk(pyad.tensor(1.0), 2)
    with pytest.raises(IndexError, match=r"\[sort\] dim 2 is out of range"):
        pyad.sort(x, 2)


def test_argmax_of_nothing_raises():
    with pytest.raises(IndexError, match=r"\[argmax\] .*empty"):
        pyad.argmax(pyad.zeros(0, 3))
    with pytest.raises(IndexError, match=r"\[argmin\] cannot reduce over dim 1 of size 0"):
        pyad.argmin(pyad.zeros(2, 0), 1)


@pytest.mark.parametrize("bad", [3, -1, 100])
def test_gather_index_out_of_range(bad):
    x = pyad.zeros(2, 3)
    with pytest.raises(IndexError, match=rf"\[gather\] index {bad} is out of bounds for dim 1 with size 3"):
        pyad.gather(x, 1, pyad.tensor([[0, bad], [1, 2]]))


def test_gather_bad_arguments():
    x = pyad.zeros(2, 3)
    with pytest.raises(TypeError, match=r"\[gather\] expected an int64 index, got float"):
        pyad.gather(x, 1, pyad.zeros(2, 2))
    with pytest.raises(ValueError, match=r"\[gather\] index \(4,\) must have as many dims as the input \(2, 3\)"):
        pyad.gather(x, 1, pyad.tensor([0, 1, 2, 0]))
    with pytest.raises(ValueError, match=r"\[gather\] index \(3, 1\) is larger than the input \(2, 3\) at dim 0"):
        pyad.gather(x, 1, pyad.zeros(3, 1, dtype=pyad.int64))
    with pytest.raises(IndexError, match=r"\[gather\] dim 2 is out of range"):
        x.gather(2, pyad.zeros(2, 3, dtype=pyad.int64))


@pytest.mark.parametrize("largest", [True, False])
def test_topk_of_ties_is_the_stable_sorts_first_k(largest):
    """topk's partial sort breaks ties by position: the first k of the stable sort (values as torch's)."""
    a = np.random.default_rng(9).integers(0, 3, (5, 40)).astype(np.float64)
    a[0, ::7] = NAN
    x, t = both(a)
    for k in (1, 7, 40):
        r = pyad.topk(x, k, largest=largest)
        s = pyad.sort(x, descending=largest, stable=True)
        np.testing.assert_array_equal(r.indices.cpu().numpy(), s.indices.cpu().numpy()[:, :k])
        np.testing.assert_array_equal(r.values.cpu().numpy(), torch.topk(t, k, largest=largest).values.numpy())
