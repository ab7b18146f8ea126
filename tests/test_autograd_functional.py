"""pyad.autograd.functional against torch.autograd.functional, called with the same arguments: every function
(jacobian, hessian, vjp, jvp, hvp, vhp) over single and tuple inputs and outputs, create_graph, strict,
vectorize and the strategies; results must match torch's in structure (Tensor vs tuples), values (float64,
rtol = atol = 1e-7), graph (create_graph: the results' own derivatives match torch's) and errors."""

import re

import numpy as np
import pytest
import torch
import torch.autograd.functional as TF

import pyad
import pyad.autograd.functional as PF
from pyad.autograd import Function

try:
    from tests.conftest import assert_close, to_torch
except ImportError:
    from conftest import assert_close, to_torch

F64 = pyad.float64
RNG = np.random.default_rng(0)
X0, W0, Z0 = RNG.uniform(-1, 1, (3,)), RNG.uniform(-1, 1, (2, 3)), RNG.uniform(-1, 1, (2,))


# Functions written with what both libraries share (methods and operators), so one definition serves both.
def f_single(x):
    return (x.exp() * x).sin()


def f_tuple_out(x):
    return x.sin(), (x * x).sum()


def f_tuple_in(x, w):
    return (w @ x).tanh()


def f_tuple_both(x, w):
    return (w @ x).tanh(), (x * x * w).sum()


def s_single(x):
    return (x.exp() * x.sin()).sum()


def s_tuple(x, w):
    return (w @ x).tanh().sum() * x.sum()


JAC_FUNS = {
    "single": (f_single, "x"),
    "tuple out": (f_tuple_out, "x"),
    "tuple in": (f_tuple_in, "xw"),
    "tuple both": (f_tuple_both, "xw"),
}
SCALAR_FUNS = {"single": (s_single, "x"), "tuple": (s_tuple, "xw")}


def make_inputs(which, requires_grad=False):
    arrays = {"x": X0, "w": W0}
    ours = tuple(pyad.tensor(arrays[k], dtype=F64, requires_grad=requires_grad) for k in which)
    theirs = tuple(to_torch(t) for t in ours)
    return (ours[0], theirs[0]) if len(which) == 1 else (ours, theirs)


def check_same(ours, theirs, path="result"):
    """Same nesting (torch's forward-mode jacobian returns lists: taken as tuples), shapes, dtypes, values."""
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, tuple), f"{path}: pyad gave {type(ours).__name__}, torch a {type(theirs).__name__}"
        assert len(ours) == len(theirs), f"{path}: {len(ours)} entries vs {len(theirs)}"
        for i, (a, b) in enumerate(zip(ours, theirs)):
            check_same(a, b, f"{path}[{i}]")
    else:
        assert isinstance(ours, pyad.Tensor), f"{path}: pyad gave {type(ours).__name__}, torch a Tensor"
        assert_close(ours, theirs, msg=path)


def leaves(r):
    return [t for x in r for t in leaves(x)] if isinstance(r, (tuple, list)) else [r]


def check_graph(ours, theirs, inputs, tinputs, create_graph):
    """With create_graph the results are differentiable and their derivatives match torch's; without, they are
    plain tensors."""
    outs, touts = leaves(ours), leaves(theirs)
    if not create_graph:
        assert not any(t.requires_grad for t in outs)
        return
    ins, tins = leaves(inputs), leaves(tinputs)
    total = sum((o * o).sum() for o in outs if o.requires_grad)
    ttotal = sum((o * o).sum() for o in touts if o.requires_grad)
    g = pyad.autograd.grad(total, ins, allow_unused=True)
    tg = torch.autograd.grad(ttotal, tins, allow_unused=True)
    for a, b in zip(g, tg):
        assert_close(a, b, msg="derivative of the results")


