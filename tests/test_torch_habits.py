"""What torch programs do that pyad must take the same way (issue 11, items 5 and 7), each against torch:
integer pow, view(dtype), __format__, the legacy pyad.Tensor constructor, .data, .t(); autograd.grad's and
backward's keywords, checkpoint's use_reentrant, gradcheck's extra checks, make_dual's rules."""

import warnings

import numpy as np
import pytest
import torch
import torch.utils.checkpoint as tcheckpoint

import pyad
from pyad.autograd import Function, GradcheckError, gradcheck, gradgradcheck
from pyad.utils.checkpoint import checkpoint, checkpoint_sequential

try:
    from tests.conftest import TORCH_DTYPE, assert_close, to_torch
except ImportError:
    from conftest import TORCH_DTYPE, assert_close, to_torch

F64 = pyad.float64
PYAD_OF = {v: k for k, v in TORCH_DTYPE.items()}


def raises_like(ours, theirs, match=None):
    """theirs() raises; ours() must raise the same exception type (with `match` in pyad's message)."""
    with pytest.raises(Exception) as want:
        theirs()
    with pytest.raises(want.type, match=match):
        ours()


# ---------------------------------------------------------------- integer pow
@pytest.mark.parametrize("base", [[2, 3], [True, False]], ids=["int64", "bool"])
@pytest.mark.parametrize("exp", [-1, -2])
def test_integer_to_negative_scalar_power_raises_as_torch(base, exp):
    raises_like(
        lambda: pyad.tensor(base) ** exp,
        lambda: torch.tensor(base) ** exp,
        "Integers to negative integer powers are not allowed",
    )
    raises_like(
        lambda: pyad.pow(pyad.tensor(base), exp),
        lambda: torch.pow(torch.tensor(base), exp),
        "Integers to negative integer powers are not allowed",
    )


@pytest.mark.parametrize(
    "case", ["tensor exponent", "0-d tensor exponent", "float exponent", "positive", "reflected", "zero"]
)
def test_integer_powers_torch_computes(case):
    b, tb = pyad.tensor([1, 2, -3]), torch.tensor([1, 2, -3])
    got, want = {
        "tensor exponent": (lambda: b ** pyad.tensor([-1, -1, -2]), lambda: tb ** torch.tensor([-1, -1, -2])),
        "0-d tensor exponent": (lambda: b ** pyad.tensor(-1), lambda: tb ** torch.tensor(-1)),
        "float exponent": (lambda: b**-1.0, lambda: tb**-1.0),
        "positive": (lambda: b**3, lambda: tb**3),
        "reflected": (lambda: 2 ** pyad.tensor([-1, 2]), lambda: 2 ** torch.tensor([-1, 2])),
        "zero": (lambda: b**0, lambda: tb**0),
    }[case]
    assert_close(got(), want())


# ---------------------------------------------------------------- view(dtype)
VIEW_CASES = {
    "f64 as i64": (lambda: np.array([[1.5, -2.0], [3.0, 0.25]]), "float64", "int64", None),
    "i64 as f64": (lambda: np.array([1, 4607182418800017408]), "int64", "float64", None),
    "f32 as f64": (lambda: np.arange(8, dtype=np.float32).reshape(2, 4), "float32", "float64", None),
    "f64 as f32": (lambda: np.array([[1.5, -2.0], [3.0, 0.25]]), "float64", "float32", None),
    "i64 as f32": (lambda: np.array([[1, 2, 3]]), "int64", "float32", None),
    "transposed same size": (lambda: np.arange(6.0).reshape(2, 3), "float64", "int64", "t"),
    "sliced rows f32 as f64": (lambda: np.arange(12, dtype=np.float32).reshape(3, 4), "float32", "float64", "rows"),
    "bool as f32": (lambda: np.array([[True, False, False, False]]), "bool", "float32", None),
}
VIEW_ERRORS = {
    "0-d": (lambda: np.array(1.0, dtype=np.float32), "float64", None, "dim"),
    "odd last dim": (lambda: np.ones(3, dtype=np.float32), "float64", None, "divisible by 2"),
    "strided last dim": (lambda: np.ones((2, 2), dtype=np.float32), "float64", "t", "stride"),
    "odd offset": (lambda: np.ones(5, dtype=np.float32), "float64", "from1", "storage_offset"),
    "odd row stride": (lambda: np.ones((2, 3), dtype=np.float32), "float64", "cols", "divisible"),
}


