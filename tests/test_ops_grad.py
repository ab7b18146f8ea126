"""Gradient parity with torch.autograd for every differentiable op, in float64 and float32.

Each case runs one function `fn(M, *inputs)` twice: with M = pyad on pyad tensors and with M = a torch
namespace on torch tensors holding the same data.  Forward values are compared, then both outputs are
back-propagated with the same random upstream gradient and every input's .grad is compared.  Every test runs on
each device (the `device` fixture of conftest.py: pyad's tensors live there, torch's stay on the CPU).
"""
import numpy as np
import pytest
import torch

import pyad

try:  # pytest's --import-mode=importlib (the project's setting) registers the conftest as tests.conftest
    from tests.conftest import TNS, assert_close, to_torch
except ImportError:  # prepend/append import modes
    from conftest import TNS, assert_close, to_torch

pytestmark = pytest.mark.usefixtures("device")



DTYPES = [pyad.float64, pyad.float32]
DTYPE_IDS = ["f64", "f32"]


def dtypes(f):
    return pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)(f)


# ---------------------------------------------------------------- input data
def make(shape, kind, rng):
    """A float64 numpy array of `shape` inside an op's domain."""
    shape = tuple(shape)
    if kind == "any":
        a = rng.standard_normal(shape)
    elif kind == "pos":          # log, sqrt, pow base: well inside (0, inf)
        a = rng.uniform(0.5, 2.0, shape)
    elif kind == "nz":           # relu, abs, 1/x: away from 0 (no kinks, no blow-up)
        a = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 2.0, shape)
    elif kind == "unit":
        a = rng.uniform(-0.9, 0.9, shape)
    elif kind == "int":          # small integers stored as floats: many ties
        a = rng.integers(0, 3, shape).astype(np.float64)
    else:
        raise ValueError(kind)
    return np.asarray(a, dtype=np.float64)


_NP = {pyad.float64: np.float64, pyad.float32: np.float32}


def leaf(a, dtype, requires_grad=False):
    """pyad.tensor(a, dtype=..., requires_grad=...) on the default device (0-d data stays 0-d, as
    test_tensor_of_0d_data pins)."""
    a = np.asarray(a, dtype=_NP[dtype])
    t = pyad.tensor(a, dtype=dtype, requires_grad=requires_grad)
    assert t.shape == a.shape
    return t


def check(fn, arrays, dtype, grad=True, rtol=None, atol=None):
    """Run fn on pyad and torch with the same data; compare outputs and every input's .grad."""
    rng = np.random.default_rng(1234)
    dts = dtype if isinstance(dtype, (list, tuple)) else [dtype] * len(arrays)
    xs = [leaf(a, d, requires_grad=grad) for a, d in zip(arrays, dts)]
    for x, a in zip(xs, arrays):
        assert tuple(x.shape) == np.shape(a)
    ts = [to_torch(x) for x in xs]
    out = fn(pyad, *xs)
    tout = fn(TNS, *ts)
    assert isinstance(out, pyad.Tensor), f"pyad returned {type(out).__name__}"
    assert_close(out, tout, rtol=rtol, atol=atol, msg="forward")
    if not grad:
        return out, tout
    g = rng.standard_normal(tuple(tout.shape))
    gp = leaf(g, out.dtype)
    gt = to_torch(gp, requires_grad=False)
    out.backward(gradient=gp)
    tout.backward(gradient=gt)
    for i, (x, t) in enumerate(zip(xs, ts)):
        assert t.grad is not None, "test bug: torch gave no gradient"
        assert_close(x.grad, t.grad, rtol=rtol, atol=atol, msg=f"grad of input {i}")
    return out, tout


@dtypes
@pytest.mark.parametrize("data", [1.5, np.float64(-2.0), np.array(0.25)], ids=["float", "np_scalar", "np_0d"])
def test_tensor_of_0d_data(data, dtype):
    """pyad.tensor(scalar) is 0-d, as torch.tensor(scalar); a 0-d leaf can be the gradient of a 0-d output."""
    x = pyad.tensor(data, dtype=dtype, requires_grad=True)
    assert tuple(x.shape) == tuple(torch.tensor(data).shape) == ()
    y = (x * 3.0).sum()
    y.backward(gradient=pyad.tensor(2.0, dtype=dtype))
    assert tuple(x.grad.shape) == ()
    assert x.grad.item() == 6.0


