"""pyad.nn.init (fans, gains, bounds and sample statistics vs torch's formulas) and
pyad.nn.utils.clip_grad_norm_ / clip_grad_value_ vs torch's."""

import math

import numpy as np
import pytest
import torch

import pyad
import pyad.nn as nn
from pyad.nn import init

SHAPES = [(300, 200), (64, 32, 3, 3), (50, 10, 5)]


def values(t):
    return t.detach().numpy()


@pytest.mark.parametrize("shape", SHAPES + [(7, 1)])
def test_fans_and_gains_match_torch(shape):
    assert init._calculate_fan_in_and_fan_out(pyad.empty(shape)) == torch.nn.init._calculate_fan_in_and_fan_out(
        torch.empty(shape)
    )
    for nl, param in [
        ("linear", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("leaky_relu", math.sqrt(5)),
        ("selu", None),
        ("conv2d", None),
    ]:
        assert init.calculate_gain(nl, param) == torch.nn.init.calculate_gain(nl, param)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(pyad.empty(3))
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(pyad.empty(3, 3), mode="fan_avg")


def _uniform_bound(fn, shape, **kw):
    """The bound torch's initializer draws from, found from its own formula on a probe tensor's fan."""
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    if fn == "xavier_uniform_":
        return kw.get("gain", 1.0) * math.sqrt(6.0 / (fan_in + fan_out))
    fan = fan_in if kw.get("mode", "fan_in") == "fan_in" else fan_out
    gain = torch.nn.init.calculate_gain(kw.get("nonlinearity", "leaky_relu"), kw.get("a", 0))
    return gain * math.sqrt(3.0 / fan)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "fn,kw",
    [
        ("xavier_uniform_", {}),
        ("xavier_uniform_", dict(gain=2.0)),
        ("kaiming_uniform_", {}),
        ("kaiming_uniform_", dict(a=math.sqrt(5))),
        ("kaiming_uniform_", dict(mode="fan_out", nonlinearity="relu")),
    ],
)
def test_uniform_initializers_bounds(shape, fn, kw):
    t = pyad.empty(shape, dtype=pyad.float64)
    assert getattr(init, fn)(t, **kw) is t
    v = values(t)
    bound = _uniform_bound(fn, shape, **kw)
    assert np.abs(v).max() <= bound
    assert np.abs(v).max() > 0.98 * bound
    assert abs(v.std() - bound / math.sqrt(3)) < 0.03 * bound
    assert abs(v.mean()) < 0.03 * bound


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "fn,kw",
    [
        ("xavier_normal_", {}),
        ("xavier_normal_", dict(gain=0.5)),
        ("kaiming_normal_", {}),
        ("kaiming_normal_", dict(mode="fan_out", nonlinearity="relu")),
        ("kaiming_normal_", dict(a=0.1, nonlinearity="leaky_relu")),
    ],
)
def test_normal_initializers_std(shape, fn, kw):
    t = pyad.empty(shape, dtype=pyad.float64)
    getattr(init, fn)(t, **kw)
    # the std torch's initializer uses: its samples' std over a large tensor of the same fans
    ref = getattr(torch.nn.init, fn)(torch.empty(shape, dtype=torch.float64), **kw).std().item()
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    if fn == "xavier_normal_":
        std = kw.get("gain", 1.0) * math.sqrt(2.0 / (fan_in + fan_out))
    else:
        fan = fan_in if kw.get("mode", "fan_in") == "fan_in" else fan_out
        std = torch.nn.init.calculate_gain(kw.get("nonlinearity", "leaky_relu"), kw.get("a", 0)) / math.sqrt(fan)
    assert abs(ref - std) < 0.03 * std
    assert abs(values(t).std() - std) < 0.03 * std
    assert abs(values(t).mean()) < 0.03 * std


def test_basic_initializers():
    t = pyad.empty(200, 300, dtype=pyad.float64)
    v = values(init.uniform_(t, -2.0, 3.0))
    assert v.min() >= -2.0 and v.max() < 3.0 and abs(v.mean() - 0.5) < 0.02 and abs(v.std() - 5 / math.sqrt(12)) < 0.02
    v = values(init.normal_(t, 1.5, 0.5))
    assert abs(v.mean() - 1.5) < 0.01 and abs(v.std() - 0.5) < 0.01
    assert not values(init.zeros_(t)).any()
    assert (values(init.ones_(t)) == 1).all()
    assert (values(init.constant_(t, 0.25)) == 0.25).all()
    # parameters are filled in place without recording a graph
    p = nn.Parameter(pyad.empty(3, 4))
    init.kaiming_uniform_(p)
    assert p.is_leaf and p.grad_fn is None and p.requires_grad
    pyad.manual_seed(5)
    a = values(init.normal_(pyad.empty(10))).copy()
    pyad.manual_seed(5)
    assert np.array_equal(a, values(init.normal_(pyad.empty(10))))
    with pytest.raises(NotImplementedError, match="generator"):
        init.uniform_(t, generator=object())


def _grads_pair(dtype):
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(s) for s in [(3, 4), (5,), (2, 2, 2)]]
    pp = [nn.Parameter(pyad.tensor(a, dtype=dtype)) for a in arrays]
    tp = [
        torch.nn.Parameter(torch.tensor(a, dtype=torch.float64 if dtype == pyad.float64 else torch.float32))
        for a in arrays
    ]
    for p, t, a in zip(pp, tp, arrays):
        p.grad = pyad.tensor(a * 3, dtype=dtype)
        t.grad = torch.tensor(a * 3, dtype=t.dtype)
    return pp, tp


@pytest.mark.parametrize("dtype", [pyad.float64, pyad.float32])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_torch(dtype, norm_type, max_norm):
    pp, tp = _grads_pair(dtype)
    total = nn.utils.clip_grad_norm_(pp, max_norm, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tp, max_norm, norm_type=norm_type)
    tol = dict(rtol=1e-12, atol=0) if dtype == pyad.float64 else dict(rtol=2e-6, atol=1e-6)
    np.testing.assert_allclose(total.item(), ttotal.item(), **tol)
    assert total.dtype == dtype
    for p, t in zip(pp, tp):
        np.testing.assert_allclose(values(p.grad), t.grad.numpy(), **tol)


def test_clip_grad_value_and_edge_cases():
    pp, tp = _grads_pair(pyad.float64)
    nn.utils.clip_grad_value_(pp, 0.7)
    torch.nn.utils.clip_grad_value_(tp, 0.7)
    for p, t in zip(pp, tp):
        np.testing.assert_array_equal(values(p.grad), t.grad.numpy())
    single = nn.Parameter(pyad.ones(4))
    single.grad = pyad.full((4,), 3.0)
    assert nn.utils.clip_grad_norm_(single, 1.0).item() == 6.0
    assert nn.utils.clip_grad_norm_([nn.Parameter(pyad.ones(2))], 1.0).item() == 0.0
    bad = nn.Parameter(pyad.ones(2))
    bad.grad = pyad.tensor([math.inf, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_([bad], 1.0, error_if_nonfinite=True)
