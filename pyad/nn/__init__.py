"""Neural-network helpers (functional only)."""
from . import functional  # noqa: F401
