"""Structure-aware Jacobians: the coloring's pass counts (counted inside f, from the batch of directions
it receives), equality with the dense Jacobian, the COO/CSR results and their scipy conversion."""

import importlib.util

import numpy as np
import pytest

import pyad
from pyad import func
from pyad._sparse_jac import Pattern
from pyad.autograd import forward_ad

F64 = pyad.float64


def _x(n, seed=0):
    return pyad.tensor(np.random.default_rng(seed).uniform(-1, 1, n), dtype=F64)


def banded(b, passes=None):
    """y_i = sum over |k| <= b of c_k * g_k(x_{i+k}): a Jacobian of bandwidth b. `passes` records the
    number of directions each call of f carries (forward mode: its input's tangent batch)."""

    def f(x):
        if passes is not None:
            tan = forward_ad.unpack_dual(x).tangent
            passes.append(1 if tan is None or tan.ndim == x.ndim else tan.shape[0])
        n = x.shape[0]
        y = pyad.zeros(n, dtype=x.dtype)
        for k in range(-b, b + 1):
            lo, hi = max(0, -k), min(n, n - k)  # rows i with i + k in range
            piece = pyad.sin(x[lo + k : hi + k] * (k + 1.5)) + x[lo + k : hi + k] ** 2 * 0.1
            y = y + pyad.cat([pyad.zeros(lo, dtype=x.dtype), piece, pyad.zeros(n - hi, dtype=x.dtype)], 0)
        return y

    return f


def band(n, b):
    i, j = np.indices((n, n))
    return np.abs(i - j) <= b


@pytest.mark.parametrize("n", [20, 80, 300])
@pytest.mark.parametrize("b", [1, 3])
def test_banded_takes_2b_plus_1_jvps_whatever_n(n, b):
    passes = []
    f = banded(b, passes)
    x = _x(n)
    jac, colors = func.sparse_jacobian(f, band(n, b), mode="forward", return_passes=True)(x)
    # One probe call (no tangent) for the output's shape, then one batched pass.
    assert passes[-1] == colors <= 2 * b + 1
    dense = func.jacfwd(banded(b))(x)
    np.testing.assert_allclose(jac.numpy(), dense.numpy(), rtol=1e-14, atol=1e-15)


def test_reverse_mode_and_auto():
    n, b = 60, 2
    f, x = banded(b), _x(n)
    dense = func.jacrev(f)(x).numpy()
    for mode in ("reverse", "auto"):
        jac, colors = func.sparse_jacobian(f, band(n, b), mode=mode, return_passes=True)(x)
        assert colors == 2 * b + 1
        np.testing.assert_allclose(jac.numpy(), dense, rtol=1e-14, atol=1e-15)


def test_elementwise_takes_one_pass():
    passes = []

    def f(x):
        passes.append(forward_ad.unpack_dual(x).tangent)
        return pyad.exp(pyad.sin(x)) * x

    x = _x((4, 5))
    pattern = np.eye(20, dtype=bool).reshape(4, 5, 4, 5)  # out.shape + x.shape
    jac, colors = func.sparse_jacobian(f, pattern, return_passes=True)(x)
    assert colors == 1 and passes[-1].shape == (1, 4, 5)
    np.testing.assert_allclose(jac.numpy(), func.jacfwd(f)(x).numpy(), rtol=1e-14)