# ---------------------------------------------------------------- jacobian
@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
@pytest.mark.parametrize("vectorize", [False, True])
@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("fun", list(JAC_FUNS))
def test_jacobian(fun, create_graph, vectorize, strategy):
    f, which = JAC_FUNS[fun]
    inputs, tinputs = make_inputs(which, requires_grad=create_graph)
    kw = dict(create_graph=create_graph, vectorize=vectorize, strategy=strategy)
    if strategy == "forward-mode" and create_graph:
        with pytest.raises(NotImplementedError):
            TF.jacobian(f, tinputs, **kw)
        with pytest.raises(NotImplementedError, match="create_graph=True"):
            PF.jacobian(f, inputs, **kw)
        return
    # torch's forward mode needs vectorize=True; pyad's also runs one pass per element: same values
    want = TF.jacobian(f, tinputs, **dict(kw, vectorize=vectorize or strategy == "forward-mode"))
    got = PF.jacobian(f, inputs, **kw)
    check_same(got, want)
    check_graph(got, want, inputs, tinputs, create_graph)


@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
@pytest.mark.parametrize("vectorize", [False, True])
def test_jacobian_strict_over_every_path(vectorize, strategy):
    # torch supports strict only without vectorize in reverse mode; pyad everywhere, with torch's answer
    x, tx = make_inputs("x")
    xw, txw = make_inputs("xw")

    def partly_independent(x, w):
        return x.exp(), (x * 2.0).sum()

    kw = dict(vectorize=vectorize, strategy=strategy)
    check_same(PF.jacobian(f_tuple_both, xw, strict=True, **kw), TF.jacobian(f_tuple_both, txw, strict=True))
    with pytest.raises(RuntimeError) as want:
        TF.jacobian(partly_independent, txw, strict=True)
    with pytest.raises(RuntimeError, match=re.escape(str(want.value))):
        PF.jacobian(partly_independent, xw, strict=True, **kw)
    # non-strict: the mathematically right zeros
    check_same(PF.jacobian(partly_independent, xw, **kw), TF.jacobian(partly_independent, txw))
    check_same(PF.jacobian(f_single, x, strict=True, **kw), TF.jacobian(f_single, tx, strict=True))


def test_jacobian_strict_output_without_grad():
    xw, txw = make_inputs("xw")

    def constant(x, w):
        return pyad.ones(2, dtype=F64) if isinstance(x, pyad.Tensor) else torch.ones(2, dtype=torch.float64)

    with pytest.raises(RuntimeError) as want:
        TF.jacobian(constant, txw, strict=True)
    with pytest.raises(RuntimeError, match=re.escape(str(want.value))):
        PF.jacobian(constant, xw, strict=True)
    check_same(PF.jacobian(constant, xw), TF.jacobian(constant, txw))


def test_jacobian_strict_with_create_graph_of_a_linear_function():
    x, tx = make_inputs("x")

    def linear(v):
        return v * 3.0

    with pytest.raises(RuntimeError) as want:
        TF.jacobian(linear, tx, strict=True, create_graph=True)
    with pytest.raises(RuntimeError, match=re.escape(str(want.value))):
        PF.jacobian(linear, x, strict=True, create_graph=True)


class CountingExp(Function):
    backward_calls = 0
    handles_batch_dims = True  # so a batched backward reaches it as one call (else pyad calls it per element)

    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        CountingExp.backward_calls += 1
        (y,) = ctx.saved_tensors
        return g * y

    @staticmethod
    def jvp(ctx, t):
        return t * ctx.saved_tensors[0]


def test_vectorize_uses_the_batched_passes():
    x, tx = make_inputs("x")
    want = TF.jacobian(lambda v: v.exp(), tx)
    for vectorize, backward_calls in ((False, 3), (True, 1)):  # one backward per element, or one batched
        CountingExp.backward_calls = 0
        check_same(PF.jacobian(CountingExp.apply, x, vectorize=vectorize), want)
        assert CountingExp.backward_calls == backward_calls
    calls = []

    def counted(v):
        calls.append(1)
        return v.exp()

    for vectorize, forward_calls in ((False, 3), (True, 1)):  # one forward pass per element, or one batched
        calls.clear()
        check_same(PF.jacobian(counted, x, vectorize=vectorize, strategy="forward-mode"), want)
        assert len(calls) == forward_calls
    CountingExp.backward_calls = 0
    check_same(PF.jacobian(CountingExp.apply, x, vectorize=True, strategy="forward-mode"), want)
    assert CountingExp.backward_calls == 0  # forward mode: no backward pass at all


