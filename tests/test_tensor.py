"""Tensor basics pinned to torch's behaviour: dtypes, devices, creation, attributes, type promotion,
zero-copy NumPy / DLPack exchange, views, repr and max/min. The tests of values run on each device (the `device`
fixture of conftest.py); those about the CPU itself (NumPy memory sharing, DLPack of host memory, the repr of a CPU
tensor, pyad.manual_seed, which seeds the CPU's generator) on the CPU only."""

import gc
import operator

import numpy as np
import pytest
import torch

import pyad

try:  # pytest's --import-mode=importlib (the project's setting) registers the conftest as tests.conftest
    from tests.conftest import TORCH_DTYPE, assert_close, cpu_only, stable_id
except ImportError:  # prepend/append import modes
    from conftest import TORCH_DTYPE, assert_close, cpu_only, stable_id

pytestmark = pytest.mark.usefixtures("device")

PYAD_DTYPES = [pyad.float32, pyad.float64, pyad.int64, pyad.bool]


def shares_memory(t, arr):
    """True when pyad tensor t and NumPy array arr overlap in memory."""
    return np.shares_memory(t.detach().numpy(), arr)


# ----------------------------------------------------------------------------------------------------------------
# dtypes
# ----------------------------------------------------------------------------------------------------------------
def test_dtype_objects():
    for d in PYAD_DTYPES:
        assert isinstance(d, pyad.dtype)
    assert len(set(PYAD_DTYPES)) == 4
    assert pyad.float is pyad.float32 and pyad.double is pyad.float64 and pyad.long is pyad.int64
    assert pyad.float32.is_floating_point and pyad.float64.is_floating_point
    assert not pyad.int64.is_floating_point and not pyad.bool.is_floating_point
    assert [d.itemsize for d in PYAD_DTYPES] == [4, 8, 8, 1]


@pytest.mark.parametrize("d", PYAD_DTYPES, ids=str)
def test_dtype_str_and_repr_like_torch(d):
    expected = str(TORCH_DTYPE[d]).replace("torch.", "pyad.")
    assert str(d) == expected
    assert repr(d) == repr(TORCH_DTYPE[d]).replace("torch.", "pyad.")


@pytest.mark.parametrize(
    "spec, expected",
    [
        (pyad.float32, pyad.float32),
        (pyad.float64, pyad.float64),
        (pyad.int64, pyad.int64),
        (pyad.bool, pyad.bool),
        ("float32", pyad.float32),
        ("float64", pyad.float64),
        ("int64", pyad.int64),
        ("bool", pyad.bool),
        ("float", pyad.float32),
        ("double", pyad.float64),
        ("long", pyad.int64),
        (np.float32, pyad.float32),
        (np.float64, pyad.float64),
        (np.int64, pyad.int64),
        (np.bool_, pyad.bool),
        (np.dtype("float64"), pyad.float64),
        (np.dtype("int64"), pyad.int64),
    ],
)
def test_dtype_argument_forms(spec, expected):
    assert pyad.zeros(2, dtype=spec).dtype == expected
    assert pyad.tensor([1, 0], dtype=spec).dtype == expected
    assert pyad.ones(2).to(spec).dtype == expected


@pytest.mark.parametrize("d", PYAD_DTYPES, ids=str)
def test_dtype_accepts_its_own_str(d):
    # str(pyad.float64) == "pyad.float64"; pyad's dtype parser strips a "pyad." prefix, so this name must work.
    assert pyad.zeros(2, dtype=str(d)).dtype == d


@pytest.mark.parametrize(
    "bad",
    [
        "float17",
        "int32",
        "float16",
        "f8",
        "",
        np.float16,
        np.int32,
        np.uint8,
        np.complex128,
        torch.float64,
        3,
        object(),
        [pyad.float32],
    ],
    ids=stable_id,
)
def test_bad_dtype_raises_type_error(bad):
    with pytest.raises(TypeError):
        pyad.zeros(2, dtype=bad)
    with pytest.raises(TypeError):
        pyad.tensor([1.0], dtype=bad)


def test_default_dtypes_like_torch():
    assert pyad.tensor([1, 2]).dtype == pyad.int64
    assert pyad.arange(5).dtype == pyad.int64
    assert pyad.tensor([1.0, 2]).dtype == pyad.float32
    assert pyad.tensor(2.5).dtype == pyad.float32
    assert pyad.tensor([True, False]).dtype == pyad.bool
    assert pyad.zeros(2).dtype == pyad.float32
    assert pyad.ones(2, 2).dtype == pyad.float32
    assert pyad.rand(2).dtype == pyad.float32 and pyad.randn(2).dtype == pyad.float32
    assert pyad.eye(2).dtype == pyad.float32
    assert pyad.arange(2.0).dtype == pyad.float32
    assert pyad.full((2,), 7).dtype == pyad.int64  # torch.full infers from the fill value
    assert pyad.full((2,), 7.0).dtype == pyad.float32
    assert pyad.full((2,), True).dtype == pyad.bool
    assert pyad.get_default_dtype() == pyad.float32


