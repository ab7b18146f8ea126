"""nn.Module with torch's behaviour: attribute registration, traversal, modes, conversion, state dicts."""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast

import numpy as np

from .. import _C
from .._C import Tensor
from .._dtypes import as_dtype
from .._grad_mode import no_grad
from .parameter import Parameter, is_parameter

if TYPE_CHECKING:
    from .._typing import DeviceLike

__all__ = ["Module", "functional_call"]

M = TypeVar("M", bound="Module")


class _IncompatibleKeys(NamedTuple):
    """What load_state_dict returns, as torch's: the keys it lacked and those it did not know."""

    missing_keys: list[str]
    unexpected_keys: list[str]


_IncompatibleKeys.__name__ = "IncompatibleKeys"  # torch's repr


def _addindent(text: str, n: int) -> str:
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * n + line for line in lines[1:])


def _as_tensor_like(value: Any, like: Tensor, key: str) -> Tensor:
    """A state_dict entry (a pyad Tensor, a NumPy array or anything np.asarray takes) as a tensor with
    `like`'s dtype and device."""
    if isinstance(value, Tensor):
        src = value.detach()
    else:
        try:
            arr = np.asarray(value)
        except Exception as e:  # noqa: BLE001  (the value's own conversion error, reported with the key)
            raise TypeError(f"[load_state_dict] the value for {key!r} is not a tensor or array: {e}") from None
        src = _C.from_numpy(np.ascontiguousarray(arr, dtype=np.dtype(like.dtype.name)))
    if src.dtype != like.dtype or src.device != like.device:
        src = src.to(like.device, like.dtype)
    return src


def _zero_grads(params: Iterable[Tensor], set_to_none: bool = True) -> None:
    """Module.zero_grad and Optimizer.zero_grad: drop each gradient (set_to_none) or zero it in place."""
    for p in params:
        if p.grad is None:
            continue
        if set_to_none:
            p.grad = None
        else:
            with no_grad():
                p.grad.detach_().zero_()


