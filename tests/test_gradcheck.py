"""pyad.autograd.gradcheck / gradgradcheck: correct functions pass in every mode, wrong derivatives are caught
with a useful message, inputs come back untouched, and the verdicts agree with torch.autograd's.

Functions are written once as `fn(M, *inputs)` and run with M = pyad and M = torch.  Every test runs on each device
(the `device` fixture of conftest.py).
"""

import warnings

import numpy as np
import pytest
import torch

import pyad
from pyad.autograd import forward_ad as fwAD, gradcheck, gradgradcheck
from pyad.autograd.gradcheck import GradcheckError

pytestmark = pytest.mark.usefixtures("device")

F64 = pyad.float64


def leaf(shape, seed=0, low=None, high=None, requires_grad=True):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape) if low is None else rng.uniform(low, high, shape)
    return pyad.tensor(np.asarray(a, dtype=np.float64), dtype=F64, requires_grad=requires_grad)


def to_torch_args(args):
    return tuple(
        torch.from_numpy(a.detach().cpu().numpy().copy()).requires_grad_(a.requires_grad)
        if isinstance(a, pyad.Tensor)
        else a
        for a in args
    )


def P(fn):
    return lambda *a: fn(pyad, *a)


def T(fn):
    return lambda *a: fn(torch, *a)


def snapshot(args):
    return [a.detach().cpu().numpy().copy() if isinstance(a, pyad.Tensor) else a for a in args]


def assert_unchanged(args, snap):
    for a, s in zip(args, snap):
        if isinstance(a, pyad.Tensor):
            np.testing.assert_array_equal(a.detach().numpy(), s)  # bit-for-bit: restored exactly


# ---------------------------------------------------------------- wrong derivatives, built from pyad ops
def st_sin(M, x):
    """Value sin x, derivative 1 (straight-through): wrong in reverse and in forward mode."""
    return x + (M.sin(x) - x).detach()


def exp_flat_second(M, x):
    """Value exp x, first derivative exp x (right), second derivative 0 (wrong)."""
    e = M.exp(x).detach()
    return e + (x - x.detach()) * e


def wrong_forward_only(x):
    """sin x with the right reverse-mode derivative but tangent 1 instead of cos x in forward mode."""
    if pyad._C.unpack_dual(x)[1] is not None:
        return st_sin(pyad, x)
    return pyad.sin(x)


def wrong_reverse_only(x):
    """sin x whose backward is doubled by a hook (forward mode is right)."""
    y = pyad.sin(x)
    if y.requires_grad:
        y.register_hook(lambda g: g * 2.0)
    return y * 1.0


# ---------------------------------------------------------------- correct functions
CASES = {
    "elementwise": (lambda M, x: M.tanh(x) * M.exp(-x) + M.sigmoid(x) * M.sin(x), lambda: (leaf((3, 4)),)),
    "elementwise_pos": (lambda M, x: M.sqrt(x) + M.log(x) * x**3, lambda: (leaf((5,), low=0.5, high=2.0),)),
    "matmul": (lambda M, a, b: M.matmul(a, b), lambda: (leaf((3, 4), 1), leaf((4, 2), 2))),
    "softmax": (lambda M, x: M.softmax(x, 1), lambda: (leaf((2, 5)),)),
    "logsumexp": (lambda M, x: M.logsumexp(x, 1), lambda: (leaf((3, 4)),)),
    "multi_input": (
        lambda M, a, b, c: a * M.exp(b) + M.matmul(a, c) * b,
        lambda: (leaf((2, 3), 1), leaf((2, 3), 2), leaf((3, 3), 3)),
    ),
    "multi_output": (
        lambda M, a, b: (M.sin(a) * b, (a * b).sum(), M.matmul(a, b.T)),
        lambda: (leaf((2, 3), 1), leaf((2, 3), 2)),
    ),
    "non_tensor_args": (
        lambda M, x, k, dim, w: M.softmax(x * k, dim) * w,
        lambda: (leaf((3, 4)), 2.5, 0, leaf((3, 4), 5)),
    ),
    "scalar_in_out": (lambda M, s, x: (M.tanh(x * s) ** 2).sum(), lambda: (leaf(()), leaf((4,), 1))),
    "input_not_requiring_grad": (
        lambda M, a, b: M.matmul(a, b).tanh(),
        lambda: (leaf((2, 3), 1), leaf((3, 2), 2, requires_grad=False)),
    ),
    "unused_input": (lambda M, a, b: M.sin(a), lambda: (leaf((3,), 1), leaf((2,), 2))),
    "nondifferentiable_extra_output": (lambda M, x: (M.sin(x), x.detach() * 2.0), lambda: (leaf((4,)),)),
}