# ----------------------------------------------------------------------------------------------------------------
# device
# ----------------------------------------------------------------------------------------------------------------
@cpu_only
def test_device():
    t = pyad.tensor([1.0, 2.0])
    assert isinstance(t.device, pyad.device)
    assert str(t.device) == "cpu"
    assert t.device == "cpu"
    assert t.device == pyad.device("cpu")
    assert t.device.type == "cpu"
    assert t.device.index is None
    assert repr(t.device) == repr(torch.device("cpu"))
    for make in (
        lambda: pyad.tensor([1.0], device="cpu"),
        lambda: pyad.zeros(2, device="cpu"),
        lambda: pyad.ones(2, device=pyad.device("cpu")),
        lambda: pyad.arange(3, device="cpu"),
    ):
        assert make().device == "cpu"


# ----------------------------------------------------------------------------------------------------------------
# creation
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("data", [3, 2.5, True, -7, 0.0], ids=repr)
def test_tensor_from_python_scalar_is_0d(data):
    p, t = pyad.tensor(data), torch.tensor(data)
    assert p.shape == tuple(t.shape) == ()
    assert p.ndim == 0
    assert p.item() == t.item()
    assert_close(p, t)


@pytest.mark.parametrize("data", [np.float64(1.5), np.array(2.5), np.array(3, dtype=np.int64)], ids=repr)
def test_tensor_from_numpy_scalar_is_0d(data):
    p, t = pyad.tensor(data), torch.tensor(data)
    assert p.shape == tuple(t.shape) == ()
    assert_close(p, t)


@pytest.mark.parametrize(
    "data",
    [
        [1, 2, 3],
        [1.5, -2.0],
        [[1, 2], [3, 4]],
        [[[1.0], [2.0]], [[3.0], [4.0]]],
        [[True, False]],
        [1, 2.5],
        [True, 2],
        [],
        [[]],
    ],
    ids=repr,
)
def test_tensor_from_lists_like_torch(data):
    p, t = pyad.tensor(data), torch.tensor(data)
    assert p.shape == tuple(t.shape)
    assert_close(p, t)


@pytest.mark.parametrize("npdt", [np.float32, np.float64, np.int64, np.bool_])
def test_tensor_from_numpy_copies(npdt):
    a = np.arange(6).reshape(2, 3).astype(npdt)
    p, t = pyad.tensor(a), torch.tensor(a)
    assert (
        p.dtype == {np.float32: pyad.float32, np.float64: pyad.float64, np.int64: pyad.int64, np.bool_: pyad.bool}[npdt]
    )
    assert_close(p, t)
    before = a.copy()
    a[...] = 0
    np.testing.assert_array_equal(p.numpy(), before)


def test_tensor_from_non_contiguous_numpy():
    a = np.arange(12.0).reshape(3, 4)
    for view in (a[:, ::2], a.T, a[::-1]):
        p = pyad.tensor(view)
        np.testing.assert_array_equal(p.numpy(), view)


def test_tensor_from_tensor_copies():
    a = pyad.arange(3.0)
    b = pyad.tensor(a)
    b[0] = 9.0
    assert a.tolist() == [0.0, 1.0, 2.0]
    assert pyad.tensor(a, dtype=pyad.float64).dtype == pyad.float64


def test_tensor_explicit_dtype_and_requires_grad():
    p = pyad.tensor([1, 2], dtype=pyad.float64, requires_grad=True)
    assert p.dtype == pyad.float64 and p.requires_grad and p.is_leaf and p.grad_fn is None
    assert pyad.tensor([1.7, -2.7], dtype=pyad.int64).tolist() == torch.tensor([1.7, -2.7], dtype=torch.int64).tolist()


@pytest.mark.parametrize("name", ["zeros", "ones", "rand", "randn", "empty"])
def test_factory_shapes_varargs_and_tuples(name):
    f = getattr(pyad, name)
    assert f(2, 3).shape == (2, 3)
    assert f((2, 3)).shape == (2, 3)
    assert f([2, 3]).shape == (2, 3)
    assert f(4).shape == (4,)
    assert f(()).shape == ()
    assert f(2, 0, 3).shape == (2, 0, 3)
    assert f(2, 3, dtype=pyad.float64).dtype == pyad.float64
    assert f(2, requires_grad=True).requires_grad


