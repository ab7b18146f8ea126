"""SGD with torch's update order (momentum, dampening, nesterov, weight_decay, maximize)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import _C
from .._C import Tensor
from .._creation import empty_like
from . import _fused
from .optimizer import Optimizer, _check_common

if TYPE_CHECKING:
    from .._typing import Params

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent, with momentum, Nesterov momentum and weight decay, as torch.optim.SGD.
    foreach=None or True updates a group's tensors in one fused kernel (Note [Fused optimizer steps]);
    foreach=False runs the per-tensor loop. Both give the same bits."""

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        _check_common(foreach, differentiable, fused, "SGD")
        super().__init__(
            params,
            dict(
                lr=lr,
                momentum=momentum,
                dampening=dampening,
                weight_decay=weight_decay,
                nesterov=nesterov,
                maximize=maximize,
                foreach=foreach,
                differentiable=differentiable,
                fused=fused,
            ),
        )

    def _update_group(self, group: dict[str, Any]) -> None:
        params = [p for p in group["params"] if p.grad is not None]
        if group["foreach"] is not False:
            states = [self.state[p] for p in params]
            buckets, params = _fused.buckets(params, states, lambda s: s.get("momentum_buffer") is None)
            for (_, _, first), (ps, ss) in buckets.items():
                self._fused_step(group, ps, ss, first)
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        weight_decay, nesterov, maximize = group["weight_decay"], group["nesterov"], group["maximize"]
        for p in params:
            grad = -p.grad if maximize else p.grad
            if weight_decay != 0:
                grad = grad + p * weight_decay
            if momentum != 0:
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = grad.clone()
                else:
                    buf.mul_(momentum).add_(grad * (1 - dampening) if dampening != 0 else grad)
                grad = grad + buf * momentum if nesterov else buf
            p.add_(grad * -lr)

    @staticmethod
    def _fused_step(group: dict[str, Any], params: list[Tensor], states: list[dict[str, Any]], first: bool) -> None:
        """One step of `params` in one fused kernel (Note [Fused optimizer steps]); first: their momentum
        buffers do not exist yet, and start as the gradient."""
        momentum = group["momentum"]
        buffers: list[Tensor] = []
        if momentum != 0:
            if first:
                for p, s in zip(params, states):
                    s["momentum_buffer"] = empty_like(p)
            buffers = [s["momentum_buffer"] for s in states]
        _C._sgd_step(
            params,
            [p.grad for p in params],
            buffers,
            group["lr"],
            momentum,
            group["dampening"],
            group["weight_decay"],
            group["nesterov"],
            group["maximize"],
            first,
        )
