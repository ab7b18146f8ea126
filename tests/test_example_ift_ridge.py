"""examples/ift_ridge.py: its key numbers against independent values (the closed-form derivative, torch, a grid
search, and the validation loss's stationarity computed in NumPy), not only that it ran."""

import importlib.util
import pathlib
import subprocess
import sys

import numpy as np
import torch

PATH = pathlib.Path(__file__).resolve().parents[1] / "examples" / "ift_ridge.py"


def load():
    spec = importlib.util.spec_from_file_location("pyad_example_ift_ridge", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ift_ridge_numbers():
    ex = load()
    r = ex.main(quick=True)
    # dz*/dlam in both modes equals -(X^T X + lam I)^{-1} z* and torch's derivative of the closed form
    assert r["err_rev"] < 1e-10 and r["err_fwd"] < 1e-10
    X_np, y_np, _, _ = ex.make_data(np.random.default_rng(0), 16, 32, 8)  # the quick run's training data
    X, y = torch.tensor(X_np), torch.tensor(y_np)

    def z_star(lam):
        return torch.linalg.solve(X.T @ X + lam * torch.eye(8, dtype=X.dtype), X.T @ y)

    want = torch.func.jacrev(z_star)(torch.tensor(1.0, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(r["dz_dlam"], want, rtol=1e-10, atol=1e-12)
    # Newton on the hypergradient improves the validation loss and ends no worse than a fine grid search
    assert r["val_after"] < r["val_before"]
    assert r["val_after"] <= r["val_grid"] + 1e-6
    assert abs(np.log(r["lam_opt"]) - np.log(r["lam_grid"])) < 0.1  # the grid's step is 0.05 in log(lam)
    # ... at a stationary point of the validation loss, computed here without pyad
    rng = np.random.default_rng(0)
    d = 8
    X_tr, y_tr, X_va, y_va = ex.make_data(rng, 2 * d, 4 * d, d)
    lam = r["lam_opt"]
    A = X_tr.T @ X_tr + lam * np.eye(d)
    z = np.linalg.solve(A, X_tr.T @ y_tr)
    dz = -np.linalg.solve(A, z)
    dloss_dloglam = lam * 2.0 * (X_va @ z - y_va) @ (X_va @ dz) / len(y_va)
    assert abs(dloss_dloglam) < 1e-6


def test_conjugate_gradient_solves():
    ex = load()
    rng = np.random.default_rng(1)
    M = rng.standard_normal((6, 6))
    A, b = M @ M.T + 6 * np.eye(6), rng.standard_normal(6)
    np.testing.assert_allclose(ex.conjugate_gradient(A, b), np.linalg.solve(A, b), rtol=1e-10, atol=1e-12)


def test_runs_as_a_script():
    out = subprocess.run([sys.executable, str(PATH), "--quick"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "dz*/dlam" in out.stdout and "validation loss" in out.stdout
