"""pyad.func.implicit_root: differentiate the root z*(theta) of F(z, theta) = 0 found by any solver.

The solver runs on plain values (it may be a NumPy loop pyad cannot see into); the derivatives come from the
implicit function theorem. Differentiating F(z*(theta), theta) = 0 gives J_z dz + J_theta dtheta = 0, so

    forward mode:  dz = -J_z^{-1} (J_theta dtheta)
    reverse mode:  w = J_z^{-T} gz,  gtheta = -J_theta^T w

one linear solve with J_z either way, whatever the number of iterations the solver took. J_z and J_theta are
F's Jacobians at (z*, theta), taken with pyad.func.jacrev (one batched backward pass each), so the rules are
pyad ops throughout: with z* and theta carrying their own history, the rules differentiate again, and
hessian, jacfwd over jacrev and jvp of grad compose with the root like with any other op."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import optree

from . import _C
from .autograd.function import Function

Tensor = _C.Tensor


def implicit_root(F: Callable[..., Any], solve: Callable[..., Any]) -> Callable[..., Tensor]:
    """root(*theta) -> z* with F(z*, *theta) = 0, where z* = solve(*theta).

    solve receives theta's values with no history (tensors; pytrees of them as given) and returns z* as a
    tensor or a NumPy array, by any method at all; F(z, *theta) must return a tensor of z's shape, written with
    pyad ops. The root's derivatives with respect to every tensor in theta come from the implicit function
    theorem (one linear solve with dF/dz, in reverse and in forward mode), so root composes with grad, jacrev,
    jacfwd and hessian. dF/dz must be invertible at the root; it is formed densely (z of size n: an n x n
    solve)."""
    if not callable(F) or not callable(solve):
        raise TypeError("[implicit_root] F and solve must be callables")

    def root(*theta: Any) -> Tensor:
        leaves: list[Any]
        leaves, spec = optree.tree_flatten(theta, none_is_leaf=True)  # type: ignore[arg-type]
        for x in leaves:
            if not isinstance(x, Tensor) or not x.dtype.is_floating_point:
                raise TypeError(
                    f"[implicit_root] every leaf of theta must be a floating point Tensor, got "
                    f"{type(x).__name__ if not isinstance(x, Tensor) else x.dtype}"
                )
        if not leaves:
            raise ValueError("[implicit_root] root(*theta) needs at least one tensor in theta")
        return _ImplicitRoot.apply(F, solve, spec, *leaves)

    root.__doc__ = f"The root z*(theta) of {getattr(F, '__name__', 'F')}(z, *theta) = 0 (pyad.func.implicit_root)."
    return root


def _as_tensor(z: Any, like: Tensor) -> Tensor:
    if isinstance(z, Tensor):
        return z.detach()
    arr = np.asarray(z, dtype=np.float64 if like.dtype == _C.dtype.float64 else np.float32)
    return _C.to_device(_C.from_numpy(np.ascontiguousarray(arr)), like.device)


class _ImplicitRoot(Function):
    handles_batch_dims = True

    @staticmethod
    def forward(ctx: Any, F: Any, solve: Any, spec: Any, *leaves: Tensor) -> Tensor:
        ctx.set_materialize_grads(False)
        theta = optree.tree_unflatten(spec, [x.detach() for x in leaves])
        z = _as_tensor(solve(*theta), leaves[0])
        ctx.save_for_backward(z, *leaves)
        ctx.F, ctx.spec = F, spec
        return z

    @staticmethod
    def _jacobians(ctx: Any, z: Tensor, leaves: list[Tensor], which: list[int]) -> tuple[Tensor, list[Tensor]]:
        """J_z as an (n, n) matrix and J_theta_i as (n, p_i) ones for the leaves in `which`."""
        from . import func

        F, spec = ctx.F, ctx.spec

        def residual(zz: Tensor, *ls: Tensor) -> Tensor:
            r = F(zz, *optree.tree_unflatten(spec, list(ls)))
            if not isinstance(r, Tensor) or tuple(r.shape) != tuple(zz.shape):
                got = tuple(r.shape) if isinstance(r, Tensor) else type(r).__name__
                raise ValueError(
                    f"[implicit_root] F(z, *theta) must return a tensor of z's shape {tuple(zz.shape)}, got {got}"
                )
            return r

        argnums = (0,) + tuple(1 + i for i in which)
        jac = func.jacrev(residual, argnums=argnums)(z, *leaves)
        n = z.numel()
        Jz = _C.reshape(jac[0], [n, n])
        return Jz, [_C.reshape(j, [n, leaves[i].numel()]) for j, i in zip(jac[1:], which)]

    @staticmethod
    def backward(ctx: Any, gz: Tensor | None) -> Any:
        from . import linalg

        if gz is None:
            return (None,) * len(ctx.needs_input_grad)
        z, *leaves = ctx.saved_tensors
        which = [i for i in range(len(leaves)) if ctx.needs_input_grad[3 + i]]
        Jz, Jt = _ImplicitRoot._jacobians(ctx, z, leaves, which)
        lead = list(gz.shape[: gz.ndim - z.ndim])
        n = z.numel()
        G = _C.reshape(gz, [math.prod(lead), n])
        w = linalg.solve(_C.transpose(Jz, 0, 1), _C.transpose(G, 0, 1))  # (n, batch): the one linear solve
        out: list[Any] = [None, None, None] + [None] * len(leaves)
        for J, i in zip(Jt, which):
            out[3 + i] = _C.reshape(-(_C.transpose(w, 0, 1) @ J), lead + list(leaves[i].shape))
        return tuple(out)

    @staticmethod
    def jvp(ctx: Any, _F: Any, _solve: Any, _spec: Any, *tangents: Tensor | None) -> Tensor | None:
        from . import linalg

        z, *leaves = ctx.saved_tensors
        given = [(i, t) for i, t in enumerate(tangents) if t is not None]
        if not given:
            return None
        Jz, Jt = _ImplicitRoot._jacobians(ctx, z, leaves, [i for i, _ in given])
        leads = [list(t.shape[: t.ndim - leaves[i].ndim]) for i, t in given]
        lead = max(leads, key=len)
        r: Tensor | None = None
        for J, (i, tan), ld in zip(Jt, given, leads):
            t = _C.reshape(tan, [math.prod(ld), leaves[i].numel()])
            term = J @ _C.transpose(t, 0, 1)  # (n, batch)
            r = term if r is None else r + term
        assert r is not None
        dz = linalg.solve(Jz, -r)  # the one linear solve
        return _C.reshape(_C.transpose(dz, 0, 1), lead + list(z.shape))
