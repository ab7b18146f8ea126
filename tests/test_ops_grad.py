"""Gradient parity with torch.autograd for every differentiable op, in float64 and float32, over the op table.

The table tests run every row of tests/op_db.py: each sample runs the row's `call(ns, *inputs)` twice, with
ns = pyad on pyad tensors and with ns = the torch namespace on torch tensors holding the same data. Forward values
are compared, then both outputs are back-propagated with the same random upstream gradient and every input's .grad
is compared; gradcheck (finite differences) and double backward (gradgradcheck and against torch) run on a few
samples of each row. Every test runs on each device (the `device` fixture of conftest.py: pyad's tensors live
there, torch's stay on the CPU).
"""

import numpy as np
import op_db
import pytest
import torch

import pyad
from pyad.autograd import gradcheck, gradgradcheck

try:  # pytest's --import-mode=importlib (the project's setting) registers the conftest as tests.conftest
    from tests.conftest import TNS, assert_close, leaf, make, to_torch
except ImportError:  # prepend/append import modes
    from conftest import TNS, assert_close, leaf, make, to_torch

pytestmark = pytest.mark.usefixtures("device")

DTYPES = [pyad.float64, pyad.float32]
DTYPE_IDS = ["f64", "f32"]


def dtypes(f):
    return pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)(f)


def check(fn, arrays, dtype, grad=True, rtol=None, atol=None, nondiff=()):
    """Run fn on pyad and torch with the same data; compare outputs and every differentiable input's .grad."""
    rng = np.random.default_rng(1234)
    dts = dtype if isinstance(dtype, (list, tuple)) else [dtype] * len(arrays)
    xs = [leaf(a, d, requires_grad=grad and i not in nondiff) for i, (a, d) in enumerate(zip(arrays, dts))]
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
        if i in nondiff:
            continue
        assert t.grad is not None, "test bug: torch gave no gradient"
        assert_close(x.grad, t.grad, rtol=rtol, atol=atol, msg=f"grad of input {i}")
    return out, tout


def check_op(op, sample, dtype, **kw):
    """check() for one sample of an op_db row (its kwargs bound, its non-differentiable inputs left out)."""
    arrays = sample.arrays(op.domains(len(sample.inputs)))
    return check(lambda ns, *xs: op.call(ns, *xs, **sample.kwargs), arrays, dtype, nondiff=op.nondiff, **kw)


# ---------------------------------------------------------------- the op table
@dtypes
@pytest.mark.parametrize("op,sample", op_db.params(op_db.REVERSE))
def test_reverse(op, sample, dtype, device):
    """Every row, every sample: values and gradients as torch.autograd's."""
    op_db.skip_unless_on(op, device)
    if sample.raises:
        # torch raises for it (a max over an empty dimension); pyad must raise too, with a documented exception
        arrays = sample.arrays(op.domains(len(sample.inputs)))
        with pytest.raises((IndexError, RuntimeError, ValueError)):
            op.call(TNS, *[torch.from_numpy(a) for a in arrays], **sample.kwargs)
        with pytest.raises((IndexError, RuntimeError, ValueError)):
            op.call(pyad, *[leaf(a, dtype) for a in arrays], **sample.kwargs)
        return
    check_op(op, sample, dtype)


UNARY_ELEMENTWISE = op_db.params(
    op_db.REVERSE, with_samples=False, where=lambda op: op.elementwise and op.arity == 1 and not op.variant
)


@dtypes
@pytest.mark.parametrize("op", UNARY_ELEMENTWISE)
def test_unary_on_noncontiguous_view(op, dtype, device):
    """Elementwise ops reading a transposed or strided view."""
    op_db.skip_unless_on(op, device)
    for seed, view in ((0, lambda x: x.T), (1, lambda x: x[:, ::2])):
        a = make((3, 4), op.domains()[0], np.random.default_rng(seed))
        check(lambda ns, x, view=view: op.call(ns, view(x)), [a], dtype)


@pytest.mark.parametrize("op,sample", op_db.params("gradcheck"))
def test_gradcheck(op, sample, device):
    """Reverse-mode (and forward-mode) Jacobians against central finite differences, in float64."""
    op_db.skip_unless_on(op, device)
    xs = op_db.inputs(op, sample, requires_grad=True)
    assert gradcheck(
        lambda *a: op.call(pyad, *a, **sample.kwargs), tuple(xs), check_forward_ad=op_db.FORWARD in op.modes
    )


