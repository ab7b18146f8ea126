"""cumsum, cumprod, flip, roll, tril, triu, diagonal, trace and kron: the cases the op table (tests/op_db.py,
which holds their parity rows) cannot say: cumprod with zeros, dtypes, views, method forms and errors."""

import numpy as np
import pytest
import torch

import pyad
from pyad import func

try:  # pytest's --import-mode=importlib (the project's setting) registers the conftest as tests.conftest
    from tests.conftest import TNS, assert_close, to_torch
except ImportError:  # prepend/append import modes
    from conftest import TNS, assert_close, to_torch

pytestmark = pytest.mark.usefixtures("device")


def randn_like(t, rng):
    return pyad.tensor(rng.standard_normal(tuple(t.shape)), dtype=t.dtype)


# ---------------------------------------------------------------- cumprod with zeros
ZERO_LINES = [
    [0.0, 2.0, 3.0, 0.5],  # a zero first
    [1.5, 0.0, 2.0, -1.0],  # one zero inside
    [2.0, 0.0, 3.0, 0.0],  # two zeros
    [0.0, 0.0, 1.5, 2.0],  # two zeros side by side
    [1.5, -2.0, 0.5, 0.0],  # a zero last
    [0.0, 0.0, 0.0, 0.0],
]


@pytest.mark.parametrize("dim", [1, 0])
def test_cumprod_with_zeros(dim, device):
    """Values, gradients, jvp, double backward and jacobians of cumprod with zeros in the input, as torch."""
    a = np.array(ZERO_LINES)
    a = a if dim == 1 else a.T.copy()
    x = pyad.tensor(a, dtype=pyad.float64, requires_grad=True)
    t = to_torch(x)
    rng = np.random.default_rng(5)
    g = pyad.tensor(rng.standard_normal(a.shape), dtype=pyad.float64, requires_grad=True)
    tg = to_torch(g)
    out, tout = pyad.cumprod(x, dim), torch.cumprod(t, dim)
    assert_close(out, tout, msg="forward")
    (gx,) = pyad.autograd.grad(out, x, g, retain_graph=True)
    (tgx,) = torch.autograd.grad(tout, t, tg, retain_graph=True)
    assert_close(gx, tgx, msg="grad (no graph: the masked formula)")
    (gx,) = pyad.autograd.grad(out, x, g, create_graph=True)
    (tgx,) = torch.autograd.grad(tout, t, tg, create_graph=True)
    assert_close(gx, tgx, msg="grad (create_graph: the exact omitted products)")
    v = randn_like(x, rng)
    second = pyad.autograd.grad((gx * v).sum(), [x, g])
    tsecond = torch.autograd.grad((tgx * to_torch(v)).sum(), [t, tg])
    for i, (s, ts) in enumerate(zip(second, tsecond)):
        assert_close(s, ts, msg=f"second derivative {i}")
    xd = x.detach()
    _, tan = func.jvp(lambda y: pyad.cumprod(y, dim), (xd,), (v,))
    _, ttan = torch.func.jvp(lambda y: torch.cumprod(y, dim), (t.detach(),), (to_torch(v),))
    assert_close(tan, ttan, msg="jvp")
    for name, jac, tjac in [("jacrev", func.jacrev, torch.func.jacrev), ("jacfwd", func.jacfwd, torch.func.jacfwd)]:
        assert_close(
            jac(lambda y: pyad.cumprod(y, dim))(xd), tjac(lambda y: torch.cumprod(y, dim))(t.detach()), msg=name
        )
    h = func.hessian(lambda y: (pyad.cumprod(y, dim) * v).sum())(xd)
    th = torch.func.hessian(lambda y: (torch.cumprod(y, dim) * to_torch(v)).sum())(t.detach())
    assert_close(h, th, msg="hessian")


