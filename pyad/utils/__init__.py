"""Utilities: gradient checkpointing (pyad.utils.checkpoint)."""

from . import checkpoint

__all__ = ["checkpoint"]
