"""Custom Functions under batched transforms: autograd.grad(is_grads_batched=True), jacrev (chunked or not),
jacfwd, hessian, gradcheck and gradgradcheck hand a Function's backward and jvp the cotangents and tangents of
one example, as torch (which runs them under vmap) does. Every Function below has a rule that depends on the
shape it is given (a reduction over dim 0, a reshape, an unsqueeze, a matmul with a saved matrix), so a rule
that saw the batch dims would give a wrong answer or fail. Expected values come from torch.func /
torch.autograd with the same rules in a torch.autograd.Function."""

import numpy as np
import pytest
import torch

import pyad
from pyad.autograd import Function, gradcheck, gradgradcheck

try:  # pytest's --import-mode=importlib (the project's setting) registers the conftest as tests.conftest
    from tests.conftest import assert_close, to_torch
except ImportError:  # prepend/append import modes
    from conftest import assert_close, to_torch

pytestmark = pytest.mark.usefixtures("device")
F64 = pyad.float64


# ---------------------------------------------------------------- rules shared by the pyad and torch twins
# Each rule is written with tensor methods that pyad and torch share; `s` is the tuple of saved inputs.
class Spec:
    def __init__(self, name, shapes, forward, backward, jvp):
        self.name, self.shapes, self.forward, self.backward, self.jvp = name, shapes, forward, backward, jvp


SPECS = [
    Spec(
        "add_bias",
        [(3, 2), (2,)],
        lambda x, b: x + b,
        lambda s, g: (g, g.sum(0)),
        lambda s, tx, tb: tx + tb.reshape(1, 2),
    ),
    Spec("flatten", [(2, 3)], lambda x: x.reshape(6), lambda s, g: (g.reshape(2, 3),), lambda s, t: t.reshape(6)),
    # y = W @ x with both saved: the gradient of W is an outer product laid out by unsqueeze.
    Spec(
        "matvec",
        [(3, 4), (4,)],
        lambda w, x: w @ x,
        lambda s, g: (g.unsqueeze(1) * s[1].unsqueeze(0), s[0].transpose(0, 1) @ g),
        lambda s, tw, tx: tw @ s[1] + s[0] @ tx,
    ),
    # y_i = sum_j x_ij^2: nonlinear, so hessian goes through the saved input's tangent.
    Spec(
        "row_sq",
        [(3, 2)],
        lambda x: (x * x).sum(1),
        lambda s, g: (2 * s[0] * g.unsqueeze(1),),
        lambda s, t: (2 * s[0] * t).sum(1),
    ),
    Spec("col_sum", [(3, 2)], lambda x: x.sum(0), lambda s, g: (g.unsqueeze(0).expand(3, 2),), lambda s, t: t.sum(0)),
]
IDS = [s.name for s in SPECS]


def pyad_fn(spec, **attrs):
    def forward(ctx, *args):
        ctx.save_for_backward(*args)
        return spec.forward(*args)

    def backward(ctx, g):
        return spec.backward(ctx.saved_tensors, g)

    def jvp(ctx, *tangents):
        return spec.jvp(ctx.saved_tensors, *tangents)

    body = dict(forward=staticmethod(forward), backward=staticmethod(backward), jvp=staticmethod(jvp), **attrs)
    return type(spec.name, (Function,), body)


def torch_fn(spec):
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)
        ctx.save_for_forward(*inputs)  # torch's jvp reads these

    def backward(ctx, g):
        return spec.backward(ctx.saved_tensors, g)

    def jvp(ctx, *tangents):
        return spec.jvp(ctx.saved_tensors, *tangents)

    body = dict(
        generate_vmap_rule=True,
        forward=staticmethod(spec.forward),
        setup_context=staticmethod(setup_context),
        backward=staticmethod(backward),
        jvp=staticmethod(jvp),
    )
    return type(spec.name, (torch.autograd.Function,), body)


def inputs(spec, seed=0, requires_grad=False):
    rng = np.random.default_rng(seed)
    return [pyad.tensor(rng.standard_normal(s), dtype=F64, requires_grad=requires_grad) for s in spec.shapes]


def tt(xs, requires_grad=None):
    return [to_torch(x, requires_grad) for x in xs]


