"""Data-parallel training over pyad.distributed (torch.nn.parallel's names)."""

from ...distributed import all_reduce_gradients
from .distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel", "all_reduce_gradients"]
