"""pyad.autograd.functional: jacobian, hessian, vjp, jvp, hvp and vhp, as torch.autograd.functional.

Same signatures, return structures and errors as torch's: a Tensor input or output gives Tensors back, a tuple
gives tuples (the Jacobian of output i with respect to input j is ``jac[i][j]``, of shape
``out_i.shape + in_j.shape``); ``create_graph=True`` keeps the results differentiable; ``strict=True`` raises
where an output does not depend on an input (non-strict gives the mathematically right zeros).

Where pyad goes beyond torch (which raises instead):
* ``strict=True`` works with ``vectorize=True`` and with ``strategy="forward-mode"``: the batched passes run
  one per output (reverse) or one per input (forward), so each (output, input) pair is still told apart.
* ``strategy="forward-mode"`` also works with ``vectorize=False`` (one forward pass per input element).
``vectorize=True`` pushes every basis vector through one batched pass (autograd.grad's is_grads_batched in
reverse mode, a batched tangent in forward mode) instead of one pass per element.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, Literal

from .. import _C
from .._C import Tensor
from .._grad_mode import enable_grad, is_grad_enabled, set_grad_enabled
from . import forward_ad

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp"]

# A Tensor or a tuple of Tensors, as torch.autograd.functional takes and returns them.
_Tensors = Any
_Strategy = Literal["forward-mode", "reverse-mode"]


# ---------------------------------------------------------------- plumbing (torch's helpers, same contracts)
def _as_tuple(inp: Any, arg_name: str | None = None, fn_name: str | None = None) -> tuple[bool, tuple[Any, ...]]:
    """(was it a tuple, the tuple); with names, checks that every entry is a Tensor."""
    is_tuple = isinstance(inp, tuple)
    if not is_tuple:
        inp = (inp,)
    if arg_name is not None:
        for i, el in enumerate(inp):
            if not isinstance(el, Tensor):
                where = f"the value at index {i}" if is_tuple else f"the given {arg_name}"
                raise TypeError(
                    f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of Tensors "
                    f"but {where} has type {type(el)}."
                )
    return is_tuple, inp


def _tuple_postprocess(res: Any, to_unpack: bool | tuple[bool, bool]) -> Any:
    if isinstance(to_unpack, tuple):
        if not to_unpack[1]:
            res = tuple(el[0] for el in res)
        if not to_unpack[0]:
            res = res[0]
    elif not to_unpack:
        res = res[0]
    return res


def _grad_preprocess(inputs: tuple[Any, ...], create_graph: bool, need_graph: bool) -> tuple[Any, ...]:
    # Always new tensor objects, so that inputs given as arguments differ from the same tensors captured by
    # func's closure; with create_graph they stay connected to the caller's graph.
    res = []
    for inp in inputs:
        if create_graph and inp.requires_grad:
            res.append(inp.view_as(inp))
        else:
            res.append(inp.detach().requires_grad_(need_graph))
    return tuple(res)


def _grad_postprocess(inputs: Any, create_graph: bool) -> Any:
    if isinstance(inputs[0], Tensor):
        return inputs if create_graph else tuple(inp.detach() for inp in inputs)
    return tuple(_grad_postprocess(inp, create_graph) for inp in inputs)


def _validate_v(v: tuple[Any, ...], other: tuple[Any, ...], is_other_tuple: bool) -> None:
    if len(other) != len(v):
        if is_other_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(other)} but got {len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for idx, (el_v, el_other) in enumerate(zip(v, other)):
        if tuple(el_v.shape) != tuple(el_other.shape):
            prepend = f"Entry {idx} in " if is_other_tuple else ""
            raise RuntimeError(
                f"{prepend}v has invalid size: should be {tuple(el_other.shape)} but got {tuple(el_v.shape)}."
            )


_STRICT_MESSAGES = {
    "hessian": (
        "The hessian of the user-provided function with respect to input {i} is independent of the input. "
        "This is not allowed in strict mode. You should ensure that your function is thrice differentiable "
        "and that the hessian depends on the inputs."
    ),
    "jacobian": (
        "While computing the hessian, found that the jacobian of the user-provided function with respect "
        "to input {i} is independent of the input. This is not allowed in strict mode. You should ensure "
        "that your function is twice differentiable and that the jacobian depends on the inputs (this "
        "would be violated by a linear function for example)."
    ),
    "grad_inputs": (
        "The gradient with respect to input {i} is independent of the inputs of the user-provided "
        "function. This is not allowed in strict mode."
    ),
    "outputs": (
        "Output {i} of the user-provided function does not require gradients. The outputs must be "
        "computed in a differentiable manner from the input when running in strict mode."
    ),
}


def _check_requires_grad(inputs: tuple[Any, ...], input_type: str, strict: bool) -> None:
    if not strict:
        return
    for i, inp in enumerate(inputs):
        if inp is None:
            raise RuntimeError(
                f"The output of the user-provided function is independent of input {i}. This is "
                "not allowed in strict mode."
            )
        if not inp.requires_grad:
            raise RuntimeError(_STRICT_MESSAGES[input_type].format(i=i))


def _autograd_grad(
    outputs: tuple[Any, ...],
    inputs: tuple[Tensor, ...],
    grad_outputs: tuple[Any, ...] | None = None,
    create_graph: bool = False,
    retain_graph: bool | None = None,
    is_grads_batched: bool = False,
) -> tuple[Tensor | None, ...]:
    """autograd.grad over the outputs that require grad (None for every input when none does)."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return _C.grad(
        [o for o, _ in pairs],
        list(inputs),
        [g for _, g in pairs],
        retain_graph,
        create_graph,
        True,
        1 if is_grads_batched else 0,
    )


