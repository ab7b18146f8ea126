"""pyad.autograd: backward and grad over the C++ engine."""
from .. import _C
from .._grad_mode import enable_grad, no_grad, set_grad_enabled  # noqa: F401


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False):
    """Accumulate gradients of `tensors` (seeded with `grad_tensors`) into the leaves' .grad."""
    _C.backward(tensors, grad_tensors, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """The gradients of `outputs` with respect to `inputs`, as a tuple; leaves' .grad is left alone."""
    single = isinstance(inputs, _C.Tensor)
    return _C.grad(outputs, [inputs] if single else list(inputs), grad_outputs, retain_graph, create_graph,
                   allow_unused)
