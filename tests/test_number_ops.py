"""The number fast path (csrc/ops/scalar_binary.cpp): `x * 2.0`, `1.0 - x`, `x / 3` pass the number by value,
with the tensor op's result, dtype, node, edges and gradients (first and second order) all the same as torch's."""

import operator

import numpy as np
import pytest
import torch
from conftest import TOL, TORCH_DTYPE

import pyad

OPS = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "truediv": operator.truediv,
}
NUMBERS = [2.5, -0.75, 3, 0, -2, 1e-300]


def _pair(dtype, shape=(3, 4), seed=0):
    a = np.random.default_rng(seed).uniform(0.5, 2.0, shape)
    x = pyad.tensor(a, dtype=dtype, requires_grad=True)
    xt = torch.tensor(a, dtype=TORCH_DTYPE[dtype], requires_grad=True)
    return x, xt


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("reflected", [False, True])
@pytest.mark.parametrize("dtype", [pyad.float32, pyad.float64])
@pytest.mark.parametrize("number", NUMBERS)
def test_number_operand_matches_torch(name, reflected, dtype, number):
    if reflected and name == "truediv" and number == 0:
        number = 0.0  # 0 / x: fine; x / 0 is inf in both
    f = OPS[name]
    x, xt = _pair(dtype)
    y = f(number, x) if reflected else f(x, number)
    yt = f(number, xt) if reflected else f(xt, number)
    assert y.dtype == dtype and tuple(y.shape) == tuple(yt.shape)
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), **TOL[dtype])
    g = np.random.default_rng(1).standard_normal((3, 4))
    (y * pyad.tensor(g, dtype=dtype)).sum().backward()
    (yt * torch.tensor(g, dtype=TORCH_DTYPE[dtype])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), **TOL[dtype])


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("reflected", [False, True])
def test_number_operand_double_backward(name, reflected):
    f = OPS[name]
    x, xt = _pair(pyad.float64)
    outs = []
    for lib, v in ((pyad, x), (torch, xt)):
        y = f(1.7, v * v) if reflected else f(v * v, 1.7)
        (g,) = lib.autograd.grad(y.sum(), v, create_graph=True)
        (h,) = lib.autograd.grad((g * g).sum(), v)
        outs.append((g.detach().numpy(), h.numpy()))
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-7)


def test_node_and_edges_as_torch():
    x = pyad.ones(3, requires_grad=True)
    for expr, name, slot in (
        (lambda v: v * 2.0, "MulBackward0", 0),
        (lambda v: 2.0 * v, "MulBackward0", 0),
        (lambda v: v + 1, "AddBackward0", 0),
        (lambda v: 1.0 - v, "RsubBackward1", None),  # one edge: torch's rsub(v, 1.0)
        (lambda v: v - 1.0, "SubBackward0", 0),
        (lambda v: v / 4.0, "DivBackward0", 0),
        (lambda v: 4.0 / v, "DivBackward0", 1),
    ):
        fn = expr(x).grad_fn
        assert fn.name() == name
        nf = fn.next_functions
        if slot is None:
            assert len(nf) == 1
            slot = 0
        else:
            assert len(nf) == 2 and nf[1 - slot][0] is None
        assert nf[slot][0].name() == "AccumulateGrad" and nf[slot][0].variable is x


def test_number_with_non_contiguous_and_0d_operands():
    a = np.arange(12.0).reshape(3, 4) + 1.0
    x = pyad.tensor(a, requires_grad=True)
    xt = torch.tensor(a, requires_grad=True)
    for v in (x, xt):
        (v.t() * 3.0 - 1.5).sum().backward()
        (2.0 / v[0, 0]).backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose((x.t() * 3.0).detach().numpy(), (xt.t() * 3.0).detach().numpy())


@pytest.mark.parametrize("dtype", [pyad.int64, pyad.bool])
def test_integer_and_bool_operands_keep_torchs_promotion(dtype):
    x = pyad.tensor([1, 0, 1], dtype=dtype)
    xt = torch.tensor([1, 0, 1], dtype=TORCH_DTYPE[dtype])
    for number in (2, 2.5):
        for f in (operator.add, operator.mul):
            y, yt = f(x, number), f(xt, number)
            assert str(y.dtype).split(".")[-1] == str(yt.dtype).split(".")[-1]
            np.testing.assert_array_equal(y.numpy(), yt.numpy())


def test_forward_mode_through_number_ops():
    import pyad.autograd.forward_ad as fwad

    x = pyad.tensor([0.5, 1.5, 2.0], dtype=pyad.float64)
    t = pyad.tensor([1.0, -2.0, 0.25], dtype=pyad.float64)
    with fwad.dual_level():
        y = 3.0 / (fwad.make_dual(x, t) * 2.0 - 0.5)
        tangent = fwad.unpack_dual(y).tangent
    xt, tt = (torch.tensor(v.numpy()) for v in (x, t))
    _, expected = torch.func.jvp(lambda v: 3.0 / (v * 2.0 - 0.5), (xt,), (tt,))
    np.testing.assert_allclose(tangent.numpy(), expected.numpy(), rtol=1e-12)


def test_number_out_of_int64_range_still_raises():
    x = pyad.ones(2)
    with pytest.raises(ValueError, match="does not fit in int64"):
        x * (1 << 70)


def test_methods_and_functions_take_the_same_path():
    x, xt = _pair(pyad.float64)
    for y, yt in (
        (x.mul(1.5), xt.mul(1.5)),
        (pyad.sub(x, 2.0), torch.sub(xt, 2.0)),
        (pyad.div(x, 3), torch.div(xt, 3)),
        (x.add(0.25), xt.add(0.25)),
    ):
        np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-15)
        assert y.grad_fn.name() == yt.grad_fn.name()