class Module:
    """Base class of every layer. Subclasses set parameters, buffers and submodules as attributes in
    __init__ (after super().__init__()) and define forward."""

    training = True
    _version = 1
    _parameters: dict[str, Tensor | None]
    _buffers: dict[str, Tensor | None]
    _non_persistent_buffers_set: set[str]
    _modules: dict[str, Any]  # a Module, or None for a child declared absent (as torch's Optional[Module])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = {}

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The module's computation; subclasses define it, and call the module (not forward) to run it."""
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ---- registration ----
    def _check_ready(self, what: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {what} before Module.__init__() call")

    @staticmethod
    def _check_name(name: object, kind: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if name == "" or "." in name:
            raise KeyError(f'{kind} name must not be empty nor contain ".", got {name}')

    def register_parameter(self, name: str, param: Tensor | None) -> None:
        """Register param (an nn.Parameter, or None for a declared but absent one) under name."""
        self._check_ready("parameters")
        self._check_name(name, "parameter")
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is None:
            self._parameters[name] = None
        elif not is_parameter(param):
            raise TypeError(
                f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                "(pyad.nn.Parameter or None required)"
            )
        elif param.grad_fn is not None:
            raise ValueError(
                f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must be "
                "created explicitly; use Parameter(tensor.detach()) for a computed value"
            )
        else:
            self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register a tensor that is state but not a parameter (persistent: part of the state_dict)."""
        self._check_ready("buffers")
        self._check_name(name, "buffer")
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' (pyad.Tensor or None required)"
            )
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register module as a child under name (as assigning it as an attribute does)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_ready("child modules")
        self._check_name(name, "module")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if is_parameter(value):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name, keep="_parameters")
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as parameter '{name}' (pyad.nn.Parameter or None expected)"
                )
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            if params is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._forget(name, keep="_modules")
            self._modules[name] = value
        elif d.get("_modules") is not None and name in d["_modules"]:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as child module '{name}' (pyad.nn.Module or None expected)"
                )
            self._modules[name] = value
        elif d.get("_buffers") is not None and name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as buffer '{name}' (pyad.Tensor or None expected)"
                )
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: str) -> None:
        """Drop `name` from the instance dict and every registry but `keep`, where it is about to be
        (re)assigned in place, so that a re-assigned entry keeps its position, as torch."""
        d = self.__dict__
        d.pop(name, None)
        for reg in ("_parameters", "_buffers", "_modules"):
            if reg != keep:
                d[reg].pop(name, None)
        d["_non_persistent_buffers_set"].discard(name)

    def __getattr__(self, name: str) -> Any:  # only called when normal lookup fails
        d = self.__dict__
        for reg in ("_parameters", "_buffers", "_modules"):
            if reg in d and name in d[reg]:
                return d[reg][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        regs: tuple[dict[str, Any], ...] = (self._parameters, self._buffers, self._modules)
        for reg in regs:
            if name in reg:
                del reg[name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        return sorted(set(object.__dir__(self)) | set(self._parameters) | set(self._buffers) | set(self._modules))

    # ---- traversal ----
    def named_modules(
        self, memo: set[int] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for this module and every descendant, each once unless remove_duplicate=False."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub = prefix + ("." if prefix else "") + name
            yield from module.named_modules(memo, sub, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        """This module and every descendant, each once."""
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, module) for each direct child, each once."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        """The direct children, each once."""
        for _, m in self.named_children():
            yield m

    def _named_members(
        self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool
    ) -> Iterator[tuple[str, Tensor]]:
        seen = set()
        modules: Iterable[tuple[str, Module]] = (
            self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        )
        for mod_prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                if remove_duplicate:
                    seen.add(id(value))
                yield mod_prefix + ("." if mod_prefix else "") + name, value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, parameter) for this module's parameters (and its descendants' with recurse), a shared
        parameter once unless remove_duplicate=False."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Tensor]:
        """The parameters, each once (what an optimizer takes)."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, buffer), as named_parameters."""
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """The buffers, each once."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> Module:
        """The descendant at the dotted path target ("" is this module); AttributeError if there is none."""
        mod = self
        for item in target.split(".") if target else []:
            if item not in mod._modules or mod._modules[item] is None:
                raise AttributeError(f"{type(mod).__name__} has no attribute `{item}` (looking up {target!r})")
            mod = mod._modules[item]
        return mod

    def get_parameter(self, target: str) -> Tensor | None:
        """The parameter at the dotted path target."""
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._parameters:
            raise AttributeError(f"{type(mod).__name__} has no parameter `{name}`")
        return mod._parameters[name]

    def apply(self: M, fn: Callable[[Module], object]) -> M:
        """Call fn on every descendant (children first) and on this module; returns this module."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ---- modes and gradients ----
    def train(self: M, mode: bool = True) -> M:
        """Set training mode (or eval mode, mode=False) on this module and every descendant."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            m.training = mode
        return self

    def eval(self: M) -> M:
        """Evaluation mode: train(False)."""
        return self.train(False)

    def requires_grad_(self: M, requires_grad: bool = True) -> M:
        """Set requires_grad on every parameter."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's gradient (set_to_none), or zero it in place."""
        _zero_grads(self.parameters(), set_to_none)

    # ---- conversion ----
    def _apply(self: M, fn: Callable[[Tensor], Tensor], memo: dict[int, tuple[Tensor, Tensor]] | None = None) -> M:
        """Replace every parameter and buffer t by fn(t). A parameter whose fn(t) is a new tensor becomes a
        new Parameter (same requires_grad, its grad converted too): pyad has no way to re-point a tensor at
        new storage, so, unlike torch, an optimizer built before a device or dtype change holds the old
        tensors; build it afterwards. `memo` (id of an old tensor -> (it, its replacement), shared over the
        whole walk, holding the old tensor so that its id stays its own) converts a tensor registered in
        several places once, so tied weights stay tied, as torch."""
        if memo is None:
            memo = {}
        for module in self.children():
            module._apply(fn, memo)
        for name, p in self._parameters.items():
            if p is None:
                continue
            if id(p) not in memo:
                memo[id(p)] = (p, self._converted_parameter(p, fn))
            self._parameters[name] = memo[id(p)][1]
        for name, b in self._buffers.items():
            if b is None:
                continue
            if id(b) not in memo:
                memo[id(b)] = (b, fn(b))
            self._buffers[name] = memo[id(b)][1]
        return self

    @staticmethod
    def _converted_parameter(p: Tensor, fn: Callable[[Tensor], Tensor]) -> Tensor:
        with no_grad():
            new = fn(p)
        if new is p:
            return p
        q = Parameter(new, p.requires_grad)
        if p.grad is not None:
            with no_grad():
                q.grad = fn(p.grad)
        return q

    def to(self: M, *args: Any, device: DeviceLike | None = None, dtype: Any = None) -> M:
        """to(device), to(dtype), to(device, dtype) or to(tensor); dtype changes only floating tensors."""
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif isinstance(a, _C.dtype):
                dtype = a
            elif isinstance(a, str) and (a.startswith("pyad.") or a in ("float32", "float64", "float", "double")):
                dtype = as_dtype(a)
            else:
                device = a
        if dtype is not None:
            dtype = as_dtype(dtype)
            if not dtype.is_floating_point:
                raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got desired dtype={dtype}")

        def convert(t: Tensor) -> Tensor:
            return t.to(device=device, dtype=dtype if dtype is not None and t.is_floating_point() else None)

        return self._apply(convert)

    def cuda(self: M, device: DeviceLike | None = None) -> M:
        """Move every parameter and buffer to a GPU (see Module._apply on optimizers)."""
        return self._apply(lambda t: t.cuda(device))

    def cpu(self: M) -> M:
        """Move every parameter and buffer to host memory."""
        return self._apply(lambda t: t.cpu())

    def float(self: M) -> M:
        """Cast floating parameters and buffers to float32."""
        return self._apply(lambda t: t.float() if t.is_floating_point() else t)

    def double(self: M) -> M:
        """Cast floating parameters and buffers to float64."""
        return self._apply(lambda t: t.double() if t.is_floating_point() else t)

    # ---- state dicts ----
    def state_dict(
        self, *, destination: dict[str, Tensor] | None = None, prefix: str = "", keep_vars: bool = False
    ) -> dict[str, Tensor]:
        """An ordered dict name -> tensor (detached unless keep_vars): each module's parameters, then its
        persistent buffers, then its children's entries. Values share memory with the module; t.numpy()
        gives arrays that torch.from_numpy takes."""
        if destination is None:
            destination = collections.OrderedDict()
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars)
        return destination

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False
    ) -> _IncompatibleKeys:
        """Copy values (pyad Tensors or NumPy arrays, e.g. {k: v.numpy() for k, v in torch_sd.items()}) into
        this module's parameters and buffers. strict: missing or unexpected keys raise. A shape mismatch
        always raises; nothing is copied when any error is found."""
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict).__name__}.")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        copies = []
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            shape = tuple(value.shape) if hasattr(value, "shape") else np.shape(value)
            if tuple(shape) != tuple(target.shape):
                errors.append(
                    f"size mismatch for {key}: copying a param with shape {tuple(shape)} from "
                    f"checkpoint, the shape in current model is {tuple(target.shape)}."
                )
                continue
            try:
                copies.append((key, target, _as_tensor_like(value, target, key)))
            except (TypeError, ValueError) as e:
                errors.append(f'While copying the parameter named "{key}": {e}')
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ". ")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        for key, target, src in copies:
            if assign:
                self._assign(key, target, src)
            else:
                with no_grad():
                    target.copy_(src)
        return _IncompatibleKeys(missing, unexpected)

    def _assign(self, key: str, target: Tensor, src: Tensor) -> None:
        mod_path, _, name = key.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name in mod._parameters:
            mod._parameters[name] = Parameter(src.clone(), target.requires_grad)
        else:
            mod._buffers[name] = src.clone()

    # ---- repr ----
    def extra_repr(self) -> str:
        """The text inside this module's repr parentheses (before its children); subclasses set it."""
        return ""

    def __repr__(self) -> str:
        lines = [line for line in self.extra_repr().split("\n") if line] if self.extra_repr() else []
        for name, module in self._modules.items():
            lines.append(f"({name}): " + _addindent(repr(module), 2))
        main = type(self).__name__ + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"


