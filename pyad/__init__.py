"""pyad: a tensor automatic-differentiation engine with a C++ core.

The API follows PyTorch's names: pyad.tensor, pyad.zeros, x.backward(), pyad.no_grad(), pyad.autograd.grad ...
"""
import scipy_openblas32 as _openblas  # noqa: F401  (loads the BLAS the core links, whatever the install layout)

from . import _C
from ._C import Tensor, device
from ._dtypes import (bool, double, dtype, float, float32, float64, get_default_device, get_default_dtype,  # noqa: A004
                      int64, long, set_default_device, set_default_dtype)
from ._creation import (arange, empty, empty_like, eye, from_dlpack, from_numpy, full, full_like, ones, ones_like,
                        rand, rand_like, randn, randn_like, tensor, zeros, zeros_like)
from ._functions import (abs, add, amax, amin, cat, clamp, clip, concat, concatenate, cos, div, divide, dot, eq,
                         exp, flatten, ge, gt, le, log, log1p, log_softmax, logsumexp, lt, matmul, max, maximum,
                         mean, min, minimum, mm, mul, multiply, ne, neg, negative, outer, permute, pow, relu,
                         reshape, sigmoid, sign, sin, softmax, softplus, sqrt, squeeze, stack, sub, subtract, sum,
                         swapaxes, tanh, transpose, true_divide, unsqueeze, where)
from ._grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from . import _tensor  # noqa: F401  (installs the Python-side Tensor methods)
from . import autograd
from . import cuda, func, nn, utils, viz  # noqa: F401

__version__ = "0.1.0"



def manual_seed(seed):
    """Seed every generator: the CPU's and the GPU's, as torch.manual_seed."""
    _C.manual_seed(int(seed))
    _C.cuda_manual_seed(int(seed))


get_rng_state = _C.get_rng_state
set_rng_state = _C.set_rng_state
set_num_threads = _C.set_num_threads
get_num_threads = _C.get_num_threads


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(t):
    return t.numel()


def memory_allocated(device="cpu"):
    """Bytes of live tensor storage that pyad allocated on `device`."""
    return _C.memory_allocated(_C.device(str(device)))


def max_memory_allocated(device="cpu"):
    """Peak of memory_allocated since the start or the last reset_peak_memory_stats."""
    return _C.max_memory_allocated(_C.device(str(device)))


def reset_peak_memory_stats(device="cpu"):
    _C.reset_peak_memory_stats(_C.device(str(device)))
