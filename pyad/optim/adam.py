"""Adam and AdamW with torch's update order (amsgrad, weight_decay, maximize)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import _C
from .._C import Tensor
from .._creation import zeros_like
from . import _flat
from .optimizer import Optimizer, _check_common, _lerp_

if TYPE_CHECKING:
    from .._typing import Params

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam; weight_decay adds weight_decay * param to the gradient (L2), or, with
    decoupled_weight_decay=True (AdamW), shrinks the parameter by (1 - lr * weight_decay) first.
    foreach=None or True updates a group's tensors together on flat buffers (Note [Flat optimizer state]);
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
        self._flat: dict[int, tuple[dict[str, Any], _flat.FlatGroup]] = {}  # id(group) -> (group, FlatGroup)

    def _update_group(self, group: dict[str, Any]) -> None:
        params = [p for p in group["params"] if p.grad is not None]
        if group["foreach"] is not False and len(params) > 1 and self._flat_update(group, params):
            return
        for p in params:
            state = self.state[p]
            if not state:
                state["step"] = 0
                for name in self._state_names(group):
                    state[name] = zeros_like(p)
            state["step"] += 1
            self._decay(group, [p])
            p.add_(self._update(group, p.grad, p, state, state["step"]))

    @staticmethod
    def _state_names(group: dict[str, Any]) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if group["amsgrad"] else ("exp_avg", "exp_avg_sq")

    def _flat_update(self, group: dict[str, Any], params: list[Tensor]) -> bool:
        """See Note [Flat optimizer state]; False when this group must take the per-tensor loop."""
        names = self._state_names(group)
        states = [self.state[p] for p in params]
        fresh = not any(states)
        if not fresh and not (
            all(states) and len({s["step"] for s in states}) == 1 and all(name in s for s in states for name in names)
        ):
            return False
        entry = self._flat.get(id(group))
        cache = entry[1] if entry is not None and entry[0] is group else None
        if fresh or cache is None or not cache.matches(params, self.state):
            cache = _flat.pack(params, self.state, names, fresh)
            if cache is None:
                return False
            self._flat[id(group)] = (group, cache)
        for s in states:
            s["step"] = s.get("step", 0) + 1
        self._decay(group, params)
        grad = _flat.flat([p.grad for p in params])
        values = _flat.flat(params) if group["weight_decay"] != 0 and not group["decoupled_weight_decay"] else None
        update = self._update(group, grad, values, cache.buffers, states[0]["step"])
        for i, p in enumerate(params):
            p.add_(cache.piece(update, i))
        return True

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
        return exp_avg / denom * -step_size


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
