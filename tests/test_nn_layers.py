"""pyad.nn layers and losses against torch.nn with the same weights (copied via state_dict <-> NumPy):
forward values, input gradients and parameter gradients, in float64 and float32, on every device."""

import math

import numpy as np
import pytest
import torch

import pyad
import pyad.nn as nn
import pyad.nn.functional as F

try:  # pytest's --import-mode=importlib (the project's setting) registers the conftest as tests.conftest
    from tests.conftest import TORCH_DTYPE, assert_close
except ImportError:  # prepend/append import modes
    from conftest import TORCH_DTYPE, assert_close

DTYPES = [pyad.float64, pyad.float32]


def copy_weights(pm, tm):
    pm.load_state_dict({k: v.detach().cpu().numpy() for k, v in tm.state_dict().items()})


def check_module(pm, tm, x, dtype, rtol=None, atol=None):
    """pm(x) and its gradients (input's and parameters') match tm's, with tm's weights copied into pm."""
    copy_weights(pm, tm)
    floating = x.dtype.kind == "f"
    px = pyad.tensor(x, dtype=dtype if floating else None, requires_grad=floating)
    tx = torch.tensor(x, dtype=TORCH_DTYPE[dtype] if floating else None, requires_grad=floating)
    py, ty = pm(px), tm(tx)
    assert_close(py, ty, rtol, atol, msg="forward")
    g = np.random.standard_normal(tuple(ty.shape))
    py.backward(pyad.tensor(g, dtype=dtype))
    ty.backward(torch.tensor(g, dtype=TORCH_DTYPE[dtype]))
    if floating:
        assert_close(px.grad, tx.grad, rtol, atol, msg="input grad")
    pnames = [n for n, _ in pm.named_parameters()]
    tnames = [n for n, _ in tm.named_parameters()]
    assert pnames == tnames
    for (name, p), (_, t) in zip(pm.named_parameters(), tm.named_parameters()):
        assert_close(p.grad, t.grad, rtol, atol, msg=f"grad of {name}")


def rand(*shape):
    return np.random.standard_normal(shape) * 2


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,bias", [((7, 5), True), ((7, 5), False), ((2, 3, 5), True), ((5,), True)])
def test_linear(device, dtype, shape, bias):
    pm = nn.Linear(5, 4, bias=bias, dtype=dtype)
    tm = torch.nn.Linear(5, 4, bias=bias, dtype=TORCH_DTYPE[dtype])
    check_module(pm, tm, rand(*shape), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.ReLU(),
        lambda m: m.Tanh(),
        lambda m: m.Sigmoid(),
        lambda m: m.Softplus(),
        lambda m: m.Softplus(beta=2.0, threshold=3.0),
        lambda m: m.Softplus(beta=0.5),
        lambda m: m.GELU(),
        lambda m: m.GELU(approximate="tanh"),
        lambda m: m.Identity(),
        lambda m: m.Flatten(),
        lambda m: m.Flatten(0, 1),
        lambda m: m.Flatten(-2),
        lambda m: m.Dropout(0.0),
    ],
    ids=[
        "relu",
        "tanh",
        "sigmoid",
        "softplus",
        "softplus_beta2_thr3",
        "softplus_beta05",
        "gelu",
        "gelu_tanh",
        "identity",
        "flatten",
        "flatten01",
        "flatten-2",
        "dropout0",
    ],
)
def test_elementwise_and_shape_layers(device, dtype, make):
    x = rand(3, 4, 5) * 3
    x[0, 0, :3] = [0.0, 10.0, -10.0]
    check_module(make(nn), make(torch.nn), x, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gelu_large_and_tiny_inputs(device, dtype):
    x = np.concatenate([np.linspace(-40, 40, 161), [1e-30, -1e-30, 1e-8, -1e-8, 0.0]])
    check_module(nn.GELU(), torch.nn.GELU(), x, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", [{}, dict(elementwise_affine=False), dict(bias=False), dict(eps=1e-2)])
@pytest.mark.parametrize("shape,normalized", [((4, 6), 6), ((2, 3, 4), (3, 4)), ((6,), [6])])
def test_layer_norm(device, dtype, kwargs, shape, normalized):
    pm = nn.LayerNorm(normalized, dtype=dtype, **kwargs)
    tm = torch.nn.LayerNorm(normalized, dtype=TORCH_DTYPE[dtype], **kwargs)
    with torch.no_grad():  # non-trivial affine weights
        for p in tm.parameters():
            p.copy_(torch.randn(p.shape))
    check_module(pm, tm, rand(*shape) + 3.0, dtype, **({"atol": 3e-5} if dtype == pyad.float32 else {}))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("padding_idx", [None, 0, 3, -1])
def test_embedding(device, dtype, padding_idx):
    pm = nn.Embedding(10, 4, padding_idx=padding_idx, dtype=dtype)
    tm = torch.nn.Embedding(10, 4, padding_idx=padding_idx, dtype=TORCH_DTYPE[dtype])
    idx = np.array([[0, 3, 9, 3], [1, 9, 0, 2], [5, 5, 5, 9]])
    check_module(pm, tm, idx, dtype)
    # the padding row's value is read as it is, even when the user made it non-zero
    if padding_idx is not None:
        with torch.no_grad():
            tm.weight[padding_idx] = 1.5
        check_module(pm, tm, idx, dtype)


def test_embedding_init_and_errors():
    e = nn.Embedding(1000, 50, padding_idx=2)
    w = e.weight.detach().numpy()
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1) < 0.02
    assert not w[2].any()
    with pytest.raises(IndexError, match=r"\[embedding\] index 1000 is out of range"):
        e(pyad.tensor([1, 1000]))
    with pytest.raises(IndexError, match="index -1"):
        e(pyad.tensor([-1]))
    with pytest.raises(TypeError, match="int64"):
        e(pyad.tensor([1.0]))
    frozen = nn.Embedding.from_pretrained(pyad.ones(3, 2))
    assert not frozen.weight.requires_grad


def test_sequential_mlp_parity(device):
    pm = nn.Sequential(nn.Linear(6, 8), nn.GELU(), nn.LayerNorm(8), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3))
    tm = torch.nn.Sequential(
        torch.nn.Linear(6, 8),
        torch.nn.GELU(),
        torch.nn.LayerNorm(8),
        torch.nn.Linear(8, 8),
        torch.nn.Tanh(),
        torch.nn.Linear(8, 3),
    )
    check_module(pm.double(), tm.double(), rand(5, 6), pyad.float64)


