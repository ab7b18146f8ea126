"""Gradient clipping, as torch.nn.utils."""

from __future__ import annotations

import math
from collections.abc import Iterable

from ... import _C
from ..._C import Tensor, abs as _abs
from ..._functions import amax, stack, sum as _sum
from ..._grad_mode import no_grad

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    if isinstance(parameters, _C.Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Scale the gradients in place so that their joint norm (that of all of them concatenated) is at most
    max_norm; returns that norm before clipping, as torch (clip coefficient max_norm / (norm + 1e-6),
    clamped to 1). foreach is accepted; pyad runs one loop either way."""
    grads = _grads(parameters)
    norm_type = float(norm_type)
    if not grads:
        return _C.zeros([], _C.dtype.float32, _C.device("cpu"))
    with no_grad():
        if math.isinf(norm_type):
            total = amax(stack([amax(_abs(g)) for g in grads]))
        else:
            per = [_sum(_abs(g) ** norm_type) ** (1.0 / norm_type) for g in grads]
            total = _sum(stack(per) ** norm_type) ** (1.0 / norm_type)
        value = total.item()
        if error_if_nonfinite and not math.isfinite(value):
            raise RuntimeError(
                f"The total norm of order {norm_type} for gradients from `parameters` is "
                "non-finite, so it cannot be clipped. To disable this error and scale the "
                "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`"
            )
        coef = float(max_norm) / (value + 1e-6)
        if coef < 1.0:
            for g in grads:
                g.mul_(coef)
    return total


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float, foreach: bool | None = None) -> None:
    """Clamp every gradient element to [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    with no_grad():
        for g in _grads(parameters):
            g.copy_(_C.clamp(g, -clip_value, clip_value))
