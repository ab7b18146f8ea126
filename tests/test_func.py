"""pyad.func transforms against torch.func (and torch.autograd.functional.hvp), in float64.

Every function is written once as `fn(M, *inputs)` and run with M = pyad on pyad tensors and with M = a torch
namespace on torch tensors holding the same data: the ops of tests/op_db.py one by one (jacrev, jacfwd, hessian),
then compositions of them.  Every test runs on each device (the `device` fixture of conftest.py).
"""

import numpy as np
import op_db
import optree
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

import pyad
from pyad import func
from pyad.autograd import forward_ad as fwAD

try:  # pytest's --import-mode=importlib (the project's setting) registers the conftest as tests.conftest
    from tests.conftest import TNS, assert_close, leaf, make, to_torch
except ImportError:  # prepend/append import modes
    from conftest import TNS, assert_close, leaf, make, to_torch

pytestmark = pytest.mark.usefixtures("device")

F64 = pyad.float64


# ---------------------------------------------------------------- helpers
def tt(x):
    """pyad -> torch, through tuples."""
    if isinstance(x, tuple):
        return tuple(tt(v) for v in x)
    return to_torch(x, requires_grad=False)


def close(actual, expected, msg="", rtol=None, atol=None):
    """assert_close through (nested) tuples, requiring the same structure."""
    if isinstance(expected, (tuple, list)):
        assert isinstance(actual, tuple), f"{msg}: expected a tuple, got {type(actual).__name__}"
        assert len(actual) == len(expected), f"{msg}: tuple length {len(actual)} != {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            close(a, e, f"{msg}[{i}]", rtol, atol)
        return
    assert isinstance(actual, pyad.Tensor), f"{msg}: expected a Tensor, got {type(actual).__name__}"
    assert_close(actual, expected, rtol=rtol, atol=atol, msg=msg)


def P(fn):
    return lambda *a: fn(pyad, *a)


def T(fn):
    return lambda *a: fn(TNS, *a)


def inputs(shapes, kinds=None, seed=0):
    rng = np.random.default_rng(seed)
    kinds = kinds or ["any"] * len(shapes)
    arrays = [make(s, k, rng) for s, k in zip(shapes, kinds)]
    return [leaf(a) for a in arrays]


def randn_like(xs, seed):
    rng = np.random.default_rng(seed)
    return tuple(leaf(rng.standard_normal(tuple(x.shape))) for x in xs)


# ---------------------------------------------------------------- the op table
@pytest.mark.parametrize("op,sample", op_db.params(op_db.TRANSFORMS))
def test_op_jacobians_and_hessian(op, sample, device):
    """jacrev and jacfwd of each op with respect to its differentiable inputs, and the hessian of a random
    weighting of its output, as torch.func's."""
    op_db.skip_unless_on(op, device)
    xs = op_db.inputs(op, sample)
    argnums = tuple(op.diff_inputs(len(xs)))
    fn = lambda ns, *a: op.call(ns, *a, **sample.kwargs)  # noqa: E731
    txs = tt(tuple(xs))
    expected = torch.func.jacrev(T(fn), argnums=argnums)(*txs)
    close(func.jacrev(P(fn), argnums=argnums)(*xs), expected, "jacrev")
    close(func.jacfwd(P(fn), argnums=argnums)(*xs), expected, "jacfwd")

    w = np.random.default_rng(3).standard_normal(tuple(fn(pyad, *xs).shape))
    wp, wt = leaf(w), torch.from_numpy(w)
    scalar = lambda ns, *a: (fn(ns, *a) * (wp if ns is pyad else wt)).sum()  # noqa: E731
    try:
        expected = torch.func.hessian(T(scalar), argnums=argnums)(*txs)
    except IndexError:
        # torch.func's vmap fails on some empty inputs (dot of two empty vectors); the hessian is empty then
        assert sample.empty
        expected = tuple(
            tuple(torch.zeros(tuple(xs[i].shape) + tuple(xs[j].shape), dtype=torch.float64) for j in argnums)
            for i in argnums
        )
    close(func.hessian(P(scalar), argnums=argnums)(*xs), expected, "hessian")