# ---------------------------------------------------------------- unary elementwise ops
UNARY = {
    "neg": (lambda M, x: M.neg(x), "any"),
    "neg_op": (lambda M, x: -x, "any"),
    "exp": (lambda M, x: M.exp(x), "any"),
    "log": (lambda M, x: M.log(x), "pos"),
    "log1p": (lambda M, x: M.log1p(x), "unit"),
    "sin": (lambda M, x: M.sin(x), "any"),
    "cos": (lambda M, x: M.cos(x), "any"),
    "tanh": (lambda M, x: M.tanh(x), "any"),
    "sigmoid": (lambda M, x: M.sigmoid(x), "any"),
    "relu": (lambda M, x: M.relu(x), "nz"),
    "softplus": (lambda M, x: M.softplus(x), "any"),
    "softplus_wide": (lambda M, x: M.softplus(x * 15.0), "any"),
    "sqrt": (lambda M, x: M.sqrt(x), "pos"),
    "abs": (lambda M, x: M.abs(x), "nz"),
    "abs_op": (lambda M, x: abs(x), "nz"),
    "clamp_min": (lambda M, x: M.clamp(x, min=-0.25), "any"),
    "clamp_max": (lambda M, x: M.clamp(x, max=0.35), "any"),
    "clamp_both": (lambda M, x: M.clamp(x, -0.5, 0.4), "any"),
    "clamp_method": (lambda M, x: x.clamp(min=-0.1, max=0.6), "any"),
    "clip": (lambda M, x: M.clip(x, -0.3, 0.3), "any"),
    "pow_2": (lambda M, x: x ** 2, "any"),
    "pow_int3": (lambda M, x: x ** 3, "any"),
    "pow_3": (lambda M, x: M.pow(x, 3.0), "any"),
    "pow_half": (lambda M, x: x ** 0.5, "pos"),
    "pow_m1": (lambda M, x: x ** -1, "nz"),
    "pow_m1_float": (lambda M, x: M.pow(x, -1.0), "nz"),
    "pow_method": (lambda M, x: x.pow(2), "any"),
    "rpow": (lambda M, x: 2.0 ** x, "any"),
    "exp_method": (lambda M, x: x.exp(), "any"),
    "log_method": (lambda M, x: x.log(), "pos"),
    "sigmoid_method": (lambda M, x: x.sigmoid(), "any"),
    "tanh_method": (lambda M, x: x.tanh(), "any"),
    "relu_method": (lambda M, x: x.relu(), "nz"),
    "sqrt_method": (lambda M, x: x.sqrt(), "pos"),
    "self_mul": (lambda M, x: x * x, "any"),
    "self_chain": (lambda M, x: M.exp(M.sin(x)) * x - x / 3.0, "any"),
}

UNARY_SHAPES = [(3,), (2, 3), (4, 1, 3), (0, 3), (), (1,)]


@dtypes
@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=str)
@pytest.mark.parametrize("op", list(UNARY))
def test_unary(op, shape, dtype):
    fn, kind = UNARY[op]
    check(fn, [make(shape, kind, np.random.default_rng(0))], dtype)


@dtypes
@pytest.mark.parametrize("op", ["exp", "sigmoid", "tanh", "log", "sqrt", "abs"])
def test_unary_on_noncontiguous_view(op, dtype):
    """Elementwise ops reading a transposed or strided view."""
    kind = UNARY[op][1]
    f = UNARY[op][0]
    check(lambda M, x: f(M, x.T), [make((3, 4), kind, np.random.default_rng(0))], dtype)
    check(lambda M, x: f(M, x[:, ::2]), [make((3, 4), kind, np.random.default_rng(1))], dtype)


@dtypes
def test_softplus_extremes(dtype):
    """softplus stays finite and exact far from 0 (no exp overflow, no log(1+tiny) loss)."""
    a = np.array([-100.0, -30.0, -20.0, -1.0, 0.0, 1.0, 20.0, 30.0, 100.0])
    out, tout = check(lambda M, x: M.softplus(x), [a], dtype)
    assert np.all(np.isfinite(out.detach().numpy()))
    x = pyad.tensor(a, dtype=dtype, requires_grad=True)
    pyad.softplus(x).sum().backward()
    assert np.all(np.isfinite(x.grad.numpy()))
    xt = to_torch(x)
    TNS.softplus(xt).sum().backward()
    assert_close(x.grad, xt.grad, msg="softplus grad at extremes")


KINKS = {
    "relu": (lambda M, x: M.relu(x), [0.0, -1.0, 2.0]),
    "abs": (lambda M, x: M.abs(x), [0.0, -1.0, 2.0]),
    "clamp_at_bounds": (lambda M, x: M.clamp(x, -0.5, 0.5), [-0.5, 0.5, -1.0, 0.2, 1.0]),
    "clamp_min_at_bound": (lambda M, x: M.clamp(x, min=0.0), [0.0, -1.0, 1.0]),
    "clamp_max_at_bound": (lambda M, x: M.clamp(x, max=0.0), [0.0, -1.0, 1.0]),
    "pow_2_at_0": (lambda M, x: x ** 2, [0.0, 1.0]),
    "pow_3_at_0": (lambda M, x: x ** 3.0, [0.0, -2.0]),
}


@dtypes
@pytest.mark.parametrize("op", list(KINKS))
def test_unary_at_kinks(op, dtype):
    """Subgradient conventions at non-differentiable points match torch (relu'(0)=0, abs'(0)=0, ...)."""
    fn, data = KINKS[op]
    check(fn, [np.array(data)], dtype)