def close_nested(actual, expected, msg):
    if isinstance(expected, (tuple, list)):
        assert isinstance(actual, (tuple, list)) and len(actual) == len(expected), msg
        for i, (a, e) in enumerate(zip(actual, expected)):
            close_nested(a, e, f"{msg}[{i}]")
    else:
        assert_close(actual, expected, msg=msg)


# ---------------------------------------------------------------- the example
def test_add_bias_is_grads_batched_matches_torch():
    class AddBias(Function):
        @staticmethod
        def forward(ctx, x, b):
            return x + b

        @staticmethod
        def backward(ctx, g):
            return g, g.sum(0)

    x = pyad.randn(2, 2, dtype=F64, requires_grad=True)
    b = pyad.randn(2, dtype=F64, requires_grad=True)
    seeds = pyad.tensor([[[1.0, 0], [0, 0]], [[0, 1], [0, 0]], [[0, 0], [1, 0]]], dtype=F64)
    (gb,) = pyad.autograd.grad(AddBias.apply(x, b), b, seeds, is_grads_batched=True)
    assert gb.tolist() == [[1, 0], [0, 1], [1, 0]]


# ---------------------------------------------------------------- every transform, every Function
@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_is_grads_batched(spec):
    xs = inputs(spec, requires_grad=True)
    y = pyad_fn(spec).apply(*xs)
    seeds = pyad.tensor(np.random.default_rng(1).standard_normal((5,) + tuple(y.shape)), dtype=F64)
    got = pyad.autograd.grad(y, xs, seeds, is_grads_batched=True)
    txs = tt(xs)
    want = torch.autograd.grad(torch_fn(spec).apply(*txs), txs, to_torch(seeds), is_grads_batched=True)
    close_nested(got, want, spec.name)


@pytest.mark.parametrize("chunk_size", [None, 1, 2])
@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_jacrev(spec, chunk_size):
    xs = inputs(spec)
    argnums = tuple(range(len(xs)))
    got = pyad.func.jacrev(pyad_fn(spec).apply, argnums=argnums, chunk_size=chunk_size)(*xs)
    want = torch.func.jacrev(torch_fn(spec).apply, argnums=argnums, chunk_size=chunk_size)(*tt(xs))
    close_nested(got, want, spec.name)


@pytest.mark.parametrize("chunk_size", [None, 2])
@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_jacfwd(spec, chunk_size):
    xs = inputs(spec)
    argnums = tuple(range(len(xs)))
    got = pyad.func.jacfwd(pyad_fn(spec).apply, argnums=argnums, chunk_size=chunk_size)(*xs)
    want = torch.func.jacfwd(torch_fn(spec).apply, argnums=argnums)(*tt(xs))  # torch.func.jacfwd: no chunk_size
    close_nested(got, want, spec.name)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_hessian(spec):
    xs = inputs(spec)
    argnums = tuple(range(len(xs)))
    pf, tf = pyad_fn(spec), torch_fn(spec)
    got = pyad.func.hessian(lambda *a: pf.apply(*a).sin().sum(), argnums=argnums)(*xs)
    want = torch.func.hessian(lambda *a: tf.apply(*a).sin().sum(), argnums=argnums)(*tt(xs))
    close_nested(got, want, spec.name)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_gradcheck_and_gradgradcheck(spec):
    # torch's gradcheck passes these Functions; so must pyad's, whose Jacobians come from batched passes.
    txs = tt(inputs(spec), requires_grad=True)
    assert torch.autograd.gradcheck(torch_fn(spec).apply, txs, check_forward_ad=True)
    xs = inputs(spec, requires_grad=True)
    fn = pyad_fn(spec)
    for fast in (False, True):
        assert gradcheck(fn.apply, xs, check_forward_ad=True, fast_mode=fast)
        assert gradgradcheck(fn.apply, xs, fast_mode=fast)


def test_gradcheck_still_rejects_a_wrong_backward():
    spec = SPECS[0]
    wrong = Spec("wrong", spec.shapes, spec.forward, lambda s, g: (g, 2 * g.sum(0)), spec.jvp)
    assert not gradcheck(pyad_fn(wrong).apply, inputs(wrong, requires_grad=True), raise_exception=False)