def test_zeros_ones_full_eye_values():
    assert_close(pyad.zeros(2, 3), torch.zeros(2, 3))
    assert_close(pyad.ones(3, dtype=pyad.int64), torch.ones(3, dtype=torch.int64))
    assert_close(pyad.ones(2, dtype=pyad.bool), torch.ones(2, dtype=torch.bool))
    assert_close(pyad.full((2, 2), 7), torch.full((2, 2), 7))
    assert_close(pyad.full((2, 3), 2.5), torch.full((2, 3), 2.5))
    assert_close(pyad.full([3], -1.5, dtype=pyad.float64), torch.full([3], -1.5, dtype=torch.float64))
    assert_close(pyad.full((2,), True), torch.full((2,), True))
    assert_close(pyad.eye(3), torch.eye(3))
    assert_close(pyad.eye(2, 4), torch.eye(2, 4))
    assert_close(pyad.eye(4, 2, dtype=pyad.int64), torch.eye(4, 2, dtype=torch.int64))


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((5,), {}),
        ((1, 10, 3), {}),
        ((10, 0, -3), {}),
        ((-3, 3), {}),
        ((5.0,), {}),
        ((0, 1, 0.25), {}),
        ((0, 1, 0.1), {}),
        ((1, 2.5, 0.5), {}),
        ((-1.0, 1.0, 0.3), {}),
        ((5,), {"dtype": pyad.float64}),
        ((0, 3), {"dtype": pyad.float32}),
        ((0,), {}),
    ],
    ids=repr,
)
def test_arange_like_torch(args, kwargs):
    tk = {k: TORCH_DTYPE[v] for k, v in kwargs.items()}
    assert_close(pyad.arange(*args, **kwargs), torch.arange(*args, **tk))


@cpu_only
def test_rand_randn_reproducible_with_manual_seed():
    pyad.manual_seed(123)
    a, b = pyad.rand(4, 5), pyad.randn(3, dtype=pyad.float64)
    pyad.manual_seed(123)
    assert pyad.rand(4, 5).tolist() == a.tolist()
    assert pyad.randn(3, dtype=pyad.float64).tolist() == b.tolist()
    pyad.manual_seed(124)
    assert pyad.rand(4, 5).tolist() != a.tolist()


def test_randn_statistics():
    x = pyad.randn(100_000).numpy()
    assert abs(x.mean()) < 0.02
    assert abs(x.std() - 1.0) < 0.02
    assert np.isfinite(x).all()


def test_rand_range_and_statistics():
    x = pyad.rand(100_000, dtype=pyad.float64).numpy()
    assert x.min() >= 0.0 and x.max() < 1.0
    assert abs(x.mean() - 0.5) < 0.01
    assert abs(x.var() - 1 / 12) < 0.005


@pytest.mark.parametrize("d", [pyad.float32, pyad.float64, pyad.int64, pyad.bool], ids=str)
def test_like_factories(d, device):
    base = pyad.zeros(2, 3, dtype=d)
    for f in (pyad.zeros_like, pyad.ones_like, pyad.empty_like):
        out = f(base)
        assert out.shape == (2, 3) and out.dtype == d and out.device == device and not out.requires_grad
    assert pyad.ones_like(base).tolist() == torch.ones_like(torch.zeros(2, 3, dtype=TORCH_DTYPE[d])).tolist()
    assert pyad.full_like(base, 1).tolist() == torch.full_like(torch.zeros(2, 3, dtype=TORCH_DTYPE[d]), 1).tolist()
    if d.is_floating_point:
        for f in (pyad.rand_like, pyad.randn_like):
            out = f(base)
            assert out.shape == (2, 3) and out.dtype == d
        assert pyad.zeros_like(base, requires_grad=True).requires_grad
    assert pyad.zeros_like(base, dtype=pyad.float64).dtype == pyad.float64


# ----------------------------------------------------------------------------------------------------------------
# attributes
# ----------------------------------------------------------------------------------------------------------------
def test_attributes_of_a_leaf(device):
    x = pyad.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    assert x.shape == (2, 3) and type(x.shape) is tuple
    assert x.ndim == 2 and x.dim() == 2
    assert x.dtype == pyad.float32
    assert x.device == device
    assert x.requires_grad and x.is_leaf
    assert x.grad is None and x.grad_fn is None
    assert x.numel() == 6
    assert x.size() == (2, 3) and x.size(0) == 2 and x.size(-1) == 3
    assert x.stride() == (3, 1) and x.stride(0) == 3 and x.stride(-1) == 1
    assert x.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]


def test_attributes_of_a_result_and_grad():
    x = pyad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    assert y.requires_grad and not y.is_leaf
    assert y.grad_fn is not None and y.grad_fn.name() == "MulBackward0"
    y.sum().backward()
    assert_close(x.grad, torch.tensor([2.0, 4.0, 6.0]))
    assert not x.grad.requires_grad


def test_item_and_tolist_types():
    assert pyad.tensor([2.5]).item() == 2.5 and type(pyad.tensor([2.5]).item()) is float
    assert type(pyad.tensor([3]).item()) is int
    assert pyad.tensor([True]).item() is True
    assert pyad.tensor([[4.5]]).item() == 4.5
    assert pyad.tensor([1.0, 2.0]).sum().item() == 3.0
    assert pyad.tensor([1, 2]).tolist() == [1, 2]
    assert pyad.tensor([True, False]).tolist() == [True, False]
    assert pyad.ones(2, dtype=pyad.float64).sum().tolist() == 2.0  # 0-d -> Python number
    for v in (pyad.tensor([[1, 2]]).tolist(), pyad.tensor([1.5]).tolist()):
        assert isinstance(v, list)


