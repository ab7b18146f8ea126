"""pyad.where(..., safe=True): the masked-out branch contributes exact zeros to the gradient even where its
local derivative is inf or NaN (the double-where trap); the default stays torch's."""

import numpy as np
import pytest
import torch

import pyad
from pyad import func
from pyad.autograd import forward_ad

F64 = pyad.float64


def f(ns, x, **kw):
    return ns.where(x < 1, x, ns.sqrt(x), **kw)


def test_gradient_at_zero_is_one_in_safe_mode_and_torchs_by_default():
    x = pyad.tensor([0.0, 0.5, 4.0], dtype=F64, requires_grad=True)
    f(pyad, x, safe=True).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0, 0.25])

    tx = torch.tensor([0.0, 0.5, 4.0], dtype=torch.float64, requires_grad=True)
    f(torch, tx).sum().backward()
    y = pyad.tensor([0.0, 0.5, 4.0], dtype=F64, requires_grad=True)
    f(pyad, y).sum().backward()
    assert np.isnan(tx.grad[0].item())  # torch: 0 * inf
    np.testing.assert_array_equal(y.grad.numpy(), tx.grad.numpy())  # NaN where torch's is NaN


@pytest.mark.parametrize(
    "branch",
    [
        lambda ns, x: ns.log(x),  # 1/x: inf at 0
        lambda ns, x: 1.0 / x,  # div
        lambda ns, x: x**0.5,  # pow with a scalar exponent
        lambda ns, x: ns.sqrt(x) * ns.log(x + 1.0) + ns.acos(x - 1.0),  # a chain, a binary mul, acos' at -1
    ],
)
def test_masked_branches_of_every_elementwise_kind(branch):
    def g(ns, x, **kw):
        return ns.where(x > 0.25, branch(ns, x), x * 3.0, **kw)

    x0 = np.array([0.0, 0.1, 0.5, 2.0])
    x = pyad.tensor(x0, dtype=F64, requires_grad=True)
    (gs,) = pyad.autograd.grad([g(pyad, x, safe=True).sum()], [x])
    tx = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    (tg,) = torch.autograd.grad([g(torch, tx).sum()], [tx])
    # Where the branch is selected, torch's value; where it is masked out, the other branch's 3 exactly.
    np.testing.assert_allclose(gs.numpy()[2:], tg.numpy()[2:], rtol=1e-12)
    np.testing.assert_array_equal(gs.numpy()[:2], [3.0, 3.0])


def test_transforms_and_forward_mode():
    x = pyad.tensor([0.0, 0.5, 4.0], dtype=F64)
    jr = func.jacrev(lambda x: f(pyad, x, safe=True))(x).numpy()
    np.testing.assert_array_equal(np.diag(jr), [1.0, 1.0, 0.25])
    # Forward mode selects tangents, so it is already safe (and so is torch's): no flag needed.
    jf = func.jacfwd(lambda x: f(pyad, x))(x).numpy()
    np.testing.assert_array_equal(np.diag(jf), [1.0, 1.0, 0.25])
    with forward_ad.dual_level():
        d = forward_ad.make_dual(x, pyad.ones(3, dtype=F64))
        t = forward_ad.unpack_dual(f(pyad, d, safe=True)).tangent
    np.testing.assert_array_equal(t.numpy(), [1.0, 1.0, 0.25])


def test_strong_zeros_end_with_the_pass():
    # A later ordinary backward (no safe where in its graph) is torch's again.
    x = pyad.tensor([0.0], dtype=F64, requires_grad=True)
    f(pyad, x, safe=True).sum().backward()
    y = pyad.tensor([0.0], dtype=F64, requires_grad=True)
    f(pyad, y).sum().backward()
    assert x.grad.item() == 1.0 and np.isnan(y.grad.item())


def test_safe_where_values_and_errors_match_where():
    x = pyad.tensor(np.linspace(-1, 1, 5), dtype=F64)
    np.testing.assert_array_equal(pyad.where(x > 0, x, 0.0, safe=True).numpy(), pyad.where(x > 0, x, 0.0).numpy())
    with pytest.raises(TypeError, match="where"):
        pyad.where(x, x, x, safe=True)
