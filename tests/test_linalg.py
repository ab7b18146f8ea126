"""pyad.linalg beyond the op table (tests/op_db.py runs every function's VJP, JVP, double backward and
transforms against torch): LinAlgError for singular and non-positive-definite input (naming the op and the batch
element), argument errors, float32 parity, broadcasting, the named tuples' fields, hypothesis over shapes, and
pyad.norm kept consistent with linalg.vector_norm."""

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

import pyad
from pyad import linalg as LA

F64, F32 = pyad.float64, pyad.float32
rng = np.random.default_rng(7)


def P(a, dtype=F64, grad=False):
    return pyad.tensor(np.asarray(a), dtype=dtype, requires_grad=grad)


def T(a, dtype=torch.float64):
    return torch.tensor(np.asarray(a), dtype=dtype)


def close(p, t, rtol=1e-7, atol=1e-7):
    np.testing.assert_allclose(p.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=atol)


def wc(*shape):
    """Well-conditioned square matrices (..., n, n)."""
    n = shape[-1]
    return rng.standard_normal(shape) + n * np.eye(n)


def spd(*shape):
    a = rng.standard_normal(shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


# ---------------------------------------------------------------- LinAlgError
def test_linalg_error_is_a_runtime_error():
    assert issubclass(LA.LinAlgError, RuntimeError)


def singular_batch():
    a = wc(3, 3, 3)
    # rank 2 through a zero row, which every LU keeps exactly zero: with two equal rows instead, whether the last
    # pivot comes out exactly 0 depends on the BLAS (MKL left 3.3e-16 on one machine, OpenBLAS 0)
    a[1] = [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [0.0, 1.0, 1.0]]
    return a


@pytest.mark.parametrize(
    "call",
    [
        lambda a: LA.solve(a, pyad.ones(3, 3, 1, dtype=F64)),
        lambda a: LA.inv(a),
        lambda a: LA.solve(a, pyad.ones(3, 1, 3, dtype=F64), left=False),
    ],
    ids=["solve", "inv", "solve_right"],
)
def test_singular_input_raises_naming_op_and_batch_element(call):
    with pytest.raises(LA.LinAlgError, match=r"\[linalg\.(solve|inv)\] \(batch element 1\).*singular"):
        call(P(singular_batch()))


def test_singular_unbatched_message_has_no_batch_element():
    with pytest.raises(LA.LinAlgError, match=r"^\[linalg\.inv\] the input matrix is singular"):
        LA.inv(P(np.zeros((2, 2))))


def test_det_and_slogdet_of_a_singular_matrix_are_torchs():
    a = singular_batch()
    close(LA.det(P(a)), torch.linalg.det(T(a)), atol=1e-12)
    s, la = LA.slogdet(P(a))
    ts, tla = torch.linalg.slogdet(T(a))
    close(s, ts)
    assert la.numpy()[1] == -math.inf and np.allclose(la.numpy()[[0, 2]], tla.numpy()[[0, 2]])


SINGULAR_DET_CASES = {
    "rank2": np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]),  # LU gives det exactly 0
    "rank1": np.array([[1.0, 2.0], [2.0, 4.0]]),
    "diag": np.diag([1.0, 0.0]),
    "zero": np.zeros((3, 3)),
    "batch_mixed": singular_batch(),  # one singular matrix among invertible ones
    "near": np.outer([1.0, 2.0, 3.0], [0.5, -1.0, 2.0]) + np.diag([0.0, 0.0, 1e-15]),
}