# ---------------------------------------------------------------- functions under test
# (name, fn(M, *xs), input shapes, input kinds)
FUNCS = [
    ("mlp", lambda M, x, W1, b1, W2: M.tanh(W2 @ M.softplus(W1 @ x + b1)), [(4,), (5, 4), (5,), (3, 5)], None),
    ("softmax_lse", lambda M, x: M.softmax(x, -1) * M.logsumexp(x, -1, keepdim=True), [(3, 4)], None),
    ("log_softmax", lambda M, x, y: M.log_softmax(x * y, 0), [(3, 4), (4,)], None),
    ("matmul_chain", lambda M, A, B, C: A @ M.sigmoid(B) @ C, [(3, 4), (4, 5), (5, 2)], None),
    ("tuple_out", lambda M, x, y: (x * y + M.sin(x), M.exp(y) + x**2), [(3,), (3,)], None),
    ("tuple_out_shapes", lambda M, x, y: ((x @ y).sum(), M.sqrt(y) * 2.0, x.T), [(2, 3), (3, 2)], ["any", "pos"]),
    ("bcast", lambda M, x, y: M.exp(x) * y / (1.0 + y * y), [(2, 1), (3,)], None),
    (
        "reductions",
        lambda M, x: M.amax(x * x, 1) + M.mean(M.sin(x), 0).sum() - M.log(M.abs(x) + 1.0).sum(1),
        [(3, 4)],
        None,
    ),
    ("scalar_in", lambda M, s, x: M.sin(s) * x + s * s, [(), (3,)], None),
    ("shape_ops", lambda M, x: M.cat([x.T, x.reshape(4, 3)[:, :2] * 2.0], 1).unsqueeze(0).sum(2), [(3, 4)], None),
]
FIDS = [f[0] for f in FUNCS]


def _case(name):
    return next(c for c in FUNCS if c[0] == name)


def _argnums_for(n):
    return [0] + ([tuple(range(n)), (n - 1,)] if n > 1 else [])


FUNC_ARGNUMS = [(c, a) for c in FUNCS for a in _argnums_for(len(c[2]))]
FA_IDS = [f"{c[0]}-{a}" for c, a in FUNC_ARGNUMS]


@pytest.mark.parametrize("case", FUNCS, ids=FIDS)
def test_jvp(case):
    _, fn, shapes, kinds = case
    xs = inputs(shapes, kinds)
    ts = randn_like(xs, 1)
    out, tan = func.jvp(P(fn), tuple(xs), ts)
    tout, ttan = torch.func.jvp(T(fn), tt(tuple(xs)), tt(ts))
    close(out, tout, "output")
    close(tan, ttan, "jvp")
    # primals/tangents given as a bare tensor for a one-input function
    if len(xs) == 1:
        out1, tan1 = func.jvp(P(fn), xs[0], ts[0])
        close(tan1, ttan, "jvp (bare tensors)")


@pytest.mark.parametrize("case", FUNCS, ids=FIDS)
def test_vjp(case):
    _, fn, shapes, kinds = case
    xs = inputs(shapes, kinds)
    out, vjp_fn = func.vjp(P(fn), *xs)
    tout, tvjp_fn = torch.func.vjp(T(fn), *tt(tuple(xs)))
    close(out, tout, "output")
    outs = out if isinstance(out, tuple) else (out,)
    cts = randn_like(outs, 2)
    ct_arg = cts if isinstance(out, tuple) else cts[0]
    close(vjp_fn(ct_arg), tvjp_fn(tt(ct_arg)), "vjp")
    close(vjp_fn(ct_arg), tvjp_fn(tt(ct_arg)), "vjp called twice")


@pytest.mark.parametrize("case,argnums", FUNC_ARGNUMS, ids=FA_IDS)
def test_jacrev_jacfwd(case, argnums):
    _, fn, shapes, kinds = case
    xs = inputs(shapes, kinds)
    expected = torch.func.jacrev(T(fn), argnums=argnums)(*tt(tuple(xs)))
    close(func.jacrev(P(fn), argnums=argnums)(*xs), expected, "jacrev")
    close(func.jacfwd(P(fn), argnums=argnums)(*xs), expected, "jacfwd")
    close(func.jacobian(P(fn), argnums=argnums)(*xs), expected, "jacobian(auto)")
    jac_fwd, used = func.jacobian(P(fn), argnums=argnums, mode="forward", return_mode=True)(*xs)
    close(jac_fwd, expected, "jacobian(forward)")
    assert used == "forward"
    jac_rev, used = func.jacobian(P(fn), argnums=argnums, mode="reverse", return_mode=True)(*xs)
    close(jac_rev, expected, "jacobian(reverse)")
    assert used == "reverse"


