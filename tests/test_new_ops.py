"""cumsum, cumprod, flip, roll, tril, triu, diagonal, trace and kron against torch.

NEW_OPS declares each op (or variant) once: `call(ns, *tensors)` runs with ns = pyad on pyad tensors and with
ns = TNS (conftest's torch namespace) on torch tensors holding the same data; `shapes` lists the input shapes
(0-d, 0-size and batched ones where torch allows them); inputs are drawn uniformly from `domain`; `modes` says
which checks apply. The parity tests below parametrise over this table: values and reverse-mode gradients in
float64 and float32, forward mode against torch.func.jvp, double backward, the transforms (jacrev, jacfwd,
hessian: batched cotangents and tangents), gradcheck and gradgradcheck, each on every device of the `device`
fixture. Then the cases the table cannot say: cumprod with zeros, dtypes, views, method forms and errors.
"""
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

ALL = {"reverse", "forward", "double", "transforms", "cuda"}

NEW_OPS = [
    dict(name="cumsum", call=lambda ns, x: ns.cumsum(x, 1), shapes=[((3, 4),), ((2, 0),), ((2, 3, 4),)],
         domain=(-2, 2), modes=ALL),
    dict(name="cumsum_last", call=lambda ns, x: ns.cumsum(x, -1), shapes=[((6,),), ((),)], domain=(-2, 2), modes=ALL),
    dict(name="cumsum_method_dim0", call=lambda ns, x: x.cumsum(0), shapes=[((4, 3),), ((3, 2, 2),)],
         domain=(-2, 2), modes=ALL),
    dict(name="cumprod", call=lambda ns, x: ns.cumprod(x, 1), shapes=[((3, 4),), ((2, 0),), ((2, 3, 4),)],
         domain=(-1.5, 1.5), modes=ALL),
    dict(name="cumprod_dim0", call=lambda ns, x: ns.cumprod(x, 0), shapes=[((5, 3),), ((),), ((1, 4),)],
         domain=(-1.5, 1.5), modes=ALL),
    dict(name="flip", call=lambda ns, x: ns.flip(x, (0, 1)), shapes=[((3, 4),), ((2, 0, 3),)], domain=(-2, 2),
         modes=ALL),
    dict(name="flip_last", call=lambda ns, x: ns.flip(x, [-1]), shapes=[((2, 3, 4),), ((5,),)], domain=(-2, 2),
         modes=ALL),
    # torch.func's batching rule of flip fails on a 0-d tensor (IndexError), so no transforms row to compare with.
    dict(name="flip_0d", call=lambda ns, x: ns.flip(x, [0]), shapes=[((),)], domain=(-2, 2),
         modes=ALL - {"transforms"}),
    dict(name="flip_strided", call=lambda ns, x: ns.flip(x.transpose(0, 1)[::2], (0,)), shapes=[((3, 5),)],
         domain=(-2, 2), modes=ALL),
    dict(name="roll", call=lambda ns, x: ns.roll(x, 1), shapes=[((3, 4),), ((),), ((0, 3),)], domain=(-2, 2),
         modes=ALL),
    dict(name="roll_dims", call=lambda ns, x: ns.roll(x, (1, -5), (0, 1)), shapes=[((3, 4),), ((2, 3, 4),)],
         domain=(-2, 2), modes=ALL),
    dict(name="roll_wrap", call=lambda ns, x: ns.roll(x, 7, -1), shapes=[((2, 3),), ((4, 0),)], domain=(-2, 2),
         modes=ALL),
    dict(name="roll_repeated_dim", call=lambda ns, x: ns.roll(x, (2, -7, 1), (1, 0, -1)), shapes=[((3, 4),)],
         domain=(-2, 2), modes=ALL),
    dict(name="roll_huge_shifts", call=lambda ns, x: ns.roll(x, (2**40 + 1, -2**40 - 3), (0, 1)),
         shapes=[((3, 5),)], domain=(-2, 2), modes=ALL),
    dict(name="roll_strided", call=lambda ns, x: ns.roll(x.transpose(0, 1), 2), shapes=[((3, 4),)], domain=(-2, 2),
         modes=ALL),
    dict(name="tril", call=lambda ns, x: ns.tril(x), shapes=[((3, 4),), ((2, 3, 4),), ((0, 3),)], domain=(-2, 2),
         modes=ALL),
    dict(name="tril_below", call=lambda ns, x: ns.tril(x, -1), shapes=[((4, 3),)], domain=(-2, 2), modes=ALL),
    dict(name="tril_far", call=lambda ns, x: ns.tril(x, 5), shapes=[((3, 3),)], domain=(-2, 2), modes=ALL),
    dict(name="triu", call=lambda ns, x: ns.triu(x, 1), shapes=[((3, 4),), ((2, 4, 3),), ((3, 0),)],
         domain=(-2, 2), modes=ALL),
    dict(name="triu_below", call=lambda ns, x: ns.triu(x, -2), shapes=[((4, 4),)], domain=(-2, 2), modes=ALL),
    dict(name="diagonal", call=lambda ns, x: ns.diagonal(x), shapes=[((3, 4),), ((4, 3),), ((0, 3),)],
         domain=(-2, 2), modes=ALL),
    dict(name="diagonal_offset", call=lambda ns, x: ns.diagonal(x, 1), shapes=[((3, 4),), ((3, 3),)],
         domain=(-2, 2), modes=ALL),
    dict(name="diagonal_dims", call=lambda ns, x: ns.diagonal(x, -1, 2, 0), shapes=[((2, 3, 4),)], domain=(-2, 2),
         modes=ALL),
    dict(name="diagonal_empty", call=lambda ns, x: ns.diagonal(x, 5), shapes=[((3, 4),)], domain=(-2, 2), modes=ALL),
    dict(name="diagonal_then_op", call=lambda ns, x: ns.diagonal(x * x, 0, -1, -2), shapes=[((2, 3, 3),)],
         domain=(-2, 2), modes=ALL),
    dict(name="trace", call=lambda ns, x: ns.trace(x), shapes=[((3, 4),), ((4, 4),), ((0, 3),)], domain=(-2, 2),
         modes=ALL),
    dict(name="kron", call=lambda ns, x, y: ns.kron(x, y), shapes=[((2, 3), (4, 2)), ((3,), (2, 2)), ((), (3,)),
                                                                  ((), ()), ((2, 0), (3, 1))],
         domain=(-2, 2), modes=ALL),
    dict(name="kron_method", call=lambda ns, x, y: x.kron(y), shapes=[((2, 1, 2), (3, 2))], domain=(-2, 2),
         modes=ALL),
]