def _layout(t, how):
    if how == "t":
        return t.t()
    if how == "rows":
        return t[1:]
    if how == "from1":
        return t[1:]
    if how == "cols":
        return t[:, :2]
    return t


@pytest.mark.parametrize("name", list(VIEW_CASES))
def test_view_dtype_reinterprets_bytes_as_torch(name):
    make, src, dst, how = VIEW_CASES[name]
    a = make()
    x = _layout(pyad.tensor(a, dtype=getattr(pyad, src)), how)
    tx = _layout(torch.tensor(a, dtype=getattr(torch, src)), how)
    got, want = x.view(getattr(pyad, dst)), tx.view(getattr(torch, dst))
    assert got.dtype == getattr(pyad, dst) and tuple(got.shape) == tuple(want.shape)
    assert got.stride() == want.stride()
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    # a view: writes through it reach the original, and the version counter is shared
    v0 = x._version
    got.zero_()
    tx.view(getattr(torch, dst)).zero_()
    np.testing.assert_array_equal(x.numpy(), tx.numpy())
    assert x._version > v0
    assert pyad.tensor(a, dtype=getattr(pyad, src)).view(dtype=getattr(pyad, dst)).dtype == getattr(pyad, dst)


@pytest.mark.parametrize("name", list(VIEW_ERRORS))
def test_view_dtype_refuses_what_torch_refuses(name):
    make, dst, how, words = VIEW_ERRORS[name]
    a = make()
    raises_like(
        lambda: _layout(pyad.tensor(a), how).view(getattr(pyad, dst)),
        lambda: _layout(torch.tensor(a), how).view(getattr(torch, dst)),
        rf"\[view\].*{words}",
    )


def test_view_dtype_autograd_as_torch():
    # torch marks view(dtype) non-differentiable, even to the same dtype: an alias without history.
    x, tx = pyad.ones(2, dtype=F64, requires_grad=True), torch.ones(2, dtype=torch.float64, requires_grad=True)
    same, tsame = x.view(F64), tx.view(torch.float64)
    assert same.requires_grad is tsame.requires_grad is False
    assert same.data_ptr() == x.data_ptr()
    assert x.view(pyad.int64).requires_grad is tx.view(torch.int64).requires_grad is False
    assert x.view(pyad.float32).requires_grad is tx.view(torch.float32).requires_grad is False


def test_view_as_bool_raises_clearly():
    # torch allows it; pyad's bool kernels need 0/1 bytes, so it refuses rather than compute on garbage.
    with pytest.raises(RuntimeError, match=r"\[view\] can't view float32 as bool"):
        pyad.ones(4).view(pyad.bool)
    assert pyad.tensor([True]).view(pyad.bool).dtype == pyad.bool


# ---------------------------------------------------------------- __format__
@pytest.mark.parametrize("spec", [".4f", ".2e", "8.3f", "", "g"])
def test_format_of_a_zero_dim_tensor_is_torchs(spec):
    for v in (3.14159, -0.5):
        assert format(pyad.tensor(v), spec) == format(torch.tensor(v), spec)
        assert format(pyad.tensor(v, dtype=F64), spec) == format(torch.tensor(v, dtype=torch.float64), spec)
    assert format(pyad.tensor(7), "d" if spec else "") == format(torch.tensor(7), "d" if spec else "")