def _fd_jacobian(fn, xs, j, eps=1e-6):
    """Central differences of fn's (single) output with respect to xs[j], shaped out.shape + x.shape."""
    base = [x.detach().cpu().numpy().copy() for x in xs]
    x0 = base[j]
    cols = []
    for k in range(x0.size):
        vals = []
        for sgn in (1.0, -1.0):
            pert = [b.copy() for b in base]
            pert[j].reshape(-1)[k] += sgn * eps
            with pyad.no_grad():
                vals.append(fn(*[leaf(p) for p in pert]).numpy())
        cols.append((vals[0] - vals[1]) / (2 * eps))
    out_shape = cols[0].shape
    return np.stack(cols, -1).reshape(out_shape + x0.shape)


FD_FUNCS = [c for c in FUNCS if not c[0].startswith("tuple_out")]


@pytest.mark.parametrize("case", FD_FUNCS, ids=[c[0] for c in FD_FUNCS])
def test_jacobians_match_finite_differences(case):
    _, fn, shapes, kinds = case
    xs = inputs(shapes, kinds, seed=5)
    nums = tuple(range(len(xs)))
    jf = func.jacfwd(P(fn), argnums=nums)(*xs)
    jr = func.jacrev(P(fn), argnums=nums)(*xs)
    for j in nums:
        close(jf[j], tt(jr[j]), f"jacfwd vs jacrev, input {j}")
        np.testing.assert_allclose(
            jr[j].numpy(),
            _fd_jacobian(P(fn), xs, j),
            rtol=1e-5,
            atol=1e-7,
            err_msg=f"jacrev vs finite differences, input {j}",
        )


# ---------------------------------------------------------------- scalar functions: grad, hessian, hvp
SCALAR_FUNCS = [
    ("sum_sigmoid_Ax", lambda M, x, A: M.sigmoid(A @ x).sum(), [(4,), (3, 4)], None),
    ("logsumexp_xy", lambda M, x, y: M.logsumexp(x * y, 1).sum(), [(3, 4), (3, 4)], None),
    ("mlp_loss", lambda M, x, W1, W2: ((W2 @ M.tanh(W1 @ x) - 0.5) ** 2).mean(), [(3,), (4, 3), (2, 4)], None),
    ("softmax_xent", lambda M, x, w: -(M.log_softmax(x @ w, -1)[:, 1]).mean(), [(2, 3), (3, 4)], None),
    ("softplus_pow", lambda M, x, y: (M.softplus(x) ** y).sum() / (1.0 + (y * y).sum()), [(3,), (3,)], ["any", "pos"]),
    ("quartic_0d", lambda M, s, x: (s * s * M.sin(s) * x + x**3).sum(), [(), (2,)], None),
    ("matrix_in", lambda M, X: (M.exp(X) @ X.T).sum() + M.amax(X, 1).sum(), [(3, 2)], None),
]
SF_IDS = [c[0] for c in SCALAR_FUNCS]
SCALAR_ARGNUMS = [(c, a) for c in SCALAR_FUNCS for a in _argnums_for(len(c[2]))]
SA_IDS = [f"{c[0]}-{a}" for c, a in SCALAR_ARGNUMS]


@pytest.mark.parametrize("case,argnums", SCALAR_ARGNUMS, ids=SA_IDS)
def test_grad_and_value(case, argnums):
    _, fn, shapes, kinds = case
    xs = inputs(shapes, kinds, seed=3)
    txs = tt(tuple(xs))
    g, v = func.grad_and_value(P(fn), argnums=argnums)(*xs)
    tg, tv = torch.func.grad_and_value(T(fn), argnums=argnums)(*txs)
    close(g, tg, "grad")
    close(v, tv, "value")
    close(func.grad(P(fn), argnums=argnums)(*xs), tg, "grad()")


@pytest.mark.parametrize("case", SCALAR_FUNCS, ids=SF_IDS)
def test_grad_has_aux(case):
    _, fn, shapes, kinds = case

    def with_aux(M):
        def f(*xs):
            y = fn(M, *xs)
            return y, (y * 2.0, M.sin(xs[0]))

        return f

    xs = inputs(shapes, kinds, seed=4)
    txs = tt(tuple(xs))
    g, (v, aux) = func.grad_and_value(with_aux(pyad), has_aux=True)(*xs)
    tg, (tv, taux) = torch.func.grad_and_value(with_aux(TNS), has_aux=True)(*txs)
    close(g, tg, "grad")
    close(v, tv, "value")
    close(aux, taux, "aux")
    g2, aux2 = func.grad(with_aux(pyad), has_aux=True)(*xs)
    close(g2, tg, "grad(has_aux)")
    close(aux2, taux, "aux of grad(has_aux)")