_FILL_MESSAGES = {
    "back": "The output of the user-provided function is independent of input {i}. This is not allowed in strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the grad_outputs when "
    "using the double backward trick to compute forward mode gradients. This is not allowed in "
    "strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. This is not allowed "
    "in strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry {i} in the "
    "grad_jacobian. This is not allowed in strict mode as it prevents from using the double "
    "backward trick to replace forward mode AD.",
}


def _fill_in_zeros(
    grads: tuple[Any, ...], refs: tuple[Tensor, ...], strict: bool, create_graph: bool, stage: str
) -> tuple[Tensor, ...]:
    res = []
    for i, g in enumerate(grads):
        if g is None:
            if strict:
                raise RuntimeError(_FILL_MESSAGES[stage].format(i=i))
            g = _zeros_like(refs[i])
        elif strict and create_graph and not g.requires_grad:
            what = "hessian" if "double" in stage else "jacobian"
            raise RuntimeError(
                f"The {what} of the user-provided function is independent of input {i}. This is not "
                "allowed in strict mode when create_graph=True."
            )
        res.append(g)
    return tuple(res)


def _zeros_like(t: Tensor, lead: tuple[int, ...] = ()) -> Tensor:
    return _C.zeros(list(lead) + list(t.shape), t.dtype, t.device)


def _basis(n: int, dtype: _C.dtype, device: _C.device) -> Tensor:
    """The n x n identity: row k is the k-th basis vector (a batch of n seeds or tangents)."""
    return _C.eye(n, n, dtype, device)


def _single_output(fn_name: str, outputs: tuple[Any, ...], is_outputs_tuple: bool) -> None:
    if is_outputs_tuple or not isinstance(outputs[0], Tensor):
        raise RuntimeError(f"The function given to {fn_name} should return a single Tensor")
    if outputs[0].numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {fn_name} should contain a single element")


def _prepare_v(v: Any, inputs: tuple[Tensor, ...], is_inputs_tuple: bool, create_graph: bool, fn_name: str) -> Any:
    if v is not None:
        _, v = _as_tuple(v, "v", fn_name)
        v = _grad_preprocess(v, create_graph=create_graph, need_graph=False)
        _validate_v(v, inputs, is_inputs_tuple)
    elif len(inputs) != 1 or inputs[0].numel() != 1:
        raise RuntimeError(
            "The vector v can only be None if the input to the user-provided function is a single "
            "Tensor with a single element."
        )
    return v