NEW_OP_NAMES = ["cumsum", "cumprod", "flip", "roll", "tril", "triu", "diagonal", "trace", "kron"]

CASES = [pytest.param(op, shapes, id=f"{op['name']}-{'x'.join(str(s) for s in shapes)}".replace(" ", ""))
         for op in NEW_OPS for shapes in op["shapes"]]

DTYPES = [pytest.param(pyad.float64, id="f64"), pytest.param(pyad.float32, id="f32")]
_NP = {pyad.float64: np.float64, pyad.float32: np.float32}


def inputs(op, shapes, dtype=pyad.float64, requires_grad=False, seed=0):
    rng = np.random.default_rng(seed)
    lo, hi = op["domain"]
    return [pyad.tensor(rng.uniform(lo, hi, s).astype(_NP[dtype]), dtype=dtype, requires_grad=requires_grad)
            for s in shapes]


def randn_like(t, rng):
    return pyad.tensor(rng.standard_normal(tuple(t.shape)), dtype=t.dtype)


def needs(op, mode, device):
    if mode not in op["modes"] or (device == "cuda" and "cuda" not in op["modes"]):
        pytest.skip(f"{op['name']} does not declare mode {mode}")


def zeros_for_none(grads, like):
    return [pyad.zeros(*x.shape, dtype=x.dtype) if g is None else g for g, x in zip(grads, like)]