# ---------------------------------------------------------------- binary elementwise ops
BINARY = {
    "add": (lambda M, a, b: a + b, "any", "any"),
    "add_fn": (lambda M, a, b: M.add(a, b), "any", "any"),
    "sub": (lambda M, a, b: a - b, "any", "any"),
    "sub_fn": (lambda M, a, b: M.sub(a, b), "any", "any"),
    "mul": (lambda M, a, b: a * b, "any", "any"),
    "mul_fn": (lambda M, a, b: M.mul(a, b), "any", "any"),
    "div": (lambda M, a, b: a / b, "any", "nz"),
    "div_fn": (lambda M, a, b: M.div(a, b), "any", "nz"),
    "pow": (lambda M, a, b: a ** b, "pos", "any"),
    "pow_fn": (lambda M, a, b: M.pow(a, b), "pos", "any"),
    "maximum": (lambda M, a, b: M.maximum(a, b), "any", "any"),
    "minimum": (lambda M, a, b: M.minimum(a, b), "any", "any"),
    "max_binary": (lambda M, a, b: M.max(a, b), "any", "any"),
    "min_binary": (lambda M, a, b: M.min(a, b), "any", "any"),
    "clamp_tensor": (lambda M, a, b: M.clamp(a, min=b), "any", "any"),
    "composite": (lambda M, a, b: M.tanh(a * b + a) / (1.0 + b * b), "any", "any"),
}

BINARY_SHAPES = [
    ((3,), (3,)),
    ((2, 3), (2, 3)),
    ((2, 3), (3,)),
    ((3,), (2, 3)),
    ((2, 1), (1, 3)),
    ((4, 1, 3), (1, 5, 3)),
    ((), (2, 3)),
    ((2, 3), ()),
    ((), ()),
    ((0, 3), (1, 3)),
    ((0, 3), (3,)),
    ((2, 0), (2, 1)),
]


@dtypes
@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
@pytest.mark.parametrize("op", list(BINARY))
def test_binary(op, shapes, dtype):
    fn, ka, kb = BINARY[op]
    rng = np.random.default_rng(0)
    check(fn, [make(shapes[0], ka, rng), make(shapes[1], kb, rng)], dtype)


@dtypes
@pytest.mark.parametrize("op", ["maximum", "minimum", "max_binary", "min_binary"])
def test_maximum_minimum_ties(op, dtype):
    """Equal entries: torch splits the gradient evenly between the two inputs."""
    fn = BINARY[op][0]
    a = np.array([[1.0, 2.0, -3.0], [0.5, 0.5, 4.0]])
    b = np.array([[1.0, 1.0, -3.0], [0.5, 0.7, 4.0]])
    check(fn, [a, b], dtype)
    # broadcast tie: one element of b against a row of equal values in a
    check(fn, [np.array([[2.0, 2.0, 2.0], [1.0, 3.0, 2.0]]), np.array([2.0])], dtype)


SCALAR_OPS = {
    "t+s": (lambda M, x: x + 2.5, "any"),
    "s+t": (lambda M, x: 2.5 + x, "any"),
    "t+int": (lambda M, x: x + 2, "any"),
    "t-s": (lambda M, x: x - 1.5, "any"),
    "s-t": (lambda M, x: 2.0 - x, "any"),
    "int-t": (lambda M, x: 2 - x, "any"),
    "t*s": (lambda M, x: x * 3.0, "any"),
    "s*t": (lambda M, x: 3.0 * x, "any"),
    "int*t": (lambda M, x: 3 * x, "any"),
    "t/s": (lambda M, x: x / 4.0, "any"),
    "t/int": (lambda M, x: x / 4, "any"),
    "s/t": (lambda M, x: 3.0 / x, "nz"),
    "int/t": (lambda M, x: 3 / x, "nz"),
    "t**s": (lambda M, x: x ** 2.0, "any"),
    "s**t": (lambda M, x: 3.0 ** x, "any"),
    "int**t": (lambda M, x: 2 ** x, "any"),
    "add_fn_scalar": (lambda M, x: M.add(x, 1.5), "any"),
    "sub_fn_scalar": (lambda M, x: M.sub(x, 1.5), "any"),
    "mul_fn_scalar": (lambda M, x: M.mul(x, -2.0), "any"),
    "div_fn_scalar": (lambda M, x: M.div(x, -2.0), "any"),
    "maximum_like": (lambda M, x: M.clamp(x, min=0.0) - M.clamp(x, max=0.0), "nz"),
}


@dtypes
@pytest.mark.parametrize("shape", [(3,), (2, 3), (), (0, 2)], ids=str)
@pytest.mark.parametrize("op", list(SCALAR_OPS))
def test_scalar_operand(op, shape, dtype):
    fn, kind = SCALAR_OPS[op]
    check(fn, [make(shape, kind, np.random.default_rng(0))], dtype)


# ---------------------------------------------------------------- dtype promotion
PROMOTE_OPS = {
    "add": lambda M, a, b: a + b,
    "sub": lambda M, a, b: a - b,
    "mul": lambda M, a, b: a * b,
    "div": lambda M, a, b: a / b,
    "pow": lambda M, a, b: M.pow(M.abs(a) + 0.5, b),
    "maximum": lambda M, a, b: M.maximum(a, b),
    "minimum": lambda M, a, b: M.minimum(a, b),
    "where": lambda M, a, b: M.where(a > 0, a, b),
}


@pytest.mark.parametrize("order", ["f32_f64", "f64_f32"])
@pytest.mark.parametrize("shapes", [((2, 3), (2, 3)), ((2, 3), (3,)), ((1, 3), (2, 1))], ids=str)
@pytest.mark.parametrize("op", list(PROMOTE_OPS))
def test_dtype_promotion(op, shapes, order):
    """float32 op float64 -> float64; each input's .grad keeps that input's own dtype."""
    dts = [pyad.float32, pyad.float64] if order == "f32_f64" else [pyad.float64, pyad.float32]
    rng = np.random.default_rng(0)
    a, b = make(shapes[0], "nz", rng), make(shapes[1], "nz", rng)
    out, tout = check(PROMOTE_OPS[op], [a, b], dts, rtol=1e-5, atol=1e-6)
    assert out.dtype == pyad.float64


