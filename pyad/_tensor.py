"""Python-side methods of pyad.Tensor (the class itself lives in the C++ core)."""

import builtins
import numbers

import numpy as np

from . import (
    _C,
    _composite as C,
    _functions as F,
    _index_ops,
    _indexing,
    _logical,
    _math_more,
    _numpy_interop,
    _random,
    _shape_more,
)
from ._dtypes import _BY_NAME as _DTYPE_NAMES, as_device, as_dtype, float32, float64
from ._grad_mode import no_grad as _no_grad

Tensor = _C.Tensor


def _method(fn):
    setattr(Tensor, fn.__name__, fn)
    return fn


# ---- autograd ----
@_method
def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(self)/d(leaf) into every leaf's .grad, as torch.Tensor.backward."""
    if gradient is not None and not isinstance(gradient, Tensor):
        raise TypeError(f"[backward] gradient must be a Tensor or None, got {type(gradient).__name__}")
    _C.backward(self, gradient, retain_graph, create_graph, _inputs_arg(inputs))


def _inputs_arg(inputs):
    """backward's inputs=: a Tensor or a sequence of them (None: every leaf)."""
    if inputs is None or isinstance(inputs, Tensor):
        return inputs
    items = list(inputs) if isinstance(inputs, (list, tuple)) else None
    if items is None or not all(isinstance(t, Tensor) for t in items):
        raise TypeError(f"[backward] inputs must be a Tensor or a sequence of Tensors, got {type(inputs).__name__}")
    return items


@_method
def retain_grad(self):
    _C.retain_grad(self)


@_method
def register_hook(self, hook):
    """hook(grad) -> new grad or None, called when this tensor's gradient is computed; returns a handle
    whose remove() takes the hook out (usable as a context manager, as torch's RemovableHandle)."""
    return _C.register_hook(self, hook)


@_method
def register_post_accumulate_grad_hook(self, hook):
    """hook(tensor) -> None, called on this leaf once its .grad holds the newly accumulated gradient (as torch's;
    data-parallel training starts a bucket's all-reduce from it); returns a RemovableHandle."""
    return _C.register_post_accumulate_grad_hook(self, hook)


# ---- conversion ----
@_method
def numpy(self, force=False):
    """A NumPy array sharing this tensor's memory (raises if it requires grad, as torch). A GPU tensor gives a
    host copy, made once its queued kernels have finished."""
    if force:
        return _C.to_numpy(self.detach()).copy()
    return _C.to_numpy(self)


@_method
def tolist(self):
    return _C.to_numpy(self.detach()).tolist()


def _is_dtype_name(s):
    return s.startswith("pyad.") or s in _DTYPE_NAMES


@_method
def to(self, *args, dtype=None, device=None, copy=False):
    """to(dtype), to(device), to(device, dtype) or to(other_tensor)."""
    for a in args:
        if isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif isinstance(a, _C.device) or (isinstance(a, str) and not _is_dtype_name(a)):
            device = a
        else:
            dtype = a
    out = self if dtype is None else _C.to_dtype(self, as_dtype(dtype))
    if device is not None:
        out = _C.to_device(out, as_device(device))
    return out.clone() if copy and out is self else out


@_method
def cpu(self):
    """This tensor in host memory (itself if it is there already); differentiable, as torch."""
    return _C.to_device(self, _C.device("cpu"))


@_method
def cuda(self, device=None):
    """This tensor on a GPU (cuda:0, or `device`: an index, 'cuda:N' or a pyad.device)."""
    dev = as_device(device if device is not None else "cuda")
    if dev.type != "cuda":
        raise ValueError(f"[cuda] expected a CUDA device, got {dev}")
    return _C.to_device(self, dev)


Tensor.is_cuda = property(lambda self: self.device.type == "cuda")


# Named conversions; set as attributes so the builtins float/bool stay usable in this module.
Tensor.float = lambda self: _C.to_dtype(self, float32)
Tensor.double = lambda self: _C.to_dtype(self, float64)
Tensor.long = lambda self: _C.to_dtype(self, _C.dtype.int64)
Tensor.bool = lambda self: _C.to_dtype(self, _C.dtype.bool)


