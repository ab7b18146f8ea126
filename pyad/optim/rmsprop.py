"""RMSprop with torch's update order (alpha, eps, weight_decay, momentum, centered, maximize)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import _C
from .._creation import zeros_like
from .optimizer import Optimizer, _check_common, _lerp_

if TYPE_CHECKING:
    from .._typing import Params

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop: steps scaled by a running root mean square of the gradients (centered: of their deviation),
    with optional momentum, as torch.optim.RMSprop."""

    def __init__(
        self,
        params: Params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        for name, v in (
            ("learning rate", lr),
            ("epsilon value", eps),
            ("momentum value", momentum),
            ("weight_decay value", weight_decay),
            ("alpha value", alpha),
        ):
            if v < 0.0:
                raise ValueError(f"Invalid {name}: {v}")
        if capturable:
            raise NotImplementedError("[RMSprop] capturable=True is not supported")
        _check_common(foreach, differentiable, None, "RMSprop")
        super().__init__(
            params,
            dict(
                lr=lr,
                momentum=momentum,
                alpha=alpha,
                eps=eps,
                centered=centered,
                weight_decay=weight_decay,
                capturable=capturable,
                foreach=foreach,
                maximize=maximize,
                differentiable=differentiable,
            ),
        )

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        weight_decay, momentum, centered, maximize = (
            group["weight_decay"],
            group["momentum"],
            group["centered"],
            group["maximize"],
        )
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["square_avg"] = zeros_like(p)
                if momentum > 0:
                    state["momentum_buffer"] = zeros_like(p)
                if centered:
                    state["grad_avg"] = zeros_like(p)
            grad = -p.grad if maximize else p.grad
            state["step"] += 1
            if weight_decay != 0:
                grad = grad + p * weight_decay
            square_avg = state["square_avg"]
            square_avg.mul_(alpha).add_(grad * (1 - alpha) * grad)
            if centered:
                grad_avg = _lerp_(state["grad_avg"], grad, 1 - alpha)
                avg = _C.sqrt(square_avg - grad_avg * grad_avg)
            else:
                avg = _C.sqrt(square_avg)
            avg = avg + eps
            if momentum > 0:
                buf = state["momentum_buffer"]
                buf.mul_(momentum).add_(grad / avg)
                p.add_(buf * -lr)
            else:
                p.add_(grad / avg * -lr)
