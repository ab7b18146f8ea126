"""What `import pyad` does when it finds the source folder instead of an installed pyad.

Note [Importing pyad from its source checkout]
`python -m pyad.bench` run from the repository root puts the root first on sys.path, so `import pyad` finds
the source folder pyad/, which holds no compiled core (pyad._C is built into the installed package; an
editable install maps it in through its import hook, and then nothing here happens). Instead of failing, the
source folder hands over to the pyad that is installed elsewhere on sys.path: that package is loaded and
put in sys.modules["pyad"], which is what the import system returns once the source __init__ finishes. So
`pip install .` works from any folder, the root included. If no installed pyad exists, one ImportError
says what to run.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Iterable


def has_core(package: str) -> bool:
    """True when `package._C` can be found (next to the package, or through an editable install's hook)."""
    return importlib.util.find_spec(package + "._C") is not None


def _installed_elsewhere(package: str, source_dirs: Iterable[str]) -> importlib.machinery.ModuleSpec | None:
    """The spec of a pyad with a compiled core on sys.path outside the source checkout, or None."""
    source_roots = {os.path.realpath(os.path.dirname(d)) for d in source_dirs}
    entries = [p for p in sys.path if os.path.realpath(p or os.getcwd()) not in source_roots]
    spec = importlib.machinery.PathFinder.find_spec(package, entries)
    if spec is None or not (spec.origin or "").endswith("__init__.py"):
        return None  # none, or a folder holding only an editable install's compiled core
    core = importlib.machinery.PathFinder.find_spec(package + "._C", list(spec.submodule_search_locations or []))
    return spec if core is not None else None


def hand_over(package: str, source_dirs: Iterable[str]) -> None:
    """Load the installed pyad in place of the source folder, or raise ImportError saying what to run."""
    spec = _installed_elsewhere(package, source_dirs)
    if spec is None:
        where = os.path.dirname(os.path.realpath(list(source_dirs)[0]))
        raise ImportError(
            f"pyad is being imported from its source checkout ({where}), which has no compiled core "
            f"(pyad._C), and no installed pyad was found elsewhere on sys.path. Build and install it first: "
            f'`pip install -e ".[test]"` (editable, for development) or `pip install .`, run in {where}.'
        )
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None  # a package found on a path always has one
    sys.modules[package] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[package]
        raise