def test_dropout_honours_train_eval_and_seed():
    m = nn.Sequential(nn.Dropout(0.5))
    x = pyad.ones(1000)
    pyad.manual_seed(3)
    a = m(x)
    pyad.manual_seed(3)
    b = m(x)
    assert np.array_equal(a.numpy(), b.numpy())
    vals = set(np.unique(a.numpy()).tolist())
    assert vals == {0.0, 2.0}
    assert 400 < (a.numpy() == 0).sum() < 600
    m.eval()
    assert m(x) is x
    m.train()
    assert not np.array_equal(m(x).numpy(), x.numpy())
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


# ---- losses ----
def check_loss(pfn, tfn, inputs, dtype, rtol=None, atol=None):
    """pfn(*inputs) matches tfn(*inputs) in value and in the gradient of every floating input."""
    p_in, t_in = [], []
    for a in inputs:
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            p_in.append(pyad.tensor(a, dtype=dtype, requires_grad=True))
            t_in.append(torch.tensor(a, dtype=TORCH_DTYPE[dtype], requires_grad=True))
        elif isinstance(a, np.ndarray):
            p_in.append(pyad.tensor(a))
            t_in.append(torch.tensor(a))
        else:
            p_in.append(a)
            t_in.append(a)
    py, ty = pfn(*p_in), tfn(*t_in)
    assert_close(py, ty, rtol, atol, msg="loss")
    g = np.random.standard_normal(tuple(ty.shape))
    py.backward(pyad.tensor(g, dtype=dtype))
    ty.backward(torch.tensor(g, dtype=TORCH_DTYPE[dtype]))
    for i, (p, t) in enumerate(zip(p_in, t_in)):
        if isinstance(t, torch.Tensor) and t.requires_grad:
            assert_close(p.grad, t.grad, rtol, atol, msg=f"grad of input {i}")


REDUCTIONS = ["none", "mean", "sum"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["MSELoss", "L1Loss"])
def test_regression_losses(device, dtype, reduction, name):
    x, y = rand(4, 5), rand(4, 5)
    y[0, 0] = x[0, 0] + 1e-3
    check_loss(getattr(nn, name)(reduction=reduction), getattr(torch.nn, name)(reduction=reduction), [x, y], dtype)


