"""pyad.autograd: backward and grad over the C++ engine, and forward mode (forward_ad).

Threads (as torch):
- Safe: building and differentiating separate graphs from several Python threads at once. Each backward is
  independent and gives the same gradients as a single-threaded run (tests/test_threads.py); custom Functions
  and hooks run in the thread whose backward reaches them, with the GIL.
- Grad mode (no_grad, enable_grad, set_grad_enabled) is per thread; a new thread starts with grad enabled.
  Checkpoint recomputation state is per thread too.
- Process-wide: dual levels (forward_ad.dual_level: one at a time, for every thread, as torch's levels) and
  anomaly mode (detect_anomaly switches it for all threads, as torch's), and the random generator (its calls
  run under the GIL, so they are serialized but their order across threads is not fixed).
- Not safe: sharing one graph between threads — two backwards through the same nodes at once, a backward while
  another thread writes in place into a tensor the graph saved, or accumulating into the same leaf's .grad
  from several threads at once (the result depends on the interleaving, and a retain_graph=False backward
  frees what the other needs). Give each thread its own graph, or synchronise.
- The GIL is released around backward, matmul and any op on 32,768 elements or more (Note [Releasing the
  GIL] in csrc/python/bind.h), so other Python threads run meanwhile.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import _C
from .._C import Tensor
from .._grad_mode import enable_grad, no_grad, set_grad_enabled
from . import forward_ad
from .anomaly_mode import detect_anomaly, is_anomaly_enabled
from .function import Function, FunctionCtx
from .gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = [
    "Function",
    "FunctionCtx",
    "GradcheckError",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "forward_ad",
    "functional",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "graph_memory",
    "is_anomaly_enabled",
    "no_grad",
    "set_grad_enabled",
]

if TYPE_CHECKING:
    from .._typing import MaybeTensors, Tensors


def _check_tensors(x: Any, what: str, op: str, none_ok: bool = False) -> None:
    items = x if isinstance(x, (list, tuple)) else [x]
    for t in items:
        # (vmap's BatchedTensor takes over the ops: Note [The __pyad_function__ protocol].)
        if not (isinstance(t, _C.Tensor) or (none_ok and t is None) or hasattr(type(t), "__pyad_function__")):
            raise TypeError(
                f"[{op}] {what} must be Tensors{' or None' if none_ok else ''} (or a sequence of them), "
                f"got {type(t).__name__}"
            )


def backward(
    tensors: Tensors,
    grad_tensors: MaybeTensors = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    grad_variables: MaybeTensors = None,
    inputs: Tensors | None = None,
) -> None:
    """Accumulate gradients of `tensors` (seeded with `grad_tensors`) into the leaves' .grad, or, with
    `inputs`, into those tensors' .grad alone (leaves or not), as torch.autograd.backward."""
    if grad_variables is not None:  # torch's deprecated name for grad_tensors
        if grad_tensors is not None:
            raise RuntimeError(
                "[backward] 'grad_tensors' and 'grad_variables' (deprecated) arguments both "
                "passed to backward(). Please only use 'grad_tensors'."
            )
        warnings.warn("'grad_variables' is deprecated. Use 'grad_tensors' instead.", FutureWarning, stacklevel=2)
        grad_tensors = grad_variables
    _check_tensors(tensors, "tensors", "backward")
    _check_tensors(grad_tensors, "grad_tensors", "backward", none_ok=True)
    if inputs is not None:
        _check_tensors(inputs, "inputs", "backward")
        inputs = inputs if isinstance(inputs, _C.Tensor) else list(inputs)
    _C.backward(tensors, grad_tensors, retain_graph, create_graph, inputs)


def grad(
    outputs: Tensors,
    inputs: Tensors,
    grad_outputs: MaybeTensors = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    only_inputs: bool = True,
    allow_unused: bool | None = None,
    is_grads_batched: bool = False,
    materialize_grads: bool = False,
) -> tuple[Tensor | None, ...]:
    """The gradients of `outputs` with respect to `inputs`, as a tuple; leaves' .grad is left alone.

    As torch.autograd.grad: allow_unused=True gives None for an input the outputs do not depend on (an error
    otherwise), materialize_grads=True zeros instead (and implies allow_unused); only_inputs is deprecated and
    ignored. With is_grads_batched=True the first dim of every grad_output is a batch of cotangents, all pulled
    back in one pass (the results carry the same leading dim).
    """
    _check_tensors(outputs, "outputs", "grad")
    _check_tensors(inputs, "inputs", "grad")
    _check_tensors(grad_outputs, "grad_outputs", "grad", none_ok=True)
    if not only_inputs:
        warnings.warn(
            "only_inputs argument is deprecated and is ignored now (defaults to True). To accumulate "
            "gradient for other parts of the graph, please use torch.autograd.backward.",
            FutureWarning,
            stacklevel=2,
        )
    if materialize_grads and allow_unused is False:
        raise ValueError(
            "[grad] Expected allow_unused to be True or not passed when materialize_grads=True, "
            "but got: allow_unused=False."
        )
    allow_unused = bool(allow_unused) or bool(materialize_grads)
    ins: list[Any] = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    res = _C.grad(outputs, ins, grad_outputs, retain_graph, create_graph, allow_unused, 1 if is_grads_batched else 0)
    if materialize_grads:
        batch = _batch_shape(grad_outputs) if is_grads_batched and grad_outputs is not None else []
        res = tuple(
            g if g is not None else _C.zeros(batch + list(x.shape), x.dtype, x.device) for g, x in zip(res, ins)
        )
    return res


def _batch_shape(grad_outputs: Tensor | Sequence[Tensor | None]) -> list[int]:
    """[B]: the batch size of is_grads_batched cotangents (zeros for unused inputs carry it too)."""
    first = grad_outputs if isinstance(grad_outputs, _C.Tensor) else list(grad_outputs)[0]
    if first is None:
        raise ValueError(
            "[grad] is_grads_batched=True needs a Tensor as the first of grad_outputs (its first dim is the batch)"
        )
    return [first.shape[0]]


def graph_memory(t: Tensor) -> int:
    """Total bytes of the distinct storages the graph behind t holds for backward (each storage once)."""
    from ..viz import graph_memory as _graph_memory

    return _graph_memory(t)


from . import functional  # noqa: E402  (built on grad above)