def test_numpy_method():
    x = pyad.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=pyad.float64)
    a = x.numpy()
    assert isinstance(a, np.ndarray) and a.dtype == np.float64 and a.shape == (2, 2)
    np.testing.assert_array_equal(a, [[1.0, 2.0], [3.0, 4.0]])
    assert pyad.tensor([1, 2]).numpy().dtype == np.int64
    assert pyad.tensor([True]).numpy().dtype == np.bool_
    np.testing.assert_array_equal(np.asarray(x), a)


@pytest.mark.parametrize("src", PYAD_DTYPES, ids=str)
@pytest.mark.parametrize("dst", PYAD_DTYPES, ids=str)
def test_to_dtype_like_torch(src, dst):
    data = [[1.5, -2.7, 0.0], [3.0, 0.25, -1.0]]
    p = pyad.tensor(data).to(src)
    t = torch.tensor(data).to(TORCH_DTYPE[src])
    assert_close(p.to(dst), t.to(TORCH_DTYPE[dst]))


def test_to_same_dtype_and_grad(device):
    x = pyad.ones(3, requires_grad=True)
    assert x.to(pyad.float32) is x  # torch returns self when nothing changes
    y = x.to(pyad.float64)
    assert y.dtype == pyad.float64 and y.requires_grad and y.grad_fn is not None
    assert x.to(device) is x
    y.sum().backward()
    assert_close(x.grad, torch.ones(3))


def test_detach_shares_storage():
    x = pyad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    assert d.data_ptr() == x.data_ptr()
    d[0] = 5.0
    assert x.tolist() == [5.0, 2.0, 3.0]


def test_requires_grad_():
    x = pyad.zeros(3)
    assert not x.requires_grad
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    x.requires_grad = True
    assert x.requires_grad


def test_clone_copies_and_records_grad():
    x = pyad.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert c.data_ptr() != x.data_ptr()
    assert c.requires_grad and not c.is_leaf and c.grad_fn is not None
    with pyad.no_grad():
        c[0] = 10.0
    assert x.tolist() == [1.0, 2.0]


def test_contiguous():
    x = pyad.arange(6.0).reshape(2, 3)
    assert x.is_contiguous()
    assert x.contiguous() is x  # torch returns self for a contiguous tensor
    t = x.T
    assert not t.is_contiguous() and t.stride() == (1, 3)
    c = t.contiguous()
    assert c.is_contiguous() and c.stride() == (2, 1) and c.data_ptr() != x.data_ptr()
    assert c.tolist() == torch.arange(6.0).reshape(2, 3).T.contiguous().tolist()


# ----------------------------------------------------------------------------------------------------------------
# type promotion
# ----------------------------------------------------------------------------------------------------------------
def _pair(dtype):
    data = [1.0, 2.0, 3.0] if dtype != pyad.bool else [True, False, True]
    return pyad.tensor(data).to(dtype), torch.tensor(data).to(TORCH_DTYPE[dtype])


_OPS = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "truediv": operator.truediv,
    "pow": operator.pow,
    "lt": operator.lt,
    "eq": operator.eq,
    "ge": operator.ge,
}
_SCALARS = {"int": 2, "float": 2.5, "bool": True}


def _promotion_cases():
    for op in _OPS:
        for a in PYAD_DTYPES:
            for b in PYAD_DTYPES + list(_SCALARS):
                bool_arith = a == pyad.bool and b in (pyad.bool, "bool") and op in ("add", "sub", "mul", "pow")
                sub_bool = op == "sub" and (a == pyad.bool or b in (pyad.bool, "bool"))  # torch refuses
                if not (bool_arith or sub_bool):
                    yield pytest.param(op, a, b, id=f"{op}-{a}-{b}")


@pytest.mark.parametrize("op, a, b", list(_promotion_cases()))
def test_type_promotion_like_torch(op, a, b):
    pa, ta = _pair(a)
    if isinstance(b, str):
        pb = tb = _SCALARS[b]
    else:
        pb, tb = _pair(b)
    f = _OPS[op]
    assert_close(f(pa, pb), f(ta, tb), msg=f"{op} {a} {b}")


def test_promotion_examples():
    f32, f64, i64 = pyad.ones(2), pyad.ones(2, dtype=pyad.float64), pyad.tensor([1, 2])
    assert (f32 + f64).dtype == pyad.float64
    assert (f64 * f32).dtype == pyad.float64
    assert (f32 * 2.5).dtype == pyad.float32
    assert (2.5 * f32).dtype == pyad.float32
    assert (i64 + 1).dtype == pyad.int64
    assert (i64 * 1.5).dtype == pyad.float32
    assert (i64 / 2).dtype == pyad.float32
    assert (i64 + f64).dtype == pyad.float64
    assert (f32 < f64).dtype == pyad.bool and (i64 == 1).dtype == pyad.bool
    assert (pyad.tensor([True]) + 1).dtype == pyad.int64