def _targets(shape, c, ignore=None):
    t = np.random.randint(0, c, size=shape)
    if ignore is not None:
        t.flat[::3] = ignore
    return t


CE_CASES = {  # (input shape, target shape)
    "2d": ((6, 5), (6,)),
    "unbatched": ((5,), ()),
    "spatial": ((3, 5, 2, 4), (3, 2, 4)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(CE_CASES))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [-100, 2])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_cross_entropy_class_indices(device, dtype, case, reduction, weighted, ignore_index, label_smoothing):
    ishape, tshape = CE_CASES[case]
    c = ishape[0] if len(ishape) == 1 else ishape[1]
    x = rand(*ishape)
    t = _targets(tshape, c, ignore=ignore_index if ignore_index != -100 else None)
    if ignore_index == -100 and case != "unbatched":
        t.flat[1] = -100  # the default ignore_index, out of the class range, is skipped too
    w = np.random.rand(c) + 0.5 if weighted else None
    kwargs = dict(reduction=reduction, ignore_index=ignore_index, label_smoothing=label_smoothing)

    def p_fn(x, t):
        return nn.CrossEntropyLoss(weight=None if w is None else pyad.tensor(w, dtype=dtype), **kwargs)(x, t)

    def t_fn(x, t):
        return torch.nn.CrossEntropyLoss(
            weight=None if w is None else torch.tensor(w, dtype=TORCH_DTYPE[dtype]), **kwargs
        )(x, t)

    check_loss(p_fn, t_fn, [x, t], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(CE_CASES))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
def test_cross_entropy_probabilities(device, dtype, case, reduction, weighted, label_smoothing):
    ishape, _ = CE_CASES[case]
    class_dim = 0 if len(ishape) == 1 else 1
    c = ishape[class_dim]
    x = rand(*ishape)
    probs = np.random.rand(*ishape)
    probs /= probs.sum(axis=class_dim, keepdims=True)
    w = np.random.rand(c) + 0.5 if weighted else None

    def p_fn(x, t):
        return F.cross_entropy(
            x,
            t,
            weight=None if w is None else pyad.tensor(w, dtype=dtype),
            reduction=reduction,
            label_smoothing=label_smoothing,
        )

    def t_fn(x, t):
        return torch.nn.functional.cross_entropy(
            x,
            t,
            weight=None if w is None else torch.tensor(w, dtype=TORCH_DTYPE[dtype]),
            reduction=reduction,
            label_smoothing=label_smoothing,
        )

    check_loss(p_fn, t_fn, [x, probs], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(CE_CASES))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [-100, 1])
