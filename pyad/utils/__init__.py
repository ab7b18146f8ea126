"""Utilities: gradient checkpointing (pyad.utils.checkpoint)."""
from . import checkpoint  # noqa: F401
