"""What the parity table (tests/op_db.py) cannot check for the compositions of pyad/_logical.py, _shape_more.py
and _math_more.py: modes torch lacks (cdist's forward mode and double backward), torch's edge cases (NaN ignored
at beta = 0, 0 * log 0, integer division by zero), errors, and the Tensor methods' presence."""

import numpy as np
import pytest
import torch

import pyad
from pyad import func as F
from pyad.autograd import gradcheck, gradgradcheck


def test_cdist_forward_mode_and_double_backward():
    rng = np.random.default_rng(0)
    a = pyad.tensor(rng.standard_normal((4, 3)))
    b = pyad.tensor(rng.standard_normal((5, 3)))
    for p in (1.0, 2.0, 3.0):
        f = lambda x, p=p: pyad.cdist(x, b, p)  # noqa: E731
        np.testing.assert_allclose(F.jacfwd(f)(a).numpy(), F.jacrev(f)(a).numpy(), rtol=1e-10, atol=1e-12)
        assert gradcheck(f, (a.clone().requires_grad_(),))
        assert gradgradcheck(f, (a.clone().requires_grad_(),))


def test_addmm_beta_zero_ignores_nan_input():
    c = pyad.tensor([[float("nan"), float("inf")]], requires_grad=True)
    a, b = pyad.ones(3, 2), pyad.ones(2, 2)
    out = pyad.addmm(c, a, b, beta=0, alpha=2.0)
    assert np.all(out.detach().numpy() == 4.0)
    out.sum().backward()
    assert np.all(c.grad.numpy() == 0.0)


def test_xlogy_edges_match_torch():
    x = [0.0, 0.0, 0.0, 2.0, 0.0]
    y = [0.0, float("inf"), float("nan"), 0.0, 3.0]
    want = torch.xlogy(torch.tensor(x), torch.tensor(y)).numpy()
    got = pyad.xlogy(pyad.tensor(x), pyad.tensor(y)).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got[~np.isnan(got)], want[~np.isnan(want)])
    assert pyad.xlogy(2.0, pyad.tensor([4.0])).item() == pytest.approx(2 * np.log(4.0))


def test_floor_divide_by_integer_zero_raises():
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        pyad.tensor([4, 5]) // pyad.tensor([1, 0])
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        pyad.floor_divide(pyad.tensor([4]), 0)
    assert pyad.isinf(pyad.tensor([1.0]) // 0.0).all().item()
    assert (7 // pyad.tensor([2, -2])).tolist() == [3, -4]


def test_shape_helpers_against_torch():
    a, b = np.arange(3.0), np.arange(4.0)
    for indexing in ("ij", "xy"):
        got = pyad.meshgrid(pyad.tensor(a), pyad.tensor(b), indexing=indexing)
        want = torch.meshgrid(torch.tensor(a), torch.tensor(b), indexing=indexing)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g.numpy(), w.numpy())
    x = np.arange(24.0).reshape(2, 3, 4)
    for parts in (2, [1, 3], 5):
        got = pyad.tensor_split(pyad.tensor(x), parts, dim=2)
        want = torch.tensor_split(torch.tensor(x), parts, dim=2)
        assert [tuple(g.shape) for g in got] == [tuple(w.shape) for w in want]
    assert pyad.broadcast_shapes((3, 1), (4,)) == torch.broadcast_shapes((3, 1), (4,))
    with pytest.raises(RuntimeError, match="cannot be broadcast"):
        pyad.broadcast_shapes((3,), (4,))
    np.testing.assert_array_equal(pyad.triu_indices(4, 5, 1).numpy(), torch.triu_indices(4, 5, 1).numpy())


def test_cross_default_dim_and_errors():
    a, b = np.eye(3), np.ones((3, 3))
    np.testing.assert_allclose(pyad.cross(pyad.tensor(a), pyad.tensor(b)).numpy(), np.cross(a, b, axis=0))
    with pytest.raises(RuntimeError, match="no dimension of size 3"):
        pyad.cross(pyad.ones(2, 2), pyad.ones(2, 2))
    with pytest.raises(RuntimeError, match="must have length 3"):
        pyad.cross(pyad.ones(3, 2), pyad.ones(3, 2), dim=1)


def test_median_nan_and_empty():
    x = pyad.tensor([3.0, float("nan"), 1.0])
    assert np.isnan(pyad.median(x).item()) == np.isnan(torch.median(torch.tensor([3.0, float("nan"), 1.0])).item())
    with pytest.raises(IndexError, match="empty dimension"):
        pyad.median(pyad.zeros(0, 3), dim=0)
    v = pyad.median(pyad.tensor([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]]), dim=1)
    assert v.values.tolist() == [3.0, 4.0] and v.indices.tolist() == [2, 0]


def test_nan_to_num_float32_limits():
    x = pyad.tensor([float("inf"), -float("inf"), float("nan")], dtype=pyad.float32)
    np.testing.assert_array_equal(
        pyad.nan_to_num(x).numpy(), torch.nan_to_num(torch.tensor([float("inf"), -float("inf"), float("nan")])).numpy()
    )


def test_methods_are_bound():
    t = pyad.tensor([[1.0, -2.0], [0.0, 4.0]])
    assert t.any().item() and not t.all().item()
    assert t.isnan().sum().item() == 0
    assert t.clamp_min(0.0).tolist() == [[1.0, 0.0], [0.0, 4.0]]
    assert t.diag().tolist() == [1.0, 4.0]
    assert t.lerp(pyad.zeros(2, 2), 0.5).tolist() == [[0.5, -1.0], [0.0, 2.0]]
    assert t.fliplr().tolist() == [[-2.0, 1.0], [4.0, 0.0]]
    assert t.count_nonzero().item() == 3
