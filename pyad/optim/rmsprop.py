"""RMSprop with torch's update order (alpha, eps, weight_decay, momentum, centered, maximize)."""
from .. import _C
from .._creation import zeros_like
from .optimizer import Optimizer, _check_common, _lerp_


class RMSprop(Optimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        for name, v in (("learning rate", lr), ("epsilon value", eps), ("momentum value", momentum),
                        ("weight_decay value", weight_decay), ("alpha value", alpha)):
            if v < 0.0:
                raise ValueError(f"Invalid {name}: {v}")
        if capturable:
            raise NotImplementedError("[RMSprop] capturable=True is not supported")
        _check_common(foreach, differentiable, None, "RMSprop")
        super().__init__(params, dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                                      weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable))

    def _update_group(self, group):
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        weight_decay, momentum, centered, maximize = (group["weight_decay"], group["momentum"], group["centered"],
                                                      group["maximize"])
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
