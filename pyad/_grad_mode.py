"""no_grad / enable_grad / set_grad_enabled: context managers and decorators, as torch."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from . import _C

__all__ = ["enable_grad", "is_grad_enabled", "no_grad", "set_grad_enabled"]

F = TypeVar("F", bound=Callable[..., Any])


# Whether ops record a graph in this thread (grad mode is per thread, as torch's); the core's function itself,
# since transforms call it on every step.
is_grad_enabled: Callable[[], bool] = _C.is_grad_enabled


class _GradMode:
    _mode = True
    _prev: bool

    def __enter__(self) -> _GradMode:
        self._prev = _C.is_grad_enabled()
        _C.set_grad_enabled(self._mode)
        return self

    def __exit__(self, *exc: object) -> None:
        _C.set_grad_enabled(self._prev)

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.__class__():
                return fn(*args, **kwargs)

        return cast(F, wrapper)


class no_grad(_GradMode):
    """Ops inside record no graph (a context manager, or a decorator of a function)."""

    _mode = False


class enable_grad(_GradMode):
    """Ops inside record a graph even within no_grad (a context manager, or a decorator)."""

    _mode = True


class set_grad_enabled(_GradMode):
    """Switch recording on or off; takes effect at once, and as a context manager restores on exit."""

    def __init__(self, mode: bool) -> None:
        self._mode = bool(mode)
        self._prev = _C.is_grad_enabled()
        _C.set_grad_enabled(self._mode)

    def __enter__(self) -> set_grad_enabled:
        return self

    def __call__(self, fn: F) -> F:
        _C.set_grad_enabled(self._prev)
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return cast(F, wrapper)