@pytest.mark.parametrize("case,argnums", SCALAR_ARGNUMS, ids=SA_IDS)
def test_hessian(case, argnums):
    _, fn, shapes, kinds = case
    xs = inputs(shapes, kinds, seed=6)
    expected = torch.func.hessian(T(fn), argnums=argnums)(*tt(tuple(xs)))
    close(func.hessian(P(fn), argnums=argnums)(*xs), expected, "hessian")


@pytest.mark.parametrize("case", SCALAR_FUNCS, ids=SF_IDS)
def test_hvp(case):
    _, fn, shapes, kinds = case
    xs = inputs(shapes, kinds, seed=8)
    vs = randn_like(xs, 9)
    if len(xs) == 1:
        out, h = func.hvp(P(fn), xs[0], vs[0])
        tout, th = torch.autograd.functional.hvp(T(fn), tt(xs[0]), tt(vs[0]))
    else:
        out, h = func.hvp(P(fn), tuple(xs), vs)
        tout, th = torch.autograd.functional.hvp(T(fn), tt(tuple(xs)), tt(vs))
    close(out, tout, "output")
    close(h, th, "hvp")


# ---------------------------------------------------------------- nested transforms
@pytest.mark.parametrize("case", SCALAR_FUNCS, ids=SF_IDS)
def test_jacfwd_of_jacrev_and_jacrev_of_jacrev(case):
    _, fn, shapes, kinds = case
    xs = inputs(shapes, kinds, seed=10)
    txs = tt(tuple(xs))
    expected = torch.func.jacfwd(torch.func.jacrev(T(fn)))(*txs)
    close(func.jacfwd(func.jacrev(P(fn)))(*xs), expected, "jacfwd(jacrev)")
    close(func.jacrev(func.jacrev(P(fn)))(*xs), expected, "jacrev(jacrev)")


def test_nested_on_vector_valued():
    """Second derivatives of a vector-valued function: shape out + in + in."""
    fn = lambda M, x: M.softmax(M.sin(x) * x, 0)  # noqa: E731
    x = inputs([(4,)])[0]
    expected = torch.func.jacrev(torch.func.jacrev(T(fn)))(tt(x))
    close(func.jacfwd(func.jacrev(P(fn)))(x), expected, "jacfwd(jacrev)")
    close(func.jacrev(func.jacrev(P(fn)))(x), expected, "jacrev(jacrev)")
    close(func.jacrev(func.jacfwd(P(fn)))(x), expected, "jacrev(jacfwd)")


def test_grad_grad_scalar_0d():
    fn = lambda M, x: x * x * M.sin(x) + M.exp(-x) / (1.0 + x * x)  # noqa: E731
    x = leaf(1.3)
    expected = torch.func.grad(torch.func.grad(T(fn)))(tt(x))
    g2 = func.grad(func.grad(P(fn)))(x)
    assert tuple(g2.shape) == ()
    close(g2, expected, "grad(grad)")
    close(
        func.grad(func.grad(func.grad(P(fn))))(x),
        torch.func.grad(torch.func.grad(torch.func.grad(T(fn))))(tt(x)),
        "grad(grad(grad))",
    )


GRAD_GRAD_VECTOR = {
    "tanh_sq": lambda M, x: (M.tanh(x) * x**2).sum() + (M.softmax(x, 0) * x).sum(),
    "with_logsumexp": lambda M, x: (M.tanh(x) * x**2).sum() + M.logsumexp(x, 0),
}


@pytest.mark.parametrize("name", list(GRAD_GRAD_VECTOR))
def test_grad_grad_vector_summed(name):
    """grad of x -> sum(grad(f)(x)) for a scalar f of a vector."""
    fn = GRAD_GRAD_VECTOR[name]
    x = inputs([(5,)], seed=11)[0]

    def outer(M, G):
        return lambda x: G(lambda y: fn(M, y))(x).sum()

    expected = torch.func.grad(outer(TNS, torch.func.grad))(tt(x))
    close(func.grad(outer(pyad, func.grad))(x), expected, "grad(sum(grad))")