@_method
def type_as(self, other):
    return _C.to_dtype(self, other.dtype)


@_method
def is_floating_point(self):
    return self.dtype.is_floating_point


def _dlpack_needs_sync(stream):
    """Whether exporting to a consumer on `stream` (DLPack's CUDA codes) must wait for our kernels first. They
    run on the legacy default stream (None or 1), which orders them before the consumer's work; -1 asks for no
    synchronisation; any other stream could start before they finish."""
    return stream not in (None, 1, -1)


@_method
def __dlpack__(self, stream=None, max_version=None, dl_device=None, copy=None):
    if self.requires_grad:
        raise RuntimeError("[__dlpack__] can't export a tensor that requires grad; use tensor.detach()")
    if self.is_cuda and _dlpack_needs_sync(stream):
        _C.cuda_synchronize(self.device.index)
    versioned = max_version is not None and tuple(max_version)[0] >= 1
    return _C.to_dlpack(self, versioned)


@_method
def __dlpack_device__(self):
    return (1, 0) if self.device.type == "cpu" else (2, self.device.index)


_TYPESTR = {"float32": "<f4", "float64": "<f8", "int64": "<i8", "bool": "|b1"}


def _cuda_array_interface(self):
    """CuPy's and Numba's protocol (version 3) for GPU memory; CPU tensors have none (AttributeError)."""
    if not self.is_cuda:
        raise AttributeError("[__cuda_array_interface__] only CUDA tensors have it; this one is on the cpu")
    if self.requires_grad:
        raise RuntimeError("[__cuda_array_interface__] can't export a tensor that requires grad; use tensor.detach()")
    size = self.element_size()
    strides = None if self.is_contiguous() else tuple(s * size for s in self.stride())
    return {
        "shape": tuple(self.shape),
        "typestr": _TYPESTR[self.dtype.name],
        "descr": [("", _TYPESTR[self.dtype.name])],
        "data": (self.data_ptr(), False),
        "strides": strides,
        "version": 3,
        "stream": 1,
    }


Tensor.__cuda_array_interface__ = property(_cuda_array_interface)


# NumPy defers to the tensor's reflected operators and ufunc handler: a NumPy value meeting a tensor gives a
# tensor that keeps the graph (Note [NumPy operands] in _numpy_interop.py).
Tensor.__array_priority__ = 1000
Tensor.__array_ufunc__ = _numpy_interop.array_ufunc


@_method
def __array__(self, dtype=None, copy=None):
    """np.asarray(t): refused for a tensor that requires grad, as torch, since the NumPy array would drop the
    graph in silence (np.concatenate([t, a]), np.mean(t) ...); use t.detach() or t.numpy(force=True)."""
    if self.requires_grad:
        raise RuntimeError(
            "[numpy] Can't call numpy() on Tensor that requires grad (NumPy would drop the graph "
            "here). Use tensor.detach().numpy() instead, or pyad ops to keep the graph."
        )
    a = _C.to_numpy(self)
    return a if dtype is None else a.astype(dtype)


# ---- Python protocol ----
@_method
def __len__(self):
    if self.ndim == 0:
        raise TypeError("len() of a 0-d tensor")
    return self.shape[0]


@_method
def __iter__(self):
    if self.ndim == 0:
        raise TypeError("iteration over a 0-d tensor")
    return (self[i] for i in range(self.shape[0]))


@_method
def __bool__(self):
    if self.numel() != 1:
        raise RuntimeError(f"Boolean value of Tensor with more than one value is ambiguous (shape {self.shape})")
    return bool(self.item())


@_method
def __float__(self):
    return float(self.item())


@_method
def __int__(self):
    return int(self.item())


@_method
def __index__(self):
    if self.dtype.is_floating_point or self.numel() != 1:
        raise TypeError("only integer tensors of a single element can be converted to an index")
    return int(self.item())


@_method
def __getitem__(self, key):
    return _indexing.getitem(self, key)


@_method
def __setitem__(self, key, value):
    _indexing.setitem(self, key, value)


def _float_style(values):
    """torch's choice of float format: integral values as '1.', scientific for wide or extreme ranges."""
    finite = np.abs(values[np.isfinite(values)])
    nonzero = finite[finite != 0]
    if nonzero.size == 0:
        return "{:.0f}."
    lo, hi = nonzero.min(), nonzero.max()
    if np.all(np.ceil(nonzero) == nonzero):
        return "{:.4e}" if hi > 1e8 else "{:.0f}."
    return "{:.4e}" if hi / lo > 1000 or hi > 1e8 or lo < 1e-4 else "{:.4f}"


def _format_value(v, dtype, style):
    if dtype == _C.dtype.bool:
        return "True" if v else "False"
    if not dtype.is_floating_point:
        return str(int(v))
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return style.format(v)


def _format(arr, dtype):
    style = _float_style(arr.astype(np.float64)) if dtype.is_floating_point else None
    if arr.ndim == 0:
        return _format_value(arr.item(), dtype, style)
    flat = [_format_value(v, dtype, style) for v in arr.reshape(-1).tolist()]
    width = builtins.max((len(s) for s in flat), default=0)  # (max is Tensor.max's function here)
    it = iter(flat)

    def rec(shape, indent):
        if len(shape) == 1:
            return "[" + ", ".join(next(it).rjust(width) for _ in range(shape[0])) + "]"
        rows = [rec(shape[1:], indent + 1) for _ in range(shape[0])]
        sep = "," + "\n" * (len(shape) - 1) + " " * indent
        return "[" + sep.join(rows) + "]"

    return rec(arr.shape, 8)


@_method
def __repr__(self):
    arr = _C.to_numpy(self.detach())
    extras = []
    if arr.size == 0:
        body = "[]"
        if arr.ndim != 1:
            extras.append(f"size={tuple(arr.shape)}")
    else:
        body = _format(arr, self.dtype)
    if self.is_cuda:
        extras.insert(0, f"device='{self.device}'")  # torch prints the device first
    if self.dtype not in (_C.dtype.float32, _C.dtype.int64, _C.dtype.bool):
        extras.append(f"dtype={self.dtype}")
    if self.grad_fn is not None:
        extras.append(f"grad_fn=<{self.grad_fn.name()}>")
    elif self.requires_grad:
        extras.append("requires_grad=True")
    return "tensor(" + ", ".join([body] + extras) + ")"


Tensor.__str__ = Tensor.__repr__


@_method
def __format__(self, spec):
    """A 0-d tensor formats as its number, as torch (f"{t}" too); a one-element tensor also takes a format spec
    (f"{t:.4f}"), which torch refuses; otherwise an empty spec gives str(t)."""
    if self.ndim == 0:
        return format(self.item(), spec)
    if not spec:
        return str(self)
    if self.numel() != 1:
        raise TypeError(
            f"unsupported format string passed to Tensor.__format__ (a tensor of shape "
            f"{tuple(self.shape)}; only one-element tensors take a format spec)"
        )
    return format(self.item(), spec)


# ---- ops as methods (the op list's are bound in C++: Note [The op list]) ----
@_method
def sum(self, dim=None, keepdim=False, dtype=None):
    return F.sum(self, dim, keepdim, dtype)


@_method
def mean(self, dim=None, keepdim=False, dtype=None):
    return F.mean(self, dim, keepdim, dtype)


@_method
def amax(self, dim=None, keepdim=False):
    return F.amax(self, dim, keepdim)


@_method
def amin(self, dim=None, keepdim=False):
    return F.amin(self, dim, keepdim)


@_method
def max(self, dim=None, keepdim=False):
    return F.max(self, dim, keepdim)


@_method
def min(self, dim=None, keepdim=False):
    return F.min(self, dim, keepdim)


@_method
def logsumexp(self, dim, keepdim=False):
    return F.logsumexp(self, dim, keepdim)


@_method
def softmax(self, dim, dtype=None):
    return F.softmax(self, dim, dtype)


@_method
def log_softmax(self, dim, dtype=None):
    return F.log_softmax(self, dim, dtype)


@_method
def transpose(self, dim0, dim1):
    return F.transpose(self, dim0, dim1)


@_method
def swapaxes(self, dim0, dim1):
    return F.transpose(self, dim0, dim1)


@_method
def squeeze(self, dim=None):
    return F.squeeze(self, dim)


@_method
def unsqueeze(self, dim):
    return F.unsqueeze(self, dim)


@_method
def matmul(self, other):
    return F.matmul(self, other)


@_method
def outer(self, vec2):
    return F.outer(self, vec2)


@_method
def dot(self, other):
    return F.dot(self, other)


@_method
def mm(self, mat2):
    return F.mm(self, mat2)


@_method
def clamp(self, min=None, max=None):
    return F.clamp(self, min, max)


@_method
def clip(self, min=None, max=None):
    return F.clamp(self, min, max)


@_method
def flatten(self, start_dim=0, end_dim=-1):
    return F.flatten(self, start_dim, end_dim)


@_method
def reshape(self, *shape):
    return _C.reshape(self, F._shape_args(shape, "reshape"))


@_method
def view(self, *shape, dtype=None):
    """view(*shape) as torch; view(dtype) reinterprets the bytes as `dtype` (torch's rules for element sizes)."""
    if dtype is None and len(shape) == 1 and not isinstance(shape[0], (numbers.Integral, tuple, list)):
        dtype, shape = shape[0], ()
    if dtype is not None:
        if shape:
            raise TypeError("[view] takes either a shape or a dtype, not both")
        return self._view_dtype(as_dtype(dtype))
    return _C.view(self, F._shape_args(shape, "view"))


@_method
def t(self):
    """The transpose of a matrix; a tensor of 0 or 1 dims unchanged (a view), as torch."""
    if self.ndim > 2:
        raise RuntimeError(f"[t] t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
    return _C.transpose(self, 0, 1) if self.ndim == 2 else _C.view(self, list(self.shape))


@_method
def view_as(self, other):
    return _C.view(self, list(other.shape))


@_method
def reshape_as(self, other):
    return _C.reshape(self, list(other.shape))


@_method
def permute(self, *dims):
    return _C.permute(self, F._shape_args(dims, "permute"))


@_method
def expand(self, *sizes):
    return _C.expand(self, F._shape_args(sizes, "expand"))


@_method
def expand_as(self, other):
    return _C.expand(self, list(other.shape))


Tensor.T = property(lambda self: _C.permute(self, list(range(self.ndim))[::-1]))
Tensor.mT = property(lambda self: _C.transpose(self, -2, -1))


# ---- the compositions of pyad/_composite.py as methods ----
@_method
def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
    return C.norm(self, p, dim, keepdim, dtype)


@_method
def prod(self, dim=None, keepdim=False, dtype=None):
    return C.prod(self, dim, keepdim, dtype)


@_method
def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return C.var(self, dim, unbiased, keepdim, correction=correction)


@_method
def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return C.std(self, dim, unbiased, keepdim, correction=correction)


@_method
def ravel(self):
    return C.ravel(self)


@_method
def narrow(self, dim, start, length):
    return C.narrow(self, dim, start, length)


@_method
def movedim(self, source, destination):
    return C.movedim(self, source, destination)


@_method
def moveaxis(self, source, destination):
    return C.movedim(self, source, destination)


@_method
def chunk(self, chunks, dim=0):
    return C.chunk(self, chunks, dim)


@_method
def split(self, split_size, dim=0):
    return C.split(self, split_size, dim)


@_method
def unbind(self, dim=0):
    return C.unbind(self, dim)


@_method
def repeat(self, *sizes):
    return C.repeat(self, *sizes)


@_method
def tile(self, *dims):
    return C.tile(self, F._shape_args(dims, "tile"))


@_method
def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return C.isclose(self, other, rtol, atol, equal_nan)


@_method
def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return C.allclose(self, other, rtol, atol, equal_nan)


@_method
def equal(self, other):
    return C.equal(self, other)


# ---- the compositions of pyad/_logical.py, _shape_more.py and _math_more.py as methods ----
def _bind_methods(module, names):
    for name in names:
        setattr(Tensor, name, getattr(module, name))


_bind_methods(
    _logical,
    ["all", "any", "count_nonzero", "isfinite", "isinf", "isnan", "isneginf", "isposinf", "isreal", "nan_to_num"]
    + ["logical_and", "logical_not", "logical_or", "logical_xor"],
)
_bind_methods(
    _math_more,
    ["addcdiv", "addcmul", "addmm", "addmv", "aminmax", "baddbmm", "bmm", "clamp_max", "clamp_min", "cross", "dist"]
    + ["float_power", "floor_divide", "frac", "heaviside", "lerp", "logit", "median", "mv", "sgn", "sinc", "xlogy"],
)
_bind_methods(
    _shape_more,
    ["broadcast_to", "diag", "diag_embed", "fliplr", "flipud", "rot90", "swapdims", "tensor_split"],
)
Tensor.__floordiv__ = lambda self, other: _math_more.floor_divide(self, other)
Tensor.__rfloordiv__ = lambda self, other: _math_more.floor_divide(other, self)


# ---- new tensors like this one, and in-place sampling ----
@_method
def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
    """A tensor of data with this one's dtype and device unless given, as torch's Tensor.new_tensor."""
    from ._creation import tensor

    return tensor(data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)


def _new_factory(name, fill):
    def make(self, *size, dtype=None, device=None, requires_grad=False):
        from . import _creation

        shape = _creation._shape(size, name)
        out = fill(shape, dtype or self.dtype, device or self.device)
        return out.requires_grad_(True) if requires_grad else out

    make.__name__ = name
    make.__doc__ = f"Tensor.{name}(*size, dtype=None, device=None, requires_grad=False), as torch's."
    setattr(Tensor, name, make)


_new_factory("new_zeros", lambda shape, dt, dev: _C.zeros(shape, dt, as_device(dev)))
_new_factory("new_ones", lambda shape, dt, dev: _C.ones(shape, dt, as_device(dev)))
_new_factory("new_empty", lambda shape, dt, dev: _C.empty(shape, dt, as_device(dev)))


@_method
def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
    out = _C.full(list(size), float(fill_value), dtype or self.dtype, as_device(device or self.device))
    return out.requires_grad_(True) if requires_grad else out


def _fill_in_place(self, values, op):
    if self.requires_grad and self.is_leaf and _C.is_grad_enabled():
        raise RuntimeError(f"[{op}] a leaf Variable that requires grad is being used in an in-place operation.")
    with _no_grad():
        self.copy_(values)
    return self


@_method
def uniform_(self, from_=0.0, to=1.0):
    """Fill with U(from_, to) samples, in place, as torch's Tensor.uniform_."""
    return _fill_in_place(self, _C.rand(list(self.shape), self.dtype, self.device) * (to - from_) + from_, "uniform_")


@_method
def normal_(self, mean=0.0, std=1.0):
    """Fill with N(mean, std**2) samples, in place, as torch's Tensor.normal_."""
    return _fill_in_place(self, _C.randn(list(self.shape), self.dtype, self.device) * std + mean, "normal_")


@_method
def bernoulli_(self, p=0.5):
    """Fill with 1 (probability p) or 0, in place, as torch's Tensor.bernoulli_."""
    probs = p if isinstance(p, Tensor) else None
    out = _random.bernoulli(
        probs.expand(*self.shape) if probs is not None else self, None if probs is not None else float(p)
    )
    return _fill_in_place(self, out.to(dtype=self.dtype), "bernoulli_")


@_method
def random_(self, from_=0, to=None):
    """Fill with integers drawn from [from_, to) (random_(to): [0, to)), in place, as torch's Tensor.random_."""
    if to is None:
        from_, to = 0, from_
    return _fill_in_place(
        self, _random.randint(from_, to, tuple(self.shape), dtype=self.dtype, device=self.device), "random_"
    )


# ---- indexing by tensors (pyad/_index_ops.py; the others are bound in csrc/python/ops_index.cpp) ----
@_method
def masked_fill(self, mask, value):
    """See pyad.masked_fill."""
    return _index_ops.masked_fill(self, mask, value)


@_method
def masked_select(self, mask):
    """See pyad.masked_select."""
    return _index_ops.masked_select(self, mask)


@_method
def take_along_dim(self, indices, dim=None):
    """See pyad.take_along_dim."""
    return _index_ops.take_along_dim(self, indices, dim)
