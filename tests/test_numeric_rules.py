"""Rules csrc/kernels/math.h defines once for both backends, checked on every device: float -> int64 conversion of
NaN, infinities and out-of-range values (torch's rule on x86 CPUs: INT64_MIN), and the uniform that rand builds
from 64 random bits (never 1.0, also in float32)."""

import numpy as np
import pytest
import torch

import pyad

INT64_MIN = -(2**63)
SPECIALS = [
    float("nan"),
    float("inf"),
    -float("inf"),
    1e19,
    -1e19,
    9.3e18,
    2.0**63,
    -(2.0**63),
    2.0**62,
    -(2.0**62),
    2.5,
    -2.5,
    -0.7,
    0.7,
    1e10,
    -0.0,
]


@pytest.mark.parametrize("src", [pyad.float32, pyad.float64], ids=str)
def test_float_to_int64_of_special_values(device, src):
    tsrc = {pyad.float32: torch.float32, pyad.float64: torch.float64}[src]
    want = torch.tensor(SPECIALS, dtype=tsrc).to(torch.int64).tolist()
    # Values torch's x86 CPU gives, so the test holds even where torch runs elsewhere.
    rule = [
        INT64_MIN if not (-(2.0**63) <= v < 2.0**63) else int(v)
        for v in np.array(SPECIALS, dtype={pyad.float32: np.float32, pyad.float64: np.float64}[src])
    ]
    assert want == rule
    x = pyad.tensor(SPECIALS, dtype=src)
    assert x.to(pyad.int64).tolist() == rule
    assert x[::2].to(pyad.int64).tolist() == rule[::2], "strided source"
    out = pyad.empty(len(SPECIALS), dtype=pyad.int64)
    out.copy_(x)
    assert out.tolist() == rule, "copy_ into an int64 tensor"


def test_float_to_int64_across_devices(device):
    x = pyad.tensor(SPECIALS, dtype=pyad.float64, device="cpu")
    want = x.to(pyad.int64).tolist()
    assert x.to(device, pyad.int64).tolist() == want
    assert x.to(device).to("cpu", pyad.int64).tolist() == want


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1e30], ids=repr)
def test_full_int64_with_a_non_representable_value(device, value):
    assert pyad.full((3,), value, dtype=pyad.int64).tolist() == [INT64_MIN] * 3


@pytest.mark.parametrize("dtype, top", [(pyad.float32, 1 - 2.0**-24), (pyad.float64, 1 - 2.0**-53)], ids=str)
def test_uniform_from_the_extreme_bit_patterns(dtype, top):
    u = pyad._C._uniform01_from_bits
    assert u(0, dtype) == 0.0
    assert u(2**64 - 1, dtype) == top < 1.0
    keep = 24 if dtype == pyad.float32 else 53
    assert u(2 ** (64 - keep) - 1, dtype) == 0.0, "the bits below the ones kept do not count"
    assert u(2 ** (64 - keep), dtype) == 2.0**-keep, "the smallest step"
    assert u(2**63, dtype) == 0.5
    # The former construction, a 53-bit double rounded to float32, gave 1.0 from here up.
    assert u(2**64 - 2**39, dtype) < 1.0
    if dtype == pyad.float32:
        assert np.float32(u(2**64 - 1, dtype)) == np.nextafter(np.float32(1), np.float32(0))
    with pytest.raises(TypeError, match=r"\[_uniform01_from_bits\] expected a floating dtype"):
        u(1, pyad.int64)


@pytest.mark.parametrize("dtype", [pyad.float32, pyad.float64], ids=str)
def test_rand_stays_below_one(device, dtype):
    pyad.manual_seed(3)
    u = pyad.rand(1 << 20, dtype=dtype).cpu().numpy()
    assert u.min() >= 0.0 and u.max() < 1.0
    if dtype == pyad.float32:  # every float32 draw is a multiple of 2^-24
        assert np.all(u * np.float32(2**24) == np.round(u * np.float32(2**24)))
    assert abs(u.mean() - 0.5) < 2e-3