def test_clamp_int_with_float_bounds_promotes():
    assert_close(pyad.tensor([1, 5]).clamp(2.5, 3), torch.tensor([1, 5]).clamp(2.5, 3))
    assert_close(pyad.tensor([1, 5]).clamp(2, 3), torch.tensor([1, 5]).clamp(2, 3))


def test_int_pow_stays_int():
    p = pyad.tensor([1, 2, 3]) ** 2
    t = torch.tensor([1, 2, 3]) ** 2
    assert_close(p, t)


# ----------------------------------------------------------------------------------------------------------------
# zero-copy NumPy
# ----------------------------------------------------------------------------------------------------------------
@cpu_only
@pytest.mark.parametrize("npdt", [np.float32, np.float64, np.int64, np.bool_])
def test_from_numpy_shares_memory(npdt):
    a = np.zeros((2, 3), dtype=npdt)
    t = pyad.from_numpy(a)
    assert (
        t.dtype == {np.float32: pyad.float32, np.float64: pyad.float64, np.int64: pyad.int64, np.bool_: pyad.bool}[npdt]
    )
    assert t.shape == (2, 3) and t.data_ptr() == a.ctypes.data
    a[0, 1] = 1
    assert t[0, 1].item() == 1
    t[1, 2] = 1
    assert a[1, 2] == 1
    t[0] = 1
    assert a[0].tolist() == [1, 1, 1]


@pytest.mark.parametrize(
    "make",
    [lambda a: a[:, ::2], lambda a: a.T, lambda a: a[1:, 1:3], lambda a: a[::-1]],
    ids=["step", "T", "slice", "reversed"],
)
@cpu_only
def test_from_numpy_non_contiguous(make):
    base = np.arange(12.0).reshape(3, 4)
    a = make(base)
    t = pyad.from_numpy(a)
    assert t.shape == a.shape
    assert t.stride() == tuple(s // a.itemsize for s in a.strides)
    assert t.tolist() == a.tolist()
    assert_close(t * 2 + 1, torch.from_numpy(a.copy()) * 2 + 1)
    assert_close(t.sum(), torch.from_numpy(a.copy()).sum())
    a[0, 0] = -100.0
    assert t[0, 0].item() == -100.0
    t[-1, -1] = 55.0
    assert a[-1, -1] == 55.0


@cpu_only
def test_numpy_shares_memory():
    t = pyad.arange(6.0).reshape(2, 3)
    a = t.numpy()
    a[0, 0] = 42.0
    assert t[0, 0].item() == 42.0
    t[1, 1] = -1.0
    assert a[1, 1] == -1.0
    v = t.T.numpy()  # a strided view: still shared
    assert v.shape == (3, 2) and np.shares_memory(v, a)
    np.testing.assert_array_equal(v, a.T)


@cpu_only
def test_numpy_outlives_tensor():
    a = pyad.arange(5.0).numpy()
    gc.collect()
    assert a.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]


@cpu_only
def test_numpy_requires_grad_raises():
    x = pyad.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError):
        x.numpy()
    with pytest.raises(RuntimeError):
        (x * 2).numpy()
    d = x.detach().numpy()
    d[0] = 7.0
    assert x.tolist() == [7.0, 1.0, 1.0]


# ----------------------------------------------------------------------------------------------------------------
# DLPack
# ----------------------------------------------------------------------------------------------------------------
@cpu_only
def test_dlpack_device():
    assert pyad.zeros(2).__dlpack_device__() == (1, 0)
    assert pyad.zeros(2).__dlpack_device__() == torch.zeros(2).__dlpack_device__()


@cpu_only
def test_numpy_from_dlpack_shares_memory():
    t = pyad.arange(6.0).reshape(2, 3)
    n = np.from_dlpack(t)
    assert n.shape == (2, 3) and n.dtype == np.float32
    assert np.shares_memory(n, t.numpy())
    t[0, 0] = 42.0
    assert n[0, 0] == 42.0
    v = np.from_dlpack(t[:, 1:])  # strided view
    np.testing.assert_array_equal(v, t.numpy()[:, 1:])


@cpu_only
def test_numpy_from_dlpack_is_writable_like_torch():
    # np.from_dlpack(torch_tensor) is writable (torch answers max_version with a versioned capsule).
    assert np.from_dlpack(torch.arange(3.0)).flags.writeable
    t = pyad.arange(3.0)
    n = np.from_dlpack(t)
    assert n.flags.writeable
    n[1] = -5.0
    assert t[1].item() == -5.0