@pytest.mark.parametrize("op", ["add", "mul", "div"])
def test_dtype_promotion_zero_dim(op):
    """torch: a 0-d tensor does not promote a dimensioned tensor of the same category."""
    fn = PROMOTE_OPS[op]
    rng = np.random.default_rng(0)
    check(fn, [make((3,), "nz", rng), make((), "nz", rng)], [pyad.float32, pyad.float64], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("scalar", [2.5, 3])
def test_python_scalar_keeps_float32(scalar):
    x = pyad.tensor([1.0, 2.0], dtype=pyad.float32, requires_grad=True)
    for out in (x * scalar, scalar - x, x / scalar, scalar / x, x ** scalar):
        assert out.dtype == pyad.float32


# ---------------------------------------------------------------- matmul
MATMUL = [
    ("1d@1d", (4,), (4,), lambda M, a, b: a @ b),
    ("2d@1d", (3, 4), (4,), lambda M, a, b: a @ b),
    ("1d@2d", (4,), (4, 5), lambda M, a, b: a @ b),
    ("2d@2d", (3, 4), (4, 5), lambda M, a, b: a @ b),
    ("matmul_fn", (3, 4), (4, 5), lambda M, a, b: M.matmul(a, b)),
    ("method", (3, 4), (4, 5), lambda M, a, b: a.matmul(b)),
    ("batched@2d", (2, 3, 4), (4, 5), lambda M, a, b: a @ b),
    ("2d@batched", (3, 4), (2, 4, 5), lambda M, a, b: a @ b),
    ("batched@batched", (2, 3, 4), (2, 4, 5), lambda M, a, b: a @ b),
    ("bcast_batch", (2, 1, 3, 4), (5, 4, 2), lambda M, a, b: a @ b),
    ("batched@1d", (2, 3, 4), (4,), lambda M, a, b: a @ b),
    ("1d@batched", (4,), (2, 4, 5), lambda M, a, b: a @ b),
    ("xT@y", (4, 3), (4, 5), lambda M, a, b: a.T @ b),
    ("x@yT", (3, 4), (5, 4), lambda M, a, b: a @ b.T),
    ("xT@yT", (4, 3), (5, 4), lambda M, a, b: a.T @ b.T),
    ("mT_batched", (2, 4, 3), (2, 5, 4), lambda M, a, b: a.mT @ b.mT),
    ("transpose_batched", (2, 4, 3), (4, 5), lambda M, a, b: a.transpose(1, 2) @ b),
    ("sliced", (3, 6), (3, 5), lambda M, a, b: a[:, ::2] @ b),
    ("empty_m", (0, 4), (4, 5), lambda M, a, b: a @ b),
    ("empty_k", (3, 0), (0, 5), lambda M, a, b: a @ b),
    ("empty_batch", (0, 3, 4), (4, 2), lambda M, a, b: a @ b),
    ("size1", (1, 4), (4, 1), lambda M, a, b: a @ b),
    ("mm", (3, 4), (4, 2), lambda M, a, b: M.mm(a, b)),
    ("dot", (5,), (5,), lambda M, a, b: M.dot(a, b)),
    ("outer", (3,), (4,), lambda M, a, b: M.outer(a, b)),
    ("outer_method", (3,), (1,), lambda M, a, b: a.outer(b)),
    ("outer_empty", (0,), (4,), lambda M, a, b: M.outer(a, b)),
]


@dtypes
@pytest.mark.parametrize("name,sa,sb,fn", MATMUL, ids=[m[0] for m in MATMUL])
def test_matmul(name, sa, sb, fn, dtype):
    rng = np.random.default_rng(0)
    check(fn, [make(sa, "any", rng), make(sb, "any", rng)], dtype)


@dtypes
def test_matmul_same_input(dtype):
    check(lambda M, a: a @ a.T, [make((3, 4), "any", np.random.default_rng(0))], dtype)


# ---------------------------------------------------------------- where
WHERE_SHAPES = [((2, 3), (2, 3), (2, 3)), ((2, 1), (1, 3), (2, 3)), ((3,), (2, 3), ()), ((0, 3), (0, 3), (3,))]


@dtypes
@pytest.mark.parametrize("shapes", WHERE_SHAPES, ids=str)
def test_where(shapes, dtype):
    rng = np.random.default_rng(0)
    cond = rng.random(shapes[0]) > 0.5

    def fn(M, a, b):
        c = pyad.tensor(cond) if M is pyad else torch.tensor(cond)
        return M.where(c, a, b)

    check(fn, [make(shapes[1], "any", rng), make(shapes[2], "any", rng)], dtype)


@dtypes
def test_where_scalar_other(dtype):
    def fn(M, a):
        return M.where(a > 0, a, 0.0)
    check(fn, [make((2, 3), "nz", np.random.default_rng(0))], dtype)


# ---------------------------------------------------------------- comparisons
CMP = ["eq", "ne", "lt", "le", "gt", "ge"]
CMP_OPS = {"eq": "__eq__", "ne": "__ne__", "lt": "__lt__", "le": "__le__", "gt": "__gt__", "ge": "__ge__"}


def _cmp_check(fn, arrays, dtype):
    xs = [leaf(a, dtype) for a in arrays]
    ts = [to_torch(x) for x in xs]
    out, tout = fn(pyad, *xs), fn(TNS, *ts)
    assert out.dtype == pyad.bool, f"comparison dtype {out.dtype}"
    assert tuple(out.shape) == tuple(tout.shape)
    np.testing.assert_array_equal(out.numpy(), tout.numpy())
    assert not out.requires_grad


@dtypes
@pytest.mark.parametrize("shapes", [((2, 3), (2, 3)), ((2, 1), (1, 3)), ((3,), ()), ((0, 3), (3,))], ids=str)
@pytest.mark.parametrize("form", ["fn", "method", "operator"])
@pytest.mark.parametrize("op", CMP)
def test_comparison(op, form, shapes, dtype):
    rng = np.random.default_rng(0)
    arrays = [make(shapes[0], "int", rng), make(shapes[1], "int", rng)]
    if form == "fn":
        fn = lambda M, a, b: getattr(M, op)(a, b)  # noqa: E731
    elif form == "method":
        fn = lambda M, a, b: getattr(a, op)(b)  # noqa: E731
    else:
        fn = lambda M, a, b: getattr(a, CMP_OPS[op])(b)  # noqa: E731
    _cmp_check(fn, arrays, dtype)


@dtypes
@pytest.mark.parametrize("op", CMP)
def test_comparison_scalar(op, dtype):
    a = make((2, 3), "int", np.random.default_rng(0))
    _cmp_check(lambda M, x: getattr(M, op)(x, 1.0), [a], dtype)
    _cmp_check(lambda M, x: getattr(x, CMP_OPS[op])(1), [a], dtype)


@pytest.mark.parametrize("op", CMP)
def test_comparison_mixed_dtypes(op):
    rng = np.random.default_rng(0)
    _cmp_check(lambda M, a, b: getattr(M, op)(a, b.double()), [make((2, 3), "int", rng), make((3,), "int", rng)],
               pyad.float32)


@pytest.mark.parametrize("op", CMP)
def test_comparison_of_grad_tensor_is_bool_no_grad(op):
    x = pyad.tensor(make((4,), "int", np.random.default_rng(0)), dtype=pyad.float64, requires_grad=True)
    y = pyad.tensor(make((4,), "int", np.random.default_rng(1)), dtype=pyad.float64, requires_grad=True)
    r = getattr(pyad, op)(x, y)
    assert r.dtype == pyad.bool and not r.requires_grad and r.grad_fn is None


# ---------------------------------------------------------------- reductions
REDUCE_CASES = [
    ((2, 3, 4), None),
    ((2, 3, 4), 0),
    ((2, 3, 4), 1),
    ((2, 3, 4), -1),
    ((2, 3, 4), -3),
    ((2, 3, 4), (0, 2)),
    ((2, 3, 4), (-1, -2)),
    ((2, 3, 4), (0, 1, 2)),
    ((4, 1, 3), 1),
    ((3,), 0),
    ((3,), None),
    ((), None),
    ((0, 3), 1),
    ((0, 3), None),
    ((0, 3), 0),
]


def _reduce_fn(op, dim, keepdim):
    if dim is None:
        if op in ("sum", "mean", "amax", "amin"):
            return lambda M, x: getattr(M, op)(x)
        return lambda M, x: getattr(x, op)()          # max / min over everything
    return lambda M, x: getattr(M, op)(x, dim=dim, keepdim=keepdim)


REDUCE_PARAMS = [(s, d, k) for s, d in REDUCE_CASES for k in ([False] if d is None else [False, True])]


@dtypes
@pytest.mark.parametrize("shape,dim,keepdim", REDUCE_PARAMS, ids=[f"{s}-{d}-{'keep' if k else 'nokeep'}"
                                                                  for s, d, k in REDUCE_PARAMS])
@pytest.mark.parametrize("op", ["sum", "mean", "amax", "amin"])
def test_reduction(op, shape, dim, keepdim, dtype):
    n_reduced = int(np.prod([shape[d] for d in ((dim,) if isinstance(dim, int) else dim)])) if dim is not None \
        else int(np.prod(shape))
    if op in ("amax", "amin") and n_reduced == 0:
        # torch raises for a max over an empty dimension; pyad must raise too
        x = pyad.tensor(np.zeros(shape), dtype=dtype)
        with pytest.raises(Exception):
            _reduce_fn(op, dim, keepdim)(pyad, x)
        return
    check(_reduce_fn(op, dim, keepdim), [make(shape, "any", np.random.default_rng(0))], dtype)


@dtypes
@pytest.mark.parametrize("shape", [(2, 3, 4), (3,), (), (4, 1, 3)], ids=str)
@pytest.mark.parametrize("op", ["sum", "mean", "amax", "amin", "max", "min"])
def test_reduction_method_all(op, shape, dtype):
    check(lambda M, x: getattr(x, op)(), [make(shape, "any", np.random.default_rng(0))], dtype)


@dtypes
@pytest.mark.parametrize("op", ["amax", "amin"])
def test_amax_amin_ties(op, dtype):
    """torch spreads the gradient of amax/amin evenly over tied extremes."""
    a = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [-1.0, -1.0, 5.0, -2.0]])
    check(lambda M, x: getattr(M, op)(x, dim=1), [a], dtype)
    check(lambda M, x: getattr(M, op)(x, dim=0, keepdim=True), [a], dtype)
    check(lambda M, x: getattr(M, op)(x), [a * 0.0 + 1.0], dtype)
    check(lambda M, x: getattr(M, op)(x), [a], dtype)
    check(lambda M, x: getattr(x, op[1:])(), [a], dtype)      # x.max() / x.min() over everything