# ---- functional_call ----
_MISSING = object()


def _tied_names(module: Module) -> dict[str, set[str]]:
    """name -> the set of names sharing its tensor, for every parameter or buffer registered under more
    than one name."""
    by_tensor: dict[int, set[str]] = {}
    for name, t in [*module.named_parameters(remove_duplicate=False), *module.named_buffers(remove_duplicate=False)]:
        by_tensor.setdefault(id(t), set()).add(name)
    return {n: names for names in by_tensor.values() if len(names) > 1 for n in names}


def _untie(module: Module, values: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """values extended so that a value given for one of several tied names goes to all of them (torch's
    tie_weights=True); different values for names of one tied tensor raise."""
    tied = _tied_names(module)
    given = [n for n in values if n in tied]
    out = dict(values)
    for name in given:
        names = tied[name]
        if len({id(values[n]) for n in names if n in values}) > 1:
            raise ValueError(
                f"functional_call got multiple values for keys {sorted(names)}, which are tied. "
                "Consider using tie_weights=False"
            )
        for n in names:
            out[n] = values[name]
    return out


def _swap(module: Module, name: str, value: Any) -> Any:
    """Put value at the dotted `name` (parameter, buffer or plain attribute) and return what was there
    (_MISSING where nothing was; putting _MISSING back deletes the attribute)."""
    # (vmap's BatchedTensor stands for a Tensor: Note [The __pyad_function__ protocol].)
    batched = hasattr(type(value), "__pyad_function__")
    if value is not _MISSING and value is not None and not isinstance(value, Tensor) and not batched:
        raise TypeError(f"[functional_call] the value for {name!r} must be a Tensor, got {type(value).__name__}")
    prefix, _, attr = name.rpartition(".")
    if attr == "":
        raise KeyError("[functional_call] tensor name can't be empty")
    mod = module.get_submodule(prefix)
    for reg in (mod._parameters, mod._buffers):
        if attr in reg:
            old = reg[attr]
            if value is _MISSING:
                del reg[attr]
            else:
                reg[attr] = cast("Tensor | None", value)
            return old
    orig = getattr(mod, attr) if hasattr(mod, attr) else _MISSING
    if orig is not _MISSING and orig is not None and not isinstance(orig, Tensor):
        raise TypeError(f"[functional_call] attribute `{name}` is a {type(orig).__name__}, not a Tensor")
    if value is not _MISSING:
        setattr(mod, attr, value)
    elif hasattr(mod, attr):
        delattr(mod, attr)
    return orig


def functional_call(
    module: Module,
    parameter_and_buffer_dicts: dict[str, Tensor] | Sequence[dict[str, Tensor]],
    args: Any = None,
    kwargs: dict[str, Any] | None = None,
    *,
    tie_weights: bool = True,
    strict: bool = False,
) -> Any:
    """module(*args, **kwargs) with its parameters and buffers replaced, by name, by the given tensors for
    the call and put back afterwards (also when the call raises), as torch.func.functional_call. Gradients
    then flow to the given tensors, so a loss is a function of a dict of parameters that pyad.func
    transforms differentiate. parameter_and_buffer_dicts: a dict name -> tensor or a tuple/list of dicts
    with disjoint keys; args: one value or a tuple. tie_weights: a value given for a weight registered under
    several names replaces it under all of them. strict: the keys must be exactly the module's parameters
    and buffers."""
    if isinstance(parameter_and_buffer_dicts, dict):
        values = parameter_and_buffer_dicts
    elif isinstance(parameter_and_buffer_dicts, (tuple, list)):
        if not all(isinstance(d, dict) for d in parameter_and_buffer_dicts):
            raise ValueError("Expected all elements of parameter_and_buffer_dicts to be dictionaries")
        counts = collections.Counter(k for d in parameter_and_buffer_dicts for k in d)
        repeated = [k for k, n in counts.items() if n > 1]
        if repeated:
            raise ValueError(f"{repeated} appeared in multiple dictionaries; behavior of functional call is ambiguous")
        values = {k: v for d in parameter_and_buffer_dicts for k, v in d.items()}
    else:
        raise ValueError(
            "Expected parameter_and_buffer_dicts to be a dict, or a list/tuple of dicts, but got "
            f"{type(parameter_and_buffer_dicts)}"
        )
    if not isinstance(module, Module):
        raise TypeError(f"[functional_call] expected a pyad.nn.Module, got {type(module).__name__}")
    kwargs = {} if kwargs is None else kwargs
    args = () if args is None else args if isinstance(args, tuple) else (args,)
    swap_in = _untie(module, values) if tie_weights else values
    if strict:
        valid = {
            n
            for n, _ in [
                *module.named_parameters(remove_duplicate=False),
                *module.named_buffers(remove_duplicate=False),
            ]
        }
        missing, unexpected = sorted(valid - set(swap_in)), sorted(set(swap_in) - valid)
        errors = []
        if unexpected:
            errors.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
        if missing:
            errors.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
        if errors:
            raise RuntimeError(f"Error(s) in reparametrizing for {type(module).__name__}:\n\t" + "\n\t".join(errors))
    originals = []
    try:
        for name, value in swap_in.items():
            originals.append((name, _swap(module, name, value)))
        return module(*args, **kwargs)
    finally:
        # Reverse order, so a name swapped twice (never, short of a bug) still ends as it began.
        now = {name: _swap(module, name, orig) for name, orig in reversed(originals)}
        # As torch: the dict sees what the call left in the module (a forward that reassigns a buffer).
        values.update({k: now[k] for k in values if k in now and now[k] is not _MISSING})