def test_format_of_one_element_and_larger_tensors():
    # torch formats only 0-d tensors; pyad also one-element ones, as the issue asks.
    assert f"{pyad.tensor([3.14159]):.3f}" == "3.142"
    assert f"{pyad.tensor([[2.5]], requires_grad=True):.1f}" == "2.5"
    raises_like(
        lambda: f"{pyad.tensor([1.0, 2.0]):.2f}", lambda: f"{torch.tensor([1.0, 2.0]):.2f}", "unsupported format string"
    )
    assert f"{pyad.tensor([1.0, 2.0])}" == str(pyad.tensor([1.0, 2.0]))


# ---------------------------------------------------------------- legacy constructor
LEGACY = {
    "float list": ([1.0, 2.0],),
    "int list": ([1, 2],),
    "bool list": ([True, False],),
    "nested": ([[1, 2], [3, 4]],),
    "tuple data": ((2, 3),),
    "numpy f64": (np.array([1.5, 2.5]),),
    "numpy i32": (np.array([1, 2], dtype=np.int32),),
}


@pytest.mark.parametrize("default", [pyad.float32, pyad.float64], ids=str)
@pytest.mark.parametrize("name", list(LEGACY))
def test_legacy_constructor_with_data(name, default):
    args = LEGACY[name]
    old = torch.get_default_dtype()
    torch.set_default_dtype(TORCH_DTYPE[default])
    pyad.set_default_dtype(default)
    try:
        want, got = torch.Tensor(*args), pyad.Tensor(*args)
    finally:
        torch.set_default_dtype(old)
        pyad.set_default_dtype(pyad.float32)
    assert isinstance(got, pyad.Tensor) and type(got) is pyad.Tensor
    assert_close(got, want)
    assert not got.requires_grad


def test_legacy_constructor_sizes_empty_and_tensor():
    assert tuple(pyad.Tensor(2, 3).shape) == tuple(torch.Tensor(2, 3).shape) == (2, 3)
    assert pyad.Tensor(2, 3).dtype == pyad.float32
    assert tuple(pyad.Tensor(0).shape) == (0,)
    e, te = pyad.Tensor(), torch.Tensor()
    assert tuple(e.shape) == tuple(te.shape) == (0,) and e.dtype == pyad.float32
    assert pyad.Tensor([1.0], device="cpu").device.type == "cpu"
    src, tsrc = pyad.tensor([1, 2]), torch.tensor([1, 2])
    alias, talias = pyad.Tensor(src), torch.Tensor(tsrc)
    assert alias.dtype == PYAD_OF[talias.dtype] and alias is not src
    alias[0] = 5
    talias[0] = 5
    assert_close(src, tsrc)  # an alias of the tensor's storage, as torch
    raises_like(lambda: pyad.Tensor(2.0), lambda: torch.Tensor(2.0), r"\[Tensor\]")
    raises_like(lambda: pyad.Tensor(2, 3.0), lambda: torch.Tensor(2, 3.0), r"\[Tensor\]")
    assert isinstance(pyad.ones(2), pyad.Tensor)  # the class is still the one every tensor has


# ---------------------------------------------------------------- .data and .t()
def test_data_is_an_untracked_alias_as_torch():
    def run(lib):
        p = (lib.ones(2) * 2).detach().requires_grad_(True)
        y = (p * p).sum()
        d = p.data
        assert not d.requires_grad and d.is_leaf
        v = p._version
        d.mul_(3)  # hidden from autograd: no error at backward, which sees the new values
        assert p._version == v
        y.backward()
        return p, p.grad

    (p, g), (tp, tg) = run(pyad), run(torch)
    assert_close(p.detach(), tp.detach())
    assert_close(g, tg)