@cpu_only
@pytest.mark.parametrize("npdt", [np.float32, np.float64, np.int64, np.bool_])
def test_pyad_from_dlpack_numpy_shares_memory(npdt):
    a = np.zeros(4, dtype=npdt)
    p = pyad.from_dlpack(a)
    assert (
        p.shape == (4,)
        and p.dtype
        == {np.float32: pyad.float32, np.float64: pyad.float64, np.int64: pyad.int64, np.bool_: pyad.bool}[npdt]
    )
    a[1] = 1
    assert p[1].item() == 1
    p[2] = 1
    assert a[2] == 1


@cpu_only
def test_torch_from_dlpack_pyad():
    t = pyad.arange(6.0, dtype=pyad.float64).reshape(2, 3)
    tt = torch.from_dlpack(t)
    assert tt.dtype == torch.float64 and tuple(tt.shape) == (2, 3)
    assert tt.tolist() == t.tolist()
    tt[1, 1] = 77.0
    assert t[1, 1].item() == 77.0
    t[0, 2] = -3.0
    assert tt[0, 2].item() == -3.0
    v = torch.from_dlpack(t.T)
    assert tuple(v.stride()) == t.T.stride() and v.tolist() == t.T.tolist()
    for d in (pyad.int64, pyad.bool, pyad.float32):
        src = pyad.tensor([1, 0, 1]).to(d)
        assert_close(src, torch.from_dlpack(src))
    assert torch.from_dlpack(pyad.ones(2, 3).sum()).shape == ()


@cpu_only
def test_pyad_from_dlpack_torch():
    x = torch.arange(6.0).reshape(2, 3)
    p = pyad.from_dlpack(x)
    assert p.dtype == pyad.float32 and p.shape == (2, 3)
    assert p.tolist() == x.tolist()
    x[0, 2] = -8.0
    assert p[0, 2].item() == -8.0
    p[1, 0] = 5.0
    assert x[1, 0].item() == 5.0
    s = torch.arange(12).reshape(3, 4)[:, 1::2]
    ps = pyad.from_dlpack(s)
    assert ps.dtype == pyad.int64 and ps.stride() == tuple(s.stride()) and ps.tolist() == s.tolist()
    assert pyad.from_dlpack(torch.tensor([True, False])).tolist() == [True, False]
    assert pyad.from_dlpack(torch.tensor(3.5)).shape == ()


@cpu_only
def test_from_dlpack_rejects_unsupported_dtype():
    # uint8 is not bool: reinterpreting 2 as a bool would be wrong (torch keeps uint8).
    with pytest.raises(TypeError):
        pyad.from_dlpack(np.arange(3, dtype=np.uint8))
    with pytest.raises(TypeError):
        pyad.from_dlpack(np.arange(3, dtype=np.int32))


# ----------------------------------------------------------------------------------------------------------------
# views
# ----------------------------------------------------------------------------------------------------------------
_VIEWS = {
    "int-index": lambda x: x[1],
    "slice": lambda x: x[:, 1:3],
    "step-slice": lambda x: x[::2],
    "none-ellipsis": lambda x: x[None, ..., 2],
    "transpose": lambda x: x.transpose(0, 1),
    "permute": lambda x: x.permute(1, 0),
    "T": lambda x: x.T,
    "view": lambda x: x.view(4, 3),
    "view-1": lambda x: x.view(-1),
    "unsqueeze": lambda x: x.unsqueeze(1),
    "squeeze": lambda x: x.unsqueeze(0).squeeze(0),
    "reshape-contig": lambda x: x.reshape(2, 6),
    "flatten": lambda x: x.flatten(),
}


@pytest.mark.parametrize("name", list(_VIEWS))
def test_views_share_storage_and_version(name):
    f = _VIEWS[name]
    base = pyad.arange(12.0).reshape(3, 4)
    tbase = torch.arange(12.0).reshape(3, 4)
    v, tv = f(base), f(tbase)
    assert v.shape == tuple(tv.shape)
    assert v.stride() == tuple(tv.stride())
    assert v.tolist() == tv.tolist()
    # writing through the view changes the base, and the version counter is shared
    v0 = base._version
    idx = (0,) * v.ndim
    v[idx] = -1.0
    tv[idx] = -1.0
    assert base.tolist() == tbase.tolist()
    assert base._version == v._version > v0
    # writing the base shows through the view
    base.mul_(2.0)
    tbase.mul_(2.0)
    assert v.tolist() == tv.tolist()
    assert base._version == v._version


def test_expand_is_a_view():
    e = pyad.tensor([[1.0], [2.0]])
    ex = e.expand(2, 3)
    te = torch.tensor([[1.0], [2.0]]).expand(2, 3)
    assert ex.shape == (2, 3) and ex.stride() == tuple(te.stride()) == (1, 0)
    assert ex.tolist() == te.tolist()
    e[0, 0] = 9.0
    assert ex.tolist() == [[9.0, 9.0, 9.0], [2.0, 2.0, 2.0]]
    assert pyad.ones(3).expand(2, -1).shape == (2, 3)
    assert pyad.ones(1, 3).expand(4, 2, 3).shape == (4, 2, 3)