def test_cumprod_with_zeros_gradcheck(device):
    x = pyad.tensor([[0.0, 1.5, -2.0, 0.0, 0.7], [1.2, 0.0, 0.9, 1.1, 0.0]], dtype=pyad.float64, requires_grad=True)
    f = lambda y: pyad.cumprod(y, 1)  # noqa: E731
    assert pyad.autograd.gradcheck(f, (x,), check_forward_ad=True)
    assert pyad.autograd.gradgradcheck(f, (x,))


def test_cumprod_jvp_exact_where_differentiated(device):
    """jacfwd and jacrev of jacfwd (the JVP rule differentiated in both modes) with zeros, as torch's jacrev of
    jacrev."""
    x = pyad.tensor([1.5, 0.0, 2.0, 0.0, -1.0], dtype=pyad.float64)
    want = torch.func.jacrev(torch.func.jacrev(lambda y: torch.cumprod(y, 0)))(to_torch(x))
    for outer in (func.jacfwd, func.jacrev):
        assert_close(outer(func.jacfwd(lambda y: pyad.cumprod(y, 0)))(x), want, msg=outer.__name__)


# ---------------------------------------------------------------- dtypes
@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
def test_scan_dtypes(name, device):
    """Integers and bools scan as int64; dtype= converts the input first, and the gradient flows back to it."""
    data = [[1, 2, 0], [3, 1, 2]]
    for src in (pyad.int64, pyad.bool):
        x = pyad.tensor(data, dtype=src)
        out, tout = getattr(pyad, name)(x, 1), getattr(torch, name)(to_torch(x), 1)
        assert_close(out, tout)
        assert out.dtype == pyad.int64
    x = pyad.tensor(data, dtype=pyad.int64)
    assert_close(getattr(x, name)(0, dtype=pyad.float32), getattr(to_torch(x), name)(0, dtype=torch.float32))
    x32 = pyad.tensor([[0.5, -1.0, 2.0]], dtype=pyad.float32, requires_grad=True)
    t32 = to_torch(x32)
    out, tout = getattr(pyad, name)(x32, 1, dtype=pyad.float64), getattr(torch, name)(t32, 1, dtype=torch.float64)
    assert out.dtype == pyad.float64
    out.sum().backward()
    tout.sum().backward()
    assert_close(x32.grad, t32.grad)


