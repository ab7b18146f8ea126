"""gradcheck and gradgradcheck: analytic derivatives against central finite differences, as torch.autograd's.

What is compared
----------------
For every differentiable output ``o_i`` (a Tensor output that requires grad) and every differentiable input
``x_j`` (a Tensor input that requires grad) gradcheck forms

* the numerical Jacobian ``N_ij`` (shape ``(o_i.numel(), x_j.numel())``) by central differences: each element
  ``x_j[k]`` is perturbed in place (under ``no_grad``) to ``x_j[k] + eps`` and ``x_j[k] - eps``, and column ``k``
  is ``(f(x + eps e_k) - f(x - eps e_k)) / (2 eps)``; the element is then written back, so the inputs are left
  bit-for-bit as they were;
* the reverse-mode Jacobian ``A_ij``: one batched backward pass per output (an identity seed, all ``o_i.numel()``
  cotangents at once through ``grad(..., is_grads_batched=True)``); an input the output does not reach gets
  zeros;
* with ``check_forward_ad=True``, the forward-mode Jacobian: one forward pass per input with a dual input
  carrying a batched identity tangent (all ``x_j.numel()`` directions at once, as pyad.func.jacfwd).

The check passes when, element by element, ``|analytic - numerical| <= atol + rtol * |numerical|`` (a NaN on
either side fails). If no output requires grad, every numerical Jacobian must be zero by the same rule.

fast_mode=True compares random projections instead of whole Jacobians (torch's fast mode, after HIPS
autograd): unit directions ``v_j`` (input space) and ``u_i`` (output space) are drawn from
``numpy.random.default_rng(0)``; the numerical ``u_i . (f_i(x_j + eps v_j) - f_i(x_j - eps v_j)) / (2 eps)``
(two evaluations of f per input) is compared with the analytic ``u_i^T A_ij v_j``, got for all (i, j) from one
batched backward pass (and, with ``check_forward_ad``, one batched forward pass). The rule is the same with atol
scaled by ``sum|u_i| * sum|v_j|`` (the bound of ``u^T E v`` for an error matrix E whose entries are <= atol).

On a mismatch a GradcheckError (a RuntimeError) names the output and input (their positions in fn's return
value and in ``inputs``), the mode (reverse or forward), the worst element (its index in the output and in the
input) and both values; with raise_exception=False the function returns False instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import _C
from .._C import Tensor
from .._grad_mode import enable_grad, no_grad
from . import forward_ad

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck"]

_MAX_PRINTED = 400  # Jacobians up to this many elements are printed whole in the error message


class GradcheckError(RuntimeError):
    """Raised by gradcheck / gradgradcheck when analytic and numerical derivatives disagree."""


# ---------------------------------------------------------------- plumbing
def _as_tuple(x: Any) -> tuple[Any, ...]:
    if isinstance(x, tuple):
        return x
    if isinstance(x, list):
        return tuple(x)
    return (x,)


def _np(t: Tensor) -> np.ndarray:
    """A float64 NumPy copy of a tensor's values (never aliasing the tensor)."""
    return np.array(_C.to_numpy(t.detach()), dtype=np.float64, copy=True)


def _from_np(a: np.ndarray, like: Tensor) -> Tensor:
    """A tensor with `like`'s dtype and device holding a copy of the float64 array `a`."""
    src = _C.from_numpy(np.array(a, dtype=np.float64, order="C"))  # (ascontiguousarray makes 0-d 1-d)
    return _C.copy_to(src, like.dtype, like.device)


def _index(flat: int, shape: Sequence[int]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(int(flat), tuple(shape)))


def _fmt_index(idx: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(i) for i in idx) + ("," if len(idx) == 1 else "") + ")"


def _outputs(out: Any, where: str) -> tuple[Tensor, ...]:
    outs = _as_tuple(out)
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise TypeError(
                f"[{where}] the function must return a Tensor or a tuple of Tensors, got "
                f"{type(o).__name__} at output {i}"
            )
    return outs


