"""Custom Functions (pyad.autograd.Function): PyTorch's contract, compared with torch.autograd.Function, plus
pyad's check that a create_graph backward does not read graph tensors stashed on ctx. Every test runs on each device
(the `device` fixture of conftest.py); the leak checks count the bytes of the device the test runs on."""

import gc

import numpy as np
import pytest
import torch

import pyad
from pyad.autograd import Function, GradcheckError, gradcheck, gradgradcheck

try:  # pytest's --import-mode=importlib (the project's setting) registers the conftest as tests.conftest
    from tests.conftest import assert_close, memory_allocated, to_torch
except ImportError:  # prepend/append import modes
    from conftest import assert_close, memory_allocated, to_torch

pytestmark = pytest.mark.usefixtures("device")

F64 = pyad.float64
F32 = pyad.float32
EXTREMES = [-100.0, -10.0, 0.0, 10.0, 100.0]


# ---------------------------------------------------------------- the Functions under test
class StableSoftplus(Function):
    """softplus(x) = max(x, 0) + log1p(exp(-|x|)): never overflows; d/dx = sigmoid(x)."""

    jvp_calls = 0

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return pyad.maximum(x, pyad.zeros_like(x)) + pyad.log1p(pyad.exp(-x.abs()))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * pyad.sigmoid(x)

    @staticmethod
    def jvp(ctx, tangent):
        StableSoftplus.jvp_calls += 1
        (x,) = ctx.saved_tensors
        return tangent * pyad.sigmoid(x)


class TorchStableSoftplus(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.clamp(x, min=0) + torch.log1p(torch.exp(-x.abs()))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * torch.sigmoid(x)


class SignSTE(Function):
    """Straight-through estimator: forward sign(x), backward the identity."""

    @staticmethod
    def forward(ctx, x):
        return pyad.sign(x)

    @staticmethod
    def backward(ctx, grad):
        return grad


class RoundSTE(Function):
    """Straight-through estimator: forward round (through NumPy: a forward may leave pyad), backward identity."""

    @staticmethod
    def forward(ctx, x):
        return pyad.tensor(np.round(x.detach().numpy()), dtype=x.dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad


class TorchSignSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.sign(x)

    @staticmethod
    def backward(ctx, grad):
        return grad


class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 3 * x * x * grad

    @staticmethod
    def jvp(ctx, tangent):
        (x,) = ctx.saved_tensors
        return 3 * x * x * tangent


class TorchCube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 3 * x * x * grad


class MulExp(Function):
    """Two inputs, output saved: y = a * exp(b)."""

    @staticmethod
    def forward(ctx, a, b):
        y = a * pyad.exp(b)
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, grad):
        a, b, y = ctx.saved_tensors
        return grad * pyad.exp(b), grad * y

    @staticmethod
    def jvp(ctx, ta, tb):
        a, b, y = ctx.saved_tensors
        return ta * pyad.exp(b) + tb * y


class TorchMulExp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b):
        y = a * torch.exp(b)
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, grad):
        a, b, y = ctx.saved_tensors
        return grad * torch.exp(b), grad * y