def _double_backward(ns, op, sample, xs, v, w):
    """The gradients of <w, vjp(v)> (the first gradients built with create_graph) with respect to the
    differentiable inputs and to v: the second derivatives of the op and, through v, its Jacobian again."""
    grad = pyad.autograd.grad if ns is pyad else torch.autograd.grad
    diff = [xs[i] for i in op.diff_inputs(len(xs))]
    out = op.call(ns, *xs, **sample.kwargs)
    gs = grad([out], diff, grad_outputs=[v], create_graph=True, allow_unused=True)
    total = sum((g * wi).sum() for g, wi in zip(gs, w) if g is not None)
    if not getattr(total, "requires_grad", False):
        return [None] * (len(diff) + 1)
    return grad([total], diff + [v], allow_unused=True)


@pytest.mark.parametrize("op,sample", op_db.params(op_db.GRADGRAD))
def test_gradgrad(op, sample, device):
    """Double backward: gradgradcheck by finite differences, and the second gradients against torch's."""
    op_db.skip_unless_on(op, device)
    xs = op_db.inputs(op, sample, requires_grad=True)
    fn = lambda *a: op.call(pyad, *a, **sample.kwargs)  # noqa: E731
    assert gradgradcheck(fn, tuple(xs))

    rng = np.random.default_rng(5)
    out = fn(*xs)
    v = leaf(rng.standard_normal(tuple(out.shape)), requires_grad=True)
    w = [leaf(rng.standard_normal(tuple(xs[i].shape))) for i in op.diff_inputs(len(xs))]
    txs, tv, tw = [to_torch(x) for x in xs], to_torch(v), [to_torch(t) for t in w]
    got = _double_backward(pyad, op, sample, xs, v, w)
    want = _double_backward(TNS, op, sample, txs, tv, tw)
    wrt = [xs[i] for i in op.diff_inputs(len(xs))] + [v]
    for k, (g, t, x) in enumerate(zip(got, want, wrt)):
        g = pyad.zeros_like(x) if g is None else g
        t = torch.zeros(tuple(x.shape), dtype=torch.float64) if t is None else t
        assert_close(g, t, msg=f"second gradient {k}")


@pytest.mark.parametrize("op,sample", op_db.params(op_db.VALUES))
@pytest.mark.parametrize("dtype", [pyad.float64, pyad.float32, pyad.int64], ids=["f64", "f32", "i64"])
def test_values(op, sample, dtype, device):
    """Ops without a derivative (comparisons): the same values, shape and dtype as torch."""
    op_db.skip_unless_on(op, device)
    if dtype not in op.dtypes:
        pytest.skip(f"{op.id} takes no {dtype}")
    xs = op_db.inputs(op, sample, dtype)
    out = op.call(pyad, *xs, **sample.kwargs)
    tout = op.call(TNS, *[to_torch(x) for x in xs], **sample.kwargs)
    assert_close(out, tout, msg="values")
    assert not out.requires_grad


# ---------------------------------------------------------------- dtype promotion
PROMOTING = op_db.params(
    op_db.REVERSE,
    with_samples=False,
    where=lambda op: op.elementwise and op.arity == 2 and not op.composite and op.variant in ("", "self_condition"),
)


@pytest.mark.parametrize("order", ["f32_f64", "f64_f32"])
@pytest.mark.parametrize("shapes", [((2, 3), (2, 3)), ((2, 3), (3,)), ((1, 3), (2, 1))], ids=str)
@pytest.mark.parametrize("op", PROMOTING)
def test_dtype_promotion(op, shapes, order, device):
    """float32 op float64 -> float64; each input's .grad keeps that input's own dtype."""
    op_db.skip_unless_on(op, device)
    dts = [pyad.float32, pyad.float64] if order == "f32_f64" else [pyad.float64, pyad.float32]
    arrays = op_db.S(*shapes).arrays(op.domains(2))
    out, tout = check(op.call, arrays, dts, rtol=1e-5, atol=1e-6)
    assert out.dtype == pyad.float64


@pytest.mark.parametrize("op", PROMOTING)
def test_dtype_promotion_zero_dim(op, device):
    """torch: a 0-d tensor does not promote a dimensioned tensor of the same category."""
    op_db.skip_unless_on(op, device)
    arrays = op_db.S((3,), ()).arrays(op.domains(2))
    out, _ = check(op.call, arrays, [pyad.float32, pyad.float64], rtol=1e-5, atol=1e-6)
    assert out.dtype == pyad.float32