@pytest.mark.parametrize("fast_mode", [False, True], ids=["slow", "fast"])
@pytest.mark.parametrize("name", list(CASES))
def test_correct_functions_pass(name, fast_mode):
    fn, make = CASES[name]
    args = make()
    snap = snapshot(args)
    assert gradcheck(P(fn), args, check_forward_ad=True, fast_mode=fast_mode) is True
    assert gradcheck(P(fn), args, fast_mode=fast_mode) is True
    assert_unchanged(args, snap)


def test_single_tensor_input_and_noncontiguous_input():
    base = leaf((4, 3))
    xt = base.T  # a non-contiguous view: perturbing it writes through to base's storage
    assert not xt.is_contiguous()
    snap = base.detach().cpu().numpy().copy()
    assert gradcheck(lambda x: x.exp() * x.sum(), xt, check_forward_ad=True) is True
    assert gradcheck(lambda x: x.exp() * x.sum(), xt, check_forward_ad=True, fast_mode=True) is True
    np.testing.assert_array_equal(base.detach().numpy(), snap)


def test_fast_mode_is_cheap_for_large_inputs():
    a, b = leaf((300, 400), 1), leaf((400, 200), 2)
    calls = []

    def f(x, y):
        calls.append(1)
        return (x @ y).tanh()

    assert gradcheck(f, (a, b), check_forward_ad=True, fast_mode=True, check_undefined_grad=False) is True
    # one forward for the graph, two per input for the differences, one in forward mode
    assert len(calls) == 1 + 2 * 2 + 1
    calls.clear()
    assert gradcheck(f, (a, b), check_forward_ad=True, fast_mode=True) is True
    assert len(calls) == 1 + 2 * 2 + 1 + 1  # and one for check_undefined_grad (torch's default)


def test_fast_mode_is_deterministic():
    x = leaf((3, 4))
    msgs = []
    for _ in range(2):
        with pytest.raises(GradcheckError) as ei:
            gradcheck(P(st_sin), x, fast_mode=True)
        msgs.append(str(ei.value))
    assert msgs[0] == msgs[1]


# ---------------------------------------------------------------- wrong derivatives are caught
def test_wrong_gradient_raises_with_details():
    x = leaf((2, 3))
    snap = snapshot((x,))
    with pytest.raises(GradcheckError) as ei:
        gradcheck(P(st_sin), x)
    msg = str(ei.value)
    assert isinstance(ei.value, RuntimeError)
    assert "output 0" in msg and "input 0" in msg and "reverse mode" in msg
    # the worst element: derivative 1 against cos x where |1 - cos x| is largest (the diagonal)
    xv = x.detach().numpy()
    k = int(np.argmax(np.abs(1.0 - np.cos(xv)).ravel()))
    idx = "(" + ", ".join(str(i) for i in np.unravel_index(k, xv.shape)) + ")"
    assert f"output 0 at index {idx}, input 0 at index {idx}" in msg
    assert "analytical 1.0 vs numerical " + repr(float(np.cos(xv.ravel()[k])))[:6] in msg
    assert_unchanged((x,), snap)


def test_wrong_gradient_names_the_right_input_and_output():
    a, b = leaf((3,), 1), leaf((3,), 2)
    with pytest.raises(GradcheckError) as ei:
        gradcheck(lambda k, x, y: (x * y, st_sin(pyad, y) * k), (2.0, a, b))
    msg = str(ei.value)
    assert "for output 1 with respect to input 2 (reverse mode)" in msg


@pytest.mark.parametrize("fast_mode", [False, True], ids=["slow", "fast"])
def test_wrong_gradient_returns_false(fast_mode):
    x = leaf((2, 3))
    snap = snapshot((x,))
    assert gradcheck(P(st_sin), x, raise_exception=False, fast_mode=fast_mode) is False
    with pytest.raises(
        GradcheckError,
        match=r"output 0 with respect to input 0 \(reverse mode, fast_mode=True\)" if fast_mode else "reverse mode",
    ):
        gradcheck(P(st_sin), x, fast_mode=fast_mode)
    assert_unchanged((x,), snap)


