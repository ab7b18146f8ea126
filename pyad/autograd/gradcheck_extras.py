"""gradcheck's further checks, with torch's names: check_undefined_grad, check_batched_grad, check_grad_dtypes
(see gradcheck's docstring). Each raises GradcheckError on failure."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import _C
from .._C import Tensor
from .._grad_mode import enable_grad
from . import forward_ad
from .gradcheck import GradcheckError, _from_np, _np, _outputs

__all__ = ["batched_grad_check", "grad_dtype_check", "undefined_grad_check"]


def _grads(
    outs: Sequence[Tensor], ins: Sequence[Tensor], cots: Sequence[Tensor], batched: bool = False
) -> tuple[Tensor | None, ...]:
    return _C.grad(list(outs), list(ins), list(cots), True, False, True, 1 if batched else 0)


def undefined_grad_check(fn: Callable[..., Any], inputs: Sequence[Any], diff: Sequence[int]) -> None:
    """torch's check_undefined_grad: backward must work, and give None or zeros, when every output gradient
    is zero, and (several outputs) when any one output gets no gradient at all (an undefined one: that output
    is left out of the backward call, so its node sees none)."""
    with enable_grad():
        outs = [o for o in _outputs(fn(*inputs), "gradcheck") if o.requires_grad]
    if not outs:
        return
    ins = [inputs[j] for j in diff]
    cases = [("all output grads zero", outs, [_C.zeros(list(o.shape), o.dtype, o.device) for o in outs])]
    if len(outs) > 1:
        for k in range(len(outs)):
            with enable_grad():
                again = [o for o in _outputs(fn(*inputs), "gradcheck") if o.requires_grad]
            rest = [o for i, o in enumerate(again) if i != k]
            cases.append(
                (
                    f"output {k}'s grad undefined, the others zero",
                    rest,
                    [_C.zeros(list(o.shape), o.dtype, o.device) for o in rest],
                )
            )
    for what, os_, cots in cases:
        try:
            grads = _grads(os_, ins, cots)
        except (RuntimeError, TypeError, ValueError) as e:  # a Python backward that trips over a None
            raise GradcheckError(
                f"Expected backward function to handle undefined output grads ({what}), but it raised: {e}"
            ) from e
        for g, j in zip(grads, diff):
            if g is not None and np.any(_np(g) != 0):
                raise GradcheckError(
                    f"Expected all input grads to be undefined or zero when all output grads are "
                    f"undefined or zero ({what}), but the gradient of input {j} is not"
                )


def batched_grad_check(
    fn: Callable[..., Any], inputs: Sequence[Any], diff: Sequence[int], atol: float, rtol: float
) -> None:
    """torch's check_batched_grad: one batched backward of B random cotangents (is_grads_batched) must equal B
    separate backward calls, row by row."""
    with enable_grad():
        outs = _outputs(fn(*inputs), "gradcheck")
    ins = [inputs[j] for j in diff]
    rng = np.random.default_rng(1)
    B = 3
    for i, o in enumerate(outs):
        if not o.requires_grad or o.numel() == 0:
            continue
        cot = rng.standard_normal((B,) + tuple(o.shape))
        batched = _grads([o], ins, [_from_np(cot, o)], batched=True)
        rows = [_grads([o], ins, [_from_np(cot[b], o)]) for b in range(B)]
        for k, (g, j, x) in enumerate(zip(batched, diff, ins)):
            want = np.stack([_np(rk) if (rk := r[k]) is not None else np.zeros(tuple(x.shape)) for r in rows])
            got = _np(g) if g is not None else np.zeros((B,) + tuple(x.shape))
            if got.shape != want.shape or not np.allclose(got, want, rtol=rtol, atol=atol):
                raise GradcheckError(
                    f"For output {i} and input {j}: the batched gradient (is_grads_batched=True) "
                    f"differs from the gradients computed one cotangent at a time.\nbatched:\n"
                    f"{got}\none at a time:\n{want}"
                )


def grad_dtype_check(
    fn: Callable[..., Any], inputs: Sequence[Any], diff: Sequence[int], check_forward_ad: bool
) -> None:
    """torch's check_grad_dtypes: each gradient (and forward tangent) has its input's (output's) dtype and
    device, checked on a plain, unbatched backward and forward pass."""
    with enable_grad():
        outs = _outputs(fn(*inputs), "gradcheck")
    live = [o for o in outs if o.requires_grad]
    if live:
        grads = _grads(live, [inputs[j] for j in diff], [_C.ones(list(o.shape), o.dtype, o.device) for o in live])
        for g, j in zip(grads, diff):
            x = inputs[j]
            if g is not None and (g.dtype != x.dtype or g.device != x.device):
                raise GradcheckError(
                    f"Gradient has dtype mismatch: the gradient of input {j} is {g.dtype} on "
                    f"{g.device}, but the input is {x.dtype} on {x.device}"
                )
    if check_forward_ad:
        args = [x.detach() if isinstance(x, Tensor) else x for x in inputs]
        with forward_ad.dual_level():
            for j in diff:
                args[j] = _C.make_dual(args[j], _C.ones(list(args[j].shape), args[j].dtype, args[j].device))
            for i, o in enumerate(_outputs(fn(*args), "gradcheck")):
                t = _C.unpack_dual(o)[1]
                if t is not None and (t.dtype != o.dtype or t.device != o.device):
                    raise GradcheckError(
                        f"Forward grad has dtype mismatch: the tangent of output {i} is {t.dtype} on "
                        f"{t.device}, but the output is {o.dtype} on {o.device}"
                    )