def test_inplace_on_expanded_tensor_does_not_corrupt():
    # Several elements alias one memory location; torch refuses the write (RuntimeError).
    x = pyad.ones(1)
    with pytest.raises(RuntimeError):
        x.expand(5).add_(1)


def test_overlapping_copy():
    # torch raises RuntimeError for a partially overlapping copy; silently writing [0,0,0,0,0] is wrong.
    x = pyad.arange(5.0)
    try:
        x[1:] = x[:-1]
    except RuntimeError:
        return
    assert x.tolist() == [0.0, 0.0, 1.0, 2.0, 3.0]


@pytest.mark.parametrize("how", ["setitem", "add_"])
def test_inplace_with_aliased_transpose(how):
    # torch raises RuntimeError (input and output overlap); any other outcome must be the mathematically right one.
    x = pyad.arange(4.0).reshape(2, 2)
    try:
        if how == "setitem":
            x[:] = x.T
        else:
            x.add_(x.T)
    except RuntimeError:
        return
    expected = [[0.0, 2.0], [1.0, 3.0]] if how == "setitem" else [[0.0, 3.0], [3.0, 6.0]]
    assert x.tolist() == expected


def test_squeeze_unsqueeze_views():
    s = pyad.zeros(3, 1, 2)
    sq = s.squeeze()
    assert sq.shape == (3, 2) and sq.data_ptr() == s.data_ptr()
    sq[0, 0] = 5.0
    assert s[0, 0, 0].item() == 5.0
    assert s.squeeze(1).shape == (3, 2) and s.squeeze(0).shape == (3, 1, 2) and s.squeeze(-2).shape == (3, 2)
    u = s.unsqueeze(-1)
    assert u.shape == (3, 1, 2, 1) and u.data_ptr() == s.data_ptr()


def test_view_incompatible_strides_raises():
    x = pyad.arange(12.0).reshape(3, 4)
    with pytest.raises(RuntimeError):
        x.T.view(12)
    with pytest.raises(RuntimeError):
        x[:, :2].view(6)
    assert x[:, ::2].view(6).tolist() == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]  # uniform stride 2: a valid view
    with pytest.raises(RuntimeError):
        torch.arange(12.0).reshape(3, 4).T.view(12)


def test_reshape_copies_only_when_needed():
    x = pyad.arange(12.0).reshape(3, 4)
    tx = torch.arange(12.0).reshape(3, 4)
    for shape in [(2, 6), (12,), (4, 3), (3, 2, 2), (-1,)]:
        r = x.reshape(*shape)
        assert r.data_ptr() == x.data_ptr(), shape
        assert r.tolist() == tx.reshape(*shape).tolist()
    r = x.T.reshape(12)
    assert r.data_ptr() != x.data_ptr()
    assert r.tolist() == tx.T.reshape(12).tolist()
    r[0] = 100.0
    assert x[0, 0].item() == 0.0  # the copy is independent
    c = x[:, 1]  # non-contiguous, but a reshape that only adds a unit dim keeps the view
    assert c.reshape(3, 1).data_ptr() == c.data_ptr()
    assert tx[:, 1].reshape(3, 1).data_ptr() == tx[:, 1].data_ptr()


# ----------------------------------------------------------------------------------------------------------------
# repr
# ----------------------------------------------------------------------------------------------------------------
def _torch_repr(t):
    return repr(t).replace("torch.", "pyad.")


def test_repr_basic_structure():
    r = repr(pyad.tensor([1.5, 2.5]))
    assert r.startswith("tensor(") and r.endswith(")")
    assert "1.5" in r and "2.5" in r
    assert "dtype=pyad.float64" in repr(pyad.tensor([1.5], dtype=pyad.float64))
    assert "dtype" not in repr(pyad.tensor([1.5])) and "dtype" not in repr(pyad.tensor([1]))
    assert "requires_grad=True" in repr(pyad.tensor([1.5], requires_grad=True))
    y = pyad.tensor([1.5], requires_grad=True) * 2
    assert "grad_fn=<MulBackward0>" in repr(y) and "requires_grad" not in repr(y)
    assert str(pyad.tensor([1.5])) == repr(pyad.tensor([1.5]))