@pytest.mark.parametrize("fast_mode", [False, True], ids=["slow", "fast"])
def test_check_forward_ad_catches_wrong_tangent(fast_mode):
    x = leaf((2, 3))
    assert gradcheck(wrong_forward_only, x, fast_mode=fast_mode) is True  # reverse mode alone is right
    assert gradcheck(wrong_forward_only, x, check_forward_ad=True, raise_exception=False, fast_mode=fast_mode) is False
    with pytest.raises(GradcheckError, match=r"output 0 with respect to input 0 \(forward mode") as ei:
        gradcheck(wrong_forward_only, x, check_forward_ad=True, fast_mode=fast_mode)
    if not fast_mode:
        assert "analytical 1.0 vs numerical" in str(ei.value)


@pytest.mark.parametrize("fast_mode", [False, True], ids=["slow", "fast"])
def test_wrong_backward_hook_is_caught(fast_mode):
    x = leaf((4,))
    with fwAD.dual_level():  # forward mode is right: jvp of the hooked function is cos x * t
        t = leaf((4,), 3, requires_grad=False)
        tan = fwAD.unpack_dual(wrong_reverse_only(fwAD.make_dual(x.detach(), t))).tangent
    np.testing.assert_allclose(tan.numpy(), np.cos(x.detach().numpy()) * t.numpy(), rtol=1e-12)
    assert gradcheck(wrong_reverse_only, x, raise_exception=False, fast_mode=fast_mode) is False
    with pytest.raises(GradcheckError, match=r"output 0 with respect to input 0 \(reverse mode"):
        gradcheck(wrong_reverse_only, x, check_forward_ad=True, fast_mode=fast_mode)


def test_no_differentiable_output_needs_zero_numerical_jacobian():
    x = leaf((3,))
    assert gradcheck(lambda x: pyad.sin(x).detach(), x, raise_exception=False) is False
    assert gradcheck(lambda x: pyad.zeros(2, dtype=F64), x) is True


# ---------------------------------------------------------------- argument handling
def test_no_input_requires_grad_raises():
    with pytest.raises(ValueError, match="at least one input"):
        gradcheck(pyad.sin, leaf((3,), requires_grad=False))


