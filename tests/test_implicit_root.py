"""pyad.func.implicit_root: derivatives of roots found by solvers pyad cannot see into (NumPy loops), from the
implicit function theorem, in reverse and forward mode and composed (hessian, jacfwd over jacrev), against closed
forms and torch differentiating the unrolled solver."""

import numpy as np
import pytest
import torch

import pyad
from pyad import func

rng = np.random.default_rng(3)


def ridge(n=20, d=5):
    Xn, yn = rng.standard_normal((n, d)), rng.standard_normal(n)
    X, y = pyad.tensor(Xn), pyad.tensor(yn)

    def F(z, lam):
        return X.mT @ (X @ z - y) + lam * z

    def solve(lam):
        return np.linalg.solve(Xn.T @ Xn + float(lam) * np.eye(d), Xn.T @ yn)

    return Xn, yn, func.implicit_root(F, solve)


def test_ridge_dz_dlam_matches_the_closed_form_and_torch():
    Xn, yn, root = ridge()
    lam = pyad.tensor(0.7, dtype=pyad.float64)
    z = root(lam).numpy()
    A = Xn.T @ Xn + 0.7 * np.eye(Xn.shape[1])
    closed = -np.linalg.solve(A, z)
    Xt, yt = torch.tensor(Xn), torch.tensor(yn)
    tz = torch.func.jacrev(
        lambda l: torch.linalg.solve(Xt.T @ Xt + l * torch.eye(Xn.shape[1], dtype=Xt.dtype), Xt.T @ yt)
    )(torch.tensor(0.7, dtype=torch.float64))
    for jac in (func.jacrev(root), func.jacfwd(root)):
        np.testing.assert_allclose(jac(lam).numpy(), closed, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(jac(lam).numpy(), tz.numpy(), rtol=1e-10, atol=1e-12)
    # the second derivative, d2z/dlam2 = 2 A^{-2} z, by every pairing of the modes
    second = 2.0 * np.linalg.solve(A, np.linalg.solve(A, z))
    for outer in (func.jacrev, func.jacfwd):
        for inner in (func.jacrev, func.jacfwd):
            np.testing.assert_allclose(outer(inner(root))(lam).numpy(), second, rtol=1e-9, atol=1e-12)


def fixed_point(n=6, iters=300):
    W = rng.standard_normal((n, n)) * 0.3  # a contraction: the iteration converges

    def iterate(th):
        z, t = np.zeros(n), np.asarray(th.numpy())
        for _ in range(iters):
            z = np.tanh(W @ z + t)
        return z

    def G(z, th):
        return z - pyad.tanh(pyad.tensor(W) @ z + th)

    def unrolled(th):
        z = torch.zeros(n, dtype=torch.float64)
        for _ in range(iters):
            z = torch.tanh(torch.tensor(W) @ z + th)
        return z

    return func.implicit_root(G, iterate), unrolled, n


def test_fixed_point_jacobians_agree_in_both_modes_and_with_unrolling():
    root, unrolled, n = fixed_point()
    th = rng.standard_normal(n)
    jr = func.jacrev(root)(pyad.tensor(th)).numpy()
    jf = func.jacfwd(root)(pyad.tensor(th)).numpy()
    jt = torch.func.jacrev(unrolled)(torch.tensor(th)).numpy()
    np.testing.assert_allclose(jr, jf, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(jr, jt, rtol=1e-9, atol=1e-12)


def test_fixed_point_hessian_and_grad_match_unrolled_torch():
    root, unrolled, n = fixed_point()
    th = rng.standard_normal(n)

    def loss(f):
        return lambda t: (f(t) ** 3).sum()

    h = func.hessian(loss(root))(pyad.tensor(th)).numpy()
    ht = torch.func.hessian(loss(unrolled))(torch.tensor(th)).numpy()
    np.testing.assert_allclose(h, ht, rtol=1e-8, atol=1e-10)
    x = pyad.tensor(th, requires_grad=True)
    (root(x) ** 3).sum().backward()
    t = torch.tensor(th, requires_grad=True)
    (unrolled(t) ** 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_pytree_theta_and_several_arguments():
    n = 5
    W = rng.standard_normal((n, n)) * 0.3
    th = rng.standard_normal(n)

    def iterate(p, scale):
        z = np.zeros(n)
        for _ in range(300):
            z = np.tanh(p["W"].numpy() @ z + scale.numpy() * p["th"].numpy())
        return z

    root = func.implicit_root(lambda z, p, s: z - pyad.tanh(p["W"] @ z + s * p["th"]), iterate)
    params = {"W": pyad.tensor(W), "th": pyad.tensor(th)}
    g = func.grad(lambda p, s: root(p, s).sum(), argnums=(0, 1))(params, pyad.tensor(1.5, dtype=pyad.float64))

    def unrolled(Wt, tt, s):
        z = torch.zeros(n, dtype=torch.float64)
        for _ in range(300):
            z = torch.tanh(Wt @ z + s * tt)
        return z.sum()

    gt = torch.func.grad(unrolled, argnums=(0, 1, 2))(
        torch.tensor(W), torch.tensor(th), torch.tensor(1.5, dtype=torch.float64)
    )
    np.testing.assert_allclose(g[0]["W"].numpy(), gt[0].numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(g[0]["th"].numpy(), gt[1].numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(g[1].numpy(), gt[2].numpy(), rtol=1e-9, atol=1e-12)


def test_the_solver_sees_values_without_history():
    seen = []

    def solve(lam):
        seen.append(lam.requires_grad)
        return np.array([1.0 / (1.0 + float(lam))])

    root = func.implicit_root(lambda z, lam: z * (1.0 + lam) - 1.0, solve)
    lam = pyad.tensor([0.5], requires_grad=True, dtype=pyad.float64)
    root(lam).sum().backward()
    assert seen == [False]
    np.testing.assert_allclose(lam.grad.numpy(), [-1.0 / 1.5**2], rtol=1e-12)


def test_errors():
    with pytest.raises(TypeError, match=r"\[implicit_root\] F and solve must be callables"):
        func.implicit_root(1, lambda t: t)
    root = func.implicit_root(lambda z, t: z - t, lambda t: t)
    with pytest.raises(TypeError, match=r"\[implicit_root\] every leaf of theta"):
        root(np.ones(3))
    bad = func.implicit_root(lambda z, t: (z - t).sum(), lambda t: t)
    x = pyad.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match=r"\[implicit_root\] F\(z, \*theta\) must return a tensor of z's shape"):
        bad(x).sum().backward()
    singular = func.implicit_root(lambda z, t: (z - t) * 0.0, lambda t: t)
    with pytest.raises(pyad.linalg.LinAlgError, match="singular"):
        singular(x).sum().backward()