@dtypes
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", [((2, 3, 4), 0), ((2, 3, 4), 1), ((2, 3, 4), -1), ((3,), 0),
                                       ((4, 1, 3), 1), ((0, 3), 1)],
                         ids=["234-0", "234-1", "234-m1", "3-0", "413-1", "03-1"])
@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_dim(op, shape, dim, keepdim, dtype):
    """max/min with dim: (values, indices) named tuple; the gradient goes to the selected element."""
    a = make(shape, "any", np.random.default_rng(0))
    x = pyad.tensor(a, dtype=dtype, requires_grad=True)
    xt = to_torch(x)
    r = getattr(pyad, op)(x, dim, keepdim)
    rt = getattr(torch, op)(xt, dim, keepdim)
    r_method = getattr(x, op)(dim=dim, keepdim=keepdim)
    assert_close(r.values, rt.values, msg="values")
    assert_close(r.indices, rt.indices, msg="indices")
    assert_close(r[0], rt[0], msg="values via [0]")
    assert_close(r[1], rt[1], msg="indices via [1]")
    assert_close(r_method.values, rt.values, msg="method values")
    assert r.indices.dtype == pyad.int64 and not r.indices.requires_grad
    g = np.random.default_rng(5).standard_normal(tuple(rt.values.shape))
    gp = leaf(g, dtype)
    r.values.backward(gradient=gp)
    rt.values.backward(gradient=to_torch(gp))
    assert_close(x.grad, xt.grad, msg="grad")