# ---------------------------------------------------------------- products
def vjp(
    func: Callable[..., Any], inputs: _Tensors, v: _Tensors = None, create_graph: bool = False, strict: bool = False
) -> tuple[Any, Any]:
    """(func(inputs), v^T J): the vector-Jacobian product at `inputs`, shaped like the inputs."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        is_outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "vjp")
        _check_requires_grad(outputs, "outputs", strict=strict)
        if v is not None:
            _, v = _as_tuple(v, "v", "vjp")
            v = _grad_preprocess(v, create_graph=create_graph, need_graph=False)
            _validate_v(v, outputs, is_outputs_tuple)
        elif len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError(
                "The vector v can only be None if the user-provided function returns a single "
                "Tensor with a single element."
            )
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        grad_res = _autograd_grad(outputs, inputs, v, create_graph=create_graph)
        res = _fill_in_zeros(grad_res, inputs, strict, create_graph, "back")
    return (
        _tuple_postprocess(_grad_postprocess(outputs, create_graph), is_outputs_tuple),
        _tuple_postprocess(_grad_postprocess(res, create_graph), is_inputs_tuple),
    )


def jvp(
    func: Callable[..., Any], inputs: _Tensors, v: _Tensors = None, create_graph: bool = False, strict: bool = False
) -> tuple[Any, Any]:
    """(func(inputs), J v): the Jacobian-vector product at `inputs`, shaped like the outputs. Computed as torch
    does, by the double-backward trick (so create_graph and strict behave exactly as there)."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        v = _prepare_v(v, inputs, is_inputs_tuple, create_graph, "jvp")
        is_outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "jvp")
        _check_requires_grad(outputs, "outputs", strict=strict)
        grad_outputs = tuple(_zeros_like(out).requires_grad_(True) for out in outputs)
        grad_inputs = _autograd_grad(outputs, inputs, grad_outputs, create_graph=True)
        _check_requires_grad(grad_inputs, "grad_inputs", strict=strict)
    with set_grad_enabled(True) if create_graph else contextlib.nullcontext():
        grad_res = _autograd_grad(grad_inputs, grad_outputs, v, create_graph=create_graph)
        res = _fill_in_zeros(grad_res, outputs, strict, create_graph, "back_trick")
    return (
        _tuple_postprocess(_grad_postprocess(outputs, create_graph), is_outputs_tuple),
        _tuple_postprocess(_grad_postprocess(res, create_graph), is_outputs_tuple),
    )


def _scalar_function_jacobian(
    fn_name: str, func: Callable[..., Any], inputs: tuple[Tensor, ...], strict: bool
) -> tuple[tuple[Any, ...], bool, tuple[Any, ...]]:
    """(outputs, its tuple flag, jac): func's single-element output and its gradient, with a graph."""
    is_outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", fn_name)
    _check_requires_grad(outputs, "outputs", strict=strict)
    _single_output(fn_name, outputs, is_outputs_tuple)
    jac = _autograd_grad(outputs, inputs, create_graph=True)
    _check_requires_grad(jac, "jacobian", strict=strict)
    return outputs, is_outputs_tuple, jac


def vhp(
    func: Callable[..., Any], inputs: _Tensors, v: _Tensors = None, create_graph: bool = False, strict: bool = False
) -> tuple[Any, Any]:
    """(func(inputs), v^T H) for a function with a single-element output."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vhp")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        v = _prepare_v(v, inputs, is_inputs_tuple, create_graph, "vhp")
        outputs, is_outputs_tuple, jac = _scalar_function_jacobian("vhp", func, inputs, strict)
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        grad_res = _autograd_grad(jac, inputs, v, create_graph=create_graph)
        res = _fill_in_zeros(grad_res, inputs, strict, create_graph, "double_back")
    return (
        _tuple_postprocess(_grad_postprocess(outputs, create_graph), is_outputs_tuple),
        _tuple_postprocess(_grad_postprocess(res, create_graph), is_inputs_tuple),
    )


def hvp(
    func: Callable[..., Any], inputs: _Tensors, v: _Tensors = None, create_graph: bool = False, strict: bool = False
) -> tuple[Any, Any]:
    """(func(inputs), H v) for a function with a single-element output (the double-backward trick, as torch)."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hvp")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        v = _prepare_v(v, inputs, is_inputs_tuple, create_graph, "hvp")
        outputs, is_outputs_tuple, jac = _scalar_function_jacobian("hvp", func, inputs, strict)
        grad_jac = tuple(_zeros_like(inp).requires_grad_(True) for inp in inputs)
        double_back = _autograd_grad(jac, inputs, grad_jac, create_graph=True)
        _check_requires_grad(jac, "hessian", strict=strict)
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        grad_res = _autograd_grad(double_back, grad_jac, v, create_graph=create_graph)
        res = _fill_in_zeros(grad_res, inputs, strict, create_graph, "double_back_trick")
    return (
        _tuple_postprocess(_grad_postprocess(outputs, create_graph), is_outputs_tuple),
        _tuple_postprocess(_grad_postprocess(res, create_graph), is_inputs_tuple),
    )


