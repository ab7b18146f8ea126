"""The typed public surface: every public module declares __all__ (complete, and naming only what exists), and
every function and class written in Python that it exports has a docstring and full type annotations, so that
editors and type checkers see what the package offers. The op list's functions and methods are C++ (their types
are in the generated pyad/_C.pyi); the ops written in Python (pyad/_functions.py) are checked here too."""

import importlib
import inspect
import pathlib
import types

import pytest

import pyad

PUBLIC_MODULES = [
    "pyad",
    "pyad.autograd",
    "pyad.autograd.anomaly_mode",
    "pyad.autograd.forward_ad",
    "pyad.autograd.function",
    "pyad.autograd.functional",
    "pyad.autograd.gradcheck",
    "pyad.cuda",
    "pyad.func",
    "pyad.nn",
    "pyad.nn.containers",
    "pyad.nn.functional",
    "pyad.nn.init",
    "pyad.nn.layers",
    "pyad.nn.loss",
    "pyad.nn.module",
    "pyad.nn.parameter",
    "pyad.nn.utils",
    "pyad.nn.utils.clip_grad",
    "pyad.ops",
    "pyad.optim",
    "pyad.optim.adagrad",
    "pyad.optim.adam",
    "pyad.optim.lr_scheduler",
    "pyad.optim.optimizer",
    "pyad.optim.rmsprop",
    "pyad.optim.sgd",
    "pyad.serialization",
    "pyad.utils",
    "pyad.utils.checkpoint",
    "pyad.viz",
]
GENERATED: set[str] = set()  # modules whose exports the checks leave out (none now)


def _module(name):
    return importlib.import_module(name)


def _defined_here(mod):
    """The public functions and classes written in mod itself (not imported into it)."""
    return {
        n
        for n, v in vars(mod).items()
        if not n.startswith("_")
        and isinstance(v, (types.FunctionType, type))
        and getattr(v, "__module__", None) == mod.__name__
    }


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_names_what_exists_and_everything_public(name):
    mod = _module(name)
    assert isinstance(getattr(mod, "__all__", None), list), f"{name} has no __all__ list"
    exported = mod.__all__
    assert len(set(exported)) == len(exported), f"{name}.__all__ repeats a name"
    missing = [n for n in exported if not hasattr(mod, n)]
    assert not missing, f"{name}.__all__ names what {name} lacks: {missing}"
    left_out = sorted(_defined_here(mod) - set(exported))
    assert not left_out, f"{name} defines public names its __all__ leaves out: {left_out}"


def _exported_python_objects():
    seen = {}
    for name in PUBLIC_MODULES:
        mod = _module(name)
        for n in mod.__all__:
            obj = getattr(mod, n)
            if (
                isinstance(obj, (types.FunctionType, type))
                and obj.__module__.startswith("pyad")
                and obj.__module__ not in GENERATED
                and not obj.__module__.startswith("pyad._C")
            ):
                seen.setdefault(f"{obj.__module__}.{obj.__qualname__}", obj)
    return seen


EXPORTED = _exported_python_objects()


def _unannotated(fn, method=False):
    """The names of fn's parameters (and 'return') that have no annotation."""
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())
    if method and params and params[0].name in ("self", "cls"):
        params = params[1:]
    missing = [p.name for p in params if p.annotation is inspect.Parameter.empty]
    if sig.return_annotation is inspect.Signature.empty:
        missing.append("return")
    return missing


def _methods(cls):
    """The methods cls defines itself (public ones, and __init__), as plain functions."""
    for n, v in vars(cls).items():
        if isinstance(v, (staticmethod, classmethod)):
            v = v.__func__
        if isinstance(v, property):
            v = v.fget
        if isinstance(v, types.FunctionType) and (not n.startswith("_") or n == "__init__"):
            yield n, v


def test_the_surface_has_python_objects_to_check():
    # The check below would pass on an empty list; the surface has dozens of functions and classes.
    assert len(EXPORTED) > 100
    assert "pyad.func.jacobian" in EXPORTED and "pyad.nn.module.Module" in EXPORTED


@pytest.mark.parametrize("qualname", sorted(EXPORTED))
def test_exported_objects_are_documented_and_annotated(qualname):
    obj = EXPORTED[qualname]
    assert (inspect.getdoc(obj) or "").strip(), f"{qualname} has no docstring"
    if isinstance(obj, types.FunctionType):
        assert not _unannotated(obj), f"{qualname} lacks annotations for {_unannotated(obj)}"
        return
    for n, fn in _methods(obj):
        assert not _unannotated(fn, method=True), f"{qualname}.{n} lacks annotations for {_unannotated(fn, True)}"
        if n != "__init__":
            # A method overriding a documented one inherits its docstring (inspect.getdoc looks it up).
            assert (inspect.getdoc(getattr(obj, n)) or "").strip(), f"{qualname}.{n} has no docstring"


def test_the_package_says_it_is_typed():
    # PEP 561: type checkers use the package's own annotations only when it ships this marker.
    assert (pathlib.Path(pyad.__file__).parent / "py.typed").is_file()