@dtypes
@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_dim_ties(op, dtype):
    """Ties: index of the first extreme (as torch documents); gradient goes to that one element."""
    a = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [-1.0, -1.0, -2.0, -2.0]])
    x = pyad.tensor(a, dtype=dtype, requires_grad=True)
    xt = to_torch(x)
    r, rt = getattr(pyad, op)(x, 1), getattr(torch, op)(xt, 1)
    assert_close(r.values, rt.values)
    assert_close(r.indices, rt.indices)
    r.values.sum().backward()
    rt.values.sum().backward()
    assert_close(x.grad, xt.grad)


# ---------------------------------------------------------------- logsumexp / softmax / log_softmax
@dtypes
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", [((2, 3), 0), ((2, 3), -1), ((2, 3, 4), 1), ((2, 3, 4), (0, 2)), ((3,), 0),
                                       ((4, 1, 3), 1), ((0, 3), 1), ((0, 3), 0)],
                         ids=["23-0", "23-m1", "234-1", "234-02", "3-0", "413-1", "03-1", "03-0"])
def test_logsumexp(shape, dim, keepdim, dtype):
    check(lambda M, x: M.logsumexp(x, dim, keepdim=keepdim), [make(shape, "any", np.random.default_rng(0))],
          dtype)


@dtypes
def test_logsumexp_large_values(dtype):
    a = np.array([[1000.0, 999.0, 998.0], [-1000.0, -1001.0, -999.0]])
    out, _ = check(lambda M, x: M.logsumexp(x, 1), [a], dtype)
    assert np.all(np.isfinite(out.detach().numpy()))


@dtypes
@pytest.mark.parametrize("shape,dim", [((2, 3), 0), ((2, 3), -1), ((2, 3), 1), ((2, 3, 4), 1), ((3,), 0),
                                       ((3,), -1), ((4, 1, 3), 1), ((0, 3), -1), ((0, 3), 0)],
                         ids=["23-0", "23-m1", "23-1", "234-1", "3-0", "3-m1", "413-1", "03-m1", "03-0"])
@pytest.mark.parametrize("op", ["softmax", "log_softmax", "softmax_method", "log_softmax_method"])
def test_softmax(op, shape, dim, dtype):
    if op.endswith("_method"):
        name = op[:-len("_method")]
        fn = lambda M, x: getattr(x, name)(dim)  # noqa: E731
    else:
        fn = lambda M, x: getattr(M, op)(x, dim)  # noqa: E731
    check(fn, [make(shape, "any", np.random.default_rng(0))], dtype)


@dtypes
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_large_values(op, dtype):
    a = np.array([[1000.0, 999.0, 998.0], [-1000.0, -1001.0, -999.0]])
    out, _ = check(lambda M, x: getattr(M, op)(x, -1), [a], dtype)
    assert np.all(np.isfinite(out.detach().numpy()))


@dtypes
@pytest.mark.parametrize("op", ["softmax", "log_softmax", "logsumexp"])
def test_softmax_with_masked_minus_inf(op, dtype):
    """A -inf entry (a masked logit) gets probability 0 and leaves everything else finite."""
    a = np.array([[0.5, -np.inf, 1.0, -0.3], [2.0, 1.0, -np.inf, -np.inf]])
    out, _ = check(lambda M, x: getattr(M, op)(x, -1), [a], dtype)
    if op != "log_softmax":
        assert np.all(np.isfinite(out.detach().numpy()))