# ---------------------------------------------------------------- interplay with the rest of the contract
def test_create_graph_double_backward_through_per_element_split():
    spec = SPECS[2]  # matvec: dL/dW = outer(g, x) depends on x
    w, x = inputs(spec, requires_grad=True)
    seeds = pyad.tensor(np.random.default_rng(2).standard_normal((4, 3)), dtype=F64)
    c = pyad.tensor(np.random.default_rng(3).standard_normal((4, 3, 4)), dtype=F64)
    (gw,) = pyad.autograd.grad(pyad_fn(spec).apply(w, x), w, seeds, is_grads_batched=True, create_graph=True)
    assert gw.requires_grad
    got = pyad.autograd.grad((gw * c).sum(), [w, x], allow_unused=True)
    tw, tx = tt([w, x])
    (tgw,) = torch.autograd.grad(
        torch_fn(spec).apply(tw, tx), tw, to_torch(seeds), is_grads_batched=True, create_graph=True
    )
    want = torch.autograd.grad((tgw * to_torch(c)).sum(), [tw, tx], allow_unused=True)
    close_nested(got, want, "double backward")


def test_none_and_tensors_mixed_across_elements():
    calls = []

    class ScaleIfNonzero(Function):
        # The gradient of b is None for an element whose cotangent is all zero: a mix across the batch.
        @staticmethod
        def forward(ctx, x, b):
            return x * 2 + b

        @staticmethod
        def backward(ctx, g):
            calls.append(tuple(g.shape))
            return g * 2, (g.sum(0) if float(g.abs().sum()) != 0 else None)

    x = pyad.randn(3, 2, dtype=F64, requires_grad=True)
    b = pyad.randn(2, dtype=F64, requires_grad=True)
    seeds = pyad.tensor([[[1.0, 0], [0, 0], [0, 3]], [[0, 0], [0, 0], [0, 0]], [[0, 2], [1, 0], [0, 0]]], dtype=F64)
    gx, gb = pyad.autograd.grad(ScaleIfNonzero.apply(x, b), [x, b], seeds, is_grads_batched=True)
    assert calls == [(3, 2)] * 3
    assert gx.tolist() == (seeds * 2).tolist()
    assert gb.tolist() == [[1, 3], [0, 0], [1, 2]]
    # None for every element stays None (allow_unused), not a tensor of zeros.
    calls.clear()
    _, gb = pyad.autograd.grad(
        ScaleIfNonzero.apply(x, b), [x, b], pyad.zeros(2, 3, 2, dtype=F64), is_grads_batched=True, allow_unused=True
    )
    assert gb is None and len(calls) == 2


