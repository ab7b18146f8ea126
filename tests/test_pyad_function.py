"""The __pyad_function__ protocol (Note [The __pyad_function__ protocol] in csrc/python/bind.h): a Python type
with the hook takes over any _C function called with one of its instances, as torch's __torch_function__."""

import pytest

import pyad
from pyad import _C


class Logged:
    """Records each call it takes over and answers it on the wrapped tensor."""

    calls: list = []

    def __init__(self, t):
        self.t = t

    @classmethod
    def __pyad_function__(cls, func, types, args, kwargs):
        cls.calls.append((func.__name__, types))

        def unwrap(a):
            if isinstance(a, Logged):
                return a.t
            if isinstance(a, (list, tuple)):
                return type(a)(unwrap(v) for v in a)
            return a

        return func(*unwrap(args), **{k: unwrap(v) for k, v in kwargs.items()})

    def __radd__(self, other):
        return _C.add(other, self)


class Refusing:
    @classmethod
    def __pyad_function__(cls, func, types, args, kwargs):
        return NotImplemented


class LoggedChild(Logged):
    pass


@pytest.fixture(autouse=True)
def _clear():
    Logged.calls.clear()


def test_unary_binary_and_keyword_calls_reach_the_hook():
    x = pyad.tensor([1.0, 2.0, 3.0])
    assert _C.exp(Logged(x)).tolist() == _C.exp(x).tolist()
    assert _C.add(x, Logged(x)).tolist() == [2.0, 4.0, 6.0]
    assert _C.mul(2.0, Logged(x)).tolist() == [2.0, 4.0, 6.0]
    assert _C.add(Logged(x), 1).tolist() == [2.0, 3.0, 4.0]
    assert _C.sum(Logged(x), None, False).item() == 6.0
    assert _C.where(x > 1.5, Logged(x), x).tolist() == [1.0, 2.0, 3.0]
    assert _C.exp(input=Logged(x)).tolist() == _C.exp(x).tolist()
    assert [name for name, _ in Logged.calls] == ["exp", "add", "mul", "add", "sum", "where", "exp"]
    assert all(types == (Logged,) for _, types in Logged.calls)


def test_lists_of_tensors_and_autograd_functions_reach_the_hook():
    x = pyad.tensor([1.0, 2.0], requires_grad=True)
    assert _C.cat([x, Logged(x)], 0).tolist() == [1.0, 2.0, 1.0, 2.0]
    (g,) = _C.grad([Logged((x * x).sum())], [x])
    assert g.tolist() == [2.0, 4.0]
    assert [name for name, _ in Logged.calls] == ["cat", "grad"]


def test_tensor_operators_defer_to_the_reflected_operator():
    x = pyad.tensor([1.0, 2.0])
    assert (x + Logged(x)).tolist() == [2.0, 4.0]
    assert Logged.calls[0][0] == "add"


def test_a_subclass_is_asked_before_its_base():
    x = pyad.tensor([1.0])
    _C.add(Logged(x), LoggedChild(x))
    assert Logged.calls[-1][1] == (LoggedChild, Logged)


def test_the_fast_path_and_its_errors_are_unchanged():
    x = pyad.tensor([1.0, 2.0])
    assert _C.full([2], 1, pyad.float64, pyad.device("cpu")).tolist() == [1.0, 1.0]  # int -> double conversion
    with pytest.raises(TypeError, match="incompatible function arguments"):
        _C.exp("a")
    with pytest.raises(TypeError, match=r"\[add\] expected at least one Tensor argument, got str and str"):
        _C.add("a", "b")
    with pytest.raises(TypeError, match=r"\[add\] expected a Tensor or a number, got str"):
        _C.add(x, "b")
    assert Logged.calls == []


def test_a_hook_that_returns_not_implemented_raises_a_type_error():
    with pytest.raises(TypeError, match=r"\[exp\] every __pyad_function__ returned NotImplemented .*Refusing"):
        _C.exp(Refusing())