# ---------------------------------------------------------------- Jacobians
def _independent(i: int, j: int) -> RuntimeError:
    return RuntimeError(
        f"Output {i} of the user-provided function is independent of input {j}. This is not allowed in strict mode."
    )


def _check_connected(g: Tensor, i: int, strict: bool, create_graph: bool) -> None:
    if strict and create_graph and not g.requires_grad:
        raise RuntimeError(
            f"The jacobian of the user-provided function is independent of input {i}. This is not "
            "allowed in strict mode when create_graph=True."
        )


def _reverse_jacobian(
    outputs: tuple[Tensor, ...], inputs: tuple[Tensor, ...], create_graph: bool, strict: bool, vectorize: bool
) -> tuple[tuple[Tensor, ...], ...]:
    """jac[i][j] of shape out_i.shape + in_j.shape: per output, one batched backward of all its basis
    cotangents (vectorize) or one backward per element."""
    jacobian = []
    for i, out in enumerate(outputs):
        m = out.numel()
        flat = out.reshape(-1)
        if vectorize:
            rows = (
                _autograd_grad(
                    (flat,),
                    inputs,
                    (_basis(m, out.dtype, out.device),),
                    retain_graph=True,
                    create_graph=create_graph,
                    is_grads_batched=True,
                )
                if m
                else (None,) * len(inputs)
            )
            per_input = []
            for j, (g, inp) in enumerate(zip(rows, inputs)):
                if g is None:
                    if strict:
                        raise _independent(i, j)
                    g = _zeros_like(inp, (m,))
                _check_connected(g, i, strict, create_graph)
                per_input.append(g.reshape(tuple(out.shape) + tuple(inp.shape)))
        else:
            cols: list[list[Tensor]] = [[] for _ in inputs]
            for k in range(m):
                vj = _autograd_grad((flat[k],), inputs, retain_graph=True, create_graph=create_graph)
                for j, (g, inp) in enumerate(zip(vj, inputs)):
                    if g is None:
                        if strict:
                            raise _independent(i, j)
                        g = _zeros_like(inp)
                    _check_connected(g, i, strict, create_graph)
                    cols[j].append(g)
            per_input = [
                (_C.stack(c, 0) if c else _zeros_like(inp, (0,))).reshape(tuple(out.shape) + tuple(inp.shape))
                for c, inp in zip(cols, inputs)
            ]
        jacobian.append(tuple(per_input))
    return tuple(jacobian)