def test_jacobian_argument_errors_as_torch():
    x, tx = make_inputs("x")
    for bad, tbad in (([1.0, 2.0], [1.0, 2.0]), ((x, 2.0), (tx, 2.0))):
        with pytest.raises(TypeError) as want:
            TF.jacobian(f_single, tbad)
        with pytest.raises(TypeError, match=re.escape(str(want.value).split(" but ")[0])):
            PF.jacobian(f_single, bad)
    with pytest.raises(Exception) as want:
        TF.jacobian(f_single, tx, strategy="sideways")
    with pytest.raises(Exception, match="forward-mode"):
        PF.jacobian(f_single, x, strategy="sideways")


# ---------------------------------------------------------------- hessian
@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
@pytest.mark.parametrize("vectorize", [False, True])
@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("fun", list(SCALAR_FUNS))
def test_hessian(fun, create_graph, vectorize, strategy):
    f, which = SCALAR_FUNS[fun]
    inputs, tinputs = make_inputs(which, requires_grad=create_graph)
    kw = dict(create_graph=create_graph, vectorize=vectorize, outer_jacobian_strategy=strategy)
    if strategy == "forward-mode" and create_graph:
        with pytest.raises(NotImplementedError):
            TF.hessian(f, tinputs, **kw)
        with pytest.raises(NotImplementedError):
            PF.hessian(f, inputs, **kw)
        return
    want = TF.hessian(f, tinputs, **dict(kw, vectorize=vectorize or strategy == "forward-mode"))
    got = PF.hessian(f, inputs, **kw)
    check_same(got, want)
    check_graph(got, want, inputs, tinputs, create_graph)


def test_hessian_strict_and_output_checks_as_torch():
    x, tx = make_inputs("x")
    cases = [
        (lambda v: (v * 2.0).sum(), dict(strict=True)),  # linear: its jacobian is constant
        (lambda v: v.exp(), {}),  # not a single element
        (lambda v: (v.exp().sum(), v.sum()), {}),
    ]  # not a single Tensor
    for f, kw in cases:
        with pytest.raises(RuntimeError) as want:
            TF.hessian(f, tx, **kw)
        with pytest.raises(RuntimeError, match=re.escape(str(want.value))):
            PF.hessian(f, x, **kw)
    check_same(PF.hessian(lambda v: (v * 2.0).sum(), x), TF.hessian(lambda v: (v * 2.0).sum(), tx))


# ---------------------------------------------------------------- vjp, jvp, hvp, vhp
def v_like(inputs, tinputs, scale=0.5):
    if isinstance(inputs, tuple):
        vs = tuple(
            pyad.tensor(np.linspace(-scale, scale, t.numel()).reshape(tuple(t.shape)), dtype=F64) for t in inputs
        )
        return vs, tuple(to_torch(v) for v in vs)
    v = pyad.tensor(np.linspace(-scale, scale, inputs.numel()).reshape(tuple(inputs.shape)), dtype=F64)
    return v, to_torch(v)