def torch_zeros_for_none(grads, like):
    return [torch.zeros_like(x) if g is None else g for g, x in zip(grads, like)]


# ---------------------------------------------------------------- the table's parity tests
def test_table_covers_every_new_op():
    """Every new op has a row under its own name, is exported, and is a Tensor method as in torch."""
    names = {op["name"] for op in NEW_OPS}
    for n in NEW_OP_NAMES:
        assert n in names, f"no NEW_OPS row for {n}"
        assert callable(getattr(pyad, n)), n
        assert hasattr(pyad.Tensor, n) and hasattr(torch.Tensor, n), n


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op,shapes", CASES)
def test_values_and_gradients(op, shapes, dtype, device):
    """Forward values, and the gradients of a random cotangent pulled back, match torch."""
    needs(op, "reverse", device)
    xs = inputs(op, shapes, dtype, requires_grad=True)
    ts = [to_torch(x) for x in xs]
    out, tout = op["call"](pyad, *xs), op["call"](TNS, *ts)
    assert_close(out, tout, msg="forward")
    g = randn_like(out, np.random.default_rng(1))
    out.backward(gradient=g)
    tout.backward(gradient=to_torch(g, requires_grad=False))
    for i, (x, t) in enumerate(zip(xs, ts)):
        assert_close(x.grad, t.grad, msg=f"grad of input {i}")


@pytest.mark.parametrize("op,shapes", CASES)
def test_forward_mode(op, shapes, device):
    """func.jvp (tangents on every input) matches torch.func.jvp."""
    needs(op, "forward", device)
    xs = inputs(op, shapes)
    rng = np.random.default_rng(2)
    vs = [randn_like(x, rng) for x in xs]
    out, tan = func.jvp(lambda *a: op["call"](pyad, *a), tuple(xs), tuple(vs))
    tout, ttan = torch.func.jvp(lambda *a: op["call"](TNS, *a), tuple(to_torch(x) for x in xs),
                                tuple(to_torch(v) for v in vs))
    assert_close(out, tout, msg="primal")
    assert_close(tan, ttan, msg="tangent")


@pytest.mark.parametrize("op,shapes", CASES)
def test_double_backward(op, shapes, device):
    """The gradients, built with create_graph=True, differentiate again (w.r.t. the inputs and the cotangent)."""
    needs(op, "double", device)
    xs = inputs(op, shapes, requires_grad=True)
    ts = [to_torch(x) for x in xs]
    rng = np.random.default_rng(3)
    out, tout = op["call"](pyad, *xs), op["call"](TNS, *ts)
    g = pyad.tensor(rng.standard_normal(tuple(out.shape)), dtype=pyad.float64, requires_grad=True)
    tg = to_torch(g)
    grads = zeros_for_none(pyad.autograd.grad(out, xs, g, create_graph=True, allow_unused=True), xs)
    tgrads = torch_zeros_for_none(torch.autograd.grad(tout, ts, tg, create_graph=True, allow_unused=True), ts)
    vs = [randn_like(x, rng) for x in xs]
    s = sum(((gr * v).sum() for gr, v in zip(grads, vs)), pyad.zeros((), dtype=pyad.float64))
    ts_ = sum(((gr * to_torch(v)).sum() for gr, v in zip(tgrads, vs)), torch.zeros((), dtype=torch.float64))
    if not s.requires_grad:  # every gradient is identically zero (an empty input)
        assert not ts_.requires_grad
        return
    second = zeros_for_none(pyad.autograd.grad(s, xs + [g], allow_unused=True), xs + [g])
    tsecond = torch_zeros_for_none(torch.autograd.grad(ts_, ts + [tg], allow_unused=True), ts + [tg])
    for i, (a, e) in enumerate(zip(second, tsecond)):
        assert_close(a, e, msg=f"second derivative {i}")


