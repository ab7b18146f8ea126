"""pyad: a tensor automatic-differentiation engine with a C++ core.

The API follows PyTorch's names: pyad.tensor, pyad.zeros, x.backward(), pyad.no_grad(), pyad.autograd.grad ...
"""

from __future__ import annotations

import builtins as _builtins

from . import _checkout

if not _checkout.has_core(__name__):
    # Note [Importing pyad from its source checkout] (pyad/_checkout.py): sys.modules["pyad"] becomes the
    # installed pyad; the lines below then only re-bind that package's names into this discarded module.
    _checkout.hand_over(__name__, __path__)

# The order matters: the BLAS before the core, Tensor's Python methods before nn wraps its repr.
# isort: off
import scipy_openblas32 as _openblas  # noqa: F401, E402  (loads the BLAS the core links, whatever the layout)

from . import _C  # noqa: E402
from ._C import Tensor, device
from ._dtypes import (
    bool,
    double,
    dtype,
    float,
    float32,
    float64,
    get_default_device,
    get_default_dtype,  # noqa: A004
    int64,
    long,
    set_default_device,
    set_default_dtype,
)
from . import _creation
from ._creation import *  # noqa: F403  (the tensor factories)
from ._C import *  # noqa: F403  (the op list's functions, _C.__all__: Note [The op list] in csrc/kernels/math.h)
from . import _functions
from ._functions import *  # noqa: F403  (the ops written in Python)
from . import _composite
from ._composite import *  # noqa: F403  (the ops composed of other ops)
from . import _logical, _math_more, _shape_more
from ._logical import *  # noqa: F403  (predicates and logical ops, composed of comparisons)
from ._shape_more import *  # noqa: F403  (shape helpers composed of views and cat)
from ._math_more import *  # noqa: F403  (products, distances, small elementwise functions, composed)
from . import _random
from ._random import *  # noqa: F403  (randint, randperm, normal, bernoulli, multinomial)
from . import _index_ops
from ._index_ops import *  # noqa: F403  (indexing ops composed of the indexing kernels' ops)
from ._grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from . import _tensor  # noqa: F401  (installs the Python-side Tensor methods)
from . import autograd
from . import cuda, func, nn, optim, utils, viz  # noqa: F401
from . import ops  # noqa: F401  (issue 15: the op coverage table, pyad.ops.coverage())
from .serialization import load, save  # noqa: E402  (also makes Tensors picklable and copyable)

# linalg
from . import linalg  # noqa: F401, E402
# isort: on

__version__ = "0.1.0"

# The package's names apart from the ops, then the ops (the lead's op list generates that second part).
__all__ = [
    "Tensor",
    "device",
    "dtype",
    "bool",
    "double",
    "float",
    "float32",
    "float64",
    "int64",
    "long",
    "get_default_device",
    "get_default_dtype",
    "set_default_device",
    "set_default_dtype",
    *_creation.__all__,
    "enable_grad",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
    "autograd",
    "cuda",
    "func",
    "nn",
    "optim",
    "utils",
    "viz",
    "ops",
    "load",
    "save",
    "manual_seed",
    "get_rng_state",
    "set_rng_state",
    "set_num_threads",
    "get_num_threads",
    "is_tensor",
    "numel",
    "memory_allocated",
    "max_memory_allocated",
    "reset_peak_memory_stats",
]
__all__ += _random.__all__
# The ops: the modules whose exports are ops, the op list's _C first (Note [The op list]); each op has a row in
# tests/op_db.py (test_op_db.py checks it).
_OP_MODULES = (_C, _functions, _composite, _index_ops, _logical, _shape_more, _math_more)
for _m in _OP_MODULES:
    __all__ += _m.__all__
del _m


def manual_seed(seed: int) -> None:
    """Seed every generator: the CPU's and the GPU's, as torch.manual_seed."""
    _C.manual_seed(int(seed))
    _C.cuda_manual_seed(int(seed))


def get_rng_state() -> bytes:
    """The CPU generator's state, for set_rng_state (torch.get_rng_state gives a uint8 tensor; pyad has none)."""
    return _C.get_rng_state()


def set_rng_state(new_state: bytes) -> None:
    """Restore the CPU generator to a state from get_rng_state (as torch.set_rng_state)."""
    _C.set_rng_state(new_state)


def set_num_threads(num: int) -> None:
    """The number of threads the CPU kernels use (as torch.set_num_threads)."""
    _C.set_num_threads(num)


def get_num_threads() -> int:
    """The number of threads the CPU kernels use."""
    return _C.get_num_threads()


def is_tensor(obj: object) -> _builtins.bool:
    """Whether obj is a pyad.Tensor (an nn.Parameter is one too)."""
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    """The number of elements of input."""
    return input.numel()


def memory_allocated(device: _C.device | str = "cpu") -> int:
    """Bytes of live tensor storage that pyad allocated on `device`."""
    return _C.memory_allocated(_C.device(str(device)))


def max_memory_allocated(device: _C.device | str = "cpu") -> int:
    """Peak of memory_allocated since the start or the last reset_peak_memory_stats."""
    return _C.max_memory_allocated(_C.device(str(device)))


def reset_peak_memory_stats(device: _C.device | str = "cpu") -> None:
    """Start max_memory_allocated's peak afresh from the bytes allocated now."""
    _C.reset_peak_memory_stats(_C.device(str(device)))


def _guard_public_api() -> None:
    # Note in pyad/_api_guard.py: uniform exceptions for bad arguments. Functions written in Python are guarded
    # (C++ ones raise properly already, and the hot Tensor operators stay unwrapped); those that run user code
    # are left alone.
    import inspect
    import types

    from . import _api_guard
    from .nn import functional as _nnf

    g = globals()
    own = [
        n
        for n, f in g.items()
        if not n.startswith("_") and isinstance(f, types.FunctionType) and n not in ("load", "save")
    ]
    _api_guard.guard_namespace(inspect.getmodule(_guard_public_api), own)
    _api_guard.guard_namespace(
        _nnf, [n for n in dir(_nnf) if not n.startswith("_") and isinstance(getattr(_nnf, n), types.FunctionType)]
    )
    user_code = {"backward", "register_hook", "retain_grad"}
    for n, f in list(vars(Tensor).items()):
        if isinstance(f, types.FunctionType) and n not in user_code and n not in ("__deepcopy__", "__reduce_ex__"):
            setattr(Tensor, n, _api_guard.guard(f, n))


_guard_public_api()