def test_nll_loss(device, dtype, case, reduction, weighted, ignore_index):
    ishape, tshape = CE_CASES[case]
    c = ishape[0] if len(ishape) == 1 else ishape[1]
    x = rand(*ishape)
    t = _targets(tshape, c, ignore=ignore_index if ignore_index != -100 else None)
    if case == "unbatched":
        t = np.array(2)
    w = np.random.rand(c) + 0.5 if weighted else None

    def p_fn(x, t):
        return nn.NLLLoss(
            weight=None if w is None else pyad.tensor(w, dtype=dtype), ignore_index=ignore_index, reduction=reduction
        )(F.log_softmax(x, 0 if x.ndim == 1 else 1), t)

    def t_fn(x, t):
        return torch.nn.NLLLoss(
            weight=None if w is None else torch.tensor(w, dtype=TORCH_DTYPE[dtype]),
            ignore_index=ignore_index,
            reduction=reduction,
        )(torch.log_softmax(x, 0 if x.ndim == 1 else 1), t)

    check_loss(p_fn, t_fn, [x, t], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos_weighted", [False, True])
def test_bce_with_logits(device, dtype, reduction, weighted, pos_weighted):
    x = rand(4, 3) * 10
    x[0] = [100.0, -100.0, 0.0]
    t = np.random.rand(4, 3)
    t[1] = [0.0, 1.0, 1.0]
    w = np.random.rand(4, 3) + 0.5 if weighted else None
    pw = np.random.rand(3) * 3 if pos_weighted else None

    def p_fn(x, t):
        return nn.BCEWithLogitsLoss(
            weight=None if w is None else pyad.tensor(w, dtype=dtype),
            reduction=reduction,
            pos_weight=None if pw is None else pyad.tensor(pw, dtype=dtype),
        )(x, t)

    def t_fn(x, t):
        td = TORCH_DTYPE[dtype]
        return torch.nn.BCEWithLogitsLoss(
            weight=None if w is None else torch.tensor(w, dtype=td),
            reduction=reduction,
            pos_weight=None if pw is None else torch.tensor(pw, dtype=td),
        )(x, t)

    check_loss(p_fn, t_fn, [x, t], dtype)


def test_loss_errors():
    x = pyad.randn(4, 3)
    with pytest.raises(IndexError, match=r"\[cross_entropy\] index 3 is out of range for size 3"):
        F.cross_entropy(x, pyad.tensor([0, 1, 3, 0]))
    with pytest.raises(IndexError, match=r"\[cross_entropy\] index -1 is out of range for size 3"):
        F.cross_entropy(x, pyad.tensor([0, 1, -1, 0]))
    with pytest.raises(IndexError, match=r"\[nll_loss\] index 3 is out of range for size 3"):
        F.nll_loss(x, pyad.tensor([0, 1, 3, 0]))
    with pytest.raises(ValueError, match=r"expected target of shape \(4,\)"):
        F.cross_entropy(x, pyad.tensor([0, 1]))
    with pytest.raises(ValueError, match="probability targets must have the input's shape"):
        F.cross_entropy(x, pyad.rand(4, 2))
    with pytest.raises(ValueError, match="'avg' is not a valid value for reduction"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        F.nll_loss(x, pyad.tensor([0, 1, 2, 0]), weight=pyad.ones(4))
    with pytest.raises(ValueError, match="target size"):
        F.binary_cross_entropy_with_logits(x, pyad.rand(4))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, pyad.tensor([0, 1, 2, 0]), label_smoothing=1.5)


def test_cross_entropy_second_order():
    """The losses are compositions of differentiable ops: their Hessian-vector products match torch's."""
    x = rand(4, 5)
    t = np.array([0, 4, 2, 2])
    px = pyad.tensor(x, requires_grad=True, dtype=pyad.float64)
    tx = torch.tensor(x, requires_grad=True)
    (pg,) = pyad.autograd.grad(F.cross_entropy(px, pyad.tensor(t), label_smoothing=0.1), px, create_graph=True)
    (tg,) = torch.autograd.grad(
        torch.nn.functional.cross_entropy(tx, torch.tensor(t), label_smoothing=0.1), tx, create_graph=True
    )
    v = np.random.standard_normal(x.shape)
    (pg * pyad.tensor(v)).sum().backward()
    (tg * torch.tensor(v)).sum().backward()
    assert_close(px.grad, tx.grad)


def test_one_hot():
    t = np.array([[0, 2], [1, 3]])
    assert_close(F.one_hot(pyad.tensor(t)), torch.nn.functional.one_hot(torch.tensor(t)))
    assert_close(F.one_hot(pyad.tensor(t), 6), torch.nn.functional.one_hot(torch.tensor(t), 6))
    assert math.isclose(
        F.gelu(pyad.tensor(1.0, dtype=pyad.float64)).item(), 0.5 * (1 + math.erf(2**-0.5)), rel_tol=1e-15
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_inplace_relu_and_dropout(device, dtype):
    x = rand(4, 5)
    px = pyad.tensor(x, dtype=dtype, requires_grad=True)
    tx = torch.tensor(x, dtype=TORCH_DTYPE[dtype], requires_grad=True)
    ph, th = px * 2, tx * 2
    pout, _tout = nn.ReLU(inplace=True)(ph), torch.nn.ReLU(inplace=True)(th)
    assert pout is ph and repr(nn.ReLU(inplace=True)) == repr(torch.nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    assert_close(ph, th)
    (ph * ph).sum().backward()
    (th * th).sum().backward()
    assert_close(px.grad, tx.grad)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        F.relu(px, inplace=True)
    h = px * 1.0
    d = nn.Dropout(0.5, inplace=True)
    assert d(h) is h and set(np.unique(h.detach().cpu().numpy() == 0)) == {True, False}
    d.eval()
    assert d(h) is h
