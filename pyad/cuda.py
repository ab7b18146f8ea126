"""pyad.cuda: NVIDIA GPUs, named as torch.cuda.

Work on a GPU is queued on one stream per device (the legacy default stream, which CuPy and torch also use by
default) and runs asynchronously; item(), numpy(), tolist() and synchronize() wait for it. Memory comes from a
caching allocator: freed blocks are kept for reuse until empty_cache().

Matrix products use cuBLAS when it can be loaded at run time (``pip install pyad[cuda]`` brings it, found through
cuda-pathfinder; a system libcublas on the loader path works too) and pyad's own tiled kernel otherwise.
matmul_backend() says which; set_matmul_backend("pyad") forces our kernel, e.g. to compare the two.
pyad.linalg on a GPU needs cuSOLVER (and cuBLAS for its triangular solves), found the same way; without it a GPU
tensor there gets a RuntimeError that says how to get it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import _C

if TYPE_CHECKING:
    from ._typing import DeviceLike

__all__ = [
    "current_device",
    "device_count",
    "empty_cache",
    "get_device_name",
    "get_rng_state",
    "is_available",
    "is_compiled",
    "manual_seed",
    "manual_seed_all",
    "matmul_backend",
    "max_memory_allocated",
    "memory_allocated",
    "memory_reserved",
    "reset_peak_memory_stats",
    "set_matmul_backend",
    "set_rng_state",
    "synchronize",
]

# Whether cuBLAS has been looked for: that happens once per process, as the driver's own initialisation does.
_initialized = False


def is_compiled() -> bool:
    """Whether this build of pyad contains the CUDA backend."""
    return _C.cuda_compiled()


def is_available() -> bool:
    """Whether CUDA can be used: the backend is compiled in, and a driver and a GPU are present."""
    return _C.cuda_is_available()


def device_count() -> int:
    """The number of CUDA devices (0 without a driver, a GPU, or a CUDA build)."""
    return _C.cuda_device_count()


def current_device() -> int:
    """The index of the current device: always 0 (pyad has no torch.cuda.set_device yet)."""
    return 0


def get_device_name(device: DeviceLike | None = None) -> str:
    """The GPU's name, as the driver reports it."""
    return _C.cuda_device_name(_index(device))


def synchronize(device: DeviceLike | None = None) -> None:
    """Wait until every kernel queued on the device has finished."""
    _lazy_init()
    _C.cuda_synchronize(_index(device))


def manual_seed(seed: int) -> None:
    """Seed the GPU generator (one counter-based stream shared by all devices)."""
    _C.cuda_manual_seed(int(seed))


manual_seed_all = manual_seed


def get_rng_state() -> str:
    """The GPU generator's state, for set_rng_state."""
    return _C.cuda_get_rng_state()


def set_rng_state(state: str) -> None:
    """Restore the GPU generator to a state from get_rng_state."""
    _C.cuda_set_rng_state(state)


def empty_cache() -> None:
    """Return the allocator's cached, unused blocks to the driver."""
    _C.cuda_empty_cache()


def memory_allocated(device: DeviceLike | None = None) -> int:
    """Bytes of live tensor storage on the GPU."""
    return _C.memory_allocated(_device(device))


def max_memory_allocated(device: DeviceLike | None = None) -> int:
    """Peak of memory_allocated since the start or the last reset_peak_memory_stats."""
    return _C.max_memory_allocated(_device(device))


def reset_peak_memory_stats(device: DeviceLike | None = None) -> None:
    """Start max_memory_allocated's peak afresh from the bytes allocated now."""
    _C.reset_peak_memory_stats(_device(device))


def memory_reserved(device: DeviceLike | None = None) -> int:
    """Bytes the caching allocator holds from the driver: live storage plus cached blocks."""
    return _C.cuda_memory_reserved(_index(device))


def matmul_backend() -> str:
    """ "cublas" when matrix products go to cuBLAS, "pyad" when to pyad's own tiled kernel."""
    _lazy_init(required=False)
    return _C.cuda_matmul_backend()


def set_matmul_backend(name: str) -> None:
    """Send matrix products to "cublas" or to "pyad" (its own kernel); RuntimeError if cuBLAS is not loaded."""
    _lazy_init(required=False)
    _C.cuda_set_matmul_backend(name)


def _index(device: DeviceLike | None) -> int:
    if device is None:
        return current_device()
    if isinstance(device, int):
        return device
    d = device if isinstance(device, _C.device) else _C.device(str(device))
    if d.type != "cuda":
        raise ValueError(f"[cuda] expected a CUDA device, got {d}")
    return d.index


def _device(device: DeviceLike | None) -> _C.device:
    return _C.device(f"cuda:{_index(device)}")


def _find_library(name: str) -> str | None:
    """The path of an NVIDIA library (e.g. "cublas", "cusolver") from pip's nvidia-* wheels, found through
    cuda-pathfinder, or None: then the loader's own search path is tried (a system install)."""
    try:
        from cuda.pathfinder import load_nvidia_dynamic_lib
    except ImportError:
        return None
    try:
        return load_nvidia_dynamic_lib(name).abs_path
    except Exception:  # noqa: BLE001 - any failure to find it means: fall back to the loader's path
        return None


def _load(name: str, load: Callable[[str], bool]) -> bool:
    path = _find_library(name)
    return bool(path and load(path)) or load("")


def _lazy_init(required: bool = True) -> None:
    """Called before the first use of a GPU: raises a clear error if there is none, and loads cuBLAS and cuSOLVER
    once. PYAD_MATMUL_BACKEND=pyad sends matrix products to pyad's own kernel (cuBLAS still serves linalg)."""
    global _initialized
    if required and not is_available():
        reason = _C.cuda_unavailable_reason()
        raise RuntimeError(f"[cuda] CUDA is not available: {reason}")
    if _initialized or not is_available():
        return
    _initialized = True
    if _load("cublas", _C.cuda_load_cublas) and os.environ.get("PYAD_MATMUL_BACKEND", "").lower() == "pyad":
        _C.cuda_set_matmul_backend("pyad")
    _load("cusolver", _C.cuda_load_cusolver)