@pytest.mark.parametrize("name", list(SINGULAR_DET_CASES))
def test_det_backward_at_a_singular_matrix_is_the_cofactor_matrix_as_torchs(name):
    # torch's SVD formula for singular input; with create_graph, as torch's plain backward returns zeros where LU
    # finds det exactly 0 (its no-grad shortcut), which is not the derivative
    a = SINGULAR_DET_CASES[name]
    x = P(a, grad=True)
    (g,) = pyad.autograd.grad(LA.det(x).sum(), [x])
    t = T(a).requires_grad_(True)
    (tg,) = torch.autograd.grad(torch.linalg.det(t).sum(), t, create_graph=True)
    close(g, tg, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", list(SINGULAR_DET_CASES))
def test_det_forward_mode_at_a_singular_matrix_is_the_cofactors_contracted(name):
    # <cof(A), dA>: torch's backward (through its SVD) contracted with the tangent; torch's own forward mode
    # returns 0 there, and jacfwd must agree with jacrev
    a = SINGULAR_DET_CASES[name]
    dA = rng.standard_normal(a.shape)
    _, tangent = pyad.func.jvp(LA.det, (P(a),), (P(dA),))
    t = T(a).requires_grad_(True)
    (tg,) = torch.autograd.grad(torch.linalg.det(t).sum(), t, create_graph=True)
    want = (tg * T(dA)).sum(dim=(-2, -1))
    close(tangent, want, rtol=1e-9, atol=1e-12)
    close(pyad.func.jacfwd(LA.det)(P(a)), pyad.func.jacrev(LA.det)(P(a)), rtol=1e-9, atol=1e-12)


def test_det_backward_at_a_singular_matrix_is_differentiable():
    # the SVD path is written with pyad ops: the second derivative of det at a rank-1 2x2 matrix is the constant
    # d^2 det / dA^2, whose contraction with ones gives the gradient of sum(cof(A)) = a11 + a00 - a01 - a10
    x = P(np.array([[1.0, 2.0], [2.0, 4.0]]), grad=True)
    (g,) = pyad.autograd.grad(LA.det(x), [x], create_graph=True)
    (gg,) = pyad.autograd.grad(g.sum(), [x])
    close(gg, T(np.array([[1.0, -1.0], [-1.0, 1.0]])), atol=1e-12)


def test_cholesky_of_non_positive_definite_raises():
    a = spd(4, 3, 3)
    a[2] = -np.eye(3)
    with pytest.raises(LA.LinAlgError, match=r"\[linalg\.cholesky\] \(batch element 2\).*not positive-definite"):
        LA.cholesky(P(a))
    with pytest.raises(LA.LinAlgError, match="order 2"):
        LA.cholesky(P(np.array([[1.0, 2.0], [2.0, 1.0]])))


# A zero on the diagonal raises (torch returns inf/NaN there in silence; pyad's contract is a clear error)
@pytest.mark.parametrize("upper", [True, False])
@pytest.mark.parametrize("left", [True, False])
def test_triangular_zero_diagonal_raises(upper, left):
    a = wc(2, 3, 3)
    a = np.triu(a) if upper else np.tril(a)
    a[1, 1, 1] = 0.0
    b = rng.standard_normal((2, 3, 2) if left else (2, 2, 3))
    with pytest.raises(LA.LinAlgError, match=r"\[linalg\.solve_triangular\] \(batch element 1\).*singular"):
        LA.solve_triangular(P(a), P(b), upper=upper, left=left)
    # unitriangular ignores the diagonal, as LAPACK and torch
    x = LA.solve_triangular(P(a), P(b), upper=upper, left=left, unitriangular=True)
    close(x, torch.linalg.solve_triangular(T(a), T(b), upper=upper, left=left, unitriangular=True))


def test_cholesky_solve_with_a_zero_on_the_diagonal_raises():
    with pytest.raises(LA.LinAlgError, match=r"\[linalg\.cholesky_solve\].*singular"):
        LA.cholesky_solve(P(np.ones((2, 1))), P(np.array([[1.0, 0.0], [2.0, 0.0]])))


@pytest.mark.parametrize("driver", [None, "gelsy", "gelsd", "gelss"])
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4), (2, 6, 4)])
def test_lstsq_of_rank_deficient_input_is_the_minimum_norm_solution(driver, shape):
    a = rng.standard_normal(shape)
    a[..., 2] = a[..., 0] + a[..., 1]  # rank-deficient where tall or square
    b = rng.standard_normal(shape[:-1] + (2,))
    r = LA.lstsq(P(a), P(b), driver=driver)
    close(r.solution, T(np.linalg.pinv(a) @ b), rtol=1e-8, atol=1e-10)
    # Against torch's SVD driver: its gelsy (the CPU default) misjudges the rank of some wide matrices (rank 2
    # for singular values 3.3, 1.9, 0.2) and returns a solution with a residual of 0.3 where 0 is exact.
    tr = torch.linalg.lstsq(T(a), T(b), driver="gelsd" if driver in (None, "gelsy") else driver)
    close(r.solution, tr.solution, rtol=1e-8, atol=1e-10)
    assert r.rank.numpy().tolist() == tr.rank.numpy().tolist()
    if shape[-2] > shape[-1]:
        assert r.residuals.numel() == tr.residuals.numel() == 0  # torch computes them at full rank only
    if driver in ("gelsd", "gelss"):
        close(r.singular_values, tr.singular_values, rtol=1e-8, atol=1e-10)