def _forward_jacobian(
    func: Callable[..., Any], inputs: tuple[Tensor, ...], strict: bool, vectorize: bool
) -> tuple[bool, tuple[Tensor, ...] | None, tuple[tuple[Tensor, ...], ...]]:
    """Forward mode: per input, one pass with a batched identity tangent (vectorize) or one pass per element.
    Returns (is_outputs_tuple, outputs, jac[i][j])."""
    primals = tuple(inp.detach() for inp in inputs)
    tangents: dict[tuple[int, int], Tensor] = {}  # (output i, input j) -> (n_j, *out_i.shape) tangents
    outputs: tuple[Tensor, ...] | None = None
    is_outputs_tuple = False

    def run(j: int, tangent: Tensor) -> list[Tensor | None]:
        nonlocal outputs, is_outputs_tuple
        with forward_ad.dual_level():
            args = list(primals)
            args[j] = _C.make_dual(primals[j], tangent)
            is_outputs_tuple, outs = _as_tuple(func(*args), "outputs of the user-provided function", "jacobian")
            unpacked = [_C.unpack_dual(o) for o in outs]
        outputs = tuple(p for p, _ in unpacked)
        return [t for _, t in unpacked]

    for j, x in enumerate(primals):
        n = x.numel()
        basis = _basis(n, x.dtype, x.device)
        if vectorize or n == 0:
            seeds = [basis.reshape((n,) + tuple(x.shape))]
        else:
            seeds = [basis[k].reshape(tuple(x.shape)) for k in range(n)]
        per_seed = [run(j, s) for s in seeds]
        if outputs is None:  # an input with no elements: still learn the outputs' shapes
            run(j, _zeros_like(x))
        assert outputs is not None  # (run sets it)
        for i, out in enumerate(outputs):
            ts = [ts[i] for ts in per_seed]
            if any(t is None for t in ts) and all(t is None for t in ts):
                if strict:
                    raise _independent(i, j)
                tangents[i, j] = _zeros_like(out, (n,))
            else:
                filled = [t if t is not None else _zeros_like(out) for t in ts]
                tangents[i, j] = filled[0] if vectorize or n == 0 else _C.stack(filled, 0)
    jac = []
    for i, out in enumerate(outputs or ()):
        row = []
        for j, x in enumerate(primals):
            t = tangents[i, j]  # (n_j, *out_i.shape) -> (*out_i.shape, *x_j.shape)
            perm = list(range(1, t.ndim)) + [0]
            # detached: forward mode runs without create_graph (torch's results keep a graph here, which
            # nothing asked for)
            row.append(_C.permute(t, perm).reshape(tuple(out.shape) + tuple(x.shape)).detach())
        jac.append(tuple(row))
    return is_outputs_tuple, outputs, tuple(jac)


def jacobian(
    func: Callable[..., Any],
    inputs: _Tensors,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    strategy: _Strategy = "reverse-mode",
) -> Any:
    """The Jacobian of func at `inputs`: a Tensor for one input and one output, else (nested) tuples with
    jac[i][j] of shape outputs[i].shape + inputs[j].shape. strategy="forward-mode" computes it column by column
    with forward-mode AD (no create_graph there, as torch)."""
    if strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError(
            'Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your function '
            'has more outputs than inputs, "forward-mode" tends to be more performant. Otherwise, '
            'prefer to use "reverse-mode".'
        )
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError(
                "torch.autograd.functional.jacobian: `create_graph=True` and "
                '`strategy="forward-mode"` are not supported together (yet). Please either '
                'set `create_graph=False` or `strategy="reverse-mode"`.'
            )
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        is_outputs_tuple, _, jac = _forward_jacobian(func, inputs, strict, vectorize)
        return _tuple_postprocess(jac, (is_outputs_tuple, is_inputs_tuple))
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        is_outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "jacobian")
        _check_requires_grad(outputs, "outputs", strict=strict)
        jac = _reverse_jacobian(outputs, inputs, create_graph, strict, vectorize)
        return _tuple_postprocess(_grad_postprocess(jac, create_graph), (is_outputs_tuple, is_inputs_tuple))


def hessian(
    func: Callable[..., Any],
    inputs: _Tensors,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    outer_jacobian_strategy: _Strategy = "reverse-mode",
) -> Any:
    """The Hessian of a function with a single-element output: a Tensor for one input, else hess[i][j] of shape
    inputs[i].shape + inputs[j].shape. The inner Jacobian is reverse mode; outer_jacobian_strategy picks the
    outer one ("forward-mode": forward-over-reverse)."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def ensure_single_output_function(*inp: Tensor) -> Tensor:
        out = func(*inp)
        is_out_tuple, t_out = _as_tuple(out, "outputs of the user-provided function", "hessian")
        _check_requires_grad(t_out, "outputs", strict=strict)
        _single_output("hessian", t_out, is_out_tuple)
        return _C.reshape(out, [])

    def jac_func(*inp: Tensor) -> Any:
        if outer_jacobian_strategy == "forward-mode":
            inp = tuple(t.requires_grad_(True) for t in inp)
        jac = jacobian(ensure_single_output_function, inp, create_graph=True)
        _check_requires_grad(_as_tuple(jac)[1], "jacobian", strict=strict)
        return jac

    res = jacobian(
        jac_func,
        inputs,
        create_graph=create_graph,
        strict=strict,
        vectorize=vectorize,
        strategy=outer_jacobian_strategy,
    )
    return _tuple_postprocess(res, (is_inputs_tuple, is_inputs_tuple))