@pytest.mark.parametrize("case", SCALAR_FUNCS, ids=SF_IDS)
def test_jvp_of_grad(case):
    _, fn, shapes, kinds = case
    xs = inputs(shapes, kinds, seed=12)
    vs = randn_like(xs, 13)
    nums = tuple(range(len(xs)))
    g, jg = func.jvp(func.grad(P(fn), argnums=nums), tuple(xs), vs)
    tg, tjg = torch.func.jvp(torch.func.grad(T(fn), argnums=nums), tt(tuple(xs)), tt(vs))
    close(g, tg, "grad")
    close(jg, tjg, "jvp of grad")


def test_jacfwd_of_jacfwd_matches_torch():
    # Nested dual levels in depth: tests/test_nested_forward.py.
    x = inputs([(3,)])[0]
    got = func.jacfwd(func.jacfwd(lambda v: pyad.sin(v) * v))(x)
    close(got, torch.func.jacfwd(torch.func.jacfwd(lambda v: torch.sin(v) * v))(tt(x)), "jacfwd of jacfwd")
    one = pyad.ones_like(x)
    got = func.jvp(lambda v: func.jvp(pyad.sin, (v,), (one,))[1], (x,), (one,))[1]
    close(got, -torch.sin(tt(x)), "jvp of jvp")


# ---------------------------------------------------------------- linearize
@pytest.mark.parametrize(
    "case",
    [c for c in FUNCS if not c[0].startswith("tuple_out")],
    ids=[c[0] for c in FUNCS if not c[0].startswith("tuple_out")],
)
def test_linearize(case):
    _, fn, shapes, kinds = case
    xs = inputs(shapes, kinds, seed=14)
    out, jvp_fn = func.linearize(P(fn), *xs)
    tout, tjvp_fn = torch.func.linearize(T(fn), *tt(tuple(xs)))
    close(out, tout, "output")
    for s in (15, 16):
        ts = randn_like(xs, s)
        close(jvp_fn(*ts), tjvp_fn(*tt(ts)), f"linearized jvp (seed {s})")


def test_linearize_tuple_output():
    _, fn, shapes, kinds = _case("tuple_out")
    xs = inputs(shapes, kinds, seed=14)
    out, jvp_fn = func.linearize(P(fn), *xs)
    ts = randn_like(xs, 15)
    tout, tj = torch.func.jvp(T(fn), tt(tuple(xs)), tt(ts))
    close(out, tout, "output")
    close(jvp_fn(*ts), tj, "linearized jvp")


# ---------------------------------------------------------------- jacobian(mode="auto")
@pytest.mark.parametrize("n,m,mode", [(5, 500, "forward"), (500, 5, "reverse")], ids=["wide_out", "wide_in"])
def test_jacobian_auto_mode(n, m, mode):
    Wa = make((m, n), "any", np.random.default_rng(0)) / np.sqrt(n)
    Wp, Wt = leaf(Wa), torch.from_numpy(Wa)
    fn = lambda M, x: M.tanh((Wp if M is pyad else Wt) @ x)  # noqa: E731
    x = inputs([(n,)], seed=1)[0]
    expected = torch.func.jacrev(T(fn))(tt(x))
    jr = func.jacrev(P(fn))(x)
    close(jr, expected, "jacrev")
    jac_fn = func.jacobian(P(fn))
    assert jac_fn.last_mode is None
    j = jac_fn(x)
    assert jac_fn.last_mode == mode
    assert tuple(j.shape) == (m, n)
    close(j, tt(jr), "jacobian(auto) vs jacrev")


def test_jacobian_mode_lives_on_the_function_not_the_module():
    wide = func.jacobian(lambda x: pyad.outer(x, x).reshape(-1))  # 2 inputs, 4 outputs: forward
    tall = func.jacobian(lambda x: x.sum().reshape(1))  # 2 inputs, 1 output: reverse
    x = pyad.tensor([1.0, 2.0], dtype=pyad.float64)
    wide(x)
    tall(x)
    assert (wide.last_mode, tall.last_mode) == ("forward", "reverse")  # one call does not overwrite the other's
    assert not hasattr(func, "last_jacobian_mode")  # no module-level record of the last call


