"""no_grad / enable_grad / set_grad_enabled: context managers and decorators, as torch."""
import functools

from . import _C

is_grad_enabled = _C.is_grad_enabled


class _GradMode:
    _mode = True

    def __enter__(self):
        self._prev = _C.is_grad_enabled()
        _C.set_grad_enabled(self._mode)
        return self

    def __exit__(self, *exc):
        _C.set_grad_enabled(self._prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradMode):
    """Ops inside record no graph."""
    _mode = False


class enable_grad(_GradMode):
    """Ops inside record a graph even within no_grad."""
    _mode = True


class set_grad_enabled(_GradMode):
    """Switch recording on or off; takes effect at once, and as a context manager restores on exit."""

    def __init__(self, mode):
        self._mode = bool(mode)
        self._prev = _C.is_grad_enabled()
        _C.set_grad_enabled(self._mode)

    def __enter__(self):
        return self

    def __call__(self, fn):
        _C.set_grad_enabled(self._prev)
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper
