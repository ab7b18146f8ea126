"""pyad.<op> functions with torch's argument conventions; each is a thin call into the C++ core."""
import collections
import numbers

from . import _C

# The elementwise ops come from the C++ op list as they are (Note [The op list]: pyad/__init__.py re-exports
# _C.__all__); these are the ones this module needs itself.
from ._C import div, maximum, minimum, mul, neg, sub
from ._dtypes import as_dtype, get_default_dtype

Tensor = _C.Tensor

# The ops written here (pyad/__init__.py exports them with the op list's).
__all__ = [
    "amax", "amin", "cat", "clamp", "clip", "concat", "concatenate", "divide", "dot", "flatten", "log_softmax",
    "logsumexp", "matmul", "max", "mean", "min", "mm", "multiply", "negative", "outer", "permute", "reshape",
    "softmax", "squeeze", "stack", "subtract", "sum", "swapaxes", "transpose", "true_divide", "unsqueeze", "where",
]

matmul, outer = _C.matmul, _C.outer
negative, subtract, multiply, divide, true_divide = neg, sub, mul, div, div

max_result = collections.namedtuple("max", ["values", "indices"])
min_result = collections.namedtuple("min", ["values", "indices"])


def _tensor_arg(x, op):
    if not isinstance(x, Tensor):
        raise TypeError(f"[{op}] expected a Tensor, got {type(x).__name__}")
    return x


def where(condition, input, other):
    return _C.where(_tensor_arg(condition, "where"), input, other)


def clamp(input, min=None, max=None):
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = input
        if min is not None:
            out = maximum(out, min)
        if max is not None:
            out = minimum(out, max)
        return out
    x = _tensor_arg(input, "clamp")
    # A float bound promotes an integer tensor to the default float dtype, as torch.
    if not x.dtype.is_floating_point and any(isinstance(b, float) for b in (min, max)):
        x = x.to(get_default_dtype())
    return _C.clamp(x, None if min is None else float(min), None if max is None else float(max))


clip = clamp


def sum(input, dim=None, keepdim=False, dtype=None):
    x = input if dtype is None else to_dtype(input, dtype)
    return _C.sum(_tensor_arg(x, "sum"), dim, keepdim)


def mean(input, dim=None, keepdim=False, dtype=None):
    x = input if dtype is None else to_dtype(input, dtype)
    return _C.mean(_tensor_arg(x, "mean"), dim, keepdim)


def amax(input, dim=None, keepdim=False):
    return _C.amax(_tensor_arg(input, "amax"), dim, keepdim)


def amin(input, dim=None, keepdim=False):
    return _C.amin(_tensor_arg(input, "amin"), dim, keepdim)


def max(input, dim=None, keepdim=False):
    """max(x): the largest element; max(x, dim): a (values, indices) named tuple; max(x, other): maximum."""
    if isinstance(dim, Tensor):
        return maximum(input, dim)
    if dim is None:
        return _C.amax(_tensor_arg(input, "max"), None, False)
    if not isinstance(dim, numbers.Integral):
        raise TypeError(f"[max] dim must be an int, got {type(dim).__name__}")
    return max_result(*_C.max_dim(input, int(dim), keepdim))


def min(input, dim=None, keepdim=False):
    if isinstance(dim, Tensor):
        return minimum(input, dim)
    if dim is None:
        return _C.amin(_tensor_arg(input, "min"), None, False)
    if not isinstance(dim, numbers.Integral):
        raise TypeError(f"[min] dim must be an int, got {type(dim).__name__}")
    return min_result(*_C.min_dim(input, int(dim), keepdim))


def logsumexp(input, dim, keepdim=False):
    return _C.logsumexp(_tensor_arg(input, "logsumexp"), dim, keepdim)


def softmax(input, dim, dtype=None):
    x = input if dtype is None else to_dtype(input, dtype)
    return _C.softmax(_tensor_arg(x, "softmax"), int(dim))


def log_softmax(input, dim, dtype=None):
    x = input if dtype is None else to_dtype(input, dtype)
    return _C.log_softmax(_tensor_arg(x, "log_softmax"), int(dim))


def _shape_args(shape, op):
    if len(shape) == 1 and not isinstance(shape[0], numbers.Integral):
        shape = shape[0]
    try:
        return [int(s) for s in shape]
    except TypeError:
        raise TypeError(f"[{op}] shape must be ints or a tuple of ints, got {shape!r}") from None


def reshape(input, *shape):
    return _C.reshape(_tensor_arg(input, "reshape"), _shape_args(shape, "reshape"))


def transpose(input, dim0, dim1):
    return _C.transpose(_tensor_arg(input, "transpose"), int(dim0), int(dim1))


swapaxes = transpose


def permute(input, *dims):
    return _C.permute(_tensor_arg(input, "permute"), _shape_args(dims, "permute"))


def squeeze(input, dim=None):
    return _C.squeeze(_tensor_arg(input, "squeeze"), dim)


def unsqueeze(input, dim):
    return _C.unsqueeze(_tensor_arg(input, "unsqueeze"), int(dim))


def _tensors(tensors, op):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"[{op}] expected a list or tuple of Tensors, got {type(tensors).__name__}")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"[{op}] expected Tensors, got {type(t).__name__} at position {i}")
    return list(tensors)


def cat(tensors, dim=0):
    return _C.cat(_tensors(tensors, "cat"), int(dim))


concat = concatenate = cat


def stack(tensors, dim=0):
    return _C.stack(_tensors(tensors, "stack"), int(dim))


def _wrap_dim(d, ndim, op):
    n = ndim if ndim > 0 else 1
    if not -n <= d < n:
        raise IndexError(f"[{op}] dim {d} is out of range for a tensor with {ndim} dimensions")
    return d % n


def flatten(input, start_dim=0, end_dim=-1):
    shape = list(input.shape)
    s, e = _wrap_dim(start_dim, len(shape), "flatten"), _wrap_dim(end_dim, len(shape), "flatten")
    if not shape:
        return reshape(input, 1)
    n = 1
    for d in shape[s:e + 1]:
        n *= d
    return reshape(input, shape[:s] + [n] + shape[e + 1:])


def dot(input, other):
    if input.ndim != 1 or other.ndim != 1:
        raise ValueError(f"[dot] expected 1-d tensors, got shapes {input.shape} and {other.shape}")
    return matmul(input, other)


def mm(input, mat2):
    if input.ndim != 2 or mat2.ndim != 2:
        raise ValueError(f"[mm] expected 2-d tensors, got shapes {input.shape} and {mat2.shape}")
    return matmul(input, mat2)


def to_dtype(input, dtype):
    return _C.to_dtype(input, as_dtype(dtype))