@pytest.mark.parametrize("chunk", [1, 3, 7], ids=lambda c: f"chunk{c}")
@pytest.mark.parametrize(
    "case,argnums",
    [(_case("mlp"), (0, 2)), (_case("tuple_out"), (0, 1)), (_case("matmul_chain"), 1), (_case("softmax_lse"), 0)],
    ids=["mlp", "tuple_out", "matmul_chain", "softmax_lse"],
)
def test_chunked_jacobians_identical(case, argnums, chunk):
    _, fn, shapes, kinds = case
    xs = inputs(shapes, kinds, seed=17)
    ref_f = func.jacfwd(P(fn), argnums=argnums)(*xs)
    ref_r = func.jacrev(P(fn), argnums=argnums)(*xs)
    close(ref_f, tt(ref_r), "jacfwd vs jacrev (unchunked)")
    exact = dict(rtol=1e-13, atol=1e-16)  # the same numbers up to rounding (a batched matmul may sum
    # in another order for another batch size)
    close(func.jacfwd(P(fn), argnums=argnums, chunk_size=chunk)(*xs), tt(ref_f), f"jacfwd chunk {chunk}", **exact)
    close(func.jacrev(P(fn), argnums=argnums, chunk_size=chunk)(*xs), tt(ref_r), f"jacrev chunk {chunk}", **exact)
    for mode, ref in (("forward", ref_f), ("reverse", ref_r)):
        close(
            func.jacobian(P(fn), argnums=argnums, mode=mode, chunk_size=chunk)(*xs),
            tt(ref),
            f"jacobian({mode}) chunk {chunk}",
            **exact,
        )
    close(func.jacobian(P(fn), argnums=argnums, chunk_size=chunk)(*xs), tt(ref_r), f"jacobian(auto) chunk {chunk}")


@pytest.mark.parametrize("chunk", [1, 3, 7, None], ids=lambda c: f"chunk{c}")
@pytest.mark.parametrize("n,m", [(5, 500), (500, 5)], ids=["wide_out", "wide_in"])
def test_chunked_jacobian_auto_large(n, m, chunk):
    Wa = make((m, n), "any", np.random.default_rng(0)) / np.sqrt(n)
    Wp = leaf(Wa)
    f = lambda x: pyad.tanh(Wp @ x)  # noqa: E731
    x = inputs([(n,)], seed=1)[0]
    ref = func.jacrev(f)(x)
    close(func.jacobian(f, chunk_size=chunk)(x), tt(ref), "jacobian(auto)")
    close(func.jacfwd(f, chunk_size=chunk)(x), tt(ref), "jacfwd")
    close(func.jacrev(f, chunk_size=chunk)(x), tt(ref), "jacrev", rtol=1e-13, atol=1e-16)


# ---------------------------------------------------------------- vector vs column input
@pytest.mark.parametrize("layout", ["vector", "column"])
def test_nested_sigmoid_vector_and_column(layout):
    """f(x) = sum(sigmoid(B @ sigmoid(A @ x))) with x of shape (d,) or (d, 1)."""
    rng = np.random.default_rng(18)
    d = 4
    A, B = make((3, d), "any", rng), make((2, 3), "any", rng)
    xa = make((d,) if layout == "vector" else (d, 1), "any", rng)
    Ap, Bp, At, Bt = leaf(A), leaf(B), torch.from_numpy(A), torch.from_numpy(B)

    def fn(M, x):
        a, b = (Ap, Bp) if M is pyad else (At, Bt)
        return M.sigmoid(b @ M.sigmoid(a @ x)).sum()

    x = leaf(xa)
    tx = tt(x)
    close(func.grad(P(fn))(x), torch.func.grad(T(fn))(tx), "grad")
    close(func.jacrev(P(fn))(x), torch.func.jacrev(T(fn))(tx), "jacrev")
    close(func.jacfwd(P(fn))(x), torch.func.jacrev(T(fn))(tx), "jacfwd")
    close(func.jacobian(P(fn))(x), torch.func.jacrev(T(fn))(tx), "jacobian")
    close(func.hessian(P(fn))(x), torch.func.hessian(T(fn))(tx), "hessian")
    v = leaf(rng.standard_normal(xa.shape))
    close(func.hvp(P(fn), x, v), torch.autograd.functional.hvp(T(fn), tx, tt(v)), "hvp")
    close(func.jvp(P(fn), (x,), (v,)), torch.func.jvp(T(fn), (tx,), (tt(v),)), "jvp")


# ---------------------------------------------------------------- random compositions (hypothesis)
# The building blocks: the table's elementwise functions (one row each, not their other spellings). Each op's
# inputs are first mapped smoothly into its domain (and kept bounded, so that chains of exp stay finite).
WARP = {
    "any": lambda M, y: M.tanh(y * 0.5) * 2.0,
    "pos": lambda M, y: y * y * 0.5 + 0.5,
    "nz": lambda M, y: y * y + 0.3,
    "unit": lambda M, y: M.tanh(y) * 0.9,
}


