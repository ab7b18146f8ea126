"""Adam and AdamW with torch's update order (amsgrad, weight_decay, maximize)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import _C
from .._C import Tensor
from .._creation import zeros_like
from . import _fused
from .optimizer import Optimizer, _check_common, _lerp_

if TYPE_CHECKING:
    from .._typing import Params

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam; weight_decay adds weight_decay * param to the gradient (L2), or, with
    decoupled_weight_decay=True (AdamW), shrinks the parameter by (1 - lr * weight_decay) first.
    foreach=None or True updates a group's tensors in one fused kernel (Note [Fused optimizer steps]);
    foreach=False runs the per-tensor loop. Both give the same bits."""

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if eps < 0.0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if capturable:
            raise NotImplementedError(f"[{type(self).__name__}] capturable=True is not supported")
        _check_common(foreach, differentiable, fused, type(self).__name__)
        super().__init__(
            params,
            dict(
                lr=lr,
                betas=tuple(betas),
                eps=eps,
                weight_decay=weight_decay,
                amsgrad=amsgrad,
                maximize=maximize,
                foreach=foreach,
                capturable=capturable,
                differentiable=differentiable,
                fused=fused,
                decoupled_weight_decay=decoupled_weight_decay,
            ),
        )

    def _update_group(self, group: dict[str, Any]) -> None:
        params = [p for p in group["params"] if p.grad is not None]
        names = self._state_names(group)
        states = [self.state[p] for p in params]
        for p, state in zip(params, states):
            if not state:
                state["step"] = 0
                for name in names:
                    state[name] = zeros_like(p)
        loop = params
        if group["foreach"] is not False:
            buckets, loop = _fused.buckets(params, states, lambda s: s["step"])
            for (_, _, step), (ps, ss) in buckets.items():
                self._fused_step(group, ps, ss, step + 1)
        for p in loop:
            state = self.state[p]
            state["step"] += 1
            self._decay(group, [p])
            p.add_(self._update(group, p.grad, p, state, state["step"]))

    @staticmethod
    def _state_names(group: dict[str, Any]) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if group["amsgrad"] else ("exp_avg", "exp_avg_sq")

    @staticmethod
    def _fused_step(group: dict[str, Any], params: list[Tensor], states: list[dict[str, Any]], step: int) -> None:
        """One step of `params` (all at `step` after it) in one fused kernel (Note [Fused optimizer steps])."""
        for s in states:
            s["step"] = step
        (beta1, beta2), amsgrad = group["betas"], group["amsgrad"]
        _C._adam_step(
            params,
            [p.grad for p in params],
            [s["exp_avg"] for s in states],
            [s["exp_avg_sq"] for s in states],
            [s["max_exp_avg_sq"] for s in states] if amsgrad else [],
            group["lr"],
            beta1,
            beta2,
            group["eps"],
            group["weight_decay"],
            group["lr"] / (1 - beta1**step),
            (1 - beta2**step) ** 0.5,
            group["decoupled_weight_decay"],
            amsgrad,
            group["maximize"],
        )

    @staticmethod
    def _decay(group: dict[str, Any], params: Sequence[Tensor]) -> None:
        """AdamW's decoupled weight decay: shrink the parameters before the update."""
        if group["weight_decay"] != 0 and group["decoupled_weight_decay"]:
            for p in params:
                p.mul_(1 - group["lr"] * group["weight_decay"])

    @staticmethod
    def _update(group: dict[str, Any], grad: Tensor, param: Tensor | None, state: dict[str, Any], step: int) -> Tensor:
        """Advance the moments in `state` and return the step to add to the parameter, in torch's order."""
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0 and not group["decoupled_weight_decay"]:
            grad = grad + param * group["weight_decay"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        _lerp_(exp_avg, grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).add_(grad * (1 - beta2) * grad)
        step_size = lr / (1 - beta1**step)
        bias_correction2_sqrt = (1 - beta2**step) ** 0.5
        if group["amsgrad"]:
            max_sq = state["max_exp_avg_sq"]
            max_sq.copy_(_C.maximum(max_sq, exp_avg_sq))
            denom = _C.sqrt(max_sq) / bias_correction2_sqrt + eps
        else:
            denom = _C.sqrt(exp_avg_sq) / bias_correction2_sqrt + eps
        return exp_avg * -step_size / denom  # torch's addcdiv order: (value * exp_avg) / denom


class AdamW(Adam):
    """Adam with decoupled weight decay (default 1e-2)."""

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )
