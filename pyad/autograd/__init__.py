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
from .. import _C
from .._grad_mode import enable_grad, no_grad, set_grad_enabled  # noqa: F401
from . import forward_ad  # noqa: F401
from .function import Function, FunctionCtx  # noqa: F401
from .anomaly_mode import detect_anomaly, is_anomaly_enabled  # noqa: F401
from .gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: F401


def _check_tensors(x, what, op, none_ok=False):
    items = x if isinstance(x, (list, tuple)) else [x]
    for t in items:
        if not (isinstance(t, _C.Tensor) or (none_ok and t is None)):
            raise TypeError(f"[{op}] {what} must be Tensors{' or None' if none_ok else ''} (or a sequence of them), "
                            f"got {type(t).__name__}")


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False):
    """Accumulate gradients of `tensors` (seeded with `grad_tensors`) into the leaves' .grad."""
    _check_tensors(tensors, "tensors", "backward")
    _check_tensors(grad_tensors, "grad_tensors", "backward", none_ok=True)
    _C.backward(tensors, grad_tensors, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False,
         is_grads_batched=False):
    """The gradients of `outputs` with respect to `inputs`, as a tuple; leaves' .grad is left alone.

    With is_grads_batched=True the first dim of every grad_output is a batch of cotangents, all pulled back in
    one pass (the results carry the same leading dim), as torch's option of that name.
    """
    _check_tensors(outputs, "outputs", "grad")
    _check_tensors(inputs, "inputs", "grad")
    _check_tensors(grad_outputs, "grad_outputs", "grad", none_ok=True)
    single = isinstance(inputs, _C.Tensor)
    return _C.grad(outputs, [inputs] if single else list(inputs), grad_outputs, retain_graph, create_graph,
                   allow_unused, 1 if is_grads_batched else 0)


def graph_memory(t):
    """Total bytes of the distinct storages the graph behind t holds for backward (each storage once)."""
    from ..viz import graph_memory as _graph_memory
    return _graph_memory(t)
