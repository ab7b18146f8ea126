"""NumPy values meeting pyad tensors (Note [NumPy operands] in pyad/_numpy_interop.py), against torch.

The reference for a NumPy array operand is torch with torch.from_numpy(array) in its place (torch itself hands
`tensor + ndarray` to NumPy, which drops the graph); for a NumPy scalar it is torch with that scalar, which torch
treats as a Python number. Results must be pyad tensors with torch's values, dtypes and gradients.
"""

import operator

import numpy as np
import pytest
import torch

import pyad

try:
    from tests.conftest import TORCH_DTYPE, assert_close, to_torch
except ImportError:
    from conftest import TORCH_DTYPE, assert_close, to_torch

RNG = np.random.default_rng(0)
TENSOR_DTYPES = [pyad.float32, pyad.float64, pyad.int64]
NUMPY_VALUES = {
    "f64 array": RNG.uniform(0.5, 2.0, (3,)),
    "f32 array": RNG.uniform(0.5, 2.0, (3,)).astype(np.float32),
    "i64 array": np.array([1, 2, 3], dtype=np.int64),
    "i32 array": np.array([1, 2, 3], dtype=np.int32),
    "bool array": np.array([True, False, True]),
    "0-d f64 array": np.array(1.5),
    "0-d i64 array": np.array(2),
    "2-d f64 array": RNG.uniform(0.5, 2.0, (2, 3)),
    "np.float64": np.float64(1.5),
    "np.float32": np.float32(2.5),
    "np.int64": np.int64(3),
    "np.int32": np.int32(2),
    "np.bool_": np.bool_(True),
}
OPS = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "truediv": operator.truediv,
    "pow": operator.pow,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
    "eq": operator.eq,
    "ne": operator.ne,
}


def torch_operand(v):
    if isinstance(v, np.ndarray):
        return torch.from_numpy(v.astype(np.int64) if v.dtype == np.int32 else v)
    if isinstance(v, np.bool_):
        # torch takes np.bool_ as a float (int64 tensor + np.bool_(True) is float32) though torch.tensor of it
        # is bool; pyad takes it as the Python bool it holds, consistently.
        return bool(v)
    return v  # torch takes a NumPy scalar as the Python number it holds


def tensor_pair(dtype):
    base = np.array([0.75, 1.25, 1.5]) if dtype.is_floating_point else np.array([1, 2, 3])
    x = pyad.tensor(base, dtype=dtype, requires_grad=dtype.is_floating_point)
    return x, to_torch(x)


@pytest.mark.parametrize("side", ["tensor first", "numpy first"])
@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("value", list(NUMPY_VALUES))
@pytest.mark.parametrize("dtype", TENSOR_DTYPES, ids=str)
def test_operator_with_numpy_operand_keeps_the_graph(device, dtype, value, op, side):
    v, f = NUMPY_VALUES[value], OPS[op]
    x, tx = tensor_pair(dtype)
    tv = torch_operand(v)
    args, targs = ((x, v), (tx, tv)) if side == "tensor first" else ((v, x), (tv, tx))
    try:
        want = f(*targs)
    except (RuntimeError, TypeError):
        # torch refuses it (int ** negative scalar, float - bool ...): pyad must then treat the NumPy value exactly
        # as the tensor (or number) it stands for, raising or not as that does.
        pv = pyad.from_numpy(v).to(x.device) if isinstance(v, np.ndarray) else v.item()
        pargs = (x, pv) if side == "tensor first" else (pv, x)
        try:
            same = f(*pargs)
        except (RuntimeError, TypeError) as e:
            with pytest.raises(type(e)):
                f(*args)
            return
        assert_close(f(*args), to_torch(same))
        return
    got = f(*args)
    assert isinstance(got, pyad.Tensor), f"{type(got).__name__} returned: the graph would be lost"
    assert got.device.type == device
    assert_close(got, want, msg=f"{value} {op} {side}")
    if want.requires_grad:
        assert got.requires_grad
        w = np.linspace(-1.0, 1.0, want.numel()).reshape(tuple(want.shape))
        try:
            (want * torch.tensor(w, dtype=want.dtype)).sum().backward()
        except RuntimeError:  # torch's pow has no backward for a bool exponent
            return
        (got * pyad.tensor(w, dtype=got.dtype)).sum().backward()
        assert_close(x.grad, tx.grad, msg="gradient")


@pytest.mark.parametrize("side", ["tensor first", "numpy first"])
@pytest.mark.parametrize("dtype", [pyad.float32, pyad.float64], ids=str)
@pytest.mark.parametrize("value", ["f64 array", "f32 array", "2-d f64 array"])
def test_matmul_with_numpy_operand(device, dtype, value, side):
    v = NUMPY_VALUES[value]
    v = v.T.copy() if v.ndim == 2 and side == "tensor first" else v
    x, tx = tensor_pair(dtype)
    got = x @ v if side == "tensor first" else v @ x
    assert isinstance(got, pyad.Tensor)
    # matmul takes one dtype (in torch too): pyad promotes both operands as the elementwise ops do.
    dt = torch.promote_types(tx.dtype, torch.from_numpy(v).dtype)
    tv = torch.from_numpy(v).to(dt)
    want = tx.to(dt) @ tv if side == "tensor first" else tv @ tx.to(dt)
    assert_close(got, want)
    got.sum().backward()
    want.sum().backward()
    assert_close(x.grad, tx.grad)


