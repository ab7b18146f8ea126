"""jacfwd's seed as a structured tangent (Note [Identity tangents] in csrc/autograd/forward_ad.h): a dual whose
tangent is rows of the identity reads as that dense tensor everywhere, costs no dense memory where matmul reads
A @ seed as a slice of A, and keeps its structure when detach_dual copies it."""

import numpy as np
import pytest
import torch

import pyad
from pyad import _C, func
from pyad.autograd import forward_ad as fwAD

TOL = dict(rtol=1e-7, atol=1e-7)  # float64, as tests/conftest.py's TOL


def t64(a):
    return pyad.from_numpy(np.asarray(a, dtype=np.float64))


@pytest.mark.parametrize("shape", [(5,), (2, 3), (4, 1), ()])
@pytest.mark.parametrize("start,count", [(0, None), (1, 2), (0, 0)])
def test_identity_dual_reads_as_the_dense_identity_rows(shape, start, count):
    n = int(np.prod(shape))
    count = n - start if count is None else min(count, n - start)
    x = t64(np.arange(n, dtype=np.float64).reshape(shape))
    with fwAD.dual_level():
        d = _C.make_identity_dual(x, start, count)
        p, t = fwAD.unpack_dual(d)
    want = np.eye(n)[start : start + count].reshape((count,) + shape)
    np.testing.assert_array_equal(t.numpy(), want)
    np.testing.assert_array_equal(p.numpy(), x.numpy())


def test_ops_without_a_shortcut_see_the_dense_tangent():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4))
    x = rng.standard_normal(4)
    with fwAD.dual_level():
        d = _C.make_identity_dual(t64(x), 1, 2)
        out = pyad.sin(d) * 2.0 + (t64(a) @ d).reshape(3, 1)  # sin needs the dense tangent, matmul does not
        t = fwAD.unpack_dual(out).tangent
    seed = np.eye(4)[1:3]
    # per direction s: 2 cos(x) s, shape (4,), broadcast against a @ s as a (3, 1) column
    want = np.stack([2.0 * np.cos(x) * s + (a @ s)[:, None] for s in seed])
    np.testing.assert_allclose(t.numpy(), want, **TOL)


@pytest.mark.parametrize("column", [False, True])
def test_matmul_reads_an_identity_tangent_without_making_it_dense(column):
    n, m = 4000, 3
    rng = np.random.default_rng(1)
    a = t64(rng.standard_normal((m, n)))
    x = t64(rng.standard_normal((n, 1) if column else n))
    pyad.reset_peak_memory_stats()
    before = pyad.memory_allocated()
    with fwAD.dual_level():
        d = _C.make_identity_dual(x, 0, n)
        t = fwAD.unpack_dual(a @ d).tangent
        peak = pyad.max_memory_allocated() - before
    want = a.numpy().T if not column else a.numpy().T[:, :, None]
    np.testing.assert_array_equal(t.numpy(), want)
    assert peak < n * n * 8 / 100, f"peak {peak} bytes: the {n} x {n} identity was made dense"


def test_jacfwd_through_matmul_matches_torch_with_chunks():
    rng = np.random.default_rng(2)
    A, B, x = rng.standard_normal((6, 5)), rng.standard_normal((4, 6)), rng.standard_normal(5)

    def f(lib, A, B):
        return lambda v: lib.sigmoid(B @ lib.sigmoid(A @ v))

    tA, tB, tx = (torch.from_numpy(v) for v in (A, B, x))
    want = torch.func.jacfwd(f(torch, tA, tB))(tx).numpy()
    for chunk in (None, 1, 2, 5):
        got = func.jacfwd(f(pyad, t64(A), t64(B)), chunk_size=chunk)(t64(x)).numpy()
        np.testing.assert_allclose(got, want, **TOL)
    hess_want = torch.func.jacfwd(torch.func.jacfwd(lambda v: (tA @ v).sin().sum()))(tx).numpy()
    hess = func.jacfwd(func.jacfwd(lambda v: pyad.sin(t64(A) @ v).sum()))(t64(x)).numpy()
    np.testing.assert_allclose(hess, hess_want, **TOL)


def test_detach_dual_keeps_the_slice_and_its_values():
    x = t64(np.arange(3.0))
    with fwAD.dual_level():
        d = _C.make_identity_dual(x, 0, 3)
        kept = _C.detach_dual(d)
        assert kept.grad_fn is None
        np.testing.assert_array_equal(fwAD.unpack_dual(kept).tangent.numpy(), np.eye(3))


def test_identity_dual_errors():
    x = t64(np.arange(3.0))
    with pytest.raises(RuntimeError, match=r"\[make_dual\] must be called inside a dual level"):
        _C.make_identity_dual(x, 0, 3)
    with fwAD.dual_level():
        with pytest.raises(ValueError, match=r"\[make_dual\] identity rows \[2, 5\) are out of range"):
            _C.make_identity_dual(x, 2, 3)
        with pytest.raises(TypeError, match=r"\[make_dual\] expected a floating primal"):
            _C.make_identity_dual(pyad.arange(3), 0, 3)
        d = _C.make_identity_dual(x, 0, 3)
        with pytest.raises(RuntimeError, match=r"already has a tangent"):
            _C.make_identity_dual(d, 0, 3)