def test_lstsq_rcond_sets_the_rank_as_torch():
    a = np.diag([3.0, 1.0, 1e-3]) @ np.linalg.qr(rng.standard_normal((3, 3)))[0]
    b = rng.standard_normal((3, 2))
    for rcond in (None, 1e-2, 0.5):
        r, tr = LA.lstsq(P(a), P(b), rcond=rcond, driver="gelsd"), torch.linalg.lstsq(T(a), T(b), rcond, driver="gelsd")
        assert int(r.rank.item()) == int(tr.rank.item())
        close(r.solution, tr.solution, rtol=1e-8, atol=1e-10)


def test_pinv_tolerances_match_torch():
    a = rng.standard_normal((2, 4, 2)) @ (np.diag([1.0, 0.1]) @ rng.standard_normal((2, 3)))
    h = a[0] @ a[0].T - 0.5 * np.eye(4)  # symmetric, indefinite
    for kw in ({}, dict(atol=0.2), dict(rtol=0.2), dict(atol=0.05, rtol=0.5), dict(atol=0.0)):
        close(LA.pinv(P(a), **kw), torch.linalg.pinv(T(a), **kw), rtol=1e-8, atol=1e-10)
        close(LA.pinv(P(h), hermitian=True, **kw), torch.linalg.pinv(T(h), hermitian=True, **kw), rtol=1e-8, atol=1e-10)
        assert LA.matrix_rank(P(a), **kw).numpy().tolist() == torch.linalg.matrix_rank(T(a), **kw).tolist()
    per = np.array([0.05, 10.0])  # a tolerance per batch element
    close(LA.pinv(P(a), atol=P(per)), torch.linalg.pinv(T(a), atol=T(per)), rtol=1e-8, atol=1e-10)
    assert LA.matrix_rank(P(a), rtol=P(per)).numpy().tolist() == torch.linalg.matrix_rank(T(a), rtol=T(per)).tolist()
    close(LA.pinv(P(np.zeros((3, 2)))), torch.zeros(2, 3, dtype=torch.float64))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize(
    "op,call",
    [
        ("svd", lambda a: LA.svd(a)),
        ("svdvals", lambda a: LA.svdvals(a)),
        ("pinv", lambda a: LA.pinv(a)),
        ("matrix_rank", lambda a: LA.matrix_rank(a)),
        ("lstsq", lambda a: LA.lstsq(a, pyad.ones(3, 1, dtype=F64))),
    ],
)
def test_svd_of_non_finite_input_raises_naming_the_op(op, call, bad):
    # LAPACK's gesdd rejects such input with a bare argument number; torch raises LinAlgError here too
    a = rng.standard_normal((3, 3))
    a[1, 2] = bad
    with pytest.raises(LA.LinAlgError, match=rf"\[linalg\.{op}\] the input matrix contains non-finite values"):
        call(P(a))


def test_lu_of_non_finite_input_is_not_called_singular():
    a = np.array([[np.nan, 1.0], [1.0, 1.0]])  # OpenBLAS's LU leaves an exact zero pivot here
    for call in (LA.inv, lambda x: LA.solve(x, x), lambda x: LA.det(x).backward()):
        try:
            out = call(P(a, grad=True))
        except LA.LinAlgError as e:
            assert "non-finite" in str(e) and "singular" not in str(e)
        else:
            assert out is None or not np.isfinite(out.detach().numpy()).all()