def test_non_double_input_warns():
    # Only with torch's float32 behaviour (dtype_aware=False): dtype-aware checks need no warning.
    x = pyad.tensor(np.linspace(-1, 1, 4), dtype=pyad.float32, requires_grad=True)
    with pytest.warns(UserWarning, match="not a double precision"):
        gradcheck(lambda x: x * 2.0, x, eps=1e-2, atol=1e-3, rtol=1e-3, dtype_aware=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gradcheck(lambda x: x * 2.0, leaf((4,)))  # float64: no warning


def test_expanded_input_raises():
    x = pyad.tensor([1.0, 2.0], dtype=F64).expand(3, 2).requires_grad_(True)
    with pytest.raises(ValueError, match="stride 0"):
        gradcheck(lambda x: x * 2.0, x)


def test_non_tensor_output_raises():
    with pytest.raises(TypeError, match="Tensor"):
        gradcheck(lambda x: (x * 2.0, 3), leaf((2,)))


def test_restores_inputs_when_fn_raises():
    x = leaf((4,))
    snap = snapshot((x,))
    calls = []

    def f(x):
        calls.append(1)
        if len(calls) > 2:
            raise KeyError("boom")
        return x * 2.0

    with pytest.raises(KeyError):
        gradcheck(f, x)
    assert_unchanged((x,), snap)


# ---------------------------------------------------------------- gradgradcheck
GG_CASES = {
    "tanh": (lambda M, x: M.tanh(x), lambda: (leaf((2, 3)),)),
    "sigmoid": (lambda M, x: M.sigmoid(x) * x, lambda: (leaf((2, 3)),)),
    "exp": (lambda M, x: M.exp(x).sum(), lambda: (leaf((4,)),)),
    "softmax": (lambda M, x: M.softmax(x, 1), lambda: (leaf((2, 4)),)),
    "matmul_chain": (
        lambda M, a, b, c: M.tanh(M.matmul(M.matmul(a, b), c)),
        lambda: (leaf((2, 3), 1), leaf((3, 3), 2), leaf((3, 2), 3)),
    ),
    "multi_output": (lambda M, a, b: (M.sin(a) * b, M.logsumexp(a * b, 1)), lambda: (leaf((2, 3), 1), leaf((2, 3), 2))),
}


@pytest.mark.parametrize("fast_mode", [False, True], ids=["slow", "fast"])
@pytest.mark.parametrize("name", list(GG_CASES))
def test_gradgradcheck_passes(name, fast_mode):
    fn, make = GG_CASES[name]
    args = make()
    snap = snapshot(args)
    assert gradgradcheck(P(fn), args, fast_mode=fast_mode) is True
    assert_unchanged(args, snap)


def test_gradgradcheck_with_given_grad_outputs():
    x = leaf((2, 3))
    go = leaf((2, 3), 7)
    assert gradgradcheck(lambda x: x.tanh() * x, x, (go,)) is True
    go_const = leaf((2, 3), 7, requires_grad=False)  # not checked as an input
    assert gradgradcheck(lambda x: x.tanh() * x, x, go_const) is True


@pytest.mark.parametrize("fast_mode", [False, True], ids=["slow", "fast"])
def test_gradgradcheck_catches_wrong_second_derivative(fast_mode):
    x = leaf((3,))
    assert gradcheck(P(exp_flat_second), x, check_forward_ad=True, fast_mode=fast_mode) is True  # 1st right
    assert gradgradcheck(P(exp_flat_second), x, raise_exception=False, fast_mode=fast_mode) is False
    with pytest.raises(GradcheckError) as ei:
        gradgradcheck(P(exp_flat_second), x, fast_mode=fast_mode)
    msg = str(ei.value)
    assert "output 0 (the gradient with respect to input 0) with respect to input 0 (reverse mode" in msg
    if not fast_mode:
        assert "analytical 0.0 vs numerical" in msg


# ---------------------------------------------------------------- verdicts against torch.autograd
PARITY = [
    ("softmax", CASES["softmax"][0], CASES["softmax"][1], True),
    ("multi_output", CASES["multi_output"][0], CASES["multi_output"][1], True),
    ("non_tensor_args", CASES["non_tensor_args"][0], CASES["non_tensor_args"][1], True),
    (
        "nondifferentiable_extra_output",
        CASES["nondifferentiable_extra_output"][0],
        CASES["nondifferentiable_extra_output"][1],
        True,
    ),
    ("straight_through_sin", st_sin, lambda: (leaf((2, 3)),), False),
    ("detached_output", lambda M, x: M.sin(x).detach(), lambda: (leaf((3,)),), False),
]


@pytest.mark.parametrize("fast_mode", [False, True], ids=["slow", "fast"])
@pytest.mark.parametrize("name,fn,make,expected", PARITY, ids=[p[0] for p in PARITY])
def test_gradcheck_verdict_matches_torch(name, fn, make, expected, fast_mode):
    args = make()
    targs = to_torch_args(args)
    # torch 2.13's fast forward-mode check crashes (IndexError) on a function with a non-differentiable output
    fwd = not (fast_mode and name == "nondifferentiable_extra_output")
    got = gradcheck(P(fn), args, raise_exception=False, check_forward_ad=fwd, fast_mode=fast_mode)
    want = torch.autograd.gradcheck(T(fn), targs, raise_exception=False, check_forward_ad=fwd, fast_mode=fast_mode)
    assert got is want is expected


@pytest.mark.parametrize("fast_mode", [False, True], ids=["slow", "fast"])
@pytest.mark.parametrize(
    "name,fn,make,expected",
    [
        ("matmul_chain",) + GG_CASES["matmul_chain"] + (True,),
        ("softmax",) + GG_CASES["softmax"] + (True,),
        ("exp_flat_second", exp_flat_second, lambda: (leaf((3,)),), False),
    ],
    ids=["matmul_chain", "softmax", "exp_flat_second"],
)
def test_gradgradcheck_verdict_matches_torch(name, fn, make, expected, fast_mode):
    args = make()
    got = gradgradcheck(P(fn), args, raise_exception=False, fast_mode=fast_mode)
    want = torch.autograd.gradgradcheck(T(fn), to_torch_args(args), raise_exception=False, fast_mode=fast_mode)
    assert got is want is expected
