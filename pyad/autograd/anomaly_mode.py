"""detect_anomaly: a NaN or inf produced in backward raises, naming the op and where it was called."""

from __future__ import annotations

import functools
import os
import traceback
from collections.abc import Callable
from typing import Any, TypeVar, cast

from .. import _C

__all__ = ["detect_anomaly", "is_anomaly_enabled"]

F = TypeVar("F", bound=Callable[..., Any])

_PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _creation_site() -> str:
    """file.py:LINE of the innermost frame outside pyad itself."""
    for frame in reversed(traceback.extract_stack()):
        if not os.path.abspath(frame.filename).startswith(_PKG):
            return f"{frame.filename}:{frame.lineno}"
    return "<unknown>"


class detect_anomaly:
    """Context manager (and decorator): nodes created inside remember the user's file and line, and the
    backward pass checks every gradient a node returns for NaN and inf, raising RuntimeError that names the
    node and that file:line. Slow: for debugging."""

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan

    def __enter__(self) -> detect_anomaly:
        self.prev = _C.is_anomaly_enabled()
        _C.set_anomaly_enabled(self.check_nan, _creation_site)
        return self

    def __exit__(self, *exc: object) -> None:
        _C.set_anomaly_enabled(self.prev, _creation_site if self.prev else None)

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)

        return cast(F, wrapper)


def is_anomaly_enabled() -> bool:
    """Whether detect_anomaly is on (process-wide, as torch's)."""
    return _C.is_anomaly_enabled()