# ---------------------------------------------------------------- argument errors
@pytest.mark.parametrize(
    "call,exc,pattern",
    [
        (lambda: LA.inv(P(np.ones((2, 3)))), ValueError, r"\[linalg\.inv\].*square.*\(2, 3\)"),
        (lambda: LA.det(P(np.ones(3))), ValueError, r"\[linalg\.det\].*2 dimensions.*\(3,\)"),
        (lambda: LA.cholesky(pyad.ones(2, 2, dtype=pyad.int64)), TypeError, r"\[linalg\.cholesky\].*int64"),
        (lambda: LA.solve(P(wc(3, 3)), P(np.ones((4, 2)))), ValueError, r"\[linalg\.solve\].*\(3, 3\).*\(4, 2\)"),
        (
            lambda: LA.solve(P(wc(3, 3)), P(np.ones((3, 2)), dtype=F32)),
            TypeError,
            r"\[linalg\.solve\].*float64.*float32",
        ),
        (lambda: LA.solve(P(wc(2, 3, 3)), P(np.ones((4, 3, 1)))), ValueError, r"\[linalg\.solve\].*broadcast"),
        (lambda: LA.solve(P(wc(3, 3)), [1.0, 2.0, 3.0]), TypeError, r"\[linalg\.solve\] expected B to be a Tensor"),
        (lambda: LA.qr(P(np.ones((3, 2))), mode="full"), ValueError, r"\[linalg\.qr\] mode"),
        (lambda: LA.eigh(P(spd(3, 3)), UPLO="X"), ValueError, r"\[linalg\.eigh\] UPLO"),
        (lambda: LA.matrix_norm(P(np.ones((3, 3))), ord=3), ValueError, r"\[linalg\.matrix_norm\] ord"),
        (lambda: LA.matrix_norm(P(np.ones((3, 3))), dim=(0, 0)), ValueError, r"\[linalg\.matrix_norm\] dim"),
        (lambda: LA.norm(P(np.ones((2, 3, 3))), ord=2), ValueError, r"\[linalg\.norm\].*1-d or 2-d"),
        (lambda: LA.vector_norm(P(np.ones(3)), ord="fro"), TypeError, r"\[linalg\.vector_norm\] ord"),
        (
            lambda: LA.solve_triangular(P(wc(3, 3)), P(np.ones((2, 1))), upper=True),
            ValueError,
            r"\[linalg\.solve_triangular\].*3 rows, has 2",
        ),
        (lambda: LA.lstsq(P(np.ones((3, 2))), P(np.ones((4, 1)))), ValueError, r"\[linalg\.lstsq\].*do not fit"),
        (lambda: LA.pinv(P(np.ones((2, 3))), atol=-1.0), ValueError, r"\[linalg\.pinv\] atol.*non-negative"),
        (lambda: LA.pinv(P(np.ones((2, 3))), hermitian=True), ValueError, r"\[linalg\.pinv\].*square.*\(2, 3\)"),
        (lambda: LA.matrix_rank(P(np.ones(3))), ValueError, r"\[linalg\.matrix_rank\].*2 dimensions"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_qr_derivative_needs_q():
    x = P(rng.standard_normal((3, 2)), grad=True)
    with pytest.raises(RuntimeError, match=r"\[linalg\.qr\].*mode='r'"):
        LA.qr(x, mode="r").R.sum().backward()
    with pytest.raises(RuntimeError, match=r"\[linalg\.qr\].*complete"):
        LA.qr(x, mode="complete").Q.sum().backward()


# ---------------------------------------------------------------- torch parity in float32, batching, results
F32_CASES = {
    "solve": (lambda M, a, b: M.linalg.solve(a, b), lambda: (wc(2, 4, 4), rng.standard_normal((2, 4, 3)))),
    "inv": (lambda M, a: M.linalg.inv(a), lambda: (wc(3, 3),)),
    "det": (lambda M, a: M.linalg.det(a), lambda: (wc(2, 3, 3),)),
    "slogdet": (lambda M, a: M.linalg.slogdet(a).logabsdet, lambda: (wc(2, 3, 3),)),
    "cholesky": (lambda M, a: M.linalg.cholesky(a), lambda: (spd(2, 4, 4),)),
    "solve_triangular": (
        lambda M, a, b: M.linalg.solve_triangular(a, b, upper=False),
        lambda: (wc(4, 4), rng.standard_normal((4, 2))),
    ),
    "qr": (lambda M, a: M.linalg.qr(a).R, lambda: (rng.standard_normal((5, 3)),)),
    "eigvalsh": (lambda M, a: M.linalg.eigvalsh(a), lambda: (spd(2, 4, 4),)),
    "svdvals": (lambda M, a: M.linalg.svdvals(a), lambda: (rng.standard_normal((3, 5)),)),
    "lstsq": (
        lambda M, a, b: M.linalg.lstsq(a, b).solution,
        lambda: (rng.standard_normal((5, 3)), rng.standard_normal((5, 2))),
    ),
    "matrix_norm": (lambda M, a: M.linalg.matrix_norm(a, "nuc"), lambda: (rng.standard_normal((3, 4)),)),
    "pinv": (lambda M, a: M.linalg.pinv(a), lambda: (rng.standard_normal((3, 5)),)),
}


@pytest.mark.parametrize("name", sorted(F32_CASES))
def test_float32_matches_torch(name):
    fn, data = F32_CASES[name]
    arrays = data()
    xs = [P(a, F32, grad=True) for a in arrays]
    ts = [T(a, torch.float32).requires_grad_(True) for a in arrays]
    out, tout = fn(pyad, *xs), fn(torch, *ts)
    assert out.dtype == F32
    close(out, tout, rtol=1e-4, atol=1e-4)
    g = rng.standard_normal(tuple(tout.shape))
    out.backward(P(g, F32))
    tout.backward(T(g, torch.float32))
    for x, t in zip(xs, ts):
        close(x.grad, t.grad, rtol=1e-3, atol=1e-3)


def test_solve_broadcasts_batches_and_vectors_as_torch():
    a, b = wc(2, 1, 3, 3), rng.standard_normal((4, 3, 2))
    close(LA.solve(P(a), P(b)), torch.linalg.solve(T(a), T(b)))
    v = rng.standard_normal((2, 1, 3))  # a batch of vectors: A's batch dims and one dim fewer
    close(LA.solve(P(a), P(v)), torch.linalg.solve(T(a), T(v)))
    close(LA.solve(P(a[0, 0]), P(v[0, 0])), torch.linalg.solve(T(a[0, 0]), T(v[0, 0])))


def test_named_tuples_have_torchs_fields():
    a = spd(3, 3)
    pairs = [
        (LA.slogdet(P(a)), torch.linalg.slogdet(T(a))),
        (LA.eigh(P(a)), torch.linalg.eigh(T(a))),
        (LA.qr(P(a)), torch.linalg.qr(T(a))),
        (LA.svd(P(a)), torch.linalg.svd(T(a))),
        (LA.lstsq(P(a), P(a)), torch.linalg.lstsq(T(a), T(a))),
    ]
    for ours, theirs in pairs:
        assert len(ours) == len(theirs)
        for i, field in enumerate(ours._fields):  # the same names, in the same order
            assert getattr(theirs, field) is theirs[i]


@pytest.mark.parametrize("driver", [None, "gels", "gelsy", "gelsd", "gelss"])
@pytest.mark.parametrize("shape", [(6, 3), (3, 3), (3, 6)])
def test_lstsq_fills_the_fields_torch_fills(driver, shape):
    a, b = rng.standard_normal(shape), rng.standard_normal((shape[0], 2))
    r, tr = LA.lstsq(P(a), P(b), driver=driver), torch.linalg.lstsq(T(a), T(b), driver=driver)
    close(r.solution, tr.solution, rtol=1e-6, atol=1e-8)
    close(r.residuals, tr.residuals, rtol=1e-6, atol=1e-8)
    close(r.singular_values, tr.singular_values, rtol=1e-6, atol=1e-8)
    assert r.rank.dtype == pyad.int64 and r.rank.numpy().tolist() == tr.rank.numpy().tolist()


def test_svd_full_matrices():
    a = rng.standard_normal((2, 5, 3))
    u, s, vh = LA.svd(P(a))
    tu, ts, tvh = torch.linalg.svd(T(a))
    assert u.shape == tu.shape and vh.shape == tvh.shape
    close(s, ts)
    close(u.mT @ u, tu.mT @ tu)  # orthonormal, whatever the signs
    close(u[..., :3] * s.unsqueeze(-2) @ vh, T(a))


def test_empty_and_size_one_matrices():
    for n in (0, 1):
        a = wc(2, n, n)
        close(LA.inv(P(a)), torch.linalg.inv(T(a)))
        close(LA.det(P(a)), torch.linalg.det(T(a)))
        s = spd(2, n, n) if n else a
        close(LA.cholesky(P(s)), torch.linalg.cholesky(T(s)))
        close(LA.eigvalsh(P(a + np.swapaxes(a, -1, -2))), torch.linalg.eigvalsh(T(a + np.swapaxes(a, -1, -2))))


# ---------------------------------------------------------------- hypothesis over shapes
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batch=st.lists(st.integers(0, 3), max_size=2),
    n=st.integers(1, 5),
    k=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_shapes_match_torch(batch, n, k, seed):
    r = np.random.default_rng(seed)
    a = r.standard_normal((*batch, n, n)) + n * np.eye(n)
    b = r.standard_normal((*batch, n, k))
    s = a @ np.swapaxes(a, -1, -2)
    close(LA.solve(P(a), P(b)), torch.linalg.solve(T(a), T(b)), rtol=1e-6, atol=1e-9)
    close(LA.inv(P(a)), torch.linalg.inv(T(a)), rtol=1e-6, atol=1e-9)
    close(LA.det(P(a)), torch.linalg.det(T(a)), rtol=1e-6, atol=1e-9)
    close(LA.cholesky(P(s)), torch.linalg.cholesky(T(s)), rtol=1e-6, atol=1e-9)
    close(LA.eigvalsh(P(s)), torch.linalg.eigvalsh(T(s)), rtol=1e-6, atol=1e-8)
    close(LA.qr(P(b)).R.abs(), torch.linalg.qr(T(b)).R.abs(), rtol=1e-6, atol=1e-9)
    close(LA.svdvals(P(b)), torch.linalg.svdvals(T(b)), rtol=1e-6, atol=1e-9)
    close(LA.matrix_norm(P(b), 2), torch.linalg.matrix_norm(T(b), 2), rtol=1e-6, atol=1e-9)


# ---------------------------------------------------------------- transforms through the factorizations
def test_hessian_of_logdet_and_jacobians_of_solve_match_torch():
    a = wc(3, 3)
    h = pyad.func.hessian(lambda x: LA.slogdet(x @ x.mT).logabsdet)(P(a))
    th = torch.func.hessian(lambda x: torch.linalg.slogdet(x @ x.mT).logabsdet)(T(a))
    close(h, th, rtol=1e-6, atol=1e-9)
    b = rng.standard_normal((3, 2))
    jr = pyad.func.jacrev(LA.solve, argnums=(0, 1))(P(a), P(b))
    jf = pyad.func.jacfwd(LA.solve, argnums=(0, 1))(P(a), P(b))
    tj = torch.func.jacrev(torch.linalg.solve, argnums=(0, 1))(T(a), T(b))
    for x, y, t in zip(jr, jf, tj):
        close(x, t)
        close(y, t)


def test_cholesky_hessian_through_a_quadratic_form():
    a, v = spd(3, 3), rng.standard_normal(3)

    def f(M, x):
        L = M.linalg.cholesky(x)
        return (
            M.linalg.solve_triangular(
                L, M.tensor(v).unsqueeze(-1) if M is pyad else torch.tensor(v).unsqueeze(-1), upper=False
            )
            ** 2
        ).sum()

    h = pyad.func.hessian(lambda x: f(pyad, x))(P(a))
    th = torch.func.hessian(lambda x: f(torch, x))(T(a))
    close(h, th, rtol=1e-6, atol=1e-9)


# ---------------------------------------------------------------- pyad.norm and linalg.vector_norm
@pytest.mark.parametrize("p", [2, 1, 3.0, math.inf, -math.inf, 0])
def test_norm_is_consistent_with_vector_norm(p):
    x = P(rng.standard_normal((3, 4)))
    close(pyad.norm(x, p, dim=1), LA.vector_norm(x, p, dim=1))
    close(x.norm(p), LA.vector_norm(x, p))
    close(LA.vector_norm(x, p, dim=(0, 1)), torch.linalg.vector_norm(T(x.numpy()), p, dim=(0, 1)))


def test_norm_nuc_matches_torch():
    x = rng.standard_normal((2, 3, 4))
    close(pyad.norm(P(x), "nuc", dim=(1, 2)), torch.norm(T(x), "nuc", dim=(1, 2)))
    close(P(x[0]).norm("nuc"), torch.norm(T(x[0]), "nuc"))


def test_jacobians_of_solves_fold_the_directions_into_one_solve():
    # jacrev's 2 * 32 * 3 cotangents (jacfwd's tangents) meet one factorization per matrix: folded into the
    # right-hand side's columns (rows for a right solve), not a copy of the factors per direction
    a, b = wc(2, 32, 32), rng.standard_normal((2, 32, 3))
    for upper in (True, False):
        for left in (True, False):
            bb = b if left else np.swapaxes(b, -1, -2)

            def f(M, x, y):
                return M.linalg.solve_triangular(x, y, upper=upper, left=left)

            tj = torch.func.jacrev(lambda x, y: f(torch, x, y), argnums=(0, 1))(T(a), T(bb))
            for jac in (pyad.func.jacrev, pyad.func.jacfwd):
                for x, t in zip(jac(lambda x, y: f(pyad, x, y), argnums=(0, 1))(P(a), P(bb)), tj):
                    close(x, t)
    tj = torch.func.jacrev(torch.linalg.solve, argnums=(0, 1))(T(a), T(b))
    for jac in (pyad.func.jacrev, pyad.func.jacfwd):
        for x, t in zip(jac(LA.solve, argnums=(0, 1))(P(a), P(b)), tj):
            close(x, t)