@pytest.mark.parametrize("scalar", [2.5, 3])
def test_python_scalar_keeps_float32(scalar):
    x = pyad.tensor([1.0, 2.0], dtype=pyad.float32, requires_grad=True)
    for out in (x * scalar, scalar - x, x / scalar, scalar / x, x**scalar):
        assert out.dtype == pyad.float32


# ---------------------------------------------------------------- 0-d data, extreme values
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


@dtypes
@pytest.mark.parametrize("op", ["softmax", "log_softmax", "logsumexp"])
def test_softmax_large_values_stay_finite(op, dtype):
    a = np.array([[1000.0, 999.0, 998.0], [-1000.0, -1001.0, -999.0]])
    out, _ = check(lambda M, x: getattr(M, op)(x, -1), [a], dtype)
    assert np.all(np.isfinite(out.detach().numpy()))


@dtypes
@pytest.mark.parametrize("op", ["softmax", "logsumexp"])
def test_masked_minus_inf_leaves_the_rest_finite(op, dtype):
    """A -inf entry (a masked logit) gets probability 0 and leaves everything else finite."""
    a = np.array([[0.5, -np.inf, 1.0, -0.3], [2.0, 1.0, -np.inf, -np.inf]])
    out, _ = check(lambda M, x: getattr(M, op)(x, -1), [a], dtype)
    assert np.all(np.isfinite(out.detach().numpy()))


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
    _cmp_check(
        lambda M, a, b: getattr(M, op)(a, b.double()), [make((2, 3), "int", rng), make((3,), "int", rng)], pyad.float32
    )


@pytest.mark.parametrize("op", CMP)
def test_comparison_of_grad_tensor_is_bool_no_grad(op):
    x = pyad.tensor(make((4,), "int", np.random.default_rng(0)), dtype=pyad.float64, requires_grad=True)
    y = pyad.tensor(make((4,), "int", np.random.default_rng(1)), dtype=pyad.float64, requires_grad=True)
    r = getattr(pyad, op)(x, y)
    assert r.dtype == pyad.bool and not r.requires_grad and r.grad_fn is None


@dtypes
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize(
    "shape,dim",
    [((2, 3, 4), 0), ((2, 3, 4), 1), ((2, 3, 4), -1), ((3,), 0), ((4, 1, 3), 1), ((0, 3), 1)],
    ids=["234-0", "234-1", "234-m1", "3-0", "413-1", "03-1"],
)
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
        np.testing.assert_allclose(
            xs[i].grad.numpy(), numeric, rtol=rtol, atol=atol, err_msg=f"finite-difference gradient of input {i}"
        )


FD_CASES = [
    ("sum_sigmoid_Ax", [(3, 4), (4,)], lambda A, x: pyad.sigmoid(A @ x).sum()),
    ("logsumexp_xy", [(3, 4), (3, 4)], lambda x, y: pyad.logsumexp(x * y, dim=1).sum()),
    ("softplus_mean", [(2, 5)], lambda x: pyad.softplus(x).mean()),
    (
        "log_softmax_pick",
        [(3, 4)],
        lambda x: (pyad.log_softmax(x, -1)[:, 1] * pyad.tensor([1.0, -2.0, 0.5], dtype=pyad.float64)).sum(),
    ),
    ("mlp", [(4, 3), (3,), (2, 4)], lambda x, b, W: pyad.tanh(W @ pyad.relu(x @ (b * 1.0) + 0.1)).sum()),
    ("bcast_div_pow", [(2, 1), (1, 3)], lambda x, y: (x * y / (1.0 + y * y) + (x * x + 1.0) ** 0.5).sum()),
    ("softmax_weighted", [(2, 3)], lambda x: (pyad.softmax(x, 0) * pyad.exp(x)).sum()),
    ("amax_minus_mean", [(3, 4)], lambda x: (pyad.amax(x, dim=1) - x.mean(dim=0).sum()).sum()),
]


@pytest.mark.parametrize("name,shapes,fn", FD_CASES, ids=[c[0] for c in FD_CASES])
def test_finite_difference(name, shapes, fn):
    rng = np.random.default_rng(0)
    _fd_check(fn, [make(s, "any", rng) for s in shapes])
