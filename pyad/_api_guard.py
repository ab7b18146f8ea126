"""The exceptions pyad's public functions raise, made uniform at the API boundary.

Bad arguments raise TypeError, ValueError, IndexError or RuntimeError (MemoryError for a size the machine cannot
hold) with a message that names the op, as the C++ core's "[op] ..." messages do. A Python-level wrapper that
meets an argument of the wrong kind can fail deep inside with AttributeError ('int' object has no attribute
'shape'), KeyError or OverflowError (an int too large for C), or with an allowed type whose message does not
say which op failed (int('cuda')); guard() turns those into the documented exceptions, tagged with the op's
name. Functions that run user code (autograd.grad, backward, hooks, pyad.func transforms) are not guarded:
what user code raises must reach the user unchanged. tests/fuzz.py checks the contract.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from typing import Any

_TAG = re.compile(r"\[[^\]]+\]")
_RETAG = (TypeError, ValueError, IndexError, RuntimeError, MemoryError)


def names_op(msg: str, name: str) -> bool:
    return bool(_TAG.search(msg)) or name.strip("_") in msg


def guard(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    @functools.wraps(fn)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (AttributeError, KeyError) as e:
            raise TypeError(f"[{name}] invalid argument: {e}") from None
        except OverflowError as e:
            raise ValueError(f"[{name}] argument out of range: {e}") from None
        except _RETAG as e:
            if not names_op(str(e), name):
                # (NumPy's _ArrayMemoryError and the like come back as their documented base class.)
                base = type(e) if type(e) in _RETAG else next(b for b in _RETAG if isinstance(e, b))
                raise base(f"[{name}] {e}") from None
            raise

    guarded.__wrapped_by_guard__ = True  # type: ignore[attr-defined]
    return guarded


def guard_namespace(ns: object, names: Iterable[str], prefix: str = "") -> None:
    for n in names:
        f = getattr(ns, n)
        if not getattr(f, "__wrapped_by_guard__", False):
            setattr(ns, n, guard(f, prefix + n))