# ---------------------------------------------------------------- shape ops
SHAPE_OPS = [
    ("reshape", (2, 3, 4), lambda M, x: x.reshape(6, 4)),
    ("reshape_tuple", (2, 3, 4), lambda M, x: x.reshape((4, -1))),
    ("reshape_flat", (2, 3, 4), lambda M, x: x.reshape(-1)),
    ("reshape_fn", (2, 3, 4), lambda M, x: M.reshape(x, (3, 8))),
    ("reshape_scalar", (), lambda M, x: x.reshape(1, 1)),
    ("reshape_to_scalar", (1,), lambda M, x: x.reshape(())),
    ("reshape_empty", (0, 3), lambda M, x: x.reshape(3, 0)),
    ("reshape_of_T", (3, 4), lambda M, x: x.T.reshape(12)),
    ("view", (2, 3, 4), lambda M, x: x.view(4, 6)),
    ("view_m1", (2, 3, 4), lambda M, x: x.view(2, -1)),
    ("transpose", (2, 3, 4), lambda M, x: x.transpose(0, 2)),
    ("transpose_neg", (2, 3, 4), lambda M, x: M.transpose(x, -1, -2)),
    ("permute", (2, 3, 4), lambda M, x: x.permute(2, 0, 1)),
    ("permute_tuple", (2, 3, 4), lambda M, x: x.permute((1, 2, 0))),
    ("permute_fn", (2, 3, 4), lambda M, x: M.permute(x, (2, 1, 0))),
    ("T_2d", (3, 4), lambda M, x: x.T),
    ("squeeze_all", (4, 1, 3, 1), lambda M, x: x.squeeze()),
    ("squeeze_dim", (4, 1, 3), lambda M, x: x.squeeze(1)),
    ("squeeze_neg", (4, 1, 3), lambda M, x: x.squeeze(-2)),
    ("squeeze_noop", (4, 1, 3), lambda M, x: x.squeeze(0)),
    ("squeeze_fn", (1, 3), lambda M, x: M.squeeze(x, 0)),
    ("squeeze_scalar", (), lambda M, x: x.squeeze()),
    ("unsqueeze0", (2, 3), lambda M, x: x.unsqueeze(0)),
    ("unsqueeze_last", (2, 3), lambda M, x: x.unsqueeze(-1)),
    ("unsqueeze_mid", (2, 3), lambda M, x: M.unsqueeze(x, 1)),
    ("unsqueeze_scalar", (), lambda M, x: x.unsqueeze(0)),
    ("expand", (4, 1, 3), lambda M, x: x.expand(4, 5, 3)),
    ("expand_new_dims", (3,), lambda M, x: x.expand(2, 4, 3)),
    ("expand_m1", (4, 1, 3), lambda M, x: x.expand(-1, 2, -1)),
    ("expand_tuple", (1, 3), lambda M, x: x.expand((2, 3))),
    ("expand_scalar", (), lambda M, x: x.expand(2, 3)),
    ("expand_then_mul", (2, 1), lambda M, x: x.expand(2, 3) * x),
    ("expand_then_sum", (4, 1, 3), lambda M, x: x.expand(4, 5, 3).sum(1)),
    ("expand_then_T", (3, 1), lambda M, x: x.expand(3, 4).T @ x),
    ("flatten", (2, 3, 4), lambda M, x: x.flatten()),
    ("flatten_partial", (2, 3, 4), lambda M, x: M.flatten(x, 1)),
    ("view_chain", (2, 3, 4), lambda M, x: x.permute(1, 0, 2).reshape(3, 8).T.unsqueeze(0)),
]


@dtypes
@pytest.mark.parametrize("name,shape,fn", SHAPE_OPS, ids=[s[0] for s in SHAPE_OPS])
def test_shape_op(name, shape, fn, dtype):
    check(fn, [make(shape, "any", np.random.default_rng(0))], dtype)


CAT_CASES = [
    ("cat0", [(2, 3), (4, 3)], lambda M, *t: M.cat(list(t), 0)),
    ("cat1", [(2, 3), (2, 1), (2, 2)], lambda M, *t: M.cat(list(t), dim=1)),
    ("cat_neg", [(2, 3, 1), (2, 3, 2)], lambda M, *t: M.cat(t, -1)),
    ("cat_empty", [(0, 3), (2, 3)], lambda M, *t: M.cat(list(t), 0)),
    ("cat_1d", [(3,), (2,), (1,)], lambda M, *t: M.cat(list(t))),
    ("cat_single", [(2, 3)], lambda M, *t: M.cat(list(t), 1)),
    ("cat_same", [(2, 3)], lambda M, *t: M.cat([t[0], t[0] * 2.0], 0)),
    ("concat", [(2, 3), (1, 3)], lambda M, *t: M.concat(list(t), 0)),
    ("stack0", [(2, 3), (2, 3)], lambda M, *t: M.stack(list(t), 0)),
    ("stack1", [(2, 3), (2, 3), (2, 3)], lambda M, *t: M.stack(list(t), dim=1)),
    ("stack_neg", [(2, 3), (2, 3)], lambda M, *t: M.stack(t, -1)),
    ("stack_scalars", [(), (), ()], lambda M, *t: M.stack(list(t))),
    ("stack_empty", [(0, 3), (0, 3)], lambda M, *t: M.stack(list(t), 1)),
    ("cat_views", [(3, 2), (2, 3)], lambda M, *t: M.cat([t[0].T, t[1][:, ::2].T.T], 1)),
]