def test_data_setter_replaces_the_values_as_torch():
    x, tx = pyad.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
    x.data = pyad.zeros(3, dtype=F64)
    tx.data = torch.zeros(3, dtype=torch.float64)
    assert_close(x.detach(), tx.detach())
    assert x.requires_grad and tx.requires_grad and x.is_leaf
    (x * 2).sum().backward()
    (tx * 2).sum().backward()
    assert_close(x.grad, tx.grad)
    # SGD by hand, the habit it exists for
    w, tw = pyad.tensor([1.0, 2.0], requires_grad=True), torch.tensor([1.0, 2.0], requires_grad=True)
    for _lib, p in ((pyad, w), (torch, tw)):
        (p * p).sum().backward()
        p.data = p.data - 0.1 * p.grad
    assert_close(w.detach(), tw.detach())


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (1, 4)])
def test_t_as_torch(shape):
    a = np.arange(float(np.prod(shape))).reshape(shape)
    x, tx = (
        pyad.tensor(a, dtype=pyad.float32, requires_grad=True),
        torch.tensor(a, dtype=torch.float32, requires_grad=True),
    )
    y, ty = x.t(), tx.t()
    assert_close(y, ty)
    assert y.data_ptr() == x.data_ptr()  # a view
    w = np.arange(float(ty.numel())).reshape(tuple(ty.shape))
    (y * pyad.tensor(w, dtype=pyad.float32)).sum().backward()
    (ty * torch.tensor(w, dtype=torch.float32)).sum().backward()
    assert_close(x.grad, tx.grad)


def test_t_refuses_more_than_two_dims_as_torch():
    raises_like(lambda: pyad.ones(2, 3, 4).t(), lambda: torch.ones(2, 3, 4).t(), r"\[t\] .*<= 2 dimensions.*3D")


# ---------------------------------------------------------------- autograd.grad's keywords
def _pair():
    a = np.array([0.5, -1.0, 2.0])
    x, u = pyad.tensor(a, dtype=F64, requires_grad=True), pyad.ones(3, dtype=F64, requires_grad=True)
    tx, tu = to_torch(x), to_torch(u)
    return (x, u, (x * x).sin().sum()), (tx, tu, (tx * tx).sin().sum())


def test_grad_only_inputs_is_a_deprecated_no_op():
    (x, _, y), (tx, _, ty) = _pair()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = pyad.autograd.grad(y, x, only_inputs=True, retain_graph=True)
    with pytest.warns(FutureWarning, match="only_inputs argument is deprecated"):
        g2 = pyad.autograd.grad(y, x, only_inputs=False)
    with pytest.warns(FutureWarning, match="only_inputs argument is deprecated"):
        tg = torch.autograd.grad(ty, tx, only_inputs=False)
    assert_close(g[0], tg[0])
    assert_close(g2[0], tg[0])
    assert x.grad is None


@pytest.mark.parametrize("batched", [False, True])
def test_grad_allow_unused_and_materialize_grads(batched):
    (x, u, y), (tx, tu, ty) = _pair()
    go = pyad.ones(2, dtype=F64) if batched else None
    tgo = torch.ones(2, dtype=torch.float64) if batched else None
    kw = dict(retain_graph=True, is_grads_batched=batched)
    raises_like(
        lambda: pyad.autograd.grad(y, [x, u], go, **kw),
        lambda: torch.autograd.grad(ty, [tx, tu], tgo, **kw),
        "not have been used in the graph",
    )
    g = pyad.autograd.grad(y, [x, u], go, allow_unused=True, **kw)
    tg = torch.autograd.grad(ty, [tx, tu], tgo, allow_unused=True, **kw)
    assert_close(g[0], tg[0])
    assert g[1] is None and tg[1] is None
    g = pyad.autograd.grad(y, [x, u], go, materialize_grads=True, **kw)
    tg = torch.autograd.grad(ty, [tx, tu], tgo, materialize_grads=True, **kw)
    assert_close(g[0], tg[0])
    # torch's zeros lack the batch dim that its own batched gradients carry; pyad's have it.
    assert_close(g[1], tg[1].expand(tuple(g[0].shape)))
    raises_like(
        lambda: pyad.autograd.grad(y, [x, u], go, allow_unused=False, materialize_grads=True, **kw),
        lambda: torch.autograd.grad(ty, [tx, tu], tgo, allow_unused=False, materialize_grads=True, **kw),
        "allow_unused",
    )


