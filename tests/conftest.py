"""Shared helpers: conversion to torch and the tolerance rules every parity test uses."""
import numpy as np
import pytest
import torch

import pyad

torch.set_default_dtype(torch.float32)

# torch.testing's defaults, as DESIGN.md fixes them.
TOL = {pyad.float64: dict(rtol=1e-7, atol=1e-7), pyad.float32: dict(rtol=1.3e-6, atol=1e-5)}
TORCH_DTYPE = {pyad.float32: torch.float32, pyad.float64: torch.float64, pyad.int64: torch.int64,
               pyad.bool: torch.bool}


def to_torch(t, requires_grad=None):
    """A torch tensor holding a copy of pyad tensor t (requires_grad copied unless given)."""
    out = torch.from_numpy(t.detach().numpy().copy())
    rg = t.requires_grad if requires_grad is None else requires_grad
    return out.requires_grad_(rg) if rg else out


def assert_close(actual, expected, rtol=None, atol=None, msg=""):
    """Compare a pyad tensor (or None) with a torch tensor (or None) in values, shape and dtype."""
    if expected is None or actual is None:
        assert actual is None and expected is None, f"{msg}: one side is None ({actual!r} vs {expected!r})"
        return
    a = actual.detach().numpy() if isinstance(actual, pyad.Tensor) else np.asarray(actual)
    e = expected.detach().numpy() if isinstance(expected, torch.Tensor) else np.asarray(expected)
    assert a.shape == e.shape, f"{msg}: shape {a.shape} != {e.shape}"
    if isinstance(actual, pyad.Tensor) and isinstance(expected, torch.Tensor):
        assert TORCH_DTYPE[actual.dtype] == expected.dtype, f"{msg}: dtype {actual.dtype} vs {expected.dtype}"
        tol = TOL.get(actual.dtype, dict(rtol=0, atol=0))
    else:
        tol = dict(rtol=1e-7, atol=1e-7)
    rtol = tol["rtol"] if rtol is None else rtol
    atol = tol["atol"] if atol is None else atol
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, equal_nan=True, err_msg=msg)


@pytest.fixture(autouse=True)
def _seed():
    pyad.manual_seed(0)
    torch.manual_seed(0)
    np.random.seed(0)