@dtypes
@pytest.mark.parametrize("name,shapes,fn", CAT_CASES, ids=[c[0] for c in CAT_CASES])
def test_cat_stack(name, shapes, fn, dtype):
    rng = np.random.default_rng(0)
    check(fn, [make(s, "any", rng) for s in shapes], dtype)


# ---------------------------------------------------------------- indexing
INDEX_CASES = [
    ("int", lambda M, x: x[1]),
    ("neg_int", lambda M, x: x[-1]),
    ("int_int", lambda M, x: x[1, 2]),
    ("int_int_int", lambda M, x: x[1, -1, 0]),
    ("slice", lambda M, x: x[:, 1:3]),
    ("neg_slice", lambda M, x: x[:, -2:]),
    ("neg_slice_stop", lambda M, x: x[:-1, :, 1:-1]),
    ("ellipsis_step", lambda M, x: x[..., ::2]),
    ("step", lambda M, x: x[::2, 1::2]),
    ("none_int", lambda M, x: x[None, 0]),
    ("int_none", lambda M, x: x[0, :, None]),
    ("mixed", lambda M, x: x[1:, ..., 0]),
    ("ellipsis_int", lambda M, x: x[..., 1]),
    ("empty_slice", lambda M, x: x[1:1]),
    ("out_of_range_slice", lambda M, x: x[:, 2:10]),
    ("double_index", lambda M, x: x[1][2]),
    ("index_twice_add", lambda M, x: x[0] + x[0] * 2.0 + x[-1]),
    ("index_of_permuted", lambda M, x: x.permute(2, 1, 0)[1:, 0]),
    ("full", lambda M, x: x[:]),
]


@dtypes
@pytest.mark.parametrize("name,fn", INDEX_CASES, ids=[c[0] for c in INDEX_CASES])
def test_indexing(name, fn, dtype):
    check(fn, [make((3, 4, 5), "any", np.random.default_rng(0))], dtype)


@dtypes
def test_indexing_1d_and_scalar_result(dtype):
    a = make((5,), "any", np.random.default_rng(0))
    check(lambda M, x: x[2], [a], dtype)
    check(lambda M, x: x[-5], [a], dtype)
    check(lambda M, x: x[1:4:2], [a], dtype)
    check(lambda M, x: x[None], [a], dtype)


# ---------------------------------------------------------------- central finite differences (float64)
def _fd_check(fn, arrays, eps=1e-6, rtol=1e-5, atol=1e-8):
    xs = [pyad.tensor(a, dtype=pyad.float64, requires_grad=True) for a in arrays]
    out = fn(*xs)
    assert tuple(out.shape) == ()
    out.backward()
    for i, a in enumerate(arrays):
        numeric = np.zeros_like(a)
        for j in range(a.size):
            vals = []
            for sgn in (1.0, -1.0):
                pert = [b.copy() for b in arrays]
                pert[i].reshape(-1)[j] += sgn * eps
                with pyad.no_grad():
                    vals.append(fn(*[pyad.tensor(p, dtype=pyad.float64) for p in pert]).item())
            numeric.reshape(-1)[j] = (vals[0] - vals[1]) / (2 * eps)
        np.testing.assert_allclose(xs[i].grad.numpy(), numeric, rtol=rtol, atol=atol,
                                   err_msg=f"finite-difference gradient of input {i}")


FD_CASES = [
    ("sum_sigmoid_Ax", [(3, 4), (4,)], lambda A, x: pyad.sigmoid(A @ x).sum()),
    ("logsumexp_xy", [(3, 4), (3, 4)], lambda x, y: pyad.logsumexp(x * y, dim=1).sum()),
    ("softplus_mean", [(2, 5)], lambda x: pyad.softplus(x).mean()),
    ("log_softmax_pick", [(3, 4)], lambda x: (pyad.log_softmax(x, -1)[:, 1] * pyad.tensor([1.0, -2.0, 0.5],
                                                                                         dtype=pyad.float64)).sum()),
    ("mlp", [(4, 3), (3,), (2, 4)], lambda x, b, W: pyad.tanh(W @ pyad.relu(x @ (b * 1.0) + 0.1)).sum()),
    ("bcast_div_pow", [(2, 1), (1, 3)], lambda x, y: (x * y / (1.0 + y * y) + (x * x + 1.0) ** 0.5).sum()),
    ("softmax_weighted", [(2, 3)], lambda x: (pyad.softmax(x, 0) * pyad.exp(x)).sum()),
    ("amax_minus_mean", [(3, 4)], lambda x: (pyad.amax(x, dim=1) - x.mean(dim=0).sum()).sum()),
]


@pytest.mark.parametrize("name,shapes,fn", FD_CASES, ids=[c[0] for c in FD_CASES])
def test_finite_difference(name, shapes, fn):
    rng = np.random.default_rng(0)
    _fd_check(fn, [make(s, "any", rng) for s in shapes])