def _building_blocks(arity):
    rows = [
        p.values[0]
        for p in op_db.params(
            op_db.TRANSFORMS,
            with_samples=False,
            where=lambda op: (
                op.elementwise and not op.variant and not op.composite and not op.nondiff and op.arity == arity
            ),
        )
    ]

    def warped(op):
        return lambda M, *ys: op.call(M, *[WARP[d](M, y) for d, y in zip(op.domains(arity), ys)])

    return {op.id: warped(op) for op in rows}


UNARY_OPS = _building_blocks(1)
BINARY_OPS = _building_blocks(2)


@st.composite
def compositions(draw):
    """A program of 2-5 ops over one input x of a random small shape (1-3 dims, sizes 1-3)."""
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)))
    seed = draw(st.integers(0, 2**16))
    ops = []
    cur = shape
    for _ in range(draw(st.integers(2, 5))):
        choices = ["unary", "binary"]
        if len(cur) >= 1:
            choices += ["sum", "matmul", "softmax"]
        kind = draw(st.sampled_from(choices))
        if kind == "unary":
            ops.append(("unary", draw(st.sampled_from(sorted(UNARY_OPS)))))
        elif kind == "binary":
            # the other operand: x itself broadcast, or a constant with a broadcast-compatible shape
            other_shape = tuple(draw(st.sampled_from([1, s])) for s in cur[len(cur) - draw(st.integers(0, len(cur))) :])
            ops.append(("binary", draw(st.sampled_from(sorted(BINARY_OPS))), other_shape, draw(st.booleans())))
        elif kind == "sum":
            dim = draw(st.integers(-len(cur), len(cur) - 1))
            keep = draw(st.booleans()) or len(cur) == 1
            ops.append(("sum", dim, keep))
            cur = (
                tuple(1 if i == dim % len(cur) else s for i, s in enumerate(cur))
                if keep
                else tuple(s for i, s in enumerate(cur) if i != dim % len(cur))
            )
        elif kind == "matmul":
            k = draw(st.integers(1, 3))
            ops.append(("matmul", k))
            cur = cur[:-1] + (k,)
        else:
            ops.append(("softmax", draw(st.integers(-len(cur), len(cur) - 1))))
    return shape, seed, ops


def build(shape, seed, ops):
    """fn(M, x) running `ops`, with constants drawn from `seed` (the same numbers for pyad and torch)."""
    rng = np.random.default_rng(seed)
    consts = []  # one entry per op
    cur = shape
    for op in ops:
        c = None
        if op[0] == "binary":
            c = rng.standard_normal(op[2])
        elif op[0] == "matmul":
            c = rng.standard_normal((cur[-1], op[1])) / np.sqrt(cur[-1])
            cur = cur[:-1] + (op[1],)
        elif op[0] == "sum":
            _, dim, keep = op
            cur = (
                tuple(1 if i == dim % len(cur) else s for i, s in enumerate(cur))
                if keep
                else tuple(s for i, s in enumerate(cur) if i != dim % len(cur))
            )
        consts.append(c)
    pc = [leaf(c) if c is not None else None for c in consts]
    tc = [torch.from_numpy(np.asarray(c, dtype=np.float64)) if c is not None else None for c in consts]

    def fn(M, x):
        cs = pc if M is pyad else tc
        y = x
        for op, c in zip(ops, cs):
            if op[0] == "unary":
                y = UNARY_OPS[op[1]](M, y)
            elif op[0] == "binary":
                other = c + y.sum() * 0.1 if op[3] else c  # a constant, or one that depends on y too
                y = BINARY_OPS[op[1]](M, y, other)
            elif op[0] == "sum":
                y = y.sum(op[1], keepdim=op[2])
            elif op[0] == "matmul":
                y = y @ c
            else:
                y = M.softmax(y, op[1])
        return y

    return fn


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(compositions())
def test_random_compositions(prog):
    shape, seed, ops = prog
    fn = build(shape, seed, ops)
    x = leaf(np.random.default_rng(seed + 1).standard_normal(shape))
    tx = tt(x)
    expected = torch.func.jacrev(T(fn))(tx)
    close(func.jacrev(P(fn))(x), expected, f"jacrev {ops}")
    close(func.jacfwd(P(fn))(x), expected, f"jacfwd {ops}")
    t = leaf(np.random.default_rng(seed + 2).standard_normal(shape))
    close(func.jvp(P(fn), (x,), (t,)), torch.func.jvp(T(fn), (tx,), (tt(t),)), f"jvp {ops}")