def _check_inputs(inputs: Sequence[Any], where: str, warn_precision: bool = True) -> list[int]:
    diff = [j for j, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff:
        raise ValueError(
            f"[{where}] expects at least one input tensor to require gradient, but none of them have requires_grad=True"
        )
    for j in diff:
        x = inputs[j]
        if warn_precision and x.dtype != _C.dtype.float64:
            warnings.warn(
                f"[{where}] Input #{j} requires gradient and is not a double precision floating point "
                f"tensor (it is {x.dtype}). This check will likely fail if all the inputs are not of "
                "double precision floating point.",
                UserWarning,
                stacklevel=3,
            )
        if any(s == 0 and d > 1 for s, d in zip(x.stride(), x.shape)):
            raise ValueError(
                f"[{where}] input #{j} has a dimension with stride 0 (an expanded tensor): gradcheck "
                "perturbs elements one at a time and needs inputs whose elements do not overlap; call "
                ".contiguous() (or .clone()) on it first"
            )
    return diff


class _Names:
    """How inputs and outputs are named in messages (gradgradcheck renames them)."""

    def __init__(self, inputs: dict[int, str] | None = None, outputs: dict[int, str] | None = None) -> None:
        self._in, self._out = inputs or {}, outputs or {}

    def input(self, j: int) -> str:
        return self._in.get(j, f"input {j}")

    def output(self, i: int) -> str:
        return self._out.get(i, f"output {i}")


# ---------------------------------------------------------------- Jacobians
def _eval_np(fn: Callable[..., Any], inputs: Sequence[Any], out_idx: Sequence[int]) -> list[np.ndarray]:
    """fn(*inputs)'s outputs at positions out_idx, flattened float64 copies."""
    outs = _outputs(fn(*inputs), "gradcheck")
    return [_np(outs[i]).reshape(-1) for i in out_idx]


def _numerical_jacobian(
    fn: Callable[..., Any], inputs: Sequence[Any], j: int, out_idx: Sequence[int], out_sizes: Sequence[int], eps: float
) -> list[np.ndarray]:
    """[N_ij for i in out_idx], N_ij of shape (m_i, n_j), by central differences over x_j's elements."""
    x = inputs[j]
    n = x.numel()
    cols = [np.zeros((m, n)) for m in out_sizes]
    xd = x.detach()  # shares x's storage: writing it perturbs x
    shape = tuple(x.shape)
    for k in range(n):
        idx = _index(k, shape)
        orig = xd[idx].item()
        try:
            with no_grad():
                xd[idx] = orig + eps
            plus = _eval_np(fn, inputs, out_idx)
            with no_grad():
                xd[idx] = orig - eps
            minus = _eval_np(fn, inputs, out_idx)
        finally:
            with no_grad():
                xd[idx] = orig  # the exact original value: a Python float holds any float64 / float32 exactly
        for c, p, q in zip(cols, plus, minus):
            c[:, k] = (p - q) / (2.0 * eps)
    return cols


def _check_grad_attrs(g: Tensor, x: Tensor, batch: int, what: str) -> None:
    want = (batch,) + tuple(x.shape)
    if tuple(g.shape) != want:
        raise GradcheckError(f"{what}: gradient has shape {tuple(g.shape)}, expected {want}")
    if g.dtype != x.dtype:
        raise GradcheckError(f"{what}: gradient has dtype {g.dtype}, expected the input's {x.dtype}")


def _reverse_jacobian(
    outs: Sequence[Tensor], out_idx: Sequence[int], inputs: Sequence[Any], diff: Sequence[int], names: _Names
) -> list[list[np.ndarray]]:
    """jac[a][b] = A (m_i, n_j) for output out_idx[a] and input diff[b]: one batched backward per output."""
    ins = [inputs[j] for j in diff]
    jac = []
    for i in out_idx:
        o = outs[i]
        m = o.numel()
        if m == 0 or not o.requires_grad:
            jac.append([np.zeros((m, x.numel())) for x in ins])
            continue
        seed = _C.reshape(_C.eye(m, m, o.dtype, o.device), [m] + list(o.shape))
        grads = _C.grad([o], ins, [seed], True, False, True, 1)
        row = []
        for g, j, x in zip(grads, diff, ins):
            if g is None:
                row.append(np.zeros((m, x.numel())))
                continue
            _check_grad_attrs(g, x, m, f"Backward for {names.output(i)} with respect to {names.input(j)}")
            row.append(_np(g).reshape(m, x.numel()))
        jac.append(row)
    return jac


def _forward_jacobian(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    out_idx: Sequence[int],
    shapes: dict[int, tuple[int, ...]],
    diff: Sequence[int],
    names: _Names,
) -> list[list[np.ndarray]]:
    """jac[a][b] = forward-mode A (m_i, n_j): one pass per input with a batched identity tangent."""
    detached = [x.detach() if isinstance(x, Tensor) else x for x in inputs]
    jac: list[list[np.ndarray | None]] = [[None] * len(diff) for _ in out_idx]
    for b, j in enumerate(diff):
        x = detached[j]
        n = x.numel()
        if n == 0:
            continue
        with forward_ad.dual_level():
            args = list(detached)
            args[j] = _C.make_identity_dual(x, 0, n)
            outs = _outputs(fn(*args), "gradcheck")
            tans = [(outs[i], _C.unpack_dual(outs[i])[1]) for i in out_idx]
        for a, (i, (o, t)) in enumerate(zip(out_idx, tans)):
            if t is not None:
                _check_grad_attrs(
                    t, o, n, f"Forward-mode tangent of {names.output(i)} with respect to {names.input(j)}"
                )
                jac[a][b] = _np(t).reshape(n, o.numel()).T
    for a, i in enumerate(out_idx):  # zeros where no tangent reached (or the input is empty)
        for b, j in enumerate(diff):
            if jac[a][b] is None:
                jac[a][b] = np.zeros((int(np.prod(shapes[i])), inputs[j].numel()))
    return [[m for m in row if m is not None] for row in jac]  # (every entry is filled now)


def _mismatch(analytic: np.ndarray, numerical: np.ndarray, atol: float, rtol: float) -> tuple[int, int] | None:
    """None when analytic and numerical agree elementwise, else (flat index of the worst element, #bad)."""
    diff = np.abs(analytic - numerical)
    tol = atol + rtol * np.abs(numerical)
    bad = ~(diff <= tol)  # NaN on either side counts as bad
    if not bad.any():
        return None
    excess = np.where(np.isnan(diff), np.inf, diff - tol)
    excess = np.where(bad, excess, -np.inf)
    return int(np.argmax(excess)), int(bad.sum())


def _compare_jacobians(
    analytic: Sequence[Sequence[np.ndarray]],
    numerical: Sequence[Sequence[np.ndarray]],
    out_idx: Sequence[int],
    diff: Sequence[int],
    shapes: dict[int, tuple[int, ...]],
    inputs: Sequence[Any],
    mode: str,
    atol: float,
    rtol: float,
    names: _Names,
) -> None:
    for a, i in enumerate(out_idx):
        for b, j in enumerate(diff):
            A, N = analytic[a][b], numerical[a][b]
            if A.shape != N.shape:
                raise GradcheckError(
                    f"Jacobian shape mismatch for {names.output(i)} with respect to "
                    f"{names.input(j)} ({mode} mode): analytic {A.shape}, numerical {N.shape}"
                )
            found = _mismatch(A, N, atol, rtol)
            if found is None:
                continue
            flat, nbad = found
            r, c = divmod(flat, A.shape[1])
            av, nv = float(A[r, c]), float(N[r, c])
            oi, xi = _index(r, shapes[i]), _index(c, inputs[j].shape)
            msg = (
                f"Jacobian mismatch for {names.output(i)} with respect to {names.input(j)} ({mode} mode): "
                f"{nbad} of {A.size} elements differ.\n"
                f"Worst element: {names.output(i)} at index {_fmt_index(oi)}, {names.input(j)} at index "
                f"{_fmt_index(xi)}: analytical {av!r} vs numerical {nv!r} (|difference| {abs(av - nv)!r} > "
                f"atol + rtol * |numerical| = {atol + rtol * abs(nv)!r})"
            )
            if A.size <= _MAX_PRINTED:
                with np.printoptions(precision=6, suppress=False, linewidth=120):
                    msg += f"\nnumerical:\n{N}\nanalytical:\n{A}"
            raise GradcheckError(msg)


# ---------------------------------------------------------------- slow and fast checks
def _setup(fn: Callable[..., Any], inputs: Sequence[Any]) -> tuple[tuple[Tensor, ...], list[int]]:
    with enable_grad():
        outs = _outputs(fn(*inputs), "gradcheck")
    float_idx = [i for i, o in enumerate(outs) if o.dtype.is_floating_point]
    out_idx = [i for i in float_idx if outs[i].requires_grad]
    # No differentiable output: the numerical Jacobians of every floating output must then be zero.
    return outs, (out_idx if out_idx else float_idx)


def _slow_check(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    diff: Sequence[int],
    eps: float,
    atol: float,
    rtol: float,
    check_forward_ad: bool,
    names: _Names,
    check_backward_ad: bool = True,
    ref: Sequence[Any] | None = None,
) -> bool:
    ref = inputs if ref is None else ref
    outs, out_idx = _setup(fn, inputs)
    analytic = _reverse_jacobian(outs, out_idx, inputs, diff, names) if check_backward_ad else None
    shapes = {i: tuple(outs[i].shape) for i in out_idx}
    del outs  # frees the graph before the finite differences
    sizes = [int(np.prod(shapes[i])) for i in out_idx]
    per_input = [_numerical_jacobian(fn, ref, j, out_idx, sizes, eps) for j in diff]
    numerical = [[per_input[b][a] for b in range(len(diff))] for a in range(len(out_idx))]
    if analytic is not None:
        _compare_jacobians(analytic, numerical, out_idx, diff, shapes, inputs, "reverse", atol, rtol, names)
    if check_forward_ad:
        forward = _forward_jacobian(fn, inputs, out_idx, shapes, diff, names)
        _compare_jacobians(forward, numerical, out_idx, diff, shapes, inputs, "forward", atol, rtol, names)
    return True


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal(n)
    norm = np.linalg.norm(v)
    return v / norm if norm > 0 else v


def _fast_check(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    diff: Sequence[int],
    eps: float,
    atol: float,
    rtol: float,
    check_forward_ad: bool,
    names: _Names,
    check_backward_ad: bool = True,
    ref: Sequence[Any] | None = None,
) -> bool:
    ref = inputs if ref is None else ref
    outs, out_idx = _setup(fn, inputs)
    rng = np.random.default_rng(0)
    vs = [_unit(rng, inputs[j].numel()) for j in diff]
    us = [_unit(rng, outs[i].numel()) for i in out_idx]

    # Reverse: one batched backward; batch row a carries u_a on output a and zeros on the others.
    reverse = np.zeros((len(out_idx), len(diff)))
    live = [a for a, i in enumerate(out_idx) if outs[i].requires_grad and outs[i].numel() > 0]
    if live:
        k = len(out_idx)
        cots = []
        for a in live:
            o = outs[out_idx[a]]
            c = np.zeros((k, o.numel()))
            c[a] = us[a]
            cots.append(_from_np(c.reshape((k,) + tuple(o.shape)), o))
        ins = [inputs[j] for j in diff]
        grads = _C.grad([outs[out_idx[a]] for a in live], ins, cots, True, False, True, 1)
        for b, (g, j, x) in enumerate(zip(grads, diff, ins)):
            if g is None:
                continue
            _check_grad_attrs(g, x, k, f"Backward with respect to {names.input(j)}")
            reverse[:, b] = _np(g).reshape(k, -1) @ vs[b]
    del outs  # the graph is done with before the inputs are perturbed

    # Numerical: u_i . (f_i(x_j + eps v_j) - f_i(x_j - eps v_j)) / (2 eps), two evaluations per input.
    numerical = np.zeros((len(out_idx), len(diff)))
    for b, j in enumerate(diff):
        x = ref[j]
        xd = x.detach()
        orig = xd.clone()
        step = _from_np(eps * vs[b].reshape(tuple(x.shape)), x)
        try:
            with no_grad():
                xd.copy_(orig + step)
            plus = _eval_np(fn, ref, out_idx)
            with no_grad():
                xd.copy_(orig - step)
            minus = _eval_np(fn, ref, out_idx)
        finally:
            with no_grad():
                xd.copy_(orig)  # exact restore
        for a in range(len(out_idx)):
            numerical[a, b] = us[a] @ ((plus[a] - minus[a]) / (2.0 * eps))

    results = [("reverse", reverse)] if check_backward_ad else []

    # Forward: one batched forward pass; batch row b carries v_b on input b and zeros on the others.
    if check_forward_ad:
        forward = np.zeros((len(out_idx), len(diff)))
        args = [x.detach() if isinstance(x, Tensor) else x for x in inputs]
        L = len(diff)
        with forward_ad.dual_level():
            for b, j in enumerate(diff):
                x = args[j]
                t = np.zeros((L, x.numel()))
                t[b] = vs[b]
                args[j] = _C.make_dual(x, _from_np(t.reshape((L,) + tuple(x.shape)), x))
            fouts = _outputs(fn(*args), "gradcheck")
            for a, i in enumerate(out_idx):
                o = fouts[i]
                tan = _C.unpack_dual(o)[1]
                if tan is None or o.numel() == 0:
                    continue
                _check_grad_attrs(tan, o, L, f"Forward-mode tangent of {names.output(i)}")
                forward[a, :] = _np(tan).reshape(L, -1) @ us[a]
        results.append(("forward", forward))

    for mode, analytic in results:
        for a, i in enumerate(out_idx):
            for b, j in enumerate(diff):
                av, nv = float(analytic[a, b]), float(numerical[a, b])
                tol = float(atol * np.abs(us[a]).sum() * np.abs(vs[b]).sum() + rtol * abs(nv))
                if abs(av - nv) <= tol:  # False for NaN
                    continue
                raise GradcheckError(
                    f"Jacobian mismatch for {names.output(i)} with respect to {names.input(j)} ({mode} mode, "
                    f"fast_mode=True): the projections u^T J v along random unit directions differ: analytical "
                    f"{av!r} vs numerical {nv!r} (|difference| {abs(av - nv)!r} > scaled atol + rtol * "
                    f"|numerical| = {tol!r}). Run with fast_mode=False for the element-wise report."
                )
    return True


# ---------------------------------------------------------------- precision
_LOW = ("float32", "float16", "bfloat16")


def _low_precision(inputs: Sequence[Any]) -> Any:
    """The lowest-precision floating dtype among the differentiable inputs when one is below float64, else None."""
    dts = [x.dtype for x in inputs if isinstance(x, Tensor) and x.requires_grad and str(x.dtype).endswith(_LOW)]
    if not dts:
        return None
    return max(dts, key=_machine_eps)


def _machine_eps(dtype: Any) -> float:
    name = str(dtype).rsplit(".", 1)[-1]
    return {"float32": 2.0**-23, "float16": 2.0**-10, "bfloat16": 2.0**-7}.get(name, 2.0**-52)


def _upcast(x: Any) -> Any:
    if not (isinstance(x, Tensor) and str(x.dtype).endswith(_LOW)):
        return x
    up = _C.copy_to(x.detach(), _C.dtype.float64, x.device)
    return up.requires_grad_(True) if x.requires_grad else up


def _reference_inputs(
    fn: Callable[..., Any], inputs: Sequence[Any], eps: float, low: Any
) -> tuple[Sequence[Any], float]:
    """(inputs for the finite differences, their eps): float64 copies of the low-precision inputs when fn
    runs in float64 on them, else the inputs themselves with eps = cbrt(machine epsilon of `low`)."""
    ref = tuple(_upcast(x) for x in inputs)
    try:
        with no_grad():
            outs = _outputs(fn(*ref), "gradcheck")
        if all(not o.dtype.is_floating_point or o.dtype == _C.dtype.float64 for o in outs):
            return ref, eps
    except (TypeError, RuntimeError, ValueError):
        pass  # fn is tied to its dtype: fall back to a dtype-sized step
    return inputs, max(eps, _machine_eps(low) ** (1.0 / 3.0))


# ---------------------------------------------------------------- public API
def _run(check: Callable[[], bool], raise_exception: bool) -> bool:
    if not raise_exception:
        try:
            return check()
        except GradcheckError:
            return False
    return check()


def gradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    check_forward_ad: bool = False,
    fast_mode: bool = False,
    *,
    check_backward_ad: bool = True,
    check_undefined_grad: bool = True,
    check_batched_grad: bool = False,
    check_grad_dtypes: bool = False,
    dtype_aware: bool | None = None,
    _names: _Names | None = None,
) -> bool:
    """Check fn's derivatives against central finite differences, as torch.autograd.gradcheck.

    fn(*inputs) returns a Tensor or a tuple of Tensors. `inputs` is a Tensor or a tuple of arguments; only the
    Tensors in it that require grad are checked (others and non-Tensor arguments are passed through); they
    should be float64 (a warning says so otherwise) and are perturbed in place during the check, then restored
    exactly. Outputs that require grad are checked (if none does, the numerical Jacobian must be zero).

    For each output i and input j, the analytic Jacobian (reverse mode unless check_backward_ad=False, and
    forward mode too with check_forward_ad=True) is compared with the central-difference Jacobian elementwise:
        |analytic - numerical| <= atol + rtol * |numerical|
    fast_mode=True compares u^T J v for random unit directions u, v (numpy.random.default_rng(0)) instead, with
    atol scaled by sum|u| * sum|v|: two evaluations of fn per input, one backward and one forward pass.

    torch's further checks, same names and defaults (those of backward need check_backward_ad):
    * check_undefined_grad (on): backward works and gives None or zeros when every output gradient is zero,
      and, for several outputs, when any one of them gets no gradient (it is left out of the backward call);
    * check_batched_grad: a batched backward of 3 random cotangents (is_grads_batched=True) equals 3 separate
      backward calls (within atol, rtol);
    * check_grad_dtypes: every gradient (and forward tangent) has its input's (output's) dtype and device, on
      a plain backward (forward) pass.

    dtype_aware (the default, None, turns it on when a differentiable input is float32, float16 or bfloat16):
    the finite differences run on float64 copies of the floating inputs, so the reference is accurate to
    float64 while the analytic derivatives are the ones computed in the inputs' own dtype; where fn cannot run
    in float64 (it raises, or its outputs stay in the low precision) eps becomes cbrt(machine epsilon) of the
    inputs' dtype instead, the step that balances truncation and rounding error. dtype_aware=False is torch's
    behaviour (a warning, and finite differences in the inputs' dtype).

    Returns True on success. On failure raises GradcheckError (a RuntimeError) naming the output, input, mode,
    worst element and both values, or returns False if raise_exception=False.
    """
    inputs = _as_tuple(inputs)
    if not (check_backward_ad or check_forward_ad):
        raise ValueError("[gradcheck] Expected at least one of check_forward_ad or check_backward_ad to be True")
    if not check_backward_ad and check_batched_grad:
        raise ValueError("[gradcheck] Setting check_batched_grad=True requires check_backward_ad to be True")
    low = _low_precision(inputs)
    if dtype_aware is None:
        dtype_aware = low is not None
    diff = _check_inputs(inputs, "gradcheck", warn_precision=not dtype_aware)
    names = _names or _Names()
    check = _fast_check if fast_mode else _slow_check
    ref: Sequence[Any] = inputs
    if dtype_aware and low is not None:
        ref, eps = _reference_inputs(fn, inputs, eps, low)

    from . import gradcheck_extras as extras  # (it imports this module's helpers)

    def run() -> bool:
        check(fn, inputs, diff, eps, atol, rtol, check_forward_ad, names, check_backward_ad, ref)
        if check_backward_ad and check_undefined_grad:
            extras.undefined_grad_check(fn, inputs, diff)
        if check_batched_grad:
            extras.batched_grad_check(fn, inputs, diff, atol, rtol)
        if check_grad_dtypes:
            extras.grad_dtype_check(fn, inputs, diff, check_forward_ad)
        return True

    return _run(run, raise_exception)


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    grad_outputs: Any = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    fast_mode: bool = False,
    *,
    check_undefined_grad: bool = True,
    check_batched_grad: bool = False,
    check_grad_dtypes: bool = False,
    dtype_aware: bool | None = None,
) -> bool:
    """Check fn's second derivatives, as torch.autograd.gradgradcheck.

    gradcheck is run on the function (*inputs, *grad_outputs) -> the gradients of fn's differentiable outputs
    (seeded with grad_outputs) with respect to its differentiable inputs, built with create_graph=True; the
    gradient with respect to an input it does not reach is zero. So both the derivative of those gradients with
    respect to the inputs (second derivatives of fn) and with respect to grad_outputs (fn's Jacobian, through
    the double-backward graph) are compared with finite differences, under the rule
        |analytic - numerical| <= atol + rtol * |numerical|.
    grad_outputs defaults to random values in [-1, 1) (numpy.random.default_rng(0)) of the differentiable
    outputs' shapes and dtypes, requiring grad, so they are checked as inputs too. In messages, input k >=
    len(inputs) is grad_outputs[k - len(inputs)], and output k is the gradient with respect to the k-th
    differentiable input. dtype_aware is gradcheck's (on by default for float32 / float16 inputs).
    """
    inputs = _as_tuple(inputs)
    if dtype_aware is None:
        dtype_aware = _low_precision(inputs) is not None
    diff = _check_inputs(inputs, "gradgradcheck", warn_precision=not dtype_aware)
    if grad_outputs is None:
        with enable_grad():
            outs = [o for o in _outputs(fn(*inputs), "gradgradcheck") if o.requires_grad]
        rng = np.random.default_rng(0)
        grad_outputs = tuple(_from_np(rng.uniform(-1.0, 1.0, tuple(o.shape)), o).requires_grad_(True) for o in outs)
    else:
        grad_outputs = _as_tuple(grad_outputs)
        for k, g in enumerate(grad_outputs):
            if not isinstance(g, Tensor):
                raise TypeError(f"[gradgradcheck] grad_outputs must be Tensors, got {type(g).__name__} at {k}")
    n_in, n_go = len(inputs), len(grad_outputs)

    def first_derivatives(*args: Tensor) -> tuple[Tensor, ...]:
        ins, gos = args[:n_in], args[n_in:]
        with enable_grad():
            outs = [o for o in _outputs(fn(*ins), "gradgradcheck") if o.requires_grad]
            if len(outs) != n_go:
                raise ValueError(f"[gradgradcheck] got {n_go} grad_outputs for {len(outs)} differentiable outputs")
            dins = [ins[j] for j in diff]
            grads = _C.grad(outs, dins, list(gos), True, True, True, 0) if outs else (None,) * len(dins)
        return tuple(g if g is not None else _C.zeros(list(x.shape), x.dtype, x.device) for g, x in zip(grads, dins))

    names = _Names(
        {n_in + k: f"input {n_in + k} (grad_outputs[{k}])" for k in range(n_go)},
        {k: f"output {k} (the gradient with respect to input {j})" for k, j in enumerate(diff)},
    )
    return gradcheck(
        first_derivatives,
        inputs + grad_outputs,
        eps=eps,
        atol=atol,
        rtol=rtol,
        raise_exception=raise_exception,
        fast_mode=fast_mode,
        check_undefined_grad=check_undefined_grad,
        check_batched_grad=check_batched_grad,
        check_grad_dtypes=check_grad_dtypes,
        dtype_aware=dtype_aware,
        _names=names,
    )