def test_separable_hessian_takes_the_colorings_passes():
    # f = sum over pairs (x_{2i}, x_{2i+1}) of a coupled term, plus x_0 * x_5: a block-diagonal Hessian
    # with one extra pair of entries.
    def f(x):
        a, b = x[0::2], x[1::2]
        return (pyad.sin(a * b) + a**2 * b).sum() + x[0] * x[5]

    n = 12
    pattern = np.zeros((n, n), dtype=bool)
    for i in range(0, n, 2):
        pattern[i : i + 2, i : i + 2] = True
    pattern[0, 5] = pattern[5, 0] = True
    want_colors = Pattern(pattern).colors("forward")
    x = _x(n)
    hess, colors = func.sparse_hessian(f, pattern, return_passes=True)(x)
    assert colors == want_colors == 3  # 2 for the blocks, a third since column 5 meets columns 0 and 1
    np.testing.assert_allclose(hess.numpy(), func.hessian(f)(x).numpy(), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_coo_and_csr_triples(mode):
    n, b = 30, 2
    f, x = banded(b), _x(n)
    dense = func.jacfwd(f)(x).numpy()
    rows, cols = np.nonzero(band(n, b))
    coo = func.sparse_jacobian(f, (rows, cols), mode=mode, layout="coo")(x)
    assert coo.shape == (n, n) and coo.indices.shape == (2, rows.size)
    np.testing.assert_array_equal(coo.indices.numpy(), np.stack([rows, cols]))
    np.testing.assert_allclose(coo.values.numpy(), dense[rows, cols], rtol=1e-14)
    np.testing.assert_allclose(coo.to_dense().numpy(), dense, rtol=1e-14, atol=1e-15)
    csr = func.sparse_jacobian(f, band(n, b), mode=mode, layout="csr")(x)
    np.testing.assert_array_equal(csr.crow_indices.numpy(), np.concatenate([[0], np.cumsum(band(n, b).sum(1))]))
    np.testing.assert_array_equal(csr.col_indices.numpy(), cols)
    np.testing.assert_allclose(csr.values.numpy(), dense[rows, cols], rtol=1e-14)
    np.testing.assert_allclose(csr.to_dense().numpy(), dense, rtol=1e-14, atol=1e-15)


@pytest.mark.skipif(importlib.util.find_spec("scipy") is None, reason="scipy is not installed")
def test_scipy_conversion():
    import scipy.sparse

    n, b = 25, 1
    f, x = banded(b), _x(n)
    dense = func.jacfwd(f)(x).numpy()
    for layout in ("coo", "csr"):
        s = func.sparse_jacobian(f, band(n, b), layout=layout)(x).to_scipy()
        assert scipy.sparse.issparse(s)
        np.testing.assert_allclose(s.toarray(), dense, rtol=1e-14, atol=1e-15)
        back = func.sparse_jacobian(f, s)(x)  # a scipy matrix is a pattern too
        np.testing.assert_allclose(back.numpy(), dense, rtol=1e-14, atol=1e-15)


def test_greedy_coloring_is_a_valid_distance_2_coloring():
    rng = np.random.default_rng(3)
    mask = rng.random((40, 50)) < 0.08
    p = Pattern(mask)
    for i in range(40):  # no row holds two columns of one color, no column two rows of one color
        cs = p.col_color[mask[i]]
        assert len(set(cs.tolist())) == cs.size
    for j in range(50):
        rs = p.row_color[mask[:, j]]
        assert len(set(rs.tolist())) == rs.size


def test_bad_patterns_raise():
    f, x = banded(1), _x(10)
    with pytest.raises(ValueError, match=r"sparsity of shape \(9, 10\) does not fit"):
        func.sparse_jacobian(f, np.ones((9, 10), dtype=bool))(x)
    with pytest.raises(TypeError, match="must be boolean"):
        func.sparse_jacobian(f, np.ones((10, 10, 1)))(x)
    with pytest.raises(ValueError, match="out of range"):
        func.sparse_jacobian(f, (np.array([0, 11]), np.array([0, 1])))(x)
    with pytest.raises(ValueError, match="layout"):
        func.sparse_jacobian(f, band(10, 1), layout="bsr")
    with pytest.raises(ValueError, match="not detected"):
        func.sparse_hessian(lambda x: (x**3).sum(), "auto")


# ---------------------------------------------------------------- detection (pyad/_sparsity_trace.py)
def _structure(f, x):
    return func.jacfwd(f)(x).numpy().reshape(-1, x.numel()) != 0


@pytest.mark.parametrize("n", [30, 200])
def test_detected_band_is_exact_and_takes_2b_plus_1_passes(n):
    b = 2
    passes = []
    jac, colors = func.sparse_jacobian(banded(b, passes), return_passes=True)(_x(n))
    assert colors == 2 * b + 1 and passes[-1] == colors
    np.testing.assert_allclose(jac.numpy(), func.jacfwd(banded(b))(_x(n)).numpy(), rtol=1e-14, atol=1e-15)
    mask, shape = __import__("pyad._sparsity_trace", fromlist=["detect"]).detect(banded(b), _x(n))
    np.testing.assert_array_equal(mask, band(n, b))
    assert shape == (n,)


DETECTED = {
    "elementwise": (lambda x: pyad.exp(pyad.sin(x)) * x - x**2 / 3.0, 1),
    "constant banded matmul": (lambda x: pyad.tanh(pyad.tensor(np.triu(np.tril(np.ones((16, 16)), 1), -1)) @ x), 3),
    "softmax rows": (lambda x: pyad.softmax(x.reshape(4, 4), 1).reshape(16), 4),
    "cumsum": (lambda x: pyad.cumsum(x, 0), 16),
    "reversed pairs": (lambda x: pyad.flip(x, (0,)) * x.roll(1) + x.reshape(2, 8).T.reshape(16), None),
    "reductions and where": (
        lambda x: (
            pyad.where(x > 0, pyad.sqrt(pyad.abs(x)), -x)
            + (x.reshape(4, 4) * 3.0).sum(1, keepdim=True).expand(4, 4).reshape(16)
        ),
        None,
    ),
    "gather and cat": (lambda x: pyad.cat([x[:8] * 2.0, pyad.gather(x, 0, pyad.tensor(list(range(8, 16))))]), 1),
    "outer then diagonal": (lambda x: pyad.diagonal(pyad.outer(x, x)) + pyad.trace(x.reshape(4, 4)), None),
}


@pytest.mark.parametrize("name", sorted(DETECTED))
def test_detected_pattern_matches_the_jacobian_structure(name):
    f, colors = DETECTED[name]
    x = _x(16, seed=4)
    jac, used = func.sparse_jacobian(f, mode="forward", return_passes=True)(x)
    np.testing.assert_allclose(jac.numpy(), func.jacfwd(f)(x).numpy(), rtol=1e-13, atol=1e-14)
    from pyad._sparsity_trace import detect

    mask, _ = detect(f, x)
    assert (mask >= _structure(f, x)).all()  # never misses a dependency
    np.testing.assert_array_equal(mask, _structure(f, x))  # and here adds none (no cancellations)
    if colors is not None:
        assert used == colors


def test_detection_refuses_control_flow_and_ops_without_a_rule():
    with pytest.raises(RuntimeError, match="control flow|bool"):
        func.sparse_jacobian(lambda x: x * 2.0 if x.sum() > 0 else x)(_x(4))
    with pytest.raises(NotImplementedError, match="sum_to has no sparsity rule"):
        func.sparse_jacobian(lambda x: pyad._C.sum_to(x.reshape(2, 2), [1, 2]).reshape(2))(_x(4))