PRODUCT_CASES = (
    [("vjp", f) for f in JAC_FUNS]
    + [("jvp", f) for f in JAC_FUNS]
    + [("hvp", f) for f in SCALAR_FUNS]
    + [("vhp", f) for f in SCALAR_FUNS]
)


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("name,fun", PRODUCT_CASES)
def test_products(name, fun, create_graph, strict):
    f, which = (SCALAR_FUNS if name in ("hvp", "vhp") else JAC_FUNS)[fun]
    inputs, tinputs = make_inputs(which, requires_grad=create_graph)
    if name == "vjp":
        with torch.no_grad():
            touts = f(*(tinputs if isinstance(tinputs, tuple) else (tinputs,)))
        outs = (
            tuple(pyad.tensor(o.numpy(), dtype=F64) for o in touts)
            if isinstance(touts, tuple)
            else pyad.tensor(touts.numpy(), dtype=F64)
        )
        v, tv = v_like(outs, touts)
    else:
        v, tv = v_like(inputs, tinputs)
    kw = dict(create_graph=create_graph, strict=strict)
    want = getattr(TF, name)(f, tinputs, tv, **kw)
    got = getattr(PF, name)(f, inputs, v, **kw)
    assert isinstance(got, tuple) and len(got) == 2
    check_same(got, want)
    check_graph(got[1], want[1], inputs, tinputs, create_graph)


@pytest.mark.parametrize("name", ["vjp", "jvp", "hvp", "vhp"])
def test_v_may_be_omitted_for_one_element(name):
    x = pyad.tensor([0.7], dtype=F64)
    tx = to_torch(x)
    f = (lambda v: (v.exp() * v.sin()).sum()) if name in ("hvp", "vhp") else (lambda v: (v.exp() * v).sin())
    check_same(getattr(PF, name)(f, x), getattr(TF, name)(f, tx))
    xs, txs = make_inputs("x")
    with pytest.raises(RuntimeError) as want:
        getattr(TF, name)(f_single if name in ("vjp", "jvp") else s_single, txs)
    with pytest.raises(RuntimeError, match=re.escape(str(want.value))):
        getattr(PF, name)(f_single if name in ("vjp", "jvp") else s_single, xs)


def _independent_of_w(x, w):
    return (x * x).sin().sum()


@pytest.mark.parametrize("name", ["vjp", "jvp", "hvp", "vhp"])
def test_products_strict_errors_as_torch(name):
    xw, txw = make_inputs("xw")
    if name == "vjp":
        v, tv = pyad.tensor(1.0, dtype=F64), torch.tensor(1.0, dtype=torch.float64)
    else:
        v, tv = v_like(xw, txw)
    for f in (_independent_of_w, lambda x, w: (x * 3.0 + w.sum()).sum()):  # w unused; a linear function
        try:
            want = getattr(TF, name)(f, txw, tv, strict=True)
        except RuntimeError as e:
            with pytest.raises(RuntimeError, match=re.escape(str(e))):
                getattr(PF, name)(f, xw, v, strict=True)
        else:
            check_same(getattr(PF, name)(f, xw, v, strict=True), want)
        # non-strict: zeros where torch gives them
        check_same(getattr(PF, name)(f, xw, v), getattr(TF, name)(f, txw, tv))


@pytest.mark.parametrize("name", ["vjp", "jvp", "hvp", "vhp"])
def test_products_validate_v_as_torch(name):
    xw, txw = make_inputs("xw")
    f = f_tuple_in if name in ("vjp", "jvp") else s_tuple
    bad = [
        (pyad.ones(5, dtype=F64), torch.ones(5, dtype=torch.float64)),
        ((pyad.ones(3, dtype=F64),), (torch.ones(3, dtype=torch.float64),)),
    ]
    for v, tv in bad:
        with pytest.raises(RuntimeError) as want:
            getattr(TF, name)(f, txw, tv)
        with pytest.raises(RuntimeError, match=re.escape(str(want.value).split(":")[0])):
            getattr(PF, name)(f, xw, v)


def test_inputs_are_left_alone():
    xw, _ = make_inputs("xw", requires_grad=True)
    before = [t.numpy(force=True).copy() for t in xw]
    PF.jacobian(f_tuple_both, xw)
    PF.hessian(s_tuple, xw, create_graph=True)
    PF.vjp(f_tuple_in, xw, pyad.ones(2, dtype=F64))
    for t, b in zip(xw, before):
        np.testing.assert_array_equal(t.numpy(force=True), b)
        assert t.grad is None and t.is_leaf
