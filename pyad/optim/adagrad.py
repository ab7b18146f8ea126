"""Adagrad with torch's update order (lr_decay, weight_decay, initial_accumulator_value, eps, maximize)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import _C
from .._creation import full_like
from .optimizer import Optimizer, _check_common

if TYPE_CHECKING:
    from .._typing import Params

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad: steps scaled by the root of each element's summed squared gradients, as torch.optim.Adagrad."""

    def __init__(
        self,
        params: Params,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        for name, v in (
            ("learning rate", lr),
            ("lr_decay value", lr_decay),
            ("weight_decay value", weight_decay),
            ("initial_accumulator_value value", initial_accumulator_value),
            ("epsilon value", eps),
        ):
            if v < 0.0:
                raise ValueError(f"Invalid {name}: {v}")
        _check_common(foreach, differentiable, fused, "Adagrad")
        super().__init__(
            params,
            dict(
                lr=lr,
                lr_decay=lr_decay,
                eps=eps,
                weight_decay=weight_decay,
                initial_accumulator_value=initial_accumulator_value,
                foreach=foreach,
                maximize=maximize,
                differentiable=differentiable,
                fused=fused,
            ),
        )
        # torch creates Adagrad's state up front, so state_dict() has it before the first step
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["step"] = 0
                self.state[p]["sum"] = full_like(p, group["initial_accumulator_value"])

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
        weight_decay, maximize = group["weight_decay"], group["maximize"]
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if not state:  # a parameter added later with add_param_group
                state["step"] = 0
                state["sum"] = full_like(p, group["initial_accumulator_value"])
            state["step"] += 1
            step = state["step"]
            grad = -p.grad if maximize else p.grad
            if weight_decay != 0:
                grad = grad + p * weight_decay
            clr = lr / (1 + (step - 1) * lr_decay)
            state_sum = state["sum"]
            state_sum.add_(grad * grad)
            std = _C.sqrt(state_sum) + eps
            p.add_(grad / std * -clr)