# ---------------------------------------------------------------- backward(inputs=...)
def _graph(lib, dtype):
    x = lib.tensor([0.5, -1.0, 2.0], dtype=dtype, requires_grad=True)
    w = lib.tensor([1.5, 0.25, -0.5], dtype=dtype, requires_grad=True)
    h = (x * w).sin()
    return x, w, h, (h * h * x).sum()


@pytest.mark.parametrize("which", ["x", "w", "[x]", "[w, x]", "h", "[h, w]"])
@pytest.mark.parametrize("api", ["method", "function"])
def test_backward_inputs_accumulates_only_there(which, api):
    res = {}
    for lib, dt in ((pyad, F64), (torch, torch.float64)):
        x, w, h, y = _graph(lib, dt)
        env = {"x": x, "w": w, "h": h}
        inputs = eval(which, env)
        for _ in range(2):  # accumulates across calls, as .grad does
            if api == "method":
                y.backward(inputs=inputs, retain_graph=True)
            else:
                lib.autograd.backward(y, inputs=inputs, retain_graph=True)
        res[lib.__name__] = [env[k].grad for k in "xwh"]
    for a, b, k in zip(res["pyad"], res["torch"], "xwh"):
        assert_close(a, b, msg=f"{k}.grad")


def test_backward_inputs_runs_leaf_hooks_and_keeps_create_graph():
    for lib, dt in ((pyad, F64), (torch, torch.float64)):
        x, w, h, y = _graph(lib, dt)
        seen = []
        x.register_hook(lambda g: seen.append(1) or g * 2)
        y.backward(inputs=[x], create_graph=True)
        assert seen == [1] and x.grad.requires_grad
        if lib is pyad:
            gx = x.grad
        else:
            tgx = x.grad
    assert_close(gx, tgx)


def test_backward_inputs_errors_as_torch():
    x, w, h, y = _graph(pyad, F64)
    tx, tw, th, ty = _graph(torch, torch.float64)
    raises_like(lambda: y.backward(inputs=[]), lambda: ty.backward(inputs=[]), "cannot be empty")
    raises_like(
        lambda: y.backward(inputs=[pyad.ones(2)]), lambda: ty.backward(inputs=[torch.ones(2)]), "does not require grad"
    )


# ---------------------------------------------------------------- checkpoint's keywords
def _layers(lib, dt):
    w = lib.tensor([[0.5, -0.25], [0.75, 1.0]], dtype=dt, requires_grad=True)

    def f(x, scale=1.0, **kw):
        assert "use_reentrant" not in kw and "preserve_rng_state" not in kw  # never handed to the user's fn
        return ((x @ w).tanh() * scale).sin()

    return w, f


