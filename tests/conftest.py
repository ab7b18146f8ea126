"""Shared helpers: conversion to torch, the tolerance rules every parity test uses, and the `device` fixture that
runs a parity test on the CPU and (where one is present) on a CUDA GPU."""

import os
import sys
import time

import numpy as np
import pytest
import torch

import pyad

torch.set_default_dtype(torch.float32)

# The parity tests `import op_db` (tests/op_db.py, the op table) under every import mode, the project's importlib
# one included (which puts no test directory on sys.path).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# torch.testing's defaults, as docs/design.md fixes them (Testing conventions).
TOL = {pyad.float64: dict(rtol=1e-7, atol=1e-7), pyad.float32: dict(rtol=1.3e-6, atol=1e-5)}
TORCH_DTYPE = {pyad.float32: torch.float32, pyad.float64: torch.float64, pyad.int64: torch.int64, pyad.bool: torch.bool}

HAS_CUDA = pyad.cuda.is_available()
# Set where a GPU is known to be present (benchmarks/gpu_check.sh does): a CUDA initialisation that fails there
# must show up as failures, not as tests skipped for want of a device. PYAD_EXPECT_CUBLAS=1 does the same for
# the tests that need cuBLAS.
EXPECT_CUDA = os.environ.get("PYAD_EXPECT_CUDA", "0") not in ("", "0")
EXPECT_CUBLAS = os.environ.get("PYAD_EXPECT_CUBLAS", "0") not in ("", "0")


def cuda_unavailable_reason():
    """Why pyad cannot use a GPU (None when it can): the driver's message where there is one."""
    if HAS_CUDA:
        return None
    try:
        pyad.cuda.synchronize()
    except RuntimeError as e:
        return str(e)
    return "pyad.cuda.is_available() is False"


def requires(available, what, expected):
    """The marks for a test that needs `what`: none when available; a skip without it; a failure instead of the
    skip when `expected` (PYAD_EXPECT_CUDA, PYAD_EXPECT_CUBLAS) says this machine has it."""
    if available:
        return []
    if expected:
        return [pytest.mark.missing_but_expected(what)]
    return [pytest.mark.skip(reason=f"no {what}")]


def with_marks(marks):
    """A decorator applying `marks` (as requires returns them) to one test."""

    def deco(f):
        for m in marks:
            f = m(f)
        return f

    return deco


needs_cuda = requires(HAS_CUDA, "CUDA device", EXPECT_CUDA)
DEVICES = ["cpu", pytest.param("cuda", marks=needs_cuda)]


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "missing_but_expected(what): fails the test, as `what` is missing on a machine said to have it"
    )


# A Unix time after which no further test starts (benchmarks/gpu_check.sh sets it before its stage's limit), so a
# run cut short still ends normally and writes its reports, pytest-xdist's workers included.
DEADLINE = float(os.environ.get("PYAD_TEST_DEADLINE", "") or 0)
DEADLINE_REASON = "not run: PYAD_TEST_DEADLINE (the time limit of the run) has passed"


def pytest_runtest_setup(item):
    if DEADLINE and time.time() > DEADLINE:
        pytest.skip(DEADLINE_REASON)


@pytest.fixture(autouse=True)
def _missing_but_expected(request):
    """Fails, before any other fixture runs, a test whose requirement is missing but expected."""
    mark = request.node.get_closest_marker("missing_but_expected")
    if mark is not None:
        what = mark.args[0]
        detail = f": {cuda_unavailable_reason()}" if "CUDA" in what else ""
        pytest.fail(f"no {what}, but the environment (PYAD_EXPECT_*) says this machine has one{detail}", pytrace=False)


@pytest.fixture(params=DEVICES)
def device(request):
    """Runs the test once per device with that device as pyad's default (factories and pyad.tensor use it);
    the default goes back to the CPU afterwards. Returns the device's name ("cpu" or "cuda")."""
    pyad.set_default_device(request.param)
    try:
        yield request.param
    finally:
        pyad.set_default_device("cpu")


# For a test (or class) in a module whose tests all use the `device` fixture but which is about the CPU only
# (NumPy memory sharing, thread settings, CPU memory accounting ...): runs it on the CPU alone.
cpu_only = pytest.mark.parametrize("device", ["cpu"], indirect=True)


def stable_id(value):
    """repr, but the same in every process for a bare object() (pytest-xdist's workers must collect the same ids)."""
    return "object()" if type(value) is object else repr(value)


