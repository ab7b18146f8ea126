"""The Optimizer base class: param groups, per-parameter state, zero_grad, state dicts."""

from __future__ import annotations

import collections
import copy
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _C
from .._C import Tensor
from .._grad_mode import enable_grad, no_grad
from ..nn.module import _zero_grads

if TYPE_CHECKING:
    from .._typing import Params

__all__ = ["Optimizer", "required"]


class _Required:
    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


def _check_common(foreach: bool | None, differentiable: bool, fused: bool | None, name: str) -> None:
    """foreach and fused are accepted for torch's signatures: Adam, AdamW and SGD fuse their update unless
    foreach=False (Note [Fused optimizer steps]); fused=True is refused, as pyad's fused step is foreach's.
    differentiable=True (updates recorded in the graph) is not supported."""
    if differentiable:
        raise NotImplementedError(
            f"[{name}] differentiable=True is not supported: pyad's optimizers update parameters in place under no_grad"
        )
    if fused:
        raise NotImplementedError(f"[{name}] fused=True is not supported")


def _lerp_(x: Tensor, end: Tensor, weight: float) -> Tensor:
    """x.lerp_(end, weight) with torch's formula (the branch on |weight| < 0.5 keeps it exact at the ends)."""
    if abs(weight) < 0.5:
        return x.add_((end - x) * weight)
    return x.copy_(end - (end - x) * (1.0 - weight))


class Optimizer:
    """Base class: subclasses define step() with their update rule, run under no_grad."""

    def __init__(self, params: Params, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        # parameter -> its state (tensors hash by identity)
        self.state: collections.defaultdict[Tensor, dict[str, Any]] = collections.defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or dicts, but got a Tensor"
            )
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(typing.cast(dict, group))

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines) + "\n)"

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (the others take the optimizer's defaults)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        if isinstance(param_group["params"], set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the ordering "
                "of tensors in sets will change between runs. Please use a list instead."
            )
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        group = dict(param_group, params=params)
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            group.setdefault(name, default)
        if len({id(p) for p in params}) != len(params):
            raise ValueError("optimizer contains a parameter group with duplicate parameters")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's gradient (set_to_none), or zero it in place."""
        _zero_grads((p for group in self.param_groups for p in group["params"]), set_to_none)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; closure (re-evaluating the loss, with grad
        enabled) runs first and its loss is returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                self._update_group(group)
        return loss

    def _update_group(self, group: dict[str, Any]) -> None:
        raise NotImplementedError

    # ---- state dicts ----
    def state_dict(self) -> dict[str, Any]:
        """{'state': {index: state}, 'param_groups': [group with 'params' as indices]}, indices counting the
        parameters over all groups in order, as torch. The state's tensors are the live ones."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            packed["params"] = ids
            groups.append(packed)
        state = {index[id(p)]: s for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the state and hyper-parameters saved by state_dict() (tensors copied and cast to each
        parameter's dtype and device; NumPy arrays are taken too)."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        for ours, theirs in zip(self.param_groups, saved_groups):
            if len(ours["params"]) != len(theirs["params"]):
                raise ValueError(
                    "loaded state dict contains a parameter group that doesn't match the size of optimizer's group"
                )
        by_index = {}
        for ours, theirs in zip(self.param_groups, saved_groups):
            for i, p in zip(theirs["params"], ours["params"]):
                by_index[i] = p
        state: collections.defaultdict[Tensor, dict[str, Any]] = collections.defaultdict(dict)
        for i, s in state_dict["state"].items():
            if i not in by_index:
                continue
            p = by_index[i]
            state[p] = {k: self._restore(v, p) for k, v in s.items()}
        self.state = state
        self.param_groups = [
            dict(copy.deepcopy({k: v for k, v in theirs.items() if k != "params"}), params=ours["params"])
            for ours, theirs in zip(self.param_groups, saved_groups)
        ]

    @staticmethod
    def _restore(value: Any, param: Tensor) -> Any:
        if isinstance(value, np.ndarray):
            value = _C.from_numpy(np.ascontiguousarray(value))
        if isinstance(value, Tensor):
            dtype = param.dtype if value.is_floating_point() else None
            return value.detach().to(device=param.device, dtype=dtype).clone()
        return copy.deepcopy(value)