@pytest.mark.parametrize("use_reentrant", [None, True, False])
def test_checkpoint_use_reentrant_is_never_passed_to_fn(use_reentrant):
    grads = {}
    for lib, ck, dt in ((pyad, checkpoint, F64), (torch, tcheckpoint.checkpoint, torch.float64)):
        w, f = _layers(lib, dt)
        x = lib.tensor([[1.0, 2.0]], dtype=dt, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns when use_reentrant is not given
            y = ck(f, x, use_reentrant=use_reentrant)
        y.sum().backward()
        grads[lib.__name__] = (y, x.grad, w.grad)
    for a, b in zip(grads["pyad"], grads["torch"]):
        assert_close(a.detach(), b.detach())


def test_checkpoint_kwargs_follow_torchs_rule():
    w, f = _layers(pyad, F64)
    x = pyad.tensor([[1.0, 2.0]], dtype=F64, requires_grad=True)
    tw, tf = _layers(torch, torch.float64)
    tx = to_torch(x)
    y, ty = (
        checkpoint(f, x, scale=0.5, use_reentrant=False),
        tcheckpoint.checkpoint(tf, tx, scale=0.5, use_reentrant=False),
    )
    assert_close(y, ty)
    raises_like(
        lambda: checkpoint(f, x, scale=0.5, use_reentrant=True),
        lambda: tcheckpoint.checkpoint(tf, tx, scale=0.5, use_reentrant=True),
        "Unexpected keyword arguments",
    )
    with pytest.raises(NotImplementedError, match="context_fn"):
        checkpoint(f, x, use_reentrant=False, context_fn=lambda: None)
    raises_like(
        lambda: checkpoint(f, x, use_reentrant=False, determinism_check="bogus"),
        lambda: tcheckpoint.checkpoint(tf, tx, use_reentrant=False, determinism_check="bogus"),
        "determinism_check",
    )


def test_checkpoint_reentrant_supports_autograd_grad_unlike_torch():
    # torch's reentrant checkpoint refuses autograd.grad; pyad's one implementation serves it either way.
    w, f = _layers(pyad, F64)
    x = pyad.tensor([[1.0, 2.0]], dtype=F64, requires_grad=True)
    (g,) = pyad.autograd.grad(checkpoint(f, x, use_reentrant=True).sum(), x)
    tw, tf = _layers(torch, torch.float64)
    tx = to_torch(x)
    with pytest.raises(RuntimeError, match="incompatible with .grad"):
        torch.autograd.grad(tcheckpoint.checkpoint(tf, tx, use_reentrant=True).sum(), tx)
    (tg,) = torch.autograd.grad(tcheckpoint.checkpoint(tf, tx, use_reentrant=False).sum(), tx)
    assert_close(g, tg)


def test_checkpoint_sequential_takes_use_reentrant():
    layers = [lambda v: v.sin(), lambda v: v * 2.0, lambda v: v.exp()]
    x = pyad.tensor([0.5, 1.0], dtype=F64, requires_grad=True)
    tx = to_torch(x)
    y = checkpoint_sequential(layers, 2, x, use_reentrant=False)
    ty = tcheckpoint.checkpoint_sequential(layers, 2, tx, use_reentrant=False)
    y.sum().backward()
    ty.sum().backward()
    assert_close(y, ty)
    assert_close(x.grad, tx.grad)


# ---------------------------------------------------------------- gradcheck's options
class ScaleWrongOnBatches(Function):
    """y = 2x, right when batched, wrong (3x) one cotangent at a time: only check_batched_grad sees it. It
    declares that it handles batch dims (else pyad would call it once per cotangent)."""

    handles_batch_dims = True

    @staticmethod
    def forward(ctx, x):
        ctx.nd = x.ndim
        return x * 2.0

    @staticmethod
    def backward(ctx, g):
        return g * (2.0 if g.ndim > ctx.nd else 3.0)


class NonzeroForZero(Function):
    """y = 2x whose backward gives 1s for an all-zero cotangent: only check_undefined_grad sees it."""

    @staticmethod
    def forward(ctx, x):
        return x * 2.0

    @staticmethod
    def backward(ctx, g):
        return g * 2.0 + ((g == 0).to(g.dtype).sum() == g.numel()).to(g.dtype)


class RefusesZeros(Function):
    """(2x, 3x); its backward raises when every gradient it gets is zero (or missing)."""

    @staticmethod
    def forward(ctx, x):
        return x * 2.0, x * 3.0

    @staticmethod
    def backward(ctx, g1, g2):
        if ((g1 != 0).to(g1.dtype).sum() + (g2 != 0).to(g2.dtype).sum()).item() == 0:
            raise RuntimeError("all-zero gradients")
        return g1 * 2.0 + g2 * 3.0


def test_check_batched_grad():
    x = pyad.tensor([0.5, 1.5], dtype=F64, requires_grad=True)
    assert gradcheck(ScaleWrongOnBatches.apply, (x,))
    with pytest.raises(GradcheckError, match="batched gradient"):
        gradcheck(ScaleWrongOnBatches.apply, (x,), check_batched_grad=True)
    assert gradcheck(lambda v: (v * v).sin(), (x,), check_batched_grad=True)
    assert gradgradcheck(lambda v: (v * v).sin(), (x,), check_batched_grad=True)
    with pytest.raises(ValueError, match="check_batched_grad=True requires check_backward_ad"):
        gradcheck(lambda v: v.sin(), (x,), check_batched_grad=True, check_backward_ad=False, check_forward_ad=True)


def test_check_undefined_grad():
    x = pyad.tensor([0.5, 1.5], dtype=F64, requires_grad=True)
    with pytest.raises(GradcheckError, match="undefined or zero"):
        gradcheck(NonzeroForZero.apply, (x,))
    assert gradcheck(NonzeroForZero.apply, (x,), check_undefined_grad=False)
    with pytest.raises(GradcheckError, match="handle undefined output grads"):
        gradcheck(RefusesZeros.apply, (x,))
    assert gradcheck(RefusesZeros.apply, (x,), check_undefined_grad=False)
    assert gradcheck(lambda v: (v.sin(), v.exp()), (x,))  # pyad's own ops handle them


def test_check_backward_ad_off_checks_forward_mode_only():
    class WrongBackward(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2.0

        @staticmethod
        def backward(ctx, g):
            return g * 5.0

        @staticmethod
        def jvp(ctx, t):
            return t * 2.0

    x = pyad.tensor([0.5, 1.5], dtype=F64, requires_grad=True)
    with pytest.raises(GradcheckError, match="reverse mode"):
        gradcheck(WrongBackward.apply, (x,), check_forward_ad=True, check_undefined_grad=False)
    assert gradcheck(WrongBackward.apply, (x,), check_forward_ad=True, check_backward_ad=False)
    with pytest.raises(ValueError, match="at least one of check_forward_ad or check_backward_ad"):
        gradcheck(WrongBackward.apply, (x,), check_backward_ad=False)


def test_check_grad_dtypes_over_mixed_dtypes():
    x = pyad.tensor([0.5, 1.5], dtype=F64, requires_grad=True)
    y = pyad.tensor([0.25, 2.0], dtype=pyad.float32, requires_grad=True)
    # (dtype_aware=False: torch's float32 behaviour, warning included; the dtype-aware default needs none)
    with pytest.warns(UserWarning, match="not a double precision"):
        assert gradcheck(
            lambda a, b: a * b.double(),
            (x, y),
            check_grad_dtypes=True,
            check_forward_ad=True,
            eps=1e-3,
            atol=1e-3,
            rtol=1e-2,
            dtype_aware=False,
        )
    assert gradcheck(lambda a, b: a * b.double(), (x, y), check_grad_dtypes=True, check_forward_ad=True)


def test_backward_grad_variables_is_torchs_deprecated_name():
    res = []
    for lib, dt in ((pyad, F64), (torch, torch.float64)):
        x, w, h, y = _graph(lib, dt)
        with pytest.warns(FutureWarning, match="grad_variables"):
            lib.autograd.backward([h], grad_variables=[lib.ones(3, dtype=dt)])
        res.append(x.grad)
        with pytest.raises(RuntimeError, match="both passed"):
            lib.autograd.backward([h], grad_tensors=[lib.ones(3, dtype=dt)], grad_variables=[lib.ones(3, dtype=dt)])
    assert_close(*res)


def test_data_setter_on_a_view_detaches_it_from_its_base_as_torch():
    for lib in (pyad, torch):
        base = lib.ones(4)
        v = base[1:3]
        v.data = lib.zeros(2)
        v.add_(5.0)
        assert base.tolist() == [1.0, 1.0, 1.0, 1.0] and v.tolist() == [5.0, 5.0]