@pytest.mark.parametrize("op,shapes", CASES)
def test_transforms(op, shapes, device):
    """jacrev and jacfwd (all directions at once: batched cotangents and tangents) and the hessian of a scalar
    function of the op, as torch.func's."""
    needs(op, "transforms", device)
    xs = inputs(op, shapes)
    argnums = tuple(range(len(xs)))
    ts = tuple(to_torch(x) for x in xs)
    f, tf = (lambda *a: op["call"](pyad, *a)), (lambda *a: op["call"](TNS, *a))
    out_shape = tuple(tf(*ts).shape)
    empty = any(t.numel() == 0 for t in ts)
    for name, jac, tjac in [("jacrev", func.jacrev, torch.func.jacrev), ("jacfwd", func.jacfwd, torch.func.jacfwd)]:
        got = jac(f, argnums=argnums)(*xs)
        # torch.func fails on some empty inputs (trace of a (0, 3) matrix); their jacobians are empty or zeros.
        want = (tuple(torch.zeros(out_shape + tuple(t.shape), dtype=t.dtype) for t in ts) if empty
                else tjac(tf, argnums=argnums)(*ts))
        for i, (a, e) in enumerate(zip(got, want)):
            assert_close(a, e, msg=f"{name} w.r.t. input {i}")
    rest = xs[1:]
    h = func.hessian(lambda x: (op["call"](pyad, x, *rest) ** 2).sum())(xs[0])
    th = (torch.zeros(tuple(ts[0].shape) * 2, dtype=ts[0].dtype) if empty
          else torch.func.hessian(lambda x: (op["call"](TNS, x, *ts[1:]) ** 2).sum())(ts[0]))
    assert_close(h, th, msg="hessian")


@pytest.mark.parametrize("op,shapes", CASES)
def test_gradcheck(op, shapes, device):
    """Finite differences agree with both modes, to first and second order."""
    needs(op, "double", device)
    xs = tuple(inputs(op, shapes, requires_grad=True))
    f = lambda *a: op["call"](pyad, *a)  # noqa: E731
    assert pyad.autograd.gradcheck(f, xs, check_forward_ad=True)
    assert pyad.autograd.gradgradcheck(f, xs)


# ---------------------------------------------------------------- cumprod with zeros
ZERO_LINES = [
    [0.0, 2.0, 3.0, 0.5],          # a zero first
    [1.5, 0.0, 2.0, -1.0],         # one zero inside
    [2.0, 0.0, 3.0, 0.0],          # two zeros
    [0.0, 0.0, 1.5, 2.0],          # two zeros side by side
    [1.5, -2.0, 0.5, 0.0],         # a zero last
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
        assert_close(jac(lambda y: pyad.cumprod(y, dim))(xd), tjac(lambda y: torch.cumprod(y, dim))(t.detach()),
                     msg=name)
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
    for call in [lambda ns, x: ns.flip(x, [0]), lambda ns, x: ns.roll(x, 1, 1), lambda ns, x: ns.tril(x),
                 lambda ns, x: ns.triu(x, 1), lambda ns, x: ns.diagonal(x, -1), lambda ns, x: ns.kron(x, x)]:
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
        (x.flip(0, 1), t.flip(0, 1)), (x.flip((0, 2)), t.flip((0, 2))), (x.flip(dims=[1]), t.flip(dims=[1])),
        (x.roll(2), t.roll(2)), (x.roll(1, 2), t.roll(1, 2)),
        (x.roll(shifts=(1, 1), dims=(0, 0)), t.roll((1, 1), (0, 0))),
        (x.tril(1), t.tril(1)), (x.triu(diagonal=-1), t.triu(diagonal=-1)),
        (x.diagonal(offset=1, dim1=1, dim2=2), t.diagonal(offset=1, dim1=1, dim2=2)),
        (x[0].trace(), t[0].trace()), (x.cumsum(dim=2), t.cumsum(dim=2)), (x.cumprod(-1), t.cumprod(-1)),
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
    shifts = (-2**63, 2**63 - 1)
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