def test_scan_float32_long_line(device):
    """A float32 cumsum over a long dim stays within float32 tolerances (the kernels accumulate in double)."""
    rng = np.random.default_rng(7)
    a = rng.standard_normal((3, 20000)).astype(np.float32)
    x = pyad.tensor(a, dtype=pyad.float32)
    want = np.cumsum(a.astype(np.float64), axis=1)
    np.testing.assert_allclose(pyad.cumsum(x, 1).cpu().numpy(), want, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("dtype", [pyad.int64, pyad.bool, pyad.float32])
def test_shape_ops_keep_dtype(dtype, device):
    x = pyad.tensor([[1, 0, 1], [0, 1, 1], [1, 1, 0]], dtype=dtype)
    t = to_torch(x)
    for call in [
        lambda ns, x: ns.flip(x, [0]),
        lambda ns, x: ns.roll(x, 1, 1),
        lambda ns, x: ns.tril(x),
        lambda ns, x: ns.triu(x, 1),
        lambda ns, x: ns.diagonal(x, -1),
        lambda ns, x: ns.kron(x, x),
    ]:
        out, tout = call(pyad, x), call(TNS, t)
        assert_close(out, tout)
    if dtype != pyad.bool:
        assert_close(pyad.trace(x), torch.trace(t))


def test_kron_of_strided_views(device):
    """kron of non-contiguous views (torch.kron itself refuses them: it views its inputs) matches torch's on
    contiguous copies, in values and gradients."""
    rng = np.random.default_rng(8)
    x = pyad.tensor(rng.standard_normal((2, 3)), dtype=pyad.float64, requires_grad=True)
    y = pyad.tensor(rng.standard_normal((2, 4)), dtype=pyad.float64, requires_grad=True)
    tx, ty = to_torch(x), to_torch(y)
    out = pyad.kron(x.transpose(0, 1), y[:, ::2])
    tout = torch.kron(tx.transpose(0, 1).contiguous(), ty[:, ::2].contiguous())
    assert_close(out, tout)
    g = randn_like(out, rng)
    out.backward(g)
    tout.backward(to_torch(g))
    assert_close(x.grad, tx.grad)
    assert_close(y.grad, ty.grad)


def test_kron_promotes(device):
    a = pyad.tensor([[1, 2], [3, 4]], dtype=pyad.int64)
    b = pyad.tensor([0.5, -1.0, 2.0], dtype=pyad.float32)
    assert_close(pyad.kron(a, b), torch.kron(to_torch(a), to_torch(b)))


# ---------------------------------------------------------------- views and argument forms
def test_diagonal_is_a_view(device):
    """diagonal shares storage and version counter with its input, as torch's: writes go both ways."""
    x = pyad.zeros(3, 4, dtype=pyad.float64)
    d = x.diagonal(1)
    d.fill_(2.0)
    assert x.cpu().numpy().tolist() == [[0, 2, 0, 0], [0, 0, 2, 0], [0, 0, 0, 2]]
    x[0, 1] = 5.0
    assert d[0].item() == 5.0


def test_inplace_on_diagonal_view_differentiates(device):
    """An in-place op on the diagonal of a non-leaf is recorded on the base (CopySlices), as torch."""
    a = np.arange(9.0).reshape(3, 3)
    x = pyad.tensor(a, dtype=pyad.float64, requires_grad=True)
    t = to_torch(x)
    y, ty = x * 1.0, t * 1.0
    y.diagonal().mul_(3.0)
    ty.diagonal().mul_(3.0)
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    assert_close(x.grad, t.grad)


def test_method_forms(device):
    a = np.arange(24.0).reshape(2, 3, 4)
    x = pyad.tensor(a, dtype=pyad.float64)
    t = torch.from_numpy(a)
    pairs = [
        (x.flip(0, 1), t.flip(0, 1)),
        (x.flip((0, 2)), t.flip((0, 2))),
        (x.flip(dims=[1]), t.flip(dims=[1])),
        (x.roll(2), t.roll(2)),
        (x.roll(1, 2), t.roll(1, 2)),
        (x.roll(shifts=(1, 1), dims=(0, 0)), t.roll((1, 1), (0, 0))),
        (x.tril(1), t.tril(1)),
        (x.triu(diagonal=-1), t.triu(diagonal=-1)),
        (x.diagonal(offset=1, dim1=1, dim2=2), t.diagonal(offset=1, dim1=1, dim2=2)),
        (x[0].trace(), t[0].trace()),
        (x.cumsum(dim=2), t.cumsum(dim=2)),
        (x.cumprod(-1), t.cumprod(-1)),
        (pyad.cumsum(input=x, dim=0), torch.cumsum(input=t, dim=0)),
        (pyad.roll(x, shifts=-1, dims=1), torch.roll(t, shifts=-1, dims=1)),
        (pyad.diagonal(x, 0, -1, 0), torch.diagonal(t, 0, -1, 0)),
    ]
    for i, (got, want) in enumerate(pairs):
        assert_close(got, want, msg=f"case {i}")


def test_roll_by_int64_extremes(device):
    """Shifts anywhere in int64 (torch refuses those beyond 2**62) roll by their remainder, forward and back."""
    a = np.arange(15.0).reshape(3, 5)
    x = pyad.tensor(a, dtype=pyad.float64, requires_grad=True)
    shifts = (-(2**63), 2**63 - 1)
    y = pyad.roll(x, shifts, (0, 1))
    want = np.roll(a, (shifts[0] % 3, shifts[1] % 5), (0, 1))
    np.testing.assert_array_equal(y.detach().cpu().numpy(), want)
    g = np.random.default_rng(9).standard_normal((3, 5))
    y.backward(pyad.tensor(g, dtype=pyad.float64))
    np.testing.assert_array_equal(x.grad.cpu().numpy(), np.roll(g, (-(shifts[0] % 3), -(shifts[1] % 5)), (0, 1)))


# ---------------------------------------------------------------- errors
ERRORS = [
    ("cumsum_dim", lambda ns: ns.cumsum(ns.ones(3), 3), IndexError),
    ("cumprod_dim", lambda ns: ns.cumprod(ns.ones(2, 3), -3), IndexError),
    ("cumsum_0d_dim", lambda ns: ns.cumsum(ns.ones(()), 1), IndexError),
    ("flip_dup", lambda ns: ns.flip(ns.ones(2, 3), [0, -2]), RuntimeError),
    ("flip_dim", lambda ns: ns.flip(ns.ones(2, 3), [2]), IndexError),
    ("roll_align", lambda ns: ns.roll(ns.ones(2, 3), (1, 2), 0), RuntimeError),
    ("roll_no_dims", lambda ns: ns.roll(ns.ones(2, 3), (1, 2)), RuntimeError),
    ("roll_dim", lambda ns: ns.roll(ns.ones(2, 3), 1, 2), IndexError),
    ("roll_0d_dim", lambda ns: ns.roll(ns.ones(()), 1, 0), IndexError),
    ("tril_1d", lambda ns: ns.tril(ns.ones(3)), RuntimeError),
    ("triu_0d", lambda ns: ns.triu(ns.ones(())), RuntimeError),
    ("diagonal_same", lambda ns: ns.diagonal(ns.ones(3, 3), 0, 1, -1), RuntimeError),
    ("diagonal_1d", lambda ns: ns.diagonal(ns.ones(3)), IndexError),
    ("trace_1d", lambda ns: ns.trace(ns.ones(3)), RuntimeError),
    ("trace_3d", lambda ns: ns.trace(ns.ones(2, 3, 4)), RuntimeError),
]


@pytest.mark.parametrize("case", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors(case, device):
    """Bad arguments raise the exception class torch raises, with a message naming the op."""
    name, call, exc = case
    op = name.split("_")[0]
    with pytest.raises(exc):
        call(TNS)
    with pytest.raises(exc, match=rf"^\[{op}\]"):
        call(pyad)


def test_error_messages_name_shapes(device):
    with pytest.raises(RuntimeError, match=r"\[trace\].*\(2, 3, 4\)"):
        pyad.trace(pyad.ones(2, 3, 4))
    with pytest.raises(RuntimeError, match=r"\[tril\].*\(3,\)"):
        pyad.tril(pyad.ones(3))
    with pytest.raises(RuntimeError, match=r"\[diagonal\].*\(3, 3\)"):
        pyad.diagonal(pyad.ones(3, 3), 0, 0, 0)


def test_bad_argument_types(device):
    x = pyad.ones(2, 3)
    with pytest.raises(TypeError, match=r"\[flip\]"):
        pyad.flip(x, ["a"])
    with pytest.raises(TypeError, match=r"\[roll\]"):
        pyad.roll(x, 1.5)
    with pytest.raises(TypeError, match=r"\[cumsum\]"):
        pyad.cumsum(x, 0, dtype=pyad.bool)
    with pytest.raises(TypeError):
        pyad.cumsum(x, 0, pyad.float64)  # dtype is keyword-only, as torch's
    with pytest.raises(TypeError, match=r"\[flip\]"):
        x.flip()
    with pytest.raises(TypeError, match=r"\[roll\]"):
        pyad.roll(x, pyad.ones(2, 3), pyad.tensor(1))
    with pytest.raises(TypeError, match=r"\[flip\]"):
        pyad.flip(x, None)
    with pytest.raises(TypeError, match=r"\[flip\]"):
        x.flip(pyad.tensor(float("nan")), 1)
    with pytest.raises(TypeError, match=r"\[flip\]"):
        x.flip(True)
    with pytest.raises(RuntimeError, match=r"\[roll\]"):
        pyad.roll(x, 2**64)