# ---------------------------------------------------------------- has_aux on the other transforms
def _aux_fn(M, x, y):
    out = M.tanh(x @ y)
    return out, (out.sum(), M.exp(x))


def test_has_aux_jvp_vjp_jacrev_jacfwd():
    xs = inputs([(2, 3), (3, 2)], seed=20)
    txs = tt(tuple(xs))
    ts = randn_like(xs, 21)
    out, tan, aux = func.jvp(P(_aux_fn), tuple(xs), ts, has_aux=True)
    tout, ttan, taux = torch.func.jvp(T(_aux_fn), txs, tt(ts), has_aux=True)
    close((out, tan, aux), (tout, ttan, taux), "jvp(has_aux)")
    assert fwAD.unpack_dual(aux[1]).tangent is None

    out, vjp_fn, aux = func.vjp(P(_aux_fn), *xs, has_aux=True)
    tout, tvjp_fn, taux = torch.func.vjp(T(_aux_fn), *txs, has_aux=True)
    ct = randn_like([out], 22)[0]
    close((out, aux), (tout, taux), "vjp(has_aux) output and aux")
    close(vjp_fn(ct), tvjp_fn(tt(ct)), "vjp(has_aux) vjp")

    for name, tr in (("jacrev", func.jacrev), ("jacfwd", func.jacfwd)):
        jac, aux = tr(P(_aux_fn), argnums=(0, 1), has_aux=True)(*xs)
        tjac, taux = torch.func.jacrev(T(_aux_fn), argnums=(0, 1), has_aux=True)(*txs)
        close(jac, tjac, f"{name}(has_aux) jacobian")
        close(aux, taux, f"{name}(has_aux) aux")


# ---------------------------------------------------------------- errors
def test_grad_of_non_scalar_raises():
    x = inputs([(3,)])[0]
    with pytest.raises(RuntimeError):
        func.grad(lambda v: v * 2.0)(x)
    with pytest.raises(RuntimeError):
        torch.func.grad(lambda v: v * 2.0)(tt(x))


def test_jvp_rejects_mismatched_tangent():
    x = inputs([(3,)])[0]
    with pytest.raises(ValueError):
        func.jvp(pyad.sin, (x,), (pyad.ones(4, dtype=F64),))
    with pytest.raises(ValueError):
        func.jvp(pyad.sin, (x,), (pyad.ones_like(x), pyad.ones_like(x)))


def test_jacfwd_of_a_lone_tensor_argument_matches_the_general_path():
    """jacfwd's short path for one Tensor argument (func._jacfwd_lone) against the pytree path (chunk_size=n
    takes it) and torch: tuple and dict outputs, an output independent of x, a scalar, negative argnums."""
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((3, 2)), rng.standard_normal(2)
    fns = {
        "tuple": lambda ns, x, y: (ns.sin(x) * y, (x * x).sum()),
        "dict": lambda ns, x, y: {"u": x.T @ x, "v": y * 2.0},
        "scalar": lambda ns, x, y: ns.tanh(x).sum(),
        "independent": lambda ns, x, y: y * 3.0,
    }
    for name, fn in fns.items():
        for argnums in (0, -2):
            got = func.jacfwd(lambda x, y: fn(pyad, x, y), argnums=argnums)(pyad.tensor(a), pyad.tensor(b))
            general = func.jacfwd(lambda x, y: fn(pyad, x, y), argnums=argnums, chunk_size=6)(
                pyad.tensor(a), pyad.tensor(b)
            )
            # (torch 2.13's jacfwd returns zeros for argnums=-2, where pyad reads -2 as argument 0 like jacrev)
            want = torch.func.jacfwd(lambda x, y: fn(torch, x, y), argnums=argnums % 2)(
                torch.tensor(a), torch.tensor(b)
            )
            for g, h, w in zip(optree.tree_leaves(got), optree.tree_leaves(general), optree.tree_leaves(want)):
                np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-12, atol=1e-14, err_msg=name)
                np.testing.assert_allclose(h.numpy(), w.numpy(), rtol=1e-12, atol=1e-14, err_msg=name)
    with pytest.raises(ValueError, match=r"\[jacfwd\] argnums"):
        func.jacfwd(lambda x: x, argnums=True)(pyad.tensor(b))
    with pytest.raises(ValueError, match=r"\[jacfwd\] argnums"):
        func.jacfwd(lambda x: x, argnums=1)(pyad.tensor(b))