def test_numpy_scalar_does_not_promote_but_array_does():
    x = pyad.ones(2)
    assert (x * np.float64(3)).dtype == pyad.float32  # a scalar is a Python number to torch
    assert (x * np.array(3.0)).dtype == pyad.float32  # a 0-d tensor does not promote a dimensioned one
    assert (x * np.ones(2)).dtype == pyad.float64  # a dimensioned float64 operand does
    assert (pyad.tensor([1, 2]) * np.array(1.5)).dtype == pyad.float64  # 0-d of a higher category does
    assert (pyad.tensor([1, 2]) * np.float64(1.5)).dtype == pyad.float32  # a float scalar: the default dtype


def test_numpy_operand_is_copied_not_aliased():
    # mul saves its operand for backward: a later change to the array must not reach the gradient.
    a = np.array([2.0, 3.0], dtype=np.float32)
    x = pyad.ones(2, requires_grad=True)
    y = (x * a).sum()
    a[:] = 100.0
    y.backward()
    assert_close(x.grad, torch.tensor([2.0, 3.0]))


def test_inplace_with_numpy_operand(device):
    y = pyad.zeros(3)
    y += np.array([1.0, 2.0, 3.0])
    y *= np.float64(2)
    assert_close(y, torch.tensor([2.0, 4.0, 6.0]))


UFUNCS = [
    "negative",
    "positive",
    "absolute",
    "exp",
    "log",
    "log1p",
    "sin",
    "cos",
    "tanh",
    "sqrt",
    "sign",
    "square",
    "reciprocal",
]


@pytest.mark.parametrize("name", UFUNCS)
@pytest.mark.parametrize("dtype", [pyad.float32, pyad.float64], ids=str)
def test_unary_ufunc_maps_to_the_pyad_op(device, name, dtype):
    x, tx = tensor_pair(dtype)
    got = getattr(np, name)(x)
    assert isinstance(got, pyad.Tensor)
    want = getattr(torch, name)(tx)
    assert_close(got, want, msg=name)
    want.sum().backward()
    if not got.requires_grad:  # pyad records no graph for sign, whose derivative is zero
        assert name == "sign" and not tx.grad.any()
        return
    got.sum().backward()
    assert_close(x.grad, tx.grad, msg=name)


BINARY_UFUNCS = {
    "add": torch.add,
    "subtract": torch.sub,
    "multiply": torch.mul,
    "divide": torch.div,
    "power": torch.pow,
    "maximum": torch.maximum,
    "minimum": torch.minimum,
    "less": torch.lt,
    "greater_equal": torch.ge,
    "equal": torch.eq,
}


@pytest.mark.parametrize("order", ["tensor, array", "array, tensor", "list, tensor", "scalar, tensor"])
@pytest.mark.parametrize("name", list(BINARY_UFUNCS))
def test_binary_ufunc_maps_to_the_pyad_op(device, name, order):
    x, tx = tensor_pair(pyad.float64)
    other = {
        "tensor, array": np.array([1.0, 0.75, 2.0]),
        "array, tensor": np.array([1.0, 0.75, 2.0]),
        "list, tensor": [1.0, 0.75, 2.0],
        "scalar, tensor": np.float64(1.25),
    }[order]
    tother = torch.tensor(other, dtype=torch.float64) if not isinstance(other, np.generic) else float(other)
    first = order.startswith("tensor")
    got = getattr(np, name)(x, other) if first else getattr(np, name)(other, x)
    tf = BINARY_UFUNCS[name]
    want = (
        tf(tx, tother)
        if first
        else (tf(tother, tx) if isinstance(tother, torch.Tensor) else tf(torch.tensor(tother, dtype=torch.float64), tx))
    )
    assert isinstance(got, pyad.Tensor)
    assert_close(got, want, msg=name)
    if want.requires_grad:
        got.sum().backward()
        want.sum().backward()
        assert_close(x.grad, tx.grad, msg=name)


def test_numpy_ufuncs_of_the_op_list_run_pyad_ops():
    x = pyad.tensor([0.25, 0.5, 2.0], dtype=pyad.float64, requires_grad=True)
    for ufunc, op in [(np.arctan, pyad.atan), (np.log2, pyad.log2), (np.rint, pyad.round), (np.square, pyad.square)]:
        y = ufunc(x)
        assert isinstance(y, pyad.Tensor) and y.requires_grad
        assert np.array_equal(y.detach().numpy(), op(x).detach().numpy())
    r = np.remainder(x, 0.3)
    assert np.allclose(r.detach().numpy(), np.remainder(x.detach().numpy(), 0.3))


