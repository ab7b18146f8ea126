"""Implicit differentiation of ridge regression (seed notebook 001, section 10).

The ridge weights z*(lam) = argmin_z |X z - y|^2 / 2 + lam |z|^2 / 2 are the root of the optimality condition
F(z, lam) = X^T (X z - y) + lam z = 0. Here a NumPy conjugate-gradient loop finds that root, a solver pyad cannot
see into; pyad.func.implicit_root turns it into a differentiable function of lam, whose derivative the implicit
function theorem gives with one linear solve:

    dz*/dlam = -(dF/dz)^{-1} dF/dlam = -(X^T X + lam I)^{-1} z*.

The script checks that derivative in reverse mode (jacrev) and forward mode (jacfwd) against that closed form
(tests/test_example_ift_ridge.py also against torch differentiating through the closed-form solution), then
tunes lam by Newton's method on the validation loss (the hypergradient and its second derivative, both through
the solver) and compares the result with a grid search.

    python examples/ift_ridge.py [--quick]
"""

import argparse

import numpy as np

import pyad
from pyad import func


def make_data(rng, n_train, n_val, d, noise=2.0):
    w = rng.standard_normal(d)
    X_tr, X_va = rng.standard_normal((n_train, d)), rng.standard_normal((n_val, d))
    return X_tr, X_tr @ w + noise * rng.standard_normal(n_train), X_va, X_va @ w + noise * rng.standard_normal(n_val)


def conjugate_gradient(A, b, tol=1e-13, max_iter=1000):
    """Solve A x = b for symmetric positive-definite A, in plain NumPy."""
    x = np.zeros_like(b)
    r = b - A @ x
    p, rs = r.copy(), r @ r
    for _ in range(max_iter):
        Ap = A @ p
        alpha = rs / (p @ Ap)
        x, r = x + alpha * p, r - alpha * Ap
        rs_new = r @ r
        if np.sqrt(rs_new) < tol * np.linalg.norm(b):
            break
        p, rs = r + (rs_new / rs) * p, rs_new
    return x


def ridge_root(X_np, y_np):
    """lam -> z*(lam), differentiable: F in pyad ops, the solve in NumPy."""
    X, y = pyad.tensor(X_np), pyad.tensor(y_np)
    d = X_np.shape[1]

    def F(z, lam):
        return X.mT @ (X @ z - y) + lam * z

    def solve(lam):
        return conjugate_gradient(X_np.T @ X_np + float(lam) * np.eye(d), X_np.T @ y_np)

    return func.implicit_root(F, solve)


def main(quick=False):
    rng = np.random.default_rng(0)
    d = 8 if quick else 30
    X_tr, y_tr, X_va, y_va = make_data(rng, 2 * d, 4 * d, d)
    root = ridge_root(X_tr, y_tr)
    lam0 = 1.0
    lam = pyad.tensor(lam0, dtype=pyad.float64)
    z = root(lam).numpy()

    # dz*/dlam three ways
    closed = -np.linalg.solve(X_tr.T @ X_tr + lam0 * np.eye(d), z)
    rev = func.jacrev(root)(lam).numpy()
    fwd = func.jacfwd(root)(lam).numpy()
    err_rev, err_fwd = float(np.abs(rev - closed).max()), float(np.abs(fwd - closed).max())
    print(f"dz*/dlam at lam = {lam0}: |jacrev - closed form| = {err_rev:.1e}, |jacfwd - closed form| = {err_fwd:.1e}")

    # tune log(lam) on the validation loss by Newton's method: the hypergradient and its second derivative
    # (hessian: forward over reverse) both come through the solver
    Xv, yv = pyad.tensor(X_va), pyad.tensor(y_va)

    def val_loss(log_lam):
        r = Xv @ root(pyad.exp(log_lam)) - yv
        return (r * r).mean()

    log_lam = pyad.tensor(np.log(lam0), dtype=pyad.float64)
    before = val_loss(log_lam).item()
    grad_val, hess_val = func.grad(val_loss), func.hessian(val_loss)
    for _ in range(8 if quick else 15):
        g, h = grad_val(log_lam).item(), hess_val(log_lam).item()
        step = g / h if h > 0 else 0.5 * g  # a gradient step where the loss is not convex
        log_lam = log_lam - float(np.clip(step, -1.0, 1.0))
    after = val_loss(log_lam).item()
    lam_opt = float(np.exp(log_lam.item()))

    grid = np.exp(np.linspace(-6.0, 6.0, 241))
    grid_losses = [val_loss(pyad.tensor(np.log(g), dtype=pyad.float64)).item() for g in grid]
    lam_grid, best_grid = float(grid[int(np.argmin(grid_losses))]), float(min(grid_losses))
    print(
        f"validation loss {before:.4f} -> {after:.4f} at lam = {lam_opt:.4f} (grid search: {best_grid:.4f} at "
        f"lam = {lam_grid:.4f})"
    )
    return {
        "err_rev": err_rev,
        "err_fwd": err_fwd,
        "dz_dlam": rev,
        "val_before": before,
        "val_after": after,
        "lam_opt": lam_opt,
        "val_grid": best_grid,
        "lam_grid": lam_grid,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller problem and fewer steps")
    main(quick=parser.parse_args().quick)