@pytest.mark.parametrize(
    "data, kw",
    [
        ([1.5, 2.25, -3.125], {}),
        ([[0.5, 1.25], [2.5, -3.75]], {}),
        ([[[1.5, 2.5], [3.5, 4.5]], [[5.5, 6.5], [7.5, 8.5]]], {}),
        ([1, 2, 3], {}),
        ([[1, -20], [300, 4]], {}),
        ([True, False], {}),
        ([0.001, 0.5], {}),
        ([100.5, 2.25], {}),
        ([float("nan"), float("inf"), -float("inf"), 1.5], {}),
        ([1.5, -2.25], {"dtype": pyad.float64}),
        ([1.5, -2.25], {"requires_grad": True}),
        ([], {}),
    ],
    ids=repr,
)
@cpu_only
def test_repr_matches_torch(data, kw):
    tkw = {k: (TORCH_DTYPE[v] if k == "dtype" else v) for k, v in kw.items()}
    assert repr(pyad.tensor(data, **kw)) == _torch_repr(torch.tensor(data, **tkw))


@cpu_only
def test_repr_0d_and_grad_fn_matches_torch():
    p, t = pyad.tensor([1.5, 1.0]), torch.tensor([1.5, 1.0])
    assert repr(p.sum()) == _torch_repr(t.sum())
    px = pyad.tensor([1.25, 2.5], requires_grad=True)
    tx = torch.tensor([1.25, 2.5], requires_grad=True)
    assert repr(px * 3) == _torch_repr(tx * 3)
    assert repr((px * px)[0]) == _torch_repr((tx * tx)[0])


@pytest.mark.parametrize(
    "data, kw",
    [
        ([1.0, 2.0, 3.0], {}),
        ([[1.0, -2.0], [3.0, 4.0]], {"dtype": pyad.float64}),
        ([1e10, 1.5], {}),
        ([1e-5, 1.0], {}),
    ],
    ids=repr,
)
@cpu_only
def test_repr_float_formatting_matches_torch(data, kw):
    # torch prints whole-valued floats as "1." and switches to scientific notation for wide ranges.
    tkw = {k: TORCH_DTYPE[v] for k, v in kw.items()}
    assert repr(pyad.tensor(data, **kw)) == _torch_repr(torch.tensor(data, **tkw))


# ----------------------------------------------------------------------------------------------------------------
# max / min / amax / amin
# ----------------------------------------------------------------------------------------------------------------
_MM_DATA = [[1.0, 5.0, 3.0], [7.0, 2.0, 7.0], [0.5, 5.0, -1.0]]


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_with_dim_named_tuple(name, dim, keepdim):
    p, t = pyad.tensor(_MM_DATA), torch.tensor(_MM_DATA)
    r = getattr(p, name)(dim, keepdim=keepdim)
    tr = getattr(t, name)(dim, keepdim=keepdim)
    values, indices = r  # unpacks like a tuple
    assert r.values is values and r.indices is indices
    assert r[0] is values and r[1] is indices
    assert_close(values, tr.values)
    assert_close(indices, tr.indices)
    fr = getattr(pyad, name)(p, dim=dim, keepdim=keepdim)
    assert_close(fr.values, tr.values)
    assert_close(fr.indices, tr.indices)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_without_dim_is_0d(name):
    for data in (_MM_DATA, [[3, 1], [2, 9]]):
        p, t = pyad.tensor(data), torch.tensor(data)
        out = getattr(p, name)()
        assert out.shape == ()
        assert_close(out, getattr(t, name)())
        assert_close(getattr(pyad, name)(p), getattr(torch, name)(t))


@pytest.mark.parametrize("name", ["amax", "amin"])
@pytest.mark.parametrize("dim", [0, 1, 2, -1, (0, 1), (1,), (-1, 0), (0, 1, 2)], ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
def test_amax_amin(name, dim, keepdim):
    data = np.arange(24.0).reshape(2, 3, 4) % 7
    p, t = pyad.tensor(data), torch.tensor(data)
    assert_close(getattr(p, name)(dim, keepdim=keepdim), getattr(t, name)(dim, keepdim=keepdim))
    assert_close(getattr(pyad, name)(p, dim=dim, keepdim=keepdim), getattr(torch, name)(t, dim=dim, keepdim=keepdim))


@pytest.mark.parametrize("name", ["amax", "amin"])
def test_amax_amin_all_dims(name):
    data = np.arange(24.0).reshape(2, 3, 4) % 7
    p, t = pyad.tensor(data), torch.tensor(data)
    out = getattr(p, name)()
    assert out.shape == ()
    assert_close(out, getattr(t, name)())


def test_max_of_empty_raises():
    for f in (lambda x: x.max(), lambda x: x.min(), lambda x: x.amax(), lambda x: pyad.max(x)):
        with pytest.raises((RuntimeError, IndexError)):
            f(pyad.zeros(0))
    with pytest.raises((RuntimeError, IndexError)):
        pyad.zeros(0, 3).max(0)


def test_max_with_tensor_is_maximum():
    a, b = pyad.tensor([1.0, 5.0]), pyad.tensor([3.0, 2.0])
    assert_close(pyad.max(a, b), torch.max(torch.tensor([1.0, 5.0]), torch.tensor([3.0, 2.0])))
    assert_close(pyad.min(a, b), torch.min(torch.tensor([1.0, 5.0]), torch.tensor([3.0, 2.0])))
