"""CUDA launch limits, on a GPU: a grid stops at 65535 blocks in y and z and at 2^31 - 1 in x, so kernels with a
block per item loop past them: matrix products with more than 65535 column tiles, reductions with more than
2^31 - 1 outputs, softmax over more than 2^31 - 1 rows. Also DLPack's stream -1, which asks for no
synchronisation.

The tests past 2^31 elements need about 45 GB of GPU memory: they run where PYAD_TEST_HUGE=1 (benchmarks/gpu_check.sh
sets it on the H200 it is lent)."""

import os

import numpy as np
import pytest

import pyad

try:  # pytest's --import-mode=importlib (the project's setting) registers the conftest as tests.conftest
    from tests.conftest import needs_cuda
except ImportError:  # prepend/append import modes
    from conftest import needs_cuda

pytestmark = needs_cuda
huge = pytest.mark.skipif(
    os.environ.get("PYAD_TEST_HUGE", "0") in ("", "0"), reason="needs PYAD_TEST_HUGE=1 and about 45 GB of GPU memory"
)
PAST_X = 2**31 + 3  # more blocks than gridDim.x takes


@pytest.fixture(autouse=True)
def _settle():
    pyad.set_default_device("cpu")
    yield
    pyad.cuda.synchronize()
    pyad.cuda.empty_cache()


@pytest.fixture
def pyad_kernels():
    """pyad's own matrix kernels (cuBLAS, where loaded, would take these products)."""
    before = pyad.cuda.matmul_backend()
    pyad.cuda.set_matmul_backend("pyad")
    yield
    pyad.cuda.set_matmul_backend(before)


@pytest.mark.parametrize("dtype, tile", [(pyad.float32, 128), (pyad.float64, 64)], ids=str)
def test_gemm_with_more_than_65535_column_tiles(pyad_kernels, dtype, tile):
    n = 65535 * tile + 3 * tile + 5
    npd = np.float32 if dtype == pyad.float32 else np.float64
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)).astype(npd), rng.standard_normal((4, n)).astype(npd)
    out = pyad.tensor(a, device="cuda") @ pyad.tensor(b, device="cuda")
    want = a.astype(np.float64) @ b.astype(np.float64)
    tol = 1e-5 if dtype == pyad.float32 else 1e-12
    np.testing.assert_allclose(out.cpu().numpy(), want, rtol=tol, atol=tol)


def test_dlpack_stream_minus_one_does_not_synchronise(monkeypatch):
    calls = []
    monkeypatch.setattr(pyad._C, "cuda_synchronize", lambda *args: calls.append(args))
    y = pyad.ones(3, device="cuda")
    for stream in (-1, None, 1):
        y.__dlpack__(stream=stream)
    assert calls == []
    y.__dlpack__(stream=2)  # the per-thread default stream is not ordered after ours
    assert calls == [(0,)]


@huge
def test_reduction_with_more_than_2_31_outputs():
    x = pyad.ones(PAST_X, 2, device="cuda")
    s = x.sum(-1)  # a block per output: the reduced dim is the unit-stride one
    assert s.shape == (PAST_X,)
    del x
    # A fresh allocation holds zeros or stale values: an output no block wrote would show in the min.
    assert pyad.amin(s).item() == 2.0 and pyad.amax(s).item() == 2.0


@huge
def test_softmax_with_more_than_2_31_rows():
    x = pyad.zeros(PAST_X, 1, device="cuda")
    y = pyad.softmax(x, 1)  # a block per row
    del x
    assert y.shape == (PAST_X, 1)
    assert pyad.amin(y).item() == 1.0 and pyad.amax(y).item() == 1.0