class _TorchNS:
    """torch, with the few functions whose torch home is not the top-level namespace: the parity tests write
    each call once, as `lib.sigmoid(x)`, and run it with lib = pyad and lib = TNS."""

    softplus = staticmethod(torch.nn.functional.softplus)

    def __getattr__(self, name):
        return getattr(torch, name)


TNS = _TorchNS()


def make(shape, kind, rng):
    """A float64 NumPy array of `shape` inside an op's input domain `kind` (tests/op_db.py names the domains)."""
    shape = tuple(shape)
    if kind == "any":
        a = rng.standard_normal(shape)
    elif kind == "pos":  # log, sqrt, pow base: well inside (0, inf)
        a = rng.uniform(0.5, 2.0, shape)
    elif kind == "nz":  # relu, abs, 1/x: away from 0 (no kinks, no blow-up)
        a = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 2.0, shape)
    elif kind == "unit":  # log1p and friends: inside (-1, 1)
        a = rng.uniform(-0.9, 0.9, shape)
    elif kind == "int":  # small integers stored as floats: many ties (comparisons)
        a = rng.integers(0, 3, shape).astype(np.float64)
    else:
        raise ValueError(f"unknown input domain {kind!r}")
    return np.asarray(a, dtype=np.float64)


_NP_DTYPE = {pyad.float64: np.float64, pyad.float32: np.float32, pyad.int64: np.int64, pyad.bool: np.bool_}


def leaf(a, dtype=pyad.float64, requires_grad=False):
    """pyad.tensor(a, dtype=..., requires_grad=...) on the default device; 0-d data stays 0-d (as
    test_tensor_of_0d_data pins)."""
    a = np.asarray(a, dtype=_NP_DTYPE[dtype])
    t = pyad.tensor(a, dtype=dtype, requires_grad=requires_grad)
    assert t.shape == a.shape
    return t


def host(t):
    """A NumPy array holding a copy of pyad tensor t's values, wherever t lives."""
    return t.detach().cpu().numpy().copy()


def to_torch(t, requires_grad=None):
    """A torch tensor (on the CPU) holding a copy of pyad tensor t (requires_grad copied unless given)."""
    out = torch.from_numpy(host(t))
    rg = t.requires_grad if requires_grad is None else requires_grad
    return out.requires_grad_(rg) if rg else out


def assert_close(actual, expected, rtol=None, atol=None, msg=""):
    """Compare a pyad tensor (or None) with a torch tensor (or None) in values, shape and dtype."""
    if expected is None or actual is None:
        assert actual is None and expected is None, f"{msg}: one side is None ({actual!r} vs {expected!r})"
        return
    a = host(actual) if isinstance(actual, pyad.Tensor) else np.asarray(actual)
    if isinstance(expected, torch.Tensor) and expected._is_zerotensor():
        # torch's answer for a derivative it knows is zero (abs'' = 0): it has no NumPy view
        expected = torch.zeros(tuple(expected.shape), dtype=expected.dtype)
    e = expected.detach().cpu().numpy() if isinstance(expected, torch.Tensor) else np.asarray(expected)
    assert a.shape == e.shape, f"{msg}: shape {a.shape} != {e.shape}"
    if isinstance(actual, pyad.Tensor) and isinstance(expected, torch.Tensor):
        assert TORCH_DTYPE[actual.dtype] == expected.dtype, f"{msg}: dtype {actual.dtype} vs {expected.dtype}"
        tol = TOL.get(actual.dtype, dict(rtol=0, atol=0))
    else:
        tol = dict(rtol=1e-7, atol=1e-7)
    rtol = tol["rtol"] if rtol is None else rtol
    atol = tol["atol"] if atol is None else atol
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, equal_nan=True, err_msg=msg)


def manual_seed_all(seed):
    """Seed pyad's CPU and GPU generators (pyad.manual_seed seeds both, as torch.manual_seed)."""
    pyad.manual_seed(seed)


# Memory statistics of the device the test runs on (pyad's default device).
def memory_allocated():
    return pyad.memory_allocated(pyad.get_default_device())


def max_memory_allocated():
    return pyad.max_memory_allocated(pyad.get_default_device())


def reset_peak_memory_stats():
    pyad.reset_peak_memory_stats(pyad.get_default_device())


@pytest.fixture(autouse=True)
def _seed():
    manual_seed_all(0)
    torch.manual_seed(0)
    np.random.seed(0)
