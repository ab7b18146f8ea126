"""The precision-aware gradcheck: float32 inputs get a float64 finite-difference reference (the default), or
a step sized to float32 where fn cannot run in float64, and a wrong backward is still caught."""

import warnings

import numpy as np
import pytest
import torch

import pyad
from pyad.autograd import Function, gradcheck, gradgradcheck
from pyad.autograd.gradcheck import GradcheckError

F32 = pyad.float32


def f32(values, requires_grad=True):
    return pyad.tensor(np.asarray(values, dtype=np.float32), dtype=F32, requires_grad=requires_grad)


X = np.random.default_rng(0).uniform(1.0, 3.0, 6)


def smooth(x):
    return pyad.exp(x) * pyad.sin(x) + x * x


def test_float32_passes_by_default_where_torch_fails():
    x = f32(X)
    # torch's own check (and pyad's with dtype_aware=False) differences in float32 with eps=1e-6: noise.
    tx = torch.tensor(X, dtype=torch.float32, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert not torch.autograd.gradcheck(lambda t: torch.exp(t) * torch.sin(t) + t * t, tx, raise_exception=False)
        assert gradcheck(smooth, x, dtype_aware=False, raise_exception=False) is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no precision warning either
        assert gradcheck(smooth, x)
        assert gradcheck(smooth, x, check_forward_ad=True)
        assert gradcheck(smooth, x, fast_mode=True, check_forward_ad=True)
        assert gradgradcheck(smooth, x)
    np.testing.assert_array_equal(x.detach().numpy(), X.astype(np.float32))  # inputs left as they were


class WrongSquare(Function):
    """x^2 with a backward 1% too large: within float32 noise for a naive check, not for a float64 reference."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2.02 * x * g


@pytest.mark.parametrize("fast", [False, True])
def test_wrong_backward_is_caught_and_the_worst_entry_reported(fast):
    x = f32(X)
    with pytest.raises(GradcheckError, match="mismatch") as info:
        gradcheck(WrongSquare.apply, x, fast_mode=fast)
    if not fast:
        msg = str(info.value)
        assert "Worst element" in msg
        worst = int(np.argmax(X))  # the error 0.02 x is largest where x is
        assert f"input 0 at index ({worst},)" in msg


def cast_inside(x):
    """Tied to float32: its outputs stay float32 whatever the input's dtype."""
    return pyad.tanh(x.to(F32)) * 3.0


def test_fallback_to_a_dtype_sized_step():
    x = f32(X / 3)
    # fn runs in float32 even on float64 copies, so the step becomes cbrt(float32 eps) ~ 4.9e-3.
    assert gradcheck(cast_inside, x)
    with pytest.warns(UserWarning, match="not a double precision"):
        assert gradcheck(cast_inside, x, dtype_aware=False, raise_exception=False) is False

    class WrongTanh(Function):
        @staticmethod
        def forward(ctx, x):
            y = pyad.tanh(x.to(F32))
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return (1.0 - y * y) * g * 1.05

    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        gradcheck(WrongTanh.apply, x)


def test_float64_unchanged():
    x = pyad.tensor(X, dtype=pyad.float64, requires_grad=True)
    assert gradcheck(smooth, x)
    with pytest.raises(GradcheckError):
        gradcheck(WrongSquare.apply, x)