class SinCos(Function):
    """Two outputs."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return pyad.sin(x), pyad.cos(x)

    @staticmethod
    def backward(ctx, gs, gc_):
        (x,) = ctx.saved_tensors
        return gs * pyad.cos(x) - gc_ * pyad.sin(x)

    @staticmethod
    def jvp(ctx, t):
        (x,) = ctx.saved_tensors
        return t * pyad.cos(x), -t * pyad.sin(x)


class TorchSinCos(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.sin(x), torch.cos(x)

    @staticmethod
    def backward(ctx, gs, gc_):
        (x,) = ctx.saved_tensors
        return gs * torch.cos(x) - gc_ * torch.sin(x)


class TripleAndSame(Function):
    """Returns (3x, x): the second output is the input as is."""

    @staticmethod
    def forward(ctx, x):
        return x * 3, x

    @staticmethod
    def backward(ctx, g3, g1):
        return g3 * 3 + g1


class TorchTripleAndSame(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 3, x

    @staticmethod
    def backward(ctx, g3, g1):
        return g3 * 3 + g1


class Scale(Function):
    """Non-tensor arguments: forward(ctx, x, factor, label) -> x * factor."""

    @staticmethod
    def forward(ctx, x, factor, label):
        ctx.factor = factor
        ctx.label = label
        return x * factor

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.factor, None, None


class TorchScale(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, factor, label):
        ctx.factor = factor
        return x * factor

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.factor, None, None


class Identity(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 1.0

    @staticmethod
    def backward(ctx, grad):
        return grad


def leaf(values, dtype=F64):
    x = pyad.tensor(values, dtype=dtype, requires_grad=True)
    return x, to_torch(x)


def randn_leaf(*shape, dtype=F64):
    return leaf(np.random.randn(*shape), dtype)


# ---------------------------------------------------------------- the stable softplus
@pytest.mark.parametrize("dtype", [F64, F32])
def test_stable_softplus_values_and_grads_at_extremes_match_torch(dtype):
    x, tx = leaf(EXTREMES, dtype)
    y = StableSoftplus.apply(x)
    ty = torch.nn.functional.softplus(tx)
    assert np.isfinite(y.detach().numpy()).all()
    assert_close(y, ty)
    y.sum().backward()
    ty.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    assert_close(x.grad, tx.grad)
    # A non-trivial upstream gradient as well.
    x.grad = None
    tx.grad = None
    w = np.linspace(-2, 3, 5)
    (StableSoftplus.apply(x) * pyad.tensor(w, dtype=dtype)).sum().backward()
    (torch.nn.functional.softplus(tx) * torch.tensor(w, dtype=tx.dtype)).sum().backward()
    assert_close(x.grad, tx.grad)


def test_stable_softplus_grad_fn_name_and_structure():
    x, _ = leaf(EXTREMES)
    y = StableSoftplus.apply(x)
    assert y.requires_grad and not y.is_leaf
    assert y.grad_fn.name() == "StableSoftplusBackward"
    ((fn, idx),) = y.grad_fn.next_functions
    assert fn.name() == "AccumulateGrad" and fn.variable is x


def test_stable_softplus_matches_torch_custom_function_on_random_inputs():
    x, tx = randn_leaf(4, 5)
    x10 = x * 10
    tx10 = tx * 10
    y = StableSoftplus.apply(x10)
    ty = TorchStableSoftplus.apply(tx10)
    assert_close(y, ty)
    g = np.random.randn(4, 5)
    y.backward(pyad.tensor(g))
    ty.backward(torch.tensor(g))
    assert_close(x.grad, tx.grad)


def test_forward_runs_without_recording():
    seen = {}

    class Probe(Function):
        @staticmethod
        def forward(ctx, x):
            y = x * 2
            seen["grad_enabled"] = pyad.is_grad_enabled()
            seen["requires_grad"] = y.requires_grad
            return y

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x, _ = randn_leaf(3)
    y = Probe.apply(x)
    assert seen == {"grad_enabled": False, "requires_grad": False}
    assert y.requires_grad and pyad.is_grad_enabled()


def test_apply_under_no_grad_records_nothing():
    x, _ = randn_leaf(3)
    with pyad.no_grad():
        y = StableSoftplus.apply(x)
    assert not y.requires_grad and y.grad_fn is None


# ---------------------------------------------------------------- straight-through estimators
def test_sign_straight_through_estimator_matches_torch():
    x, tx = randn_leaf(10)
    y = SignSTE.apply(x)
    ty = TorchSignSTE.apply(tx)
    assert_close(y, ty)
    w = np.random.randn(10)
    (y * pyad.tensor(w)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    assert_close(x.grad, tx.grad)
    np.testing.assert_array_equal(x.grad.numpy(), w)  # the identity, although sign' = 0


def test_round_straight_through_estimator_in_a_quantised_layer():
    Wn = np.random.randn(4, 3)
    x, tx = leaf(np.random.randn(5, 4) * 3)
    W, tW = leaf(Wn)
    y = RoundSTE.apply(x) @ W
    np.testing.assert_array_equal(RoundSTE.apply(x).detach().numpy(), np.round(x.detach().numpy()))
    ty = (tx.round() + (tx - tx.detach())) @ tW  # torch's usual spelling of the STE
    assert_close(y, ty)
    y.sum().backward()
    ty.sum().backward()
    assert_close(x.grad, tx.grad)
    assert_close(W.grad, tW.grad)


def test_straight_through_estimator_fails_gradcheck_by_design():
    # Its backward is deliberately not the derivative of forward: gradcheck must notice.
    x = pyad.tensor([0.3, -1.2, 2.6], dtype=F64, requires_grad=True)
    assert gradcheck(RoundSTE.apply, (x,), raise_exception=False) is False
    with pytest.raises(GradcheckError):
        gradcheck(SignSTE.apply, (x,))


# ---------------------------------------------------------------- graph structure
def test_function_used_twice_in_one_graph():
    x, tx = randn_leaf(6)

    def f(lib_cube, lib_sp, a):
        b = lib_cube(a)
        return lib_cube(b * 0.5) + lib_sp(b) * lib_sp(a)

    y = f(Cube.apply, StableSoftplus.apply, x)
    ty = f(TorchCube.apply, TorchStableSoftplus.apply, tx)
    assert_close(y, ty)
    y.sum().backward()
    ty.sum().backward()
    assert_close(x.grad, tx.grad)


def test_same_function_applied_to_same_tensor_twice():
    x, tx = randn_leaf(4)
    (Cube.apply(x) * Cube.apply(x)).sum().backward()
    (TorchCube.apply(tx) * TorchCube.apply(tx)).sum().backward()
    assert_close(x.grad, tx.grad)


def test_two_tensor_inputs_one_not_requiring_grad():
    a, ta = randn_leaf(3)
    b = pyad.randn(3, dtype=F64)
    tb = to_torch(b)
    y = MulExp.apply(a, b)
    ty = TorchMulExp.apply(ta, tb)
    assert_close(y, ty)
    y.sum().backward()
    ty.sum().backward()
    assert_close(a.grad, ta.grad)
    assert b.grad is None


def test_multiple_outputs_match_torch():
    x, tx = randn_leaf(5)
    s, c = SinCos.apply(x)
    ts, tc = TorchSinCos.apply(tx)
    assert_close(s, ts)
    assert_close(c, tc)
    assert s.grad_fn is c.grad_fn
    (s * 2 + c * c).sum().backward()
    (ts * 2 + tc * tc).sum().backward()
    assert_close(x.grad, tx.grad)


def test_multiple_outputs_only_one_used_gets_zero_grad_for_the_other():
    x, tx = randn_leaf(5)
    s, _ = SinCos.apply(x)
    ts, _ = TorchSinCos.apply(tx)
    s.sum().backward()
    ts.sum().backward()
    assert_close(x.grad, tx.grad)


def test_returning_an_input_as_is_matches_torch():
    x, tx = randn_leaf(4)
    a, b = TripleAndSame.apply(x)
    ta, tb = TorchTripleAndSame.apply(tx)
    assert b is not x  # a fresh tensor carrying the Function's history, as torch
    assert tb is not tx
    assert b.grad_fn is not None and b.grad_fn.name() == "TripleAndSameBackward"
    assert_close(b, tb)
    (a.sum() + (b * b).sum()).backward()
    (ta.sum() + (tb * tb).sum()).backward()
    assert_close(x.grad, tx.grad)


class Same(Function):
    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, g):
        return g


class TorchSame(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, g):
        return g


def test_in_place_on_a_leaf_returned_as_is_raises_like_torch():
    # torch: "Output 0 of TorchSame is a view and is being modified inplace. This view was created inside a custom
    # Function (or because an input was returned as-is) ..."; pyad's own x[:].add_(1) / x.view_as(x).add_(1)
    # refuse a leaf that requires grad as well.
    tx = torch.randn(3, dtype=torch.float64, requires_grad=True)
    with pytest.raises(RuntimeError):
        TorchSame.apply(tx).add_(1.0)
    x, _ = randn_leaf(3)
    before = x.detach().numpy().copy()
    with pytest.raises(RuntimeError):
        Same.apply(x).add_(1.0)
    np.testing.assert_array_equal(x.detach().numpy(), before)


def test_in_place_on_a_non_leaf_returned_as_is_raises_like_torch():
    # Without the error the shared storage changes under h's graph and the gradient is silently wrong.
    ta = torch.randn(3, dtype=torch.float64, requires_grad=True)
    with pytest.raises(RuntimeError):
        TorchSame.apply(ta * 2).mul_(3.0)
    a, _ = randn_leaf(3)
    h = a * 2
    with pytest.raises(RuntimeError):
        Same.apply(h).mul_(3.0)


# ---------------------------------------------------------------- arguments and ctx
def test_non_tensor_arguments_get_none_gradients():
    x, tx = randn_leaf(3)
    y = Scale.apply(x, 2.5, "label")
    ty = TorchScale.apply(tx, 2.5, "label")
    assert_close(y, ty)
    y.sum().backward()
    ty.sum().backward()
    assert_close(x.grad, tx.grad)


def test_tensor_argument_without_requires_grad_gets_none_through_grad():
    a, _ = randn_leaf(3)
    b = pyad.randn(3, dtype=F64)

    class OnlyFirst(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g * 2, None

    c = b.detach().requires_grad_(True)
    ga, gc_ = pyad.autograd.grad(OnlyFirst.apply(a, c).sum(), (a, c), allow_unused=True)
    assert gc_ is None
    np.testing.assert_array_equal(ga.numpy(), np.full(3, 2.0))


def test_gradient_for_non_tensor_argument_raises_naming_the_function():
    class BadNonTensor(Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g * 2, g

    x, _ = randn_leaf(3)
    with pytest.raises(RuntimeError, match="BadNonTensor"):
        BadNonTensor.apply(x, 2.0).sum().backward()


def test_trailing_none_gradients_beyond_arguments_are_allowed():
    class Extra(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2, None, None

    x, _ = randn_leaf(3)
    Extra.apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 2.0))


def _needs_input_grad_of(fn_base, make):
    seen = {}

    if fn_base is Function:

        class Probe(Function):
            @staticmethod
            def forward(ctx, a, k, b):
                seen["forward"] = tuple(ctx.needs_input_grad)
                return a * b * k

            @staticmethod
            def backward(ctx, g):
                seen["backward"] = tuple(ctx.needs_input_grad)
                return g, None, g
    else:

        class Probe(torch.autograd.Function):
            @staticmethod
            def forward(ctx, a, k, b):
                seen["forward"] = tuple(ctx.needs_input_grad)
                return a * b * k

            @staticmethod
            def backward(ctx, g):
                seen["backward"] = tuple(ctx.needs_input_grad)
                return g, None, g

    make(Probe)
    return seen


def test_needs_input_grad_matches_torch():
    a, ta = randn_leaf(3)
    b = pyad.randn(3, dtype=F64)
    tb = to_torch(b)
    got = _needs_input_grad_of(Function, lambda P: P.apply(a, 2.0, b).sum().backward())
    want = _needs_input_grad_of(torch.autograd.Function, lambda P: P.apply(ta, 2.0, tb).sum().backward())
    assert got == want == {"forward": (True, False, False), "backward": (True, False, False)}
    both = b.detach().requires_grad_(True)
    got = _needs_input_grad_of(Function, lambda P: P.apply(a, 2.0, both).sum().backward())
    assert got == {"forward": (True, False, True), "backward": (True, False, True)}


def test_needs_input_grad_under_no_grad_is_all_false():
    # pyad's choice (torch reports the inputs' requires_grad even under no_grad): no backward can follow.
    a, _ = randn_leaf(3)
    with pyad.no_grad():
        got = _needs_input_grad_of(Function, lambda P: P.apply(a, 2.0, a))
    assert got == {"forward": (False, False, False)}


class SortWithRank(Function):
    """Sorted values and the (float) permutation, marked non-differentiable."""

    @staticmethod
    def forward(ctx, x):
        xs = x.detach().numpy()
        v = pyad.tensor(np.sort(xs), dtype=x.dtype)
        rank = pyad.tensor(np.argsort(xs).astype(np.float64), dtype=x.dtype)
        ctx.mark_non_differentiable(rank)
        ctx.order = np.argsort(xs)
        return v, rank

    @staticmethod
    def backward(ctx, gv, grank):
        out = np.zeros(len(ctx.order))
        out[ctx.order] = gv.numpy()
        return pyad.tensor(out, dtype=gv.dtype)


def test_mark_non_differentiable_output_does_not_require_grad():
    x, tx = randn_leaf(5)
    v, rank = SortWithRank.apply(x)
    tv, ti = torch.sort(tx)
    assert v.requires_grad and v.grad_fn.name() == "SortWithRankBackward"
    assert not rank.requires_grad and rank.grad_fn is None
    assert_close(v, tv)
    np.testing.assert_array_equal(rank.numpy(), ti.numpy())


def test_mark_non_differentiable_backward_matches_torch_sort():
    # backward(ctx, gv, grank) takes one gradient per output, as torch's contract says.
    x, tx = randn_leaf(5)
    v, _ = SortWithRank.apply(x)
    (v * pyad.arange(5, dtype=F64)).sum().backward()
    tv, _ = torch.sort(tx)
    (tv * torch.arange(5, dtype=torch.float64)).sum().backward()
    assert_close(x.grad, tx.grad)


def test_backward_receives_a_gradient_for_every_output_even_non_differentiable_ones():
    # torch: "You still need to accept a gradient for each output in backward(), but it's always going to be a
    # zero tensor" for outputs marked non-differentiable (and None with set_materialize_grads(False)); integer
    # outputs are non-differentiable as well and get a zero gradient too.
    got = {}

    class WithIndex(Function):
        @staticmethod
        def forward(ctx, x):
            idx = x * 0.0
            ctx.mark_non_differentiable(idx)
            return x * 2, idx

        @staticmethod
        def backward(ctx, g, gidx):
            got["gidx"] = None if gidx is None else gidx.numpy().tolist()
            return g * 2

    class TorchWithIndex(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            idx = x * 0.0
            ctx.mark_non_differentiable(idx)
            return x * 2, idx

        @staticmethod
        def backward(ctx, g, gidx):
            got["torch_gidx"] = gidx.numpy().tolist()
            return g * 2

    x, tx = randn_leaf(3)
    y, _ = WithIndex.apply(x)
    ty, _ = TorchWithIndex.apply(tx)
    ty.sum().backward()
    y.sum().backward()
    assert_close(x.grad, tx.grad)
    assert got["gidx"] == got["torch_gidx"] == [0.0, 0.0, 0.0]


def test_backward_receives_a_gradient_for_integer_outputs():
    class WithArgsort(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, pyad.tensor(np.argsort(x.detach().numpy()))

        @staticmethod
        def backward(ctx, g, gi):
            return g * 2

    x, _ = randn_leaf(3)
    y, i = WithArgsort.apply(x)
    assert i.dtype == pyad.int64 and not i.requires_grad
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 2.0))


def test_set_materialize_grads_false_gives_none_for_unused_outputs():
    got = {}

    class Pair(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            ctx.save_for_backward(x)
            return x * 2, x * x

        @staticmethod
        def backward(ctx, g2, gsq):
            got["g2"], got["gsq"] = g2, gsq
            (x,) = ctx.saved_tensors
            out = None
            if g2 is not None:
                out = g2 * 2
            if gsq is not None:
                out = gsq * 2 * x if out is None else out + gsq * 2 * x
            return out

    class TorchPair(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            ctx.save_for_backward(x)
            return x * 2, x * x

        @staticmethod
        def backward(ctx, g2, gsq):
            got["torch_g2"], got["torch_gsq"] = g2, gsq
            (x,) = ctx.saved_tensors
            return g2 * 2

    x, tx = randn_leaf(4)
    a, _ = Pair.apply(x)
    ta, _ = TorchPair.apply(tx)
    a.sum().backward()
    ta.sum().backward()
    assert got["gsq"] is None and got["torch_gsq"] is None
    assert_close(got["g2"], got["torch_g2"])
    assert_close(x.grad, tx.grad)
    # Both used: both gradients arrive.
    x.grad = None
    a, b = Pair.apply(x)
    (a + b).sum().backward()
    assert got["g2"] is not None and got["gsq"] is not None
    np.testing.assert_allclose(x.grad.numpy(), 2 + 2 * x.detach().numpy())


def test_materialize_grads_default_gives_zeros_for_unused_outputs():
    got = {}

    class Pair(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g2, g3):
            got["g3"] = g3
            return g2 * 2 + g3 * 3

    x, _ = randn_leaf(4)
    Pair.apply(x)[0].sum().backward()
    assert isinstance(got["g3"], pyad.Tensor)
    np.testing.assert_array_equal(got["g3"].numpy(), np.zeros(4))
    assert got["g3"].dtype == F64


# ---------------------------------------------------------------- saved tensors and versions
def test_modifying_a_saved_input_in_place_raises_version_error():
    x0, _ = randn_leaf(3)
    x = x0 * 1.0
    y = Cube.apply(x)
    x.mul_(2.0)
    with pytest.raises(RuntimeError, match="version"):
        y.sum().backward()


def test_modifying_a_saved_output_in_place_raises_version_error():
    a, _ = randn_leaf(3)
    b = pyad.randn(3, dtype=F64)
    y = MulExp.apply(a, b)  # saves its output y
    y.add_(1.0)
    with pytest.raises(RuntimeError, match="version"):
        y.sum().backward()


def test_torch_agrees_on_the_version_error():
    tx0 = torch.randn(3, dtype=torch.float64, requires_grad=True)
    tx = tx0 * 1.0
    ty = TorchCube.apply(tx)
    tx.mul_(2.0)
    with pytest.raises(RuntimeError, match="version"):
        ty.sum().backward()


def test_unmodified_saved_tensors_read_back_with_their_values():
    a, ta = randn_leaf(3)
    b, tb = randn_leaf(3)
    y = MulExp.apply(a, b)
    ty = TorchMulExp.apply(ta, tb)
    z = y * 1.0  # other uses of the output do not bump its version
    tz = ty * 1.0
    (z * y).sum().backward()
    (tz * ty).sum().backward()
    assert_close(a.grad, ta.grad)
    assert_close(b.grad, tb.grad)


def test_saved_tensors_without_graph_are_kept_as_given():
    ctxs = []

    class Keep(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, None)
            ctxs.append(ctx)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = pyad.randn(3, dtype=F64)  # no input requires grad: no node is made
    y = Keep.apply(x)
    assert not y.requires_grad and y.grad_fn is None
    saved = ctxs[0].saved_tensors
    assert len(saved) == 2 and saved[0] is x and saved[1] is None


def test_save_for_backward_rejects_non_tensors():
    class SaveFloat(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, 3.0)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x, _ = randn_leaf(3)
    with pytest.raises(TypeError, match="SaveFloat"):
        SaveFloat.apply(x)


# ---------------------------------------------------------------- higher order
@pytest.mark.parametrize("name", ["softplus", "cube", "mulexp", "sincos"])
def test_double_backward_matches_torch(name):
    x, tx = randn_leaf(5)
    b, tb = randn_leaf(5)
    fns = {
        "softplus": (lambda v, w: StableSoftplus.apply(v * 3) * w, lambda v, w: TorchStableSoftplus.apply(v * 3) * w),
        "cube": (lambda v, w: Cube.apply(v) * w, lambda v, w: TorchCube.apply(v) * w),
        "mulexp": (lambda v, w: MulExp.apply(v, w), lambda v, w: TorchMulExp.apply(v, w)),
        "sincos": (
            lambda v, w: SinCos.apply(v)[0] * SinCos.apply(w)[1] + SinCos.apply(v)[1],
            lambda v, w: TorchSinCos.apply(v)[0] * TorchSinCos.apply(w)[1] + TorchSinCos.apply(v)[1],
        ),
    }
    pf, tf = fns[name]
    gx, gb = pyad.autograd.grad(pf(x, b).sum(), (x, b), create_graph=True)
    tgx, tgb = torch.autograd.grad(tf(tx, tb).sum(), (tx, tb), create_graph=True)
    assert_close(gx, tgx)
    assert_close(gb, tgb)
    assert gx.requires_grad
    (gx * gx).sum().backward()
    (tgx * tgx).sum().backward()
    assert_close(x.grad, tx.grad)
    assert_close(b.grad, tb.grad)


def test_third_derivative_of_cube():
    x, tx = leaf([0.5, -1.5, 2.0])
    (g1,) = pyad.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    (g2,) = pyad.autograd.grad(g1.sum(), x, create_graph=True)
    (g3,) = pyad.autograd.grad(g2.sum(), x)
    np.testing.assert_allclose(g1.detach().numpy(), 3 * np.array([0.25, 2.25, 4.0]))
    np.testing.assert_allclose(g2.detach().numpy(), 6 * np.array([0.5, -1.5, 2.0]))
    np.testing.assert_allclose(g3.numpy(), np.full(3, 6.0))


# ---------------------------------------------------------------- forward mode
def test_hessian_through_a_function_both_orders():
    x = pyad.tensor([1.0, -2.0, 0.5], dtype=F64)
    f = lambda v: Cube.apply(StableSoftplus.apply(v)).sum()  # noqa: E731
    tf = lambda v: TorchCube.apply(TorchStableSoftplus.apply(v)).sum()  # noqa: E731
    want = torch.autograd.functional.hessian(tf, to_torch(x))
    assert_close(pyad.func.hessian(f)(x), want)  # forward over reverse
    assert_close(pyad.func.jacrev(pyad.func.jacfwd(f))(x), want)  # reverse over forward (jvp)


def test_forward_mode_jvp_uses_the_functions_jvp():
    x = pyad.tensor(EXTREMES, dtype=F64)
    t = pyad.tensor([1.0, -2.0, 0.5, 3.0, -1.0], dtype=F64)
    before = StableSoftplus.jvp_calls
    out, tangent = pyad.func.jvp(StableSoftplus.apply, (x,), (t,))
    assert StableSoftplus.jvp_calls == before + 1
    tout, ttangent = torch.func.jvp(torch.nn.functional.softplus, (to_torch(x),), (to_torch(t),))
    assert_close(out, tout)
    assert_close(tangent, ttangent)


def test_jacfwd_of_function_matches_torch_jacobian():
    x, tx = leaf([-3.0, 0.2, 1.7])
    before = StableSoftplus.jvp_calls
    J = pyad.func.jacfwd(lambda v: Cube.apply(StableSoftplus.apply(v)))(x.detach())
    assert StableSoftplus.jvp_calls > before
    tJ = torch.autograd.functional.jacobian(lambda v: TorchCube.apply(TorchStableSoftplus.apply(v)), tx.detach())
    assert_close(J, tJ)
    # And jacrev agrees.
    assert_close(pyad.func.jacrev(lambda v: Cube.apply(StableSoftplus.apply(v)))(x.detach()), tJ)


def test_forward_mode_with_two_inputs_and_two_outputs():
    a = pyad.randn(4, dtype=F64)
    b = pyad.randn(4, dtype=F64)
    ta_, tb_ = pyad.randn(4, dtype=F64), pyad.randn(4, dtype=F64)
    _, t = pyad.func.jvp(MulExp.apply, (a, b), (ta_, tb_))
    _, tt = torch.func.jvp(lambda u, v: u * torch.exp(v), (to_torch(a), to_torch(b)), (to_torch(ta_), to_torch(tb_)))
    assert_close(t, tt)
    (s, c), (ts, tc) = pyad.func.jvp(SinCos.apply, (a,), (ta_,))
    (_, _), (tts, ttc) = torch.func.jvp(lambda u: (torch.sin(u), torch.cos(u)), (to_torch(a),), (to_torch(ta_),))
    assert_close(ts, tts)
    assert_close(tc, ttc)


def test_forward_ad_dual_tensor_through_function():
    from pyad.autograd import forward_ad as fwAD

    x = pyad.randn(3, dtype=F64)
    t = pyad.randn(3, dtype=F64)
    with fwAD.dual_level():
        y = Cube.apply(fwAD.make_dual(x, t))
        _, ty = fwAD.unpack_dual(y)
    np.testing.assert_allclose(ty.numpy(), 3 * x.numpy() ** 2 * t.numpy(), rtol=1e-12)


def test_function_without_jvp_raises_naming_it_in_forward_mode():
    x = pyad.randn(3, dtype=F64)
    with pytest.raises(RuntimeError, match="SignSTE"):
        pyad.func.jvp(SignSTE.apply, (x,), (pyad.ones(3, dtype=F64),))
    with pytest.raises(RuntimeError, match="Identity"):
        pyad.func.jacfwd(Identity.apply)(x)
    # Reverse mode is unaffected.
    assert_close(pyad.func.jacrev(Identity.apply)(x), torch.eye(3, dtype=torch.float64))


# ---------------------------------------------------------------- wrong backward results
def test_backward_returning_too_few_gradients_raises_naming_the_function():
    class TooFew(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g

    a, _ = randn_leaf(3)
    b, _ = randn_leaf(3)
    with pytest.raises(RuntimeError, match="TooFew"):
        TooFew.apply(a, b).sum().backward()


def test_backward_returning_too_many_gradients_raises_naming_the_function():
    class TooMany(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2, g

    a, _ = randn_leaf(3)
    with pytest.raises(RuntimeError, match="TooMany"):
        TooMany.apply(a).sum().backward()


@pytest.mark.parametrize("bad", ["scalar", "transposed", "longer"])
def test_backward_returning_a_wrong_shape_raises_naming_the_function(bad):
    class WrongShape(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            if bad == "scalar":
                return g.sum()
            if bad == "transposed":
                return g.T
            return pyad.cat([g, g], 0)

    a, _ = randn_leaf(2, 3)
    with pytest.raises(RuntimeError, match="WrongShape") as err:
        WrongShape.apply(a).sum().backward()
    assert "(2, 3)" in str(err.value)


def test_backward_returning_a_non_tensor_raises_naming_the_function():
    class ReturnsFloat(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return 2.0

    a, _ = randn_leaf(3)
    with pytest.raises((RuntimeError, TypeError), match="ReturnsFloat"):
        ReturnsFloat.apply(a).sum().backward()


def test_jvp_returning_a_wrong_shape_raises_naming_the_function():
    class BadJvp(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

        @staticmethod
        def jvp(ctx, t):
            return t.sum()

    with pytest.raises(RuntimeError, match="BadJvp"):
        pyad.func.jvp(BadJvp.apply, (pyad.randn(3, dtype=F64),), (pyad.randn(3, dtype=F64),))


def test_exception_in_backward_propagates_and_graph_is_usable_again():
    class Boom(Function):
        fail = True

        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * 2

        @staticmethod
        def backward(ctx, g):
            if Boom.fail:
                raise ValueError("boom")
            return g * 2

    a, _ = randn_leaf(3)
    with pytest.raises(ValueError, match="boom"):
        Boom.apply(a).sum().backward()
    Boom.fail = False
    Boom.apply(a).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.full(3, 2.0))


def test_mark_dirty_is_rejected_with_a_message():
    class InPlace(Function):
        @staticmethod
        def forward(ctx, a):
            ctx.mark_dirty(a)
            return a

        @staticmethod
        def backward(ctx, g):
            return g

    a, _ = randn_leaf(3)
    with pytest.raises(RuntimeError, match="InPlace"):
        InPlace.apply(a * 1.0)


# ---------------------------------------------------------------- the stash check
class StashExp(Function):
    """exp with the result stashed on ctx instead of saved: fine for first order, wrong for second."""

    @staticmethod
    def forward(ctx, x):
        ctx.e = x.exp()
        return ctx.e * 1.0

    @staticmethod
    def backward(ctx, g):
        return g * ctx.e


class StashInput(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return x * x

    @staticmethod
    def backward(ctx, g):
        return 2 * ctx.x * g


class StashOutput(Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.out = [y]  # inside a container too
        return y

    @staticmethod
    def backward(ctx, g):
        return g * ctx.out[0]


class StashConstant(Function):
    """Stashes a tensor unrelated to the graph (built from a non-differentiable input): always allowed."""

    @staticmethod
    def forward(ctx, x, w):
        ctx.w = w
        ctx.scale = 2.0
        return x * w * ctx.scale

    @staticmethod
    def backward(ctx, g):
        return g * ctx.w * ctx.scale, None


@pytest.mark.parametrize("fn", [StashExp, StashInput, StashOutput])
def test_stashed_graph_tensor_is_fine_for_first_order(fn):
    x, tx = randn_leaf(4)
    fn.apply(x).sum().backward()
    ref = {StashExp: tx.exp(), StashInput: 2 * tx, StashOutput: tx.exp()}[fn]
    assert_close(x.grad, ref.detach())
    # grad without create_graph also works.
    (g,) = pyad.autograd.grad(fn.apply(x).sum(), x)
    assert_close(g, ref.detach())


@pytest.mark.parametrize("fn", [StashExp, StashInput, StashOutput])
def test_stashed_graph_tensor_raises_under_create_graph_naming_the_function(fn):
    x, _ = randn_leaf(4)
    with pytest.raises(RuntimeError, match=fn.__name__) as err:
        pyad.autograd.grad(fn.apply(x).sum(), x, create_graph=True)
    assert "save_for_backward" in str(err.value)
    with pytest.raises(RuntimeError, match=fn.__name__):
        fn.apply(x).sum().backward(create_graph=True)


def test_stashed_non_graph_tensor_is_allowed_under_create_graph():
    x, tx = randn_leaf(4)
    w = pyad.randn(4, dtype=F64)
    (g,) = pyad.autograd.grad(StashConstant.apply(x, w).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 2 * w.numpy())


def test_saved_instead_of_stashed_gives_correct_second_derivatives():
    # The fixed version of StashExp: second derivative of exp is exp.
    class SavedExp(Function):
        @staticmethod
        def forward(ctx, x):
            e = x.exp()
            ctx.save_for_backward(e)
            return e

        @staticmethod
        def backward(ctx, g):
            (e,) = ctx.saved_tensors
            return g * e

    x, tx = randn_leaf(4)
    (g,) = pyad.autograd.grad(SavedExp.apply(x).sum(), x, create_graph=True)
    (g2,) = pyad.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(g2.numpy(), np.exp(x.detach().numpy()), rtol=1e-12)


# ---------------------------------------------------------------- gradcheck / gradgradcheck
GRADCHECK_CASES = {
    "softplus": (lambda x, b: StableSoftplus.apply(x * 4), True),
    "cube": (lambda x, b: Cube.apply(x), True),
    "mulexp": (lambda x, b: MulExp.apply(x, b), True),
    "sincos": (lambda x, b: SinCos.apply(x), True),
    "triple_and_same": (lambda x, b: TripleAndSame.apply(x), False),
    "scale": (lambda x, b: Scale.apply(x, -1.5, "s"), False),
    "identity": (lambda x, b: Identity.apply(x), False),
}


@pytest.mark.parametrize("name", sorted(GRADCHECK_CASES))
def test_gradcheck_and_gradgradcheck_of_each_function(name):
    fn, has_jvp = GRADCHECK_CASES[name]
    x = pyad.tensor(np.random.randn(2, 3), dtype=F64, requires_grad=True)
    b = pyad.tensor(np.random.randn(2, 3), dtype=F64, requires_grad=True)
    assert gradcheck(fn, (x, b), check_forward_ad=has_jvp)
    assert gradcheck(fn, (x, b), fast_mode=True)
    assert gradgradcheck(fn, (x, b))


def test_gradcheck_of_softplus_at_extremes():
    x = pyad.tensor(EXTREMES, dtype=F64, requires_grad=True)
    assert gradcheck(StableSoftplus.apply, (x,), check_forward_ad=True)
    assert gradgradcheck(StableSoftplus.apply, (x,))


def test_gradcheck_catches_a_wrong_backward():
    class WrongCube(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * x * g

    x = pyad.tensor(np.random.randn(3), dtype=F64, requires_grad=True)
    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        gradcheck(WrongCube.apply, (x,))


# ---------------------------------------------------------------- leaks
def _flat(step, n=2000):
    for _ in range(50):  # warm up caches (lru caches, interned objects, free lists)
        step()
    gc.collect()
    mem0 = memory_allocated()
    obj0 = len(gc.get_objects())
    peak_mem = mem0
    for i in range(n):
        step()
        if i % 100 == 0:
            peak_mem = max(peak_mem, memory_allocated())
    gc.collect()
    return mem0, memory_allocated(), peak_mem, obj0, len(gc.get_objects())


@pytest.mark.parametrize("fn", [StableSoftplus, MulExp, SinCos, StashExp, Scale])
def test_no_leak_over_2000_apply_backward(fn):
    x = pyad.randn(64, dtype=F64, requires_grad=True)
    b = pyad.randn(64, dtype=F64)

    def step():
        if fn is MulExp:
            y = fn.apply(x, b)
        elif fn is Scale:
            y = fn.apply(x, 2.0, "k")
        else:
            y = fn.apply(x)
        if isinstance(y, tuple):
            y = y[0] + y[1]
        y.sum().backward()
        x.grad = None

    mem0, mem1, peak, obj0, obj1 = _flat(step)
    assert mem1 == mem0, f"{mem1 - mem0} bytes leaked"
    assert peak - mem0 <= 64 * 8 * 16, peak - mem0
    assert obj1 - obj0 <= 50, f"{obj1 - obj0} Python objects leaked"


def test_no_reference_cycles_after_backward():
    # Python refs (ctx, the closure, saved tensors) are dropped after backward without the cycle collector.
    x = pyad.randn(64, dtype=F64, requires_grad=True)

    def step():
        MulExp.apply(x, x).sum().backward()
        x.grad = None

    for _ in range(20):
        step()
    gc.collect()
    gc.disable()
    try:
        mem0 = memory_allocated()
        obj0 = len(gc.get_objects())
        for _ in range(2000):
            step()
        assert memory_allocated() == mem0
        assert len(gc.get_objects()) - obj0 <= 50
    finally:
        gc.enable()


def test_no_leak_when_graph_dropped_without_backward_and_with_create_graph():
    x = pyad.randn(64, dtype=F64, requires_grad=True)

    def step():
        y = Cube.apply(StableSoftplus.apply(x))
        del y
        (g,) = pyad.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
        g.sum().backward()
        x.grad = None

    mem0, mem1, _, obj0, obj1 = _flat(step, 1000)
    assert mem1 == mem0
    assert obj1 - obj0 <= 50