def test_unsupported_numpy_calls_raise_type_error():
    x = pyad.ones(3, requires_grad=True)
    with pytest.raises(TypeError, match=r"np\.cbrt has no pyad equivalent"):
        np.cbrt(x)
    with pytest.raises(TypeError, match=r"np\.add\.reduce is not supported"):
        np.add.reduce(x)
    with pytest.raises(TypeError, match=r"out=\.\.\..*a NumPy array"):
        np.add(x, 1.0, out=np.zeros(3))
    with pytest.raises(TypeError, match=r"out=\.\.\..*a tensor"):
        np.add(x, 1.0, out=(x,))
    with pytest.raises(TypeError, match=r"complex"):
        x + np.ones(3, dtype=np.complex128)
    with pytest.raises(TypeError, match=r"complex"):
        x * np.complex128(1j)


def test_integer_numpy_scalar_to_negative_power_raises_as_torch():
    with pytest.raises(RuntimeError, match="Integers to negative integer powers"):
        torch.tensor([2]) ** np.int64(-1)
    with pytest.raises(RuntimeError, match="Integers to negative integer powers"):
        pyad.tensor([2]) ** np.int64(-1)
    with pytest.raises(RuntimeError, match="Integers to negative integer powers"):
        np.power(pyad.tensor([2]), -1)


def test_asarray_of_a_tensor_that_requires_grad_raises_as_torch():
    x, tx = pyad.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="requires grad"):
        np.asarray(tx)
    with pytest.raises(RuntimeError, match="requires grad"):
        np.asarray(x)
    with pytest.raises(RuntimeError, match="requires grad"):
        np.concatenate([x, np.ones(2)])  # would silently drop the graph otherwise
    np.testing.assert_array_equal(np.asarray(x.detach()), [1.0, 1.0])


TENSOR_DATA = {
    "[np.float64]": [np.float64(1.0)],
    "[np.float32]": [np.float32(1.0)],
    "np.float64": np.float64(1.0),
    "[np.float32, float]": [np.float32(1.0), 2.0],
    "[np.float64, float]": [np.float64(1.0), 2.0],
    "[float, np.float64]": [1.0, np.float64(2.0)],
    "[int, np.float64]": [1, np.float64(2.0)],
    "[np.int32, float]": [np.int32(1), 2.5],
    "[[np.float64], [float]]": [[np.float64(1.0)], [2.0]],
    "[np.bool_]": [np.bool_(True)],
    "[np.int64]": [np.int64(3)],
    "f32 array": np.ones(2, dtype=np.float32),
    "f64 array": np.ones(2),
    "[f64 array, f64 array]": [np.ones(2), np.ones(2)],
    "[f32 array, f32 array]": [np.ones(2, dtype=np.float32), np.ones(2, dtype=np.float32)],
    "bool array": np.array([True, False]),
    "[1.0, 2.0]": [1.0, 2.0],
    "[1, 2]": [1, 2],
}
TORCH_INT = {torch.int32: torch.int64, torch.int16: torch.int64, torch.int8: torch.int64}


@pytest.mark.parametrize("default", [pyad.float32, pyad.float64], ids=str)
@pytest.mark.parametrize("name", list(TENSOR_DATA))
def test_tensor_infers_dtype_as_torch(name, default):
    data = TENSOR_DATA[name]
    old = torch.get_default_dtype()
    torch.set_default_dtype(TORCH_DTYPE[default])
    pyad.set_default_dtype(default)
    try:
        want = torch.tensor(data)
        got = pyad.tensor(data)
    finally:
        torch.set_default_dtype(old)
        pyad.set_default_dtype(pyad.float32)
    assert TORCH_DTYPE[got.dtype] == TORCH_INT.get(want.dtype, want.dtype), name
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_numpy_integer_widths_become_int64():
    assert pyad.tensor(np.ones(2, dtype=np.int32)).dtype == pyad.int64
    assert pyad.tensor(np.ones(2, dtype=np.uint8)).dtype == pyad.int64
    assert (pyad.tensor([1, 2]) + np.ones(2, dtype=np.int16)).dtype == pyad.int64


def test_tensor_of_a_list_of_tensors_that_require_grad():
    # np.asarray refuses such tensors; pyad.tensor copies their values, as torch.tensor does.
    a, ta = (
        pyad.tensor(1.5, dtype=pyad.float64, requires_grad=True),
        torch.tensor(1.5, dtype=torch.float64, requires_grad=True),
    )
    got, want = pyad.tensor([[a, 2.0], [a, a]]), torch.tensor([[ta, 2.0], [ta, ta]])
    assert_close(got, want)
    assert not got.requires_grad and not want.requires_grad


def test_numpy_array_augmented_by_a_tensor_raises_clearly():
    a, ta = np.ones(3), np.ones(3)
    with pytest.raises(TypeError):  # torch fails too, with a message about concatenation
        ta += torch.tensor([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match=r"can't write a pyad result into a NumPy array"):
        a += pyad.tensor([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(a, np.ones(3))