@pytest.mark.parametrize("materialize", [True, False])
def test_materialize_grads_per_element(materialize):
    seen = []

    class TwoOut(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(materialize)
            ctx.save_for_backward(x)
            return x * 2, x.sum(0)

        @staticmethod
        def backward(ctx, g1, g2):
            seen.append((None if g1 is None else tuple(g1.shape), None if g2 is None else tuple(g2.shape)))
            (x,) = ctx.saved_tensors
            r = x * 0
            if g1 is not None:
                r = r + g1 * 2
            if g2 is not None:
                r = r + g2.unsqueeze(0)
            return r

    x = pyad.randn(3, 2, dtype=F64, requires_grad=True)
    seeds = pyad.randn(4, 2, dtype=F64)
    (gx,) = pyad.autograd.grad(TwoOut.apply(x)[1], x, seeds, is_grads_batched=True)
    assert seen == [((3, 2) if materialize else None, (2,))] * 4
    tx = to_torch(x)
    (want,) = torch.autograd.grad(tx.sum(0), tx, to_torch(seeds), is_grads_batched=True)
    assert_close(gx, want)


def test_needs_input_grad_and_non_differentiable_outputs():
    seen = []

    class Affine(Function):
        @staticmethod
        def forward(ctx, x, b):
            ctx.save_for_backward(x)
            idx = x.sum(1)
            ctx.mark_non_differentiable(idx)
            return x + b, idx

        @staticmethod
        def backward(ctx, g, g_idx):
            seen.append((ctx.needs_input_grad, tuple(g.shape), g_idx is None or float(g_idx.abs().sum()) == 0))
            return (g if ctx.needs_input_grad[0] else None), (g.sum(0) if ctx.needs_input_grad[1] else None)

    x = pyad.randn(3, 2, dtype=F64)
    b = pyad.randn(2, dtype=F64, requires_grad=True)
    y, idx = Affine.apply(x, b)
    assert not idx.requires_grad
    seeds = pyad.randn(5, 3, 2, dtype=F64)
    (gb,) = pyad.autograd.grad(y, b, seeds, is_grads_batched=True)
    assert seen == [((False, True), (3, 2), True)] * 5
    assert_close(gb, to_torch(seeds).sum(1))


@pytest.mark.parametrize("declare", ["generate_vmap_rule", "vmap"])
def test_torch_vmap_declarations_keep_per_example_shapes(declare):
    # In torch these rules still see one example's shapes (vmap batches the ops inside them), so pyad runs them
    # per element; pyad has no vmap transform, so a vmap staticmethod is never called.
    spec = SPECS[0]
    shapes = []
    vmap_calls = []

    def vmap(info, in_dims, *args):
        vmap_calls.append(in_dims)
        raise AssertionError("pyad has no vmap transform: the vmap staticmethod must not be called")

    attrs = {"generate_vmap_rule": True} if declare == "generate_vmap_rule" else {"vmap": staticmethod(vmap)}
    base = pyad_fn(spec, **attrs)

    class Recording(base):
        @staticmethod
        def backward(ctx, g):
            shapes.append(("backward", tuple(g.shape)))
            return base.backward(ctx, g)

        @staticmethod
        def jvp(ctx, tx, tb):
            shapes.append(("jvp", tuple(tx.shape), tuple(tb.shape)))
            return base.jvp(ctx, tx, tb)

    xs = inputs(spec)
    got_r = pyad.func.jacrev(Recording.apply, argnums=(0, 1))(*xs)
    got_f = pyad.func.jacfwd(Recording.apply, argnums=(0, 1))(*xs)
    want = torch.func.jacrev(torch_fn(spec).apply, argnums=(0, 1))(*tt(xs))
    close_nested(got_r, want, "jacrev")
    close_nested(got_f, want, "jacfwd")
    assert set(shapes) == {("backward", (3, 2)), ("jvp", (3, 2), (2,))}
    assert not vmap_calls


def test_handles_batch_dims_gets_the_batch_in_one_call():
    shapes = []

    class AddBiasBatched(Function):
        handles_batch_dims = True

        @staticmethod
        def forward(ctx, x, b):
            return x + b

        @staticmethod
        def backward(ctx, g):
            shapes.append(("backward", tuple(g.shape)))
            return g, g.sum(-2)

        @staticmethod
        def jvp(ctx, tx, tb):
            shapes.append(("jvp", tuple(tx.shape), tuple(tb.shape)))
            return tx + tb.unsqueeze(-2)

    xs = inputs(SPECS[0])
    want = torch.func.jacrev(torch_fn(SPECS[0]).apply, argnums=(0, 1))(*tt(xs))
    close_nested(pyad.func.jacrev(AddBiasBatched.apply, argnums=(0, 1))(*xs), want, "jacrev")
    assert shapes == [("backward", (6, 3, 2))]
    shapes.clear()
    close_nested(pyad.func.jacfwd(AddBiasBatched.apply, argnums=(0, 1))(*xs), want, "jacfwd")
    # One pass per argument; the tangent of the other argument is materialised with the batch dims.
    assert shapes == [("jvp", (6, 3, 2), (6, 2)), ("jvp", (2, 3, 2), (2, 2))]


def test_per_element_backward_of_wrong_shape_names_the_function():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g.sum(0)

    x = pyad.randn(3, 2, dtype=F64, requires_grad=True)
    with pytest.raises(
        RuntimeError,
        match=r"\[Bad\] backward returned a gradient of shape \(2,\) for argument 0 "
        r"of shape \(3, 2\)",
    ):
        pyad.autograd.grad(Bad.apply(x), x, pyad.randn(4, 3, 2, dtype=F64), is_grads_batched=True)
