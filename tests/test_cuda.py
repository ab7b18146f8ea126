"""The CUDA backend on a GPU: moving tensors between devices (and gradients with them), mixed-device errors, the
caching allocator, kernels that must write every output element (checked on "poisoned" memory), strided and
broadcast operands, large float32 reductions, NaN in max-type reductions, the fused softmax kernels, matrix
products with pyad's kernel and with cuBLAS, the random generator, checkpointing, pyad.func, anomaly mode, host
conversions and zero-copy exchange with CuPy and torch.

Every test here needs a GPU: the module is skipped without one, or fails where PYAD_EXPECT_CUDA=1 (set by
benchmarks/gpu_check.sh) says the machine has one. The parity suites (test_ops_grad, test_func, ...)
run on the GPU too, through conftest's `device` fixture; this module covers what they cannot.
"""

import gc
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import op_db
import pytest
import torch

import pyad
import pyad.nn.functional as NF
from pyad.autograd import detect_anomaly
from pyad.utils.checkpoint import checkpoint, checkpoint_revolve, checkpoint_sequential

try:  # pytest's --import-mode=importlib (the project's setting) registers the conftest as tests.conftest
    from tests.conftest import (
        EXPECT_CUBLAS,
        HAS_CUDA,
        TNS,
        TOL,
        TORCH_DTYPE,
        assert_close,
        host,
        needs_cuda,
        requires,
        with_marks,
    )
except ImportError:  # prepend/append import modes
    from conftest import (
        EXPECT_CUBLAS,
        HAS_CUDA,
        TNS,
        TOL,
        TORCH_DTYPE,
        assert_close,
        host,
        needs_cuda,
        requires,
        with_marks,
    )

# Skipped without a GPU; failed instead where PYAD_EXPECT_CUDA=1 says there is one.
pytestmark = needs_cuda

F32, F64, I64, BOOL = pyad.float32, pyad.float64, pyad.int64, pyad.bool
ALL_DTYPES = [F32, F64, I64, BOOL]
FLOAT_DTYPES = [F32, F64]
NP_DTYPE = {F32: np.float32, F64: np.float64, I64: np.int64, BOOL: np.bool_}
SIZES = [1, 31, 33, 1000, 2**20 + 7]
# The backend matrix products used when the module was imported: "cublas" where cuBLAS could be loaded.
START_BACKEND = pyad.cuda.matmul_backend() if HAS_CUDA else "pyad"
TORCH_CUDA = torch.cuda.is_available()


@pytest.fixture(autouse=True)
def _settle():
    """Every test starts with the CPU as the default device, and its queued kernels finish inside it: an
    asynchronous error (an illegal address ...) is reported by the test that caused it."""
    pyad.set_default_device("cpu")
    yield
    pyad.cuda.synchronize()
    pyad.set_default_device("cpu")


def cu(a, dtype=None, requires_grad=False):
    """A CUDA tensor holding a copy of array-like a."""
    return pyad.tensor(a, dtype=dtype, device="cuda", requires_grad=requires_grad)


def data(shape, dtype, rng, kind="any"):
    """A NumPy array of `dtype`'s NumPy type: normal floats (or `kind`), small ints, random bools."""
    shape = tuple(shape)
    if dtype == BOOL:
        return rng.random(shape) < 0.5
    if dtype == I64:
        return rng.integers(-50, 50, shape).astype(np.int64)
    if kind == "any":
        a = rng.standard_normal(shape) * 3
    elif kind == "pos":
        a = rng.uniform(0.5, 2.0, shape)
    elif kind == "nz":
        a = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 2.0, shape)
    elif kind == "unit":
        a = rng.uniform(-0.9, 0.9, shape)
    elif kind == "int":
        a = rng.integers(-3, 4, shape).astype(np.float64)
    elif kind == "wide":  # for conversions: fractional values of both signs, exactly representable in float32
        a = np.round(rng.uniform(-100, 100, shape) * 8) / 8
    else:
        raise ValueError(kind)
    return a.astype(NP_DTYPE[dtype])


def exact(actual, expected, msg=""):
    """Bit-for-bit equality of a pyad tensor's values with a NumPy array (shape and dtype too)."""
    a = host(actual)
    e = np.asarray(expected)
    assert a.shape == e.shape, f"{msg}: shape {a.shape} != {e.shape}"
    assert a.dtype == e.dtype, f"{msg}: dtype {a.dtype} != {e.dtype}"
    if a.tobytes() != np.ascontiguousarray(e).tobytes():
        bad = np.flatnonzero(
            np.frombuffer(a.tobytes(), np.uint8) != np.frombuffer(np.ascontiguousarray(e).tobytes(), np.uint8)
        )
        i = bad[0] // a.itemsize
        raise AssertionError(
            f"{msg}: {len(bad)} bytes differ; first at element {i}: {a.reshape(-1)[i]!r} vs {e.reshape(-1)[i]!r}"
        )


def close(actual, expected, tol=None, msg=""):
    """A pyad tensor against a float64 NumPy reference at torch.testing's tolerances for dtype `tol` (by default
    the tensor's own)."""
    a = host(actual)
    e = np.asarray(expected, dtype=np.float64)
    assert a.shape == e.shape, f"{msg}: shape {a.shape} != {e.shape}"
    np.testing.assert_allclose(a.astype(np.float64), e, equal_nan=True, err_msg=msg, **TOL[tol or actual.dtype])


# ---------------------------------------------------------------- the device
def test_device_basics():
    assert pyad.cuda.is_compiled() and pyad.cuda.is_available()
    assert pyad.cuda.device_count() >= 1
    assert pyad.cuda.current_device() == 0
    name = pyad.cuda.get_device_name()
    assert isinstance(name, str) and name
    assert pyad.cuda.get_device_name(0) == name
    assert pyad.cuda.matmul_backend() in ("pyad", "cublas")


def test_synchronize_forms():
    x = pyad.randn(1 << 20, device="cuda")
    y = (x * x).sum()
    pyad.cuda.synchronize()
    pyad.cuda.synchronize(0)
    pyad.cuda.synchronize("cuda:0")
    pyad.cuda.synchronize(pyad.device("cuda"))
    assert math.isfinite(y.item())
    with pytest.raises(ValueError, match="expected a CUDA device"):
        pyad.cuda.synchronize("cpu")


def test_a_device_that_does_not_exist():
    n = pyad.cuda.device_count()
    with pytest.raises(RuntimeError, match=rf"cuda:{n} does not exist"):
        pyad.zeros(2, device=f"cuda:{n}")
    with pytest.raises(RuntimeError, match="does not exist"):
        pyad.ones(2).to(f"cuda:{n}")


# ---------------------------------------------------------------- moving tensors
SPECIAL = {
    F32: [np.nan, np.inf, -np.inf, -0.0, 1e-40, 3.4e38],
    F64: [np.nan, np.inf, -np.inf, -0.0, 5e-324, 1e308],
    I64: [2**62, -(2**63), 2**63 - 1, -1],
    BOOL: [True, False],
}


def _move_data(shape, dtype):
    a = data(shape, dtype, np.random.default_rng(0))
    flat = a.reshape(-1)
    k = min(flat.size, len(SPECIAL[dtype]))
    flat[:k] = np.array(SPECIAL[dtype][:k], dtype=NP_DTYPE[dtype])
    return a


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("shape", [(), (0,), (1,), (7,), (3, 4), (2, 0, 3), (2, 3, 4), (1000, 33)], ids=str)
def test_round_trip_is_bit_exact(shape, dtype):
    a = _move_data(shape, dtype)
    x = pyad.tensor(a)
    moves = {
        "cuda()": lambda: x.cuda(),
        "cuda(0)": lambda: x.cuda(0),
        "cuda('cuda:0')": lambda: x.cuda("cuda:0"),
        "to('cuda')": lambda: x.to("cuda"),
        "to(device=)": lambda: x.to(device="cuda"),
        "to(device object)": lambda: x.to(pyad.device("cuda:0")),
        "tensor(x, device=)": lambda: pyad.tensor(x, device="cuda"),
        "tensor(array, device=)": lambda: pyad.tensor(a, device="cuda"),
    }
    for name, move in moves.items():
        y = move()
        assert y.is_cuda and y.device == "cuda:0" and y.device.type == "cuda" and y.device.index == 0, name
        assert y.dtype == dtype and y.shape == shape, name
        assert y.cuda() is y and y.to("cuda") is y and y.to("cuda:0") is y, name
        exact(y, a, name)  # numpy() of a CUDA tensor: a host copy
        z = y.cpu()
        assert not z.is_cuda and z.device == "cpu", name
        exact(z, a, f"{name} then cpu()")
        exact(y.to("cpu"), a, f"{name} then to('cpu')")
        if dtype not in FLOAT_DTYPES:  # (NaN != NaN in lists)
            assert y.tolist() == x.tolist(), name
    assert x.device == "cpu"


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_moving_views(dtype):
    base = data((6, 8), dtype, np.random.default_rng(1))
    x = pyad.tensor(base)
    views = {
        "T": (lambda v: v.T, lambda v: v.T),
        "step": (lambda v: v[1::2, ::3], lambda v: v[1::2, ::3]),
        "expand": (lambda v: v[:1].expand(4, 8), lambda v: np.broadcast_to(v[:1], (4, 8))),
        "select": (lambda v: v[:, 5], lambda v: v[:, 5]),
        "permute_3d": (lambda v: v.reshape(2, 3, 8).permute(2, 0, 1), lambda v: v.reshape(2, 3, 8).transpose(2, 0, 1)),
    }
    for name, (pv, nv) in views.items():
        ref = nv(base)
        exact(pv(x).cuda(), ref, f"cpu view {name} -> cuda")
        y = x.cuda()
        exact(pv(y).cpu(), ref, f"cuda view {name} -> cpu")
        exact(pv(y).contiguous(), ref, f"cuda view {name} made contiguous")
        exact(pv(y).clone(), ref, f"cuda view {name} cloned")


@pytest.mark.parametrize("src", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("dst", ALL_DTYPES, ids=str)
def test_move_with_dtype_conversion_like_torch(src, dst):
    values = [[1.5, -2.7, 0.0, 3.0], [0.25, -1.0, 100.9, -0.5]]
    t = torch.tensor(values).to(TORCH_DTYPE[src])
    want = t.to(TORCH_DTYPE[dst]).numpy()
    x = pyad.tensor(values).to(src)
    y = x.cuda()
    exact(x.to("cuda", dst), want, "cpu -> cuda with conversion")
    exact(x.to(device="cuda", dtype=dst), want, "to(device=, dtype=)")
    exact(y.to(dst), want, "conversion on the GPU")
    exact(y.to("cpu", dst), want, "cuda -> cpu with conversion")
    exact(pyad.tensor(y, dtype=dst), want, "tensor(cuda tensor, dtype=)")
    assert y.to(dst).is_cuda and not y.to("cpu", dst).is_cuda


def test_copy_flag_and_identity():
    y = pyad.randn(3, device="cuda")
    c = y.to("cuda", copy=True)
    assert c is not y and c.data_ptr() != y.data_ptr() and c.is_cuda
    exact(c, host(y))
    d = pyad.tensor(y)  # pyad.tensor copies, on the source's device
    assert d.is_cuda and d.data_ptr() != y.data_ptr()
    d.fill_(0.0)
    assert host(y).any()


def test_factories_on_the_gpu():
    for make, want in [
        (lambda: pyad.zeros(2, 3, device="cuda"), np.zeros((2, 3), np.float32)),
        (lambda: pyad.ones(4, dtype=F64, device="cuda"), np.ones(4)),
        (lambda: pyad.full((2, 2), 7, device="cuda"), np.full((2, 2), 7, np.int64)),
        (lambda: pyad.full((3,), True, device="cuda"), np.full(3, True)),
        (lambda: pyad.full((3,), -2.5, dtype=F64, device="cuda"), np.full(3, -2.5)),
        (lambda: pyad.eye(3, 4, device="cuda"), np.eye(3, 4, dtype=np.float32)),
        (lambda: pyad.eye(5, dtype=I64, device="cuda"), np.eye(5, dtype=np.int64)),
        (lambda: pyad.arange(10, device="cuda"), np.arange(10)),
        (lambda: pyad.arange(-1.0, 1.0, 0.25, device="cuda"), torch.arange(-1.0, 1.0, 0.25).numpy()),
        (lambda: pyad.tensor(2.5, device="cuda"), np.array(2.5, np.float32)),
        (lambda: pyad.tensor([[1, 2], [3, 4]], device="cuda"), np.array([[1, 2], [3, 4]])),
        (lambda: pyad.tensor([True, False], device="cuda"), np.array([True, False])),
    ]:
        t = make()
        assert t.is_cuda
        exact(t, want)
    assert_close(pyad.arange(0, 1, 0.1, dtype=F64, device="cuda"), torch.arange(0, 1, 0.1, dtype=torch.float64))
    assert_close(pyad.arange(-3, 2.5, 0.7, device="cuda"), torch.arange(-3, 2.5, 0.7))
    e = pyad.empty(3, 5, device="cuda")
    assert e.is_cuda and e.shape == (3, 5) and e.dtype == F32
    y = pyad.randn(2, 3, dtype=F64, device="cuda")
    for f in (pyad.zeros_like, pyad.ones_like, pyad.empty_like, pyad.rand_like, pyad.randn_like):
        out = f(y)
        assert out.is_cuda and out.shape == (2, 3) and out.dtype == F64
    assert pyad.full_like(y, 3.0).is_cuda
    assert not pyad.zeros_like(y, device="cpu").is_cuda


def test_default_device_cuda():
    pyad.set_default_device("cuda")
    try:
        assert pyad.get_default_device() == "cuda:0"
        for t in (
            pyad.zeros(2),
            pyad.ones(2),
            pyad.rand(2),
            pyad.randn(2),
            pyad.arange(3),
            pyad.eye(2),
            pyad.full((2,), 1.0),
            pyad.tensor([1.0]),
            pyad.tensor(np.arange(3)),
            pyad.empty(2),
        ):
            assert t.is_cuda
        assert not pyad.zeros(2, device="cpu").is_cuda
        a = np.arange(3.0)
        assert not pyad.from_numpy(a).is_cuda  # from_numpy always shares host memory
        x = pyad.ones(2, device="cpu")
        assert not pyad.zeros_like(x).is_cuda  # *_like follow their argument
    finally:
        pyad.set_default_device("cpu")
    assert not pyad.zeros(2).is_cuda


# ---------------------------------------------------------------- gradients across devices
def test_gradient_through_cuda_lands_on_the_cpu_leaf():
    a = np.random.default_rng(2).standard_normal((3, 4))
    x = pyad.tensor(a, requires_grad=True)
    y = x.cuda()
    assert y.requires_grad and y.grad_fn.name() == "ToCopyBackward0"
    out = (y.sin() * y).sum()
    assert out.is_cuda
    out.backward()
    assert not x.grad.is_cuda and x.grad.dtype == F64
    tx = torch.tensor(a, requires_grad=True)
    (tx.sin() * tx).sum().backward()
    assert_close(x.grad, tx.grad)


def test_gradient_through_cpu_lands_on_the_cuda_leaf():
    a = np.random.default_rng(3).standard_normal(5)
    x = cu(a, requires_grad=True)
    z = x.cpu()
    assert z.grad_fn.name() == "ToCopyBackward0" and not z.is_cuda
    (z.exp() * 2).sum().backward()
    assert x.grad.is_cuda and x.grad.dtype == F64
    close(x.grad, 2 * np.exp(a))


def test_gradient_through_a_move_with_conversion():
    a = np.random.default_rng(4).standard_normal(6)
    x = pyad.tensor(a, requires_grad=True)  # float64 on the CPU
    y = x.to("cuda", F32)
    assert y.is_cuda and y.dtype == F32
    (y * y).sum().backward()
    assert not x.grad.is_cuda and x.grad.dtype == F64
    close(x.grad, 2 * a.astype(np.float32).astype(np.float64), F32)


def test_leaves_on_both_devices():
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    w = pyad.tensor(a, requires_grad=True)  # cpu
    v = cu(b, requires_grad=True)  # cuda
    out = (w.cuda() @ v).tanh().sum()
    out.backward()
    tw, tv = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    (tw @ tv).tanh().sum().backward()
    assert not w.grad.is_cuda and v.grad.is_cuda
    assert_close(w.grad, tw.grad)
    assert_close(v.grad, tv.grad)
    # accumulation keeps each .grad on its leaf's device
    (w.cuda() * 2).sum().backward()
    assert not w.grad.is_cuda
    assert_close(w.grad, tw.grad + 2)


def test_retained_grad_and_autograd_grad_across_devices():
    a = np.random.default_rng(6).standard_normal(4)
    x = pyad.tensor(a, requires_grad=True)
    y = x.cuda()
    y.retain_grad()
    z = (y**3).cpu().sum()
    z.backward()
    assert y.grad.is_cuda and not x.grad.is_cuda
    close(y.grad, 3 * a**2)
    close(x.grad, 3 * a**2)
    (g,) = pyad.autograd.grad((x.cuda() ** 3).sum(), x, create_graph=True)
    assert not g.is_cuda and g.requires_grad
    (h,) = pyad.autograd.grad(g.sum(), x)
    close(h, 6 * a)


def test_forward_mode_across_devices():
    a, t = np.random.default_rng(7).standard_normal((2, 5))
    x, tan = pyad.tensor(a), pyad.tensor(t)
    out, jvp = pyad.func.jvp(lambda v: v.cuda().exp().cpu() * 2.0, (x,), (tan,))
    assert not out.is_cuda and not jvp.is_cuda
    close(jvp, 2 * np.exp(a) * t)
    J = pyad.func.jacrev(lambda v: (v.cuda().sin()).cpu())(x)
    close(J, np.diag(np.cos(a)))
    J = pyad.func.jacfwd(lambda v: (v.cuda().sin()).cpu())(x)
    close(J, np.diag(np.cos(a)))


# ---------------------------------------------------------------- mixed devices
MIXED = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: pyad.sub(a, b),
    "mul": lambda a, b: a * b,
    "maximum": lambda a, b: pyad.maximum(a, b),
    "eq": lambda a, b: a == b,
    "matmul": lambda a, b: a @ b,
    "where": lambda a, b: pyad.where(pyad.ones(3, 3, dtype=BOOL, device=a.device), a, b),
    "cat": lambda a, b: pyad.cat([a, b]),
}


@pytest.mark.parametrize("first", ["cpu", "cuda"])
@pytest.mark.parametrize("op", list(MIXED))
def test_mixed_devices_raise_naming_both(op, first):
    a, b = pyad.randn(3, 3), pyad.randn(3, 3, device="cuda")
    if first == "cuda":
        a, b = b, a
    with pytest.raises(RuntimeError) as err:
        MIXED[op](a, b)
    msg = str(err.value)
    assert f"[{op}]" in msg and "same device" in msg, msg
    assert f"got {a.device} and {b.device}" in msg, msg


def test_where_condition_on_another_device_raises():
    x = pyad.randn(4, device="cuda")
    with pytest.raises(RuntimeError, match=r"\[where\].*same device.*cpu.*cuda:0"):
        pyad.where(pyad.ones(4, dtype=BOOL), x, x)


def test_requires_grad_inputs_on_two_devices_raise_too():
    a = pyad.randn(3, requires_grad=True)
    b = pyad.randn(3, device="cuda", requires_grad=True)
    with pytest.raises(RuntimeError, match="same device"):
        a * b
    with pytest.raises(RuntimeError, match="same device"):
        pyad.cat([b, a])


def test_a_0d_cuda_tensor_does_not_move_to_the_cpu():
    # torch: only a CPU scalar tensor may join a GPU operation, not the other way round
    with pytest.raises(RuntimeError, match="same device"):
        pyad.tensor(2.0, device="cuda") * pyad.ones(3)


@pytest.mark.parametrize("form", ["mul", "rmul", "add", "div", "pow", "maximum", "gt", "where_other", "where_input"])
def test_0d_cpu_tensor_with_a_cuda_tensor(form):
    a = np.random.default_rng(8).uniform(0.5, 2.0, (2, 3))
    x, s = cu(a, dtype=F32), pyad.tensor(1.5)
    tx, ts = torch.tensor(a, dtype=torch.float32), torch.tensor(1.5)
    fns = {
        "mul": lambda M, v, c: v * c,
        "rmul": lambda M, v, c: c * v,
        "add": lambda M, v, c: v + c,
        "div": lambda M, v, c: c / v,
        "pow": lambda M, v, c: M.pow(v, c),
        "maximum": lambda M, v, c: M.maximum(v, c),
        "gt": lambda M, v, c: v > c,
        "where_other": lambda M, v, c: M.where(v > 1.0, v, c),
        "where_input": lambda M, v, c: M.where(v > 1.0, c, v),
    }
    out, want = fns[form](pyad, x, s), fns[form](torch, tx, ts)
    assert out.is_cuda
    assert_close(out, want)


def test_0d_cpu_leaf_with_a_cuda_tensor_gets_its_gradient_on_the_cpu():
    a = np.random.default_rng(9).standard_normal(5)
    x = cu(a, dtype=F64, requires_grad=True)
    s = pyad.tensor(0.7, dtype=F64, requires_grad=True)
    (pyad.sin(x * s) + s).sum().backward()
    tx, ts = torch.tensor(a, requires_grad=True), torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    (torch.sin(tx * ts) + ts).sum().backward()
    assert not s.grad.is_cuda and s.grad.shape == ()
    assert x.grad.is_cuda
    assert_close(s.grad, ts.grad)
    assert_close(x.grad, tx.grad)


def _isolated(code):
    """Run code in a fresh interpreter (a wrong kernel may crash the process or poison the CUDA context); returns
    (exit code, stdout + stderr)."""
    prog = "import numpy as np, pyad\n" + textwrap.dedent(code) + "\npyad.cuda.synchronize()\nprint('SYNCED')\n"
    r = subprocess.run(
        [sys.executable, "-c", prog],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    return r.returncode, r.stdout + r.stderr


@pytest.mark.parametrize(
    "case",
    [
        "cuda_inplace_cpu_operand",
        "cpu_inplace_cuda_operand",
        "cuda_setitem_cpu_value",
        "cuda_copy_from_cpu",
        "cpu_copy_from_cuda",
    ],
)
def test_in_place_ops_across_devices_raise_or_copy_never_corrupt(case):
    """In-place ops without autograd take a short path: a host pointer must never reach a GPU kernel (nor a device
    pointer a CPU loop). Either the op raises naming both devices, or it does what torch does (copy_ and setitem
    copy across devices); the result is checked in a fresh process."""
    code = {
        "cuda_inplace_cpu_operand": """
            x = pyad.ones(1000, device="cuda")
            try:
                x.add_(pyad.full((1000,), 2.0))
            except RuntimeError as e:
                print("RAISED", e)
            else:
                print("DONE", x.tolist() == [3.0] * 1000)
        """,
        "cpu_inplace_cuda_operand": """
            x = pyad.ones(1000)
            try:
                x.mul_(pyad.full((1000,), 2.0, device="cuda"))
            except RuntimeError as e:
                print("RAISED", e)
            else:
                print("DONE", x.tolist() == [2.0] * 1000)
        """,
        "cuda_setitem_cpu_value": """
            x = pyad.zeros(4, 1000, device="cuda")
            try:
                x[1] = pyad.full((1000,), 2.0)
            except RuntimeError as e:
                print("RAISED", e)
            else:
                print("DONE", x.sum().item() == 2000.0 and x[1].tolist() == [2.0] * 1000)
        """,
        "cuda_copy_from_cpu": """
            x = pyad.zeros(1000, device="cuda")
            try:
                x.copy_(pyad.arange(1000.0))
            except RuntimeError as e:
                print("RAISED", e)
            else:
                print("DONE", x.tolist() == list(map(float, range(1000))))
        """,
        "cpu_copy_from_cuda": """
            x = pyad.zeros(1000)
            try:
                x.copy_(pyad.arange(1000.0, device="cuda"))
            except RuntimeError as e:
                print("RAISED", e)
            else:
                print("DONE", x.tolist() == list(map(float, range(1000))))
        """,
    }[case]
    rc, out = _isolated(code)
    assert rc == 0 and "SYNCED" in out, f"the process failed (exit code {rc}):\n{out}"
    if "RAISED" in out:
        assert "same device" in out and "cpu" in out and "cuda:0" in out, out
    else:
        assert "DONE True" in out, out


def test_in_place_with_a_0d_cpu_operand_on_a_cuda_tensor():
    """As torch: a CPU scalar tensor may be the operand of an in-place op on a GPU tensor (checked in a fresh
    process: a host pointer reaching the kernel would be an illegal address)."""
    rc, out = _isolated("""
        x = pyad.ones(1000, device="cuda")
        x.add_(pyad.tensor(2.0))
        x.mul_(pyad.tensor(3.0))
        x -= pyad.tensor(1.0)
        x[5] = pyad.tensor(-4.0)
        print("VALUES", x.tolist() == [8.0] * 5 + [-4.0] + [8.0] * 994)
    """)
    assert rc == 0 and "VALUES True" in out and "SYNCED" in out, f"exit code {rc}:\n{out}"


# ---------------------------------------------------------------- the caching allocator
def _settled():
    gc.collect()
    pyad.cuda.synchronize()


@pytest.fixture
def no_gc():
    """Exact byte counts: no cyclic garbage (holding tensors of earlier tests) may be collected in between."""
    _settled()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_memory_allocated_counts_live_bytes(no_gc):
    _settled()
    base = pyad.cuda.memory_allocated()
    cpu_base = pyad.memory_allocated("cpu")
    x = pyad.empty(1000, dtype=F64, device="cuda")
    assert pyad.cuda.memory_allocated() == base + 8000
    assert pyad.memory_allocated("cuda") == pyad.memory_allocated("cuda:0") == pyad.cuda.memory_allocated()
    v = x[10:20]  # a view allocates nothing
    assert pyad.cuda.memory_allocated() == base + 8000
    del x
    assert pyad.cuda.memory_allocated() == base + 8000  # the view keeps the storage
    del v
    assert pyad.cuda.memory_allocated() == base
    assert pyad.memory_allocated("cpu") == cpu_base  # GPU tensors cost no host storage
    c = pyad.empty(1000, dtype=F64)
    assert pyad.cuda.memory_allocated() == base
    del c


def test_alloc_free_loop_reuses_the_cache(no_gc):
    _settled()
    pyad.cuda.empty_cache()
    base = pyad.cuda.memory_allocated()
    reserved = []
    for i in range(30):
        x = pyad.ones(1 << 20, device="cuda")  # 4 MiB
        y = (x * 2.0 + 1.0).sum()
        z = pyad.randn(1000, 33, dtype=F64, device="cuda") @ pyad.ones(33, 7, dtype=F64, device="cuda")
        assert y.item() == 3 * (1 << 20) and z.shape == (1000, 7)
        del x, y, z
        assert pyad.cuda.memory_allocated() == base, f"iteration {i}"
        reserved.append(pyad.cuda.memory_reserved())
    assert reserved[0] > 0
    assert all(r == reserved[0] for r in reserved), f"memory_reserved grew: {reserved}"
    assert reserved[0] >= 4 << 20


def test_peak_memory_stats(no_gc):
    _settled()
    pyad.cuda.reset_peak_memory_stats()
    base = pyad.cuda.memory_allocated()
    assert pyad.cuda.max_memory_allocated() == base
    x = pyad.empty(2 << 20, device="cuda")  # 8 MiB
    y = pyad.empty(1 << 20, device="cuda")  # 4 MiB
    del x
    z = pyad.empty(1 << 20, device="cuda")
    assert pyad.cuda.max_memory_allocated() == base + (12 << 20)
    del y, z
    assert pyad.cuda.memory_allocated() == base
    assert pyad.cuda.max_memory_allocated() == base + (12 << 20)
    assert pyad.max_memory_allocated("cuda") == pyad.cuda.max_memory_allocated()
    pyad.cuda.reset_peak_memory_stats()
    assert pyad.cuda.max_memory_allocated() == pyad.cuda.memory_allocated() == base


def test_empty_cache_returns_cached_blocks(no_gc):
    _settled()
    x = pyad.empty(16 << 20, device="cuda")  # 64 MiB
    held = pyad.cuda.memory_reserved()
    assert held >= pyad.cuda.memory_allocated() + 0 and held >= 64 << 20
    del x
    assert pyad.cuda.memory_reserved() == held  # freed into the cache, not to the driver
    pyad.cuda.empty_cache()
    after = pyad.cuda.memory_reserved()
    assert after <= held - (64 << 20)
    assert after >= pyad.cuda.memory_allocated()
    y = pyad.ones(16 << 20, device="cuda")  # allocating again works
    assert y[-1].item() == 1.0
    del y


def test_training_loop_leaks_nothing_on_the_gpu():
    w = pyad.randn(64, 64, device="cuda", requires_grad=True)
    x = pyad.randn(64, 64, device="cuda")

    def step():
        y = (x @ w).tanh().sum()
        y.backward()
        with pyad.no_grad():
            w.sub_(0.001 * w.grad)
        w.grad = None

    for _ in range(50):
        step()
    _settled()
    mem0, res0 = pyad.cuda.memory_allocated(), pyad.cuda.memory_reserved()
    for _ in range(1000):
        step()
    _settled()
    assert pyad.cuda.memory_allocated() == mem0
    assert pyad.cuda.memory_reserved() == res0


def test_borrowed_memory_is_not_counted(no_gc):
    _settled()
    base = pyad.cuda.memory_allocated()
    y = pyad.ones(1000, device="cuda")
    assert pyad.cuda.memory_allocated() == base + 4000
    borrowed = pyad.from_dlpack(y.detach())  # a DLPack view of our own memory: nothing new allocated
    assert borrowed.is_cuda and borrowed.data_ptr() == y.data_ptr()
    assert pyad.cuda.memory_allocated() == base + 4000
    del y
    assert borrowed.sum().item() == 1000.0  # the capsule keeps the storage alive
    del borrowed
    _settled()  # (gc.collect works with automatic collection off)
    assert pyad.cuda.memory_allocated() == base


# ---------------------------------------------------------------- every output element written ("poisoned" memory)
# Freed GPU blocks keep their bytes and go back to the cache; an output that lands in one and is not written
# everywhere shows what was there. Each check poisons the cache with blocks of the output's size twice, with two
# byte patterns (an unwritten element equals the pattern, which no right value equals in both runs).
POISONS = [-1, 0x7F7F7F7F7F7F7F7F]  # as int64: 0xFF... (NaN / -1 / 0xFF bool) and 0x7F... (3.4e38, 1.4e306, 127)


def poison(nbytes, pattern):
    pyad.cuda.synchronize()
    pyad.cuda.empty_cache()
    n = max(1, -(-nbytes // 8))
    src = np.full(n, pattern, dtype=np.int64)
    blocks = [pyad.tensor(src, device="cuda") for _ in range(8)]
    pyad.cuda.synchronize()
    del blocks


def run_poisoned(fn, out_nbytes):
    """fn() twice, each time on a cache poisoned with blocks of out_nbytes; returns both results."""
    results = []
    for pattern in POISONS:
        poison(out_nbytes, pattern)
        results.append(fn())
    return results


# One row per elementwise kernel of tests/op_db.py: each function, its pow with a number exponent, and a Python
# number on the left (rsub, rdiv, rpow ...).
KERNEL_VARIANTS = ("", "scalar_exponent", "float_tensor")


def kernel_rows(arity, dtype=None, modes=frozenset({op_db.REVERSE})):
    """The rows of `arity` inputs with any of `modes` (and `dtype` among their dtypes)."""
    return [
        op
        for op in op_db.OP_DB
        if op.elementwise
        and op_db.CUDA in op.modes
        and op.modes & modes
        and not op.composite
        and not op.alias_of
        and op.variant in KERNEL_VARIANTS
        and op.arity == arity
        and not op.nondiff
        and (dtype is None or dtype in op.dtypes)
    ]


def _ids(rows):
    return [op.id for op in rows]


def reference(op, arrays, like=None):
    """The op on the CPU, by torch: in float64 from float64 copies of float inputs (the GPU's float32 result is
    then held to float32's tolerance against the exact one), in the inputs' own dtype for integer inputs."""
    ts = [torch.from_numpy(np.asarray(a, dtype=np.float64) if a.dtype.kind == "f" else a) for a in arrays]
    return op.call(TNS, *ts).numpy()


def op_data(op, n, dtype, rng, i=0):
    if dtype == I64:
        a = data((n,), I64, rng)
        return np.where(a == 0, 7, a) if op.domains(op.arity)[i] == "nz" else a
    return data((n,), dtype, rng, op.domains(op.arity)[i])


UNARY_ROWS = kernel_rows(1, modes=frozenset({op_db.REVERSE, op_db.VALUES}))  # (sign has no derivative)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("op", UNARY_ROWS, ids=_ids(UNARY_ROWS))
def test_unary_writes_every_element(op, dtype, n):
    a = op_data(op, n, dtype, np.random.default_rng(n))
    x = cu(a)
    want = reference(op, [a])
    for out in run_poisoned(lambda: op.call(pyad, x), n * a.itemsize):
        assert out.is_cuda and out.dtype == dtype
        close(out, want, msg=op.id)


INT_UNARY_ROWS = kernel_rows(1, I64)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("op", INT_UNARY_ROWS, ids=_ids(INT_UNARY_ROWS))
def test_int_unary_writes_every_element(op, n):
    a = op_data(op, n, I64, np.random.default_rng(n))
    x = cu(a)
    for out in run_poisoned(lambda: op.call(pyad, x), n * 8):
        exact(out, reference(op, [a]), op.id)


BINARY_ROWS = kernel_rows(2)
BINARY_DTYPES = [(F32, F32), (F64, F64), (F32, F64), (I64, F32), (F64, I64)]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize(
    "op,dtypes",
    [
        pytest.param(op, d, id=f"{op.id}-{d}")
        for op in BINARY_ROWS
        for d in BINARY_DTYPES
        if all(t in op.dtypes for t in d)
    ],
)
def test_binary_writes_every_element(op, dtypes, n):
    rng = np.random.default_rng(n)
    a, b = op_data(op, n, dtypes[0], rng, 0), op_data(op, n, dtypes[1], rng, 1)
    want_dtype = op.call(pyad, pyad.tensor(a[:1]), pyad.tensor(b[:1])).dtype  # promotion as on the CPU
    x, y = cu(a), cu(b)
    want = reference(op, [a.astype(np.float64), b.astype(np.float64)])
    for out in run_poisoned(lambda: op.call(pyad, x, y), n * NP_DTYPE[want_dtype]().itemsize):
        assert out.is_cuda and out.dtype == want_dtype
        close(out, want, msg=op.id)


INT_BINARY_ROWS = [op for op in kernel_rows(2, I64) if op.name != "div"]  # (int / int is a float)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("op", INT_BINARY_ROWS, ids=_ids(INT_BINARY_ROWS))
def test_int_binary_writes_every_element(op, n):
    rng = np.random.default_rng(n)
    a, b = op_data(op, n, I64, rng, 0), op_data(op, n, I64, rng, 1)
    x, y = cu(a), cu(b)
    for out in run_poisoned(lambda: op.call(pyad, x, y), n * 8):
        exact(out, reference(op, [a, b]), op.id)


CMP_ROWS = kernel_rows(2, modes=frozenset({op_db.VALUES}))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", [F32, F64, I64], ids=str)
@pytest.mark.parametrize("op", CMP_ROWS, ids=_ids(CMP_ROWS))
def test_compare_writes_every_element(op, dtype, n):
    rng = np.random.default_rng(n)
    a, b = data((n,), dtype, rng, "int"), data((n,), dtype, rng, "int")
    x, y = cu(a), cu(b)
    for out in run_poisoned(lambda: op.call(pyad, x, y), n):
        exact(out, reference(op, [a, b]), op.id)
    for out in run_poisoned(lambda: op.call(pyad, x, 1), n):  # against a Python number
        exact(out, op.call(TNS, torch.from_numpy(a), 1).numpy(), f"{op.id} scalar")


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_where_writes_every_element(dtype, n):
    rng = np.random.default_rng(n)
    c, a, b = data((n,), BOOL, rng), data((n,), dtype, rng), data((n,), dtype, rng)
    cc, x, y = cu(c), cu(a), cu(b)
    for out in run_poisoned(lambda: pyad.where(cc, x, y), n * a.itemsize):
        exact(out, np.where(c, a, b), "where")
    if dtype in FLOAT_DTYPES:
        for out in run_poisoned(lambda: pyad.where(cc, x, 0.5), n * a.itemsize):
            exact(out, np.where(c, a, np.array(0.5, a.dtype)), "where scalar")


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("src", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("dst", ALL_DTYPES, ids=str)
def test_conversion_writes_every_element(src, dst, n):
    a = data((n,), src, np.random.default_rng(n), "wide")
    x = cu(a)
    want = torch.from_numpy(a).to(TORCH_DTYPE[dst]).numpy()  # torch's conversion rules (as NumPy's here)
    nbytes = n * want.itemsize
    for out in run_poisoned(lambda: x.to(dst) if src != dst else x.clone(), nbytes):
        exact(out, want, f"{src} -> {dst}")
    for out in run_poisoned(lambda: pyad.tensor(a).to("cuda", dst), nbytes):
        exact(out, want, f"cpu {src} -> cuda {dst}")
    z = pyad.empty(n, dtype=dst, device="cuda")  # copy_ into existing (poisoned-looking) memory
    z.copy_(x)
    exact(z, want, f"copy_ {src} -> {dst}")


@pytest.mark.parametrize("n", SIZES)
def test_factories_write_every_element(n):
    cases = [
        (lambda: pyad.zeros(n, device="cuda"), np.zeros(n, np.float32)),
        (lambda: pyad.ones(n, dtype=F64, device="cuda"), np.ones(n)),
        (lambda: pyad.full((n,), 7, device="cuda"), np.full(n, 7)),
        (lambda: pyad.full((n,), -1.25, device="cuda"), np.full(n, -1.25, np.float32)),
        (lambda: pyad.full((n,), False, device="cuda"), np.zeros(n, np.bool_)),
        (lambda: pyad.arange(n, device="cuda"), np.arange(n)),
        (lambda: pyad.arange(n, dtype=F64, device="cuda"), np.arange(n, dtype=np.float64)),
        (lambda: pyad.zeros(n, dtype=I64, device="cuda").fill_(3), np.full(n, 3)),
    ]
    for make, want in cases:
        for out in run_poisoned(make, want.nbytes):
            exact(out, want)


@pytest.mark.parametrize("n", SIZES)
def test_random_numbers_fill_every_element(n):
    for dtype in FLOAT_DTYPES:
        for out in run_poisoned(lambda: pyad.rand(n, dtype=dtype, device="cuda"), n * NP_DTYPE[dtype]().itemsize):
            v = host(out)
            assert np.all((v >= 0.0) & (v < 1.0)), f"rand {dtype}: {v[~((v >= 0.0) & (v < 1.0))][:5]}"
        for out in run_poisoned(lambda: pyad.randn(n, dtype=dtype, device="cuda"), n * NP_DTYPE[dtype]().itemsize):
            v = host(out)
            assert np.all(np.isfinite(v)) and np.all(np.abs(v) < 50), f"randn {dtype}"


# ---------------------------------------------------------------- strided and broadcast operands
STRIDED = {  # name: (shapes of the inputs' bases, fn(M, *xs) on pyad tensors and NumPy arrays alike)
    "transposed": ([(0, 3), (3, 0)], lambda a, b: a.T + b),
    "both_transposed": ([(0, 3), (0, 3)], lambda a, b: a.T * b.T),
    "step": ([(3, 0), (6, 0)], lambda a, b: a - b[::2]),
    "step_inner": ([(3, 0, 2), (3, 0)], lambda a, b: a[:, :, 1] * b),
    "row_broadcast": ([(3, 0), (0,)], lambda a, b: a / (b * b + 1.0)),
    "col_broadcast": ([(3, 0), (3, 1)], lambda a, b: pyad_max(a, b)),
    "outer_broadcast": ([(3, 1), (1, 0)], lambda a, b: a * b - b),
    "expanded": ([(1, 0), (3, 0)], lambda a, b: expand(a, 3) + b),
    "transposed_step": ([(0, 6), (3, 0)], lambda a, b: a.T[::2] * b),
}


def pyad_max(a, b):
    return pyad.maximum(a, b) if isinstance(a, pyad.Tensor) else np.maximum(a, b)


def expand(a, rows):
    return a.expand(rows, a.shape[1]) if isinstance(a, pyad.Tensor) else np.broadcast_to(a, (rows, a.shape[1]))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("name", list(STRIDED))
def test_strided_and_broadcast_operands(name, dtype, n):
    shapes, fn = STRIDED[name]
    rng = np.random.default_rng(n)
    arrays = [data(tuple(n if s == 0 else s for s in shape), dtype, rng) for shape in shapes]
    xs = [cu(a) for a in arrays]
    want = fn(*[a.astype(np.float64) for a in arrays])
    for out in run_poisoned(lambda: fn(*xs), want.size * NP_DTYPE[dtype]().itemsize):
        close(out, want, msg=name)


@pytest.mark.parametrize("n", [31, 1000, 2**20 + 7])
@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_contiguous_copy_of_views(dtype, n):
    base = data((n, 3), dtype, np.random.default_rng(n))
    x = cu(base)
    for name, pv, nv in [
        ("T", lambda v: v.T, lambda v: v.T),
        ("step", lambda v: v[::2], lambda v: v[::2]),
        ("col", lambda v: v[:, 1], lambda v: v[:, 1]),
        ("expand", lambda v: v[:1].expand(n, 3), lambda v: np.broadcast_to(v[:1], (n, 3))),
    ]:
        want = np.ascontiguousarray(nv(base))
        for out in run_poisoned(lambda: pv(x).contiguous(), want.nbytes):
            assert out.is_contiguous()
            exact(out, want, name)
        if dtype in FLOAT_DTYPES:
            for out in run_poisoned(lambda: pyad.exp(pv(x)), want.nbytes):
                close(out, np.exp(want.astype(np.float64)), msg=f"exp of {name}")


# ---------------------------------------------------------------- large reductions
BIG = 2**24 + 7
F32_TOL = TOL[F32]


def test_sum_and_mean_of_a_big_float32_vector():
    rng = np.random.default_rng(10)
    u = rng.random(BIG, dtype=np.float32)
    z = rng.standard_normal(BIG).astype(np.float32)
    x, y = cu(u), cu(z)
    np.testing.assert_allclose(x.sum().item(), u.sum(dtype=np.float64), **F32_TOL)
    np.testing.assert_allclose(x.mean().item(), u.mean(dtype=np.float64), **F32_TOL)
    np.testing.assert_allclose(y.mean().item(), z.mean(dtype=np.float64), **F32_TOL)
    np.testing.assert_allclose(
        y.sum().item(), z.sum(dtype=np.float64), rtol=F32_TOL["rtol"], atol=F32_TOL["atol"] * math.sqrt(BIG)
    )  # a sum near 0 of 2**24 terms of size 1
    # the same numbers every time: a result that moves is a race
    first = [x.sum().item(), y.sum().item(), x.mean().item()]
    for _ in range(3):
        assert [x.sum().item(), y.sum().item(), x.mean().item()] == first
    with pyad.no_grad():
        np.testing.assert_allclose(pyad.sum(x.reshape(-1, 1), 0).item(), u.sum(dtype=np.float64), **F32_TOL)


@pytest.mark.parametrize("shape", [(4097, 4099), (3, 2**22 + 3), (2**22 + 3, 3)], ids=str)
@pytest.mark.parametrize("dim", [0, -1])
@pytest.mark.parametrize("op", ["sum", "mean", "amax", "amin"])
def test_big_float32_reductions_over_one_dim(op, dim, shape):
    a = np.random.default_rng(11).random(shape, dtype=np.float32)
    x = cu(a)
    ref = getattr(np, {"amax": "max", "amin": "min"}.get(op, op))(a.astype(np.float64), axis=dim)
    outs = [getattr(pyad, op)(x, dim) for _ in range(3)]
    close(outs[0], ref, F32, msg=f"{op} over dim {dim}")
    for o in outs[1:]:
        exact(o, host(outs[0]), "repeated run")
    close(getattr(pyad, op)(x.T, dim - 1 if dim == 0 else 0), ref, F32, msg=f"{op} of the transpose")


def test_big_float64_sum_is_accurate():
    a = np.random.default_rng(12).standard_normal(BIG)
    np.testing.assert_allclose(cu(a).sum().item(), math.fsum(a), rtol=1e-10, atol=1e-9)


def test_sum_over_several_dims_of_a_big_tensor():
    a = np.random.default_rng(13).random((64, 513, 257), dtype=np.float32)
    x = cu(a)
    for dims in [(0, 2), (1, 2), (0, 1), (0, 1, 2)]:
        close(pyad.sum(x, dims), a.astype(np.float64).sum(axis=dims), F32, msg=str(dims))
        close(pyad.sum(x, dims, keepdim=True), a.astype(np.float64).sum(axis=dims, keepdims=True), F32, msg=str(dims))


# ---------------------------------------------------------------- max-type reductions with NaN, ties and infinities
def _argmax(x, dim):
    return pyad.argmax(x, dim)


@pytest.mark.parametrize("n", [5, 1000, 100_003])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_max_type_reductions_with_nan_ties_and_inf(dtype, n):
    rng = np.random.default_rng(n)
    a = rng.standard_normal((6, n)).astype(NP_DTYPE[dtype])
    a[0, n // 3] = np.nan  # one NaN
    a[1, [n - 1, n // 2, 1 % n]] = np.nan  # several: the first is the index
    a[2, :] = 7.0  # all tied: index 0
    a[3, [n // 4, 3 * n // 4]] = 100.0  # a tie of two maxima: the first
    a[4, :] = -np.inf  # all -inf
    a[5, [n // 5, n - 1]] = [np.inf, np.nan]
    x, t = cu(a), torch.from_numpy(a)
    for dim, xv, tv in [(1, x, t), (0, x.T, t.T)]:
        for op in ("amax", "amin"):
            assert_close(getattr(pyad, op)(xv, dim), getattr(torch, op)(tv, dim), msg=op)
        for op in ("max", "min"):
            r, tr = getattr(pyad, op)(xv, dim), getattr(torch, op)(tv, dim)
            assert_close(r.values, tr.values, msg=f"{op} values")
            exact(r.indices, tr.indices.numpy(), f"{op} indices")
        exact(_argmax(xv, dim), torch.argmax(tv, dim).numpy(), "argmax")
    for op in ("amax", "amin", "max", "min"):
        assert_close(getattr(x, op)(), getattr(t, op)(), msg=f"{op} of everything")  # NaN
        assert_close(getattr(x[2:5], op)(), getattr(t[2:5], op)(), msg=f"{op} without NaN")


# ---------------------------------------------------------------- softmax, log_softmax, logsumexp
def check_fused_cuda(op, a, dim, dtype, view=None, keepdim=False):
    """op(view(x), dim) on the GPU against torch in float64 on the same data (cast to dtype): value, gradient and
    tangent, and the same numbers on every run."""
    view = view or (lambda v: v)
    rng = np.random.default_rng(0)
    a = np.asarray(a, dtype=NP_DTYPE[dtype])
    x = cu(a, requires_grad=True)
    tx = torch.tensor(a, dtype=torch.float64, requires_grad=True)
    tdt = TORCH_DTYPE[dtype]

    def f(M, v):
        v = view(v)
        return M.logsumexp(v, dim, keepdim=keepdim) if op == "logsumexp" else getattr(M, op)(v, dim)

    out, tout = f(pyad, x), f(torch, tx)
    assert out.is_cuda
    assert_close(out, tout.to(tdt), msg=f"{op} forward")
    exact(f(pyad, x.detach()), host(out), f"{op} repeated")
    g = rng.standard_normal(tuple(tout.shape)).astype(NP_DTYPE[dtype])
    out.backward(cu(g))
    tout.backward(torch.tensor(g, dtype=torch.float64))
    assert x.grad.is_cuda
    assert_close(x.grad, tx.grad.to(tdt), msg=f"{op} gradient")
    tan = rng.standard_normal(a.shape).astype(NP_DTYPE[dtype])
    _, pt = pyad.func.jvp(lambda v: f(pyad, v), (x.detach(),), (cu(tan),))
    _, tpt = torch.func.jvp(lambda v: f(torch, v), (tx.detach(),), (torch.tensor(tan, dtype=torch.float64),))
    assert_close(pt, tpt.to(tdt), msg=f"{op} jvp")


FUSED = ["softmax", "log_softmax", "logsumexp"]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("op", FUSED)
@pytest.mark.parametrize(
    "shape,dim",
    [
        ((100_000,), 0),
        ((4, 100_003), -1),
        ((100_003, 4), 0),
        ((3, 70_001, 2), 1),
        ((2, 3, 1025), -1),
        ((1025, 3, 2), 0),
        ((7, 2049), 0),
    ],
    ids=["1d", "rows", "columns", "middle", "rows_1025", "first_1025", "short_columns"],
)
def test_fused_long_rows_and_other_dims(op, shape, dim, dtype):
    a = np.random.default_rng(14).standard_normal(shape) * 10
    check_fused_cuda(op, a, dim, dtype)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("op", FUSED)
def test_fused_special_values_on_the_gpu(op, dtype):
    a = np.random.default_rng(15).standard_normal((6, 3000))
    a[0, 5:] = -np.inf  # mostly masked
    a[1, 2999] = 80.0  # one dominant entry, last
    a[2, 100] = np.inf
    a[3, 17] = np.nan
    a[4, :] = -np.inf  # all masked: NaN (softmax) / -inf (logsumexp), as torch
    x, t = cu(a, dtype=dtype), torch.tensor(a, dtype=TORCH_DTYPE[dtype])
    for dim, xv, tv in [(-1, x, t), (0, x.T, t.T)]:
        p = pyad.logsumexp(xv, dim) if op == "logsumexp" else getattr(pyad, op)(xv, dim)
        q = torch.logsumexp(tv.double(), dim) if op == "logsumexp" else getattr(torch, op)(tv.double(), dim)
        assert_close(p, q.to(TORCH_DTYPE[dtype]), msg=f"{op} dim {dim}")
    check_fused_cuda(op, np.where(np.isfinite(a[:2]), a[:2], -np.inf), -1, dtype)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("op", FUSED)
def test_fused_non_contiguous_on_the_gpu(op, dtype):
    a = np.random.default_rng(16).standard_normal((301, 40)) * 4
    check_fused_cuda(op, a, -1, dtype, view=lambda v: v.T)
    check_fused_cuda(op, a, 0, dtype, view=lambda v: v[::3, 1::2])
    check_fused_cuda(op, a[:1], 0, dtype, view=lambda v: v.expand(5, 40))


@pytest.mark.parametrize("keepdim", [False, True])
def test_logsumexp_over_several_dims_on_the_gpu(keepdim):
    a = np.random.default_rng(17).standard_normal((30, 41, 52))
    for dims in [(0, 2), (-1, -2), (0, 1, 2)]:
        check_fused_cuda("logsumexp", a, dims, F32, keepdim=keepdim)
        check_fused_cuda("logsumexp", a, dims, F64, keepdim=keepdim)


# ---------------------------------------------------------------- matrix products
needs_cublas = requires(START_BACKEND == "cublas", "cuBLAS (it could not be loaded)", EXPECT_CUBLAS)


@pytest.fixture(params=["pyad", pytest.param("cublas", marks=needs_cublas)])
def backend(request):
    before = pyad.cuda.matmul_backend()
    pyad.cuda.set_matmul_backend(request.param)
    assert pyad.cuda.matmul_backend() == request.param
    try:
        yield request.param
    finally:
        pyad.cuda.set_matmul_backend(before)


def _swap(v):
    return v.swapaxes(-1, -2)


MATMUL = [  # name, shape of a, shape of b, the contracted length K, fn on pyad tensors and NumPy arrays alike
    ("1x1x1", (1, 1), (1, 1), 1, lambda a, b: a @ b),
    ("33x65x17", (33, 65), (65, 17), 65, lambda a, b: a @ b),
    ("512", (512, 512), (512, 512), 512, lambda a, b: a @ b),
    ("1000x3x1001", (1000, 3), (3, 1001), 3, lambda a, b: a @ b),
    ("batched_broadcast", (3, 1, 20, 30), (4, 30, 10), 30, lambda a, b: a @ b),
    ("batched", (5, 33, 65), (5, 65, 17), 65, lambda a, b: a @ b),
    ("batched@2d", (5, 33, 65), (65, 17), 65, lambda a, b: a @ b),
    ("aT@b", (65, 33), (65, 17), 65, lambda a, b: a.T @ b),
    ("a@bT", (33, 65), (17, 65), 65, lambda a, b: a @ b.T),
    ("aT@bT", (65, 33), (17, 65), 65, lambda a, b: a.T @ b.T),
    ("batched_mT", (3, 30, 20), (3, 10, 30), 30, lambda a, b: _swap(a) @ _swap(b)),
    ("sliced", (33, 130), (65, 17), 65, lambda a, b: a[:, ::2] @ b),
    ("sliced_rows", (66, 65), (65, 34), 65, lambda a, b: a[::2] @ b[:, ::2]),
    ("expanded_batch", (1, 33, 65), (4, 65, 17), 65, lambda a, b: a @ b),
    ("vec@mat", (65,), (65, 17), 65, lambda a, b: a @ b),
    ("mat@vec", (33, 65), (65,), 65, lambda a, b: a @ b),
    ("vec@vec", (65,), (65,), 65, lambda a, b: a @ b),
    ("batched@vec", (3, 20, 30), (30,), 30, lambda a, b: a @ b),
    ("vec@batched", (30,), (4, 30, 10), 30, lambda a, b: a @ b),
    ("long_vec@vec", (100_003,), (100_003,), 100_003, lambda a, b: a @ b),
    ("empty_k", (3, 0), (0, 4), 0, lambda a, b: a @ b),
    ("empty_m", (0, 5), (5, 3), 5, lambda a, b: a @ b),
]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("name,sa,sb,k,fn", MATMUL, ids=[m[0] for m in MATMUL])
def test_matmul(name, sa, sb, k, fn, dtype, backend):
    """Against the float64 product of the same numbers, within the rounding error bound of any summation order:
    |fl(AB) - AB| <= gamma_K |A| |B| with gamma_K = K u / (1 - K u) (TF32 or a lost term would break it); written
    fully on poisoned memory; identical on every run."""
    rng = np.random.default_rng(18)
    a, b = data(sa, dtype, rng), data(sb, dtype, rng)
    x, y = cu(a), cu(b)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    ref = np.asarray(fn(a64, b64))
    u = np.finfo(NP_DTYPE[dtype]).eps / 2
    gamma = k * u / (1 - k * u)
    bound = gamma * np.asarray(fn(np.abs(a64), np.abs(b64))) * (2 if dtype == F64 else 1) + 1e-300
    outs = run_poisoned(lambda: fn(x, y), max(ref.size, 1) * NP_DTYPE[dtype]().itemsize)
    outs.append(fn(x, y))
    for out in outs:
        assert out.is_cuda and out.dtype == dtype and out.shape == ref.shape
        v = host(out).astype(np.float64)
        err = np.abs(v - ref)
        assert np.all(err <= bound), (
            f"{name}: error {err.max():.3g} beyond the bound (worst ratio {np.max(err / bound):.3g})"
        )
        exact(out, host(outs[0]), f"{name}: the result moved between runs")


GRAD_MATMUL = ("33x65x17", "batched_broadcast", "aT@bT", "sliced", "vec@mat", "mat@vec", "vec@vec")


@pytest.mark.parametrize("name,sa,sb,k,fn", [m for m in MATMUL if m[0] in GRAD_MATMUL], ids=GRAD_MATMUL)
def test_matmul_gradients(name, sa, sb, k, fn, backend):
    rng = np.random.default_rng(19)
    a, b = data(sa, F64, rng), data(sb, F64, rng)
    x, y = cu(a, requires_grad=True), cu(b, requires_grad=True)
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    out, tout = fn(x, y), fn(tx, ty)
    g = rng.standard_normal(tuple(tout.shape))
    out.backward(cu(g))
    tout.backward(torch.tensor(g))
    assert x.grad.is_cuda and y.grad.is_cuda
    assert_close(x.grad, tx.grad)
    assert_close(y.grad, ty.grad)


@with_marks(needs_cublas)
def test_backends_agree():
    rng = np.random.default_rng(20)
    x, y = cu(data((300, 200), F64, rng)), cu(data((200, 100), F64, rng))
    results = {}
    for name in ("pyad", "cublas"):
        pyad.cuda.set_matmul_backend(name)
        results[name] = host(x @ y)
    pyad.cuda.set_matmul_backend(START_BACKEND)
    np.testing.assert_allclose(results["pyad"], results["cublas"], rtol=1e-12, atol=1e-12)


def test_cpu_and_gpu_products_agree():
    rng = np.random.default_rng(21)
    a, b = data((64, 48), F64, rng), data((48, 80), F64, rng)
    np.testing.assert_allclose(host(cu(a) @ cu(b)), host(pyad.tensor(a) @ pyad.tensor(b)), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- random numbers
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_rand_and_randn_on_the_gpu(dtype):
    n = 2_000_000
    u = pyad.rand(n, dtype=dtype, device="cuda")
    z = pyad.randn(n, dtype=dtype, device="cuda")
    assert u.is_cuda and z.is_cuda and u.dtype == z.dtype == dtype and u.shape == z.shape == (n,)
    uv, zv = host(u).astype(np.float64), host(z).astype(np.float64)
    assert uv.min() >= 0.0 and uv.max() < 1.0
    assert abs(uv.mean() - 0.5) < 0.002 and abs(uv.var() - 1 / 12) < 0.001
    assert abs(zv.mean()) < 0.004 and abs(zv.std() - 1.0) < 0.004
    assert abs(np.mean(zv**3)) < 0.02 and abs(np.mean(zv**4) - 3.0) < 0.05  # skew 0, kurtosis 3
    assert len(np.unique(uv)) > (0.99 if dtype == F64 else 0.8) * n  # float32 has 2**23 or 2**24 values in [0, 1)
    # neighbouring numbers are not correlated (a counter-based generator with a bad stream layout would be)
    assert abs(np.corrcoef(zv[:-1], zv[1:])[0, 1]) < 0.005
    assert pyad.rand(2, 3, device="cuda").shape == (2, 3) and pyad.randn((), device="cuda").shape == ()
    assert pyad.rand(0, device="cuda").shape == (0,)


def test_cuda_manual_seed_reproduces():
    pyad.cuda.manual_seed(1234)
    a = host(pyad.rand(1000, device="cuda"))
    b = host(pyad.randn(33, 3, dtype=F64, device="cuda"))
    c = host(pyad.rand(1000, device="cuda"))
    assert not np.array_equal(a, c)  # consecutive draws differ
    pyad.cuda.manual_seed(1234)
    exact(pyad.rand(1000, device="cuda"), a)
    exact(pyad.randn(33, 3, dtype=F64, device="cuda"), b)
    exact(pyad.rand(1000, device="cuda"), c)
    pyad.cuda.manual_seed(1235)
    assert not np.array_equal(host(pyad.rand(1000, device="cuda")), a)
    state = pyad.cuda.get_rng_state()
    d = host(pyad.randn(5000, device="cuda"))
    pyad.cuda.set_rng_state(state)
    exact(pyad.randn(5000, device="cuda"), d)


def test_gpu_and_cpu_generators_are_separate():
    cpu_state, gpu_state = pyad.get_rng_state(), pyad.cuda.get_rng_state()
    pyad.rand(100, device="cuda")
    assert pyad.get_rng_state() == cpu_state
    assert pyad.cuda.get_rng_state() != gpu_state
    gpu_state = pyad.cuda.get_rng_state()
    pyad.rand(100)
    assert pyad.cuda.get_rng_state() == gpu_state


def test_dropout_on_the_gpu():
    x = pyad.ones(1_000_000, device="cuda")
    y = NF.dropout(x, 0.3)
    v = host(y)
    assert y.is_cuda
    kept = v != 0
    assert abs(kept.mean() - 0.7) < 0.003
    np.testing.assert_allclose(v[kept], 1 / 0.7, rtol=1e-6)


# ---------------------------------------------------------------- checkpointing replays GPU randomness
def _gpu_mlp(n_layers, width, dropout, noise):
    rng = np.random.default_rng(22)
    params, layers = [], []
    for _ in range(n_layers):
        W = cu(rng.standard_normal((width, width)) / math.sqrt(width), dtype=F64, requires_grad=True)
        params.append(W)

        def layer(x, W=W):
            y = pyad.tanh(x @ W)
            if dropout:
                y = NF.dropout(y, dropout)
            if noise:
                y = y + 0.1 * pyad.randn(*y.shape, dtype=y.dtype, device="cuda")
            return y

        layers.append(layer)
    return layers, params


def _chain(layers, x):
    for f in layers:
        x = f(x)
    return x


def _seeded_run(forward, x, params):
    for p in params:
        p.grad = None
    x.grad = None
    pyad.manual_seed(3)
    pyad.cuda.manual_seed(3)
    y = forward(x)
    (y * cu(np.linspace(-1, 1, y.numel()).reshape(tuple(y.shape)), dtype=F64)).sum().backward()
    return [host(y), host(x.grad)] + [host(p.grad) for p in params]


@pytest.mark.parametrize("how", ["checkpoint", "sequential", "revolve"])
@pytest.mark.parametrize("dropout,noise", [(0.5, False), (0.0, True), (0.3, True)], ids=["dropout", "randn", "both"])
def test_checkpoint_replays_gpu_random_numbers(how, dropout, noise):
    layers, params = _gpu_mlp(6, 16, dropout, noise)
    x = cu(np.random.default_rng(23).standard_normal((8, 16)), requires_grad=True)
    plain = _seeded_run(lambda v: _chain(layers, v), x, params)
    run = {
        "checkpoint": lambda v: checkpoint(lambda u: _chain(layers, u), v),
        "sequential": lambda v: checkpoint_sequential(layers, 3, v),
        "revolve": lambda v: checkpoint_revolve(layers, v, 2),
    }[how]
    ckpt = _seeded_run(run, x, params)
    for i, (p, q) in enumerate(zip(plain, ckpt)):
        np.testing.assert_allclose(q, p, rtol=1e-12, atol=1e-14, err_msg=f"result {i}")
    other = _seeded_run(lambda v: checkpoint(lambda u: _chain(layers, u), v, preserve_rng_state=False), x, params)
    np.testing.assert_allclose(other[0], plain[0], rtol=1e-12, atol=1e-14)
    assert not np.allclose(other[1], plain[1])  # without replay backward saw other random numbers


def test_checkpoint_leaves_the_gpu_generator_where_the_forward_left_it():
    layers, _ = _gpu_mlp(2, 8, 0.5, True)
    x = cu(np.ones((4, 8)), requires_grad=True)
    pyad.cuda.manual_seed(9)
    _chain(layers, x)
    want = host(pyad.randn(16, device="cuda"))
    pyad.cuda.manual_seed(9)
    y = checkpoint(lambda u: _chain(layers, u), x)
    y.sum().backward()
    exact(pyad.randn(16, device="cuda"), want)


# ---------------------------------------------------------------- pyad.func on the GPU
def _mlp_params(rng):
    return [rng.standard_normal(s) * 0.5 for s in [(6, 4), (6,), (3, 6)]]


def _mlp(params, x):
    W1, b1, W2 = params
    return pyad.tanh(W2 @ pyad.softplus(W1 @ x + b1))


def test_jacobians_and_hessian_of_an_mlp_match_the_cpu():
    rng = np.random.default_rng(24)
    P = _mlp_params(rng)
    xa = rng.standard_normal(4)
    results = {}
    for dev in ("cpu", "cuda"):
        params = [pyad.tensor(p, dtype=F64, device=dev) for p in P]
        x = pyad.tensor(xa, dtype=F64, device=dev)
        f = lambda v: _mlp(params, v)  # noqa: E731
        loss = lambda v, W1: (_mlp([W1] + params[1:], v) ** 2).sum()  # noqa: E731
        t = pyad.tensor(np.linspace(-1, 1, 4), dtype=F64, device=dev)
        r = {
            "jacrev": pyad.func.jacrev(f)(x),
            "jacfwd": pyad.func.jacfwd(f)(x),
            "jacobian": pyad.func.jacobian(f)(x),
            "hessian": pyad.func.hessian(lambda v: f(v).sum())(x),
            "hessian_2": pyad.func.hessian(loss, argnums=(0, 1))(x, params[0]),
            "grad": pyad.func.grad(loss, argnums=1)(x, params[0]),
            "jvp": pyad.func.jvp(f, (x,), (t,))[1],
            "vjp": pyad.func.vjp(f, x)[1](pyad.ones(3, dtype=F64, device=dev))[0],
            "hvp": pyad.func.hvp(lambda v: f(v).sum(), x, t)[1],
        }
        for name, v in r.items():
            for part in v if isinstance(v, tuple) else (v,):
                for leaf in part if isinstance(part, tuple) else (part,):
                    assert leaf.is_cuda == (dev == "cuda"), f"{name} on {dev}"
        results[dev] = r
    for name in results["cpu"]:
        c, g = results["cpu"][name], results["cuda"][name]
        flat_c = _flatten(c)
        flat_g = _flatten(g)
        assert len(flat_c) == len(flat_g)
        for a, b in zip(flat_c, flat_g):
            np.testing.assert_allclose(host(b), host(a), rtol=1e-11, atol=1e-12, err_msg=name)


def _flatten(v):
    if isinstance(v, tuple):
        return [y for x in v for y in _flatten(x)]
    return [v]


def test_jacobians_of_an_mlp_on_the_gpu_match_torch():
    rng = np.random.default_rng(25)
    P = _mlp_params(rng)
    xa = rng.standard_normal(4)
    params = [cu(p, dtype=F64) for p in P]
    tparams = [torch.tensor(p) for p in P]

    def tf(v):
        W1, b1, W2 = tparams
        return torch.tanh(W2 @ torch.nn.functional.softplus(W1 @ v + b1))

    x = cu(xa, dtype=F64)
    assert_close(pyad.func.jacrev(lambda v: _mlp(params, v))(x), torch.func.jacrev(tf)(torch.tensor(xa)))
    assert_close(pyad.func.jacfwd(lambda v: _mlp(params, v))(x), torch.func.jacrev(tf)(torch.tensor(xa)))
    assert_close(
        pyad.func.hessian(lambda v: _mlp(params, v).sum())(x),
        torch.func.hessian(lambda v: tf(v).sum())(torch.tensor(xa)),
    )


# ---------------------------------------------------------------- anomaly mode
def test_detect_anomaly_on_the_gpu_names_the_op():
    x = pyad.zeros(3, dtype=F64, device="cuda", requires_grad=True)
    with detect_anomaly():
        y = pyad.sqrt(x)  # d sqrt at 0 is inf; times a zero upstream: nan
        z = (y * 0).sum()
        with pytest.raises(RuntimeError) as err:
            z.backward()
    assert "SqrtBackward0" in str(err.value)
    assert os.path.basename(__file__) in str(err.value)
    x = cu([0.0, 1.0], dtype=F64, requires_grad=True)
    with detect_anomaly():
        y = pyad.log(x)
        with pytest.raises(RuntimeError, match="LogBackward0"):
            y.sum().backward()


def test_without_anomaly_mode_nan_gradients_pass_on_the_gpu():
    x = pyad.zeros(3, dtype=F64, device="cuda", requires_grad=True)
    (pyad.sqrt(x) * 0).sum().backward()
    assert np.isnan(host(x.grad)).all()
    with detect_anomaly():  # finite gradients of a long tensor: no error
        w = pyad.randn(1 << 20, device="cuda", requires_grad=True)
        (w * w).sum().backward()
    assert np.isfinite(host(w.grad)).all()


# ---------------------------------------------------------------- host conversions
def test_item_numpy_tolist():
    x = cu([[1.5, 2.5], [3.0, 4.0]])
    assert x[0, 1].item() == 2.5 and type(x[0, 1].item()) is float
    assert x.sum().item() == 11.0
    assert cu([7]).item() == 7 and type(cu([7]).item()) is int
    assert cu([True]).item() is True
    assert x.tolist() == [[1.5, 2.5], [3.0, 4.0]]
    assert cu([1, 2]).tolist() == [1, 2] and cu([True, False]).tolist() == [True, False]
    assert pyad.ones(2, dtype=F64, device="cuda").sum().tolist() == 2.0
    a = x.numpy()
    assert isinstance(a, np.ndarray) and a.dtype == np.float32 and a.shape == (2, 2)
    a[0, 0] = 100.0  # a host copy: the tensor is unchanged
    assert x[0, 0].item() == 1.5
    np.testing.assert_array_equal(np.asarray(x), [[1.5, 2.5], [3.0, 4.0]])
    np.testing.assert_array_equal(x.T.numpy(), [[1.5, 3.0], [2.5, 4.0]])
    assert float(cu([2.5])) == 2.5 and int(cu([3])) == 3 and bool(cu([1.0]))
    assert len(x) == 2 and [r.tolist() for r in x] == [[1.5, 2.5], [3.0, 4.0]]
    g = cu([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError):
        g.numpy()
    np.testing.assert_array_equal(g.numpy(force=True), [1.0, 2.0])
    assert g.tolist() == [1.0, 2.0] and g.detach().numpy().tolist() == [1.0, 2.0]


def test_host_reads_wait_for_queued_kernels():
    x = pyad.ones(1 << 22, device="cuda")
    for _ in range(20):
        x = x * 1.0 + 1.0  # queued asynchronously
    assert x[-1].item() == 21.0
    assert np.all(host(x) == 21.0)
    np.testing.assert_allclose(x.sum().item(), 21.0 * (1 << 22), rtol=1e-6)


def _torch_cuda_repr(t, **extras):
    """torch's repr of CPU tensor t as if it were on cuda:0 (device goes first among the extras)."""
    r = repr(t)
    body, rest = r[:-1], ""
    for key in (", dtype=", ", requires_grad=", ", grad_fn="):
        if key in body:
            i = body.index(key)
            body, rest = body[:i], body[i:] + rest
            break
    return (body + ", device='cuda:0'" + rest + ")").replace("torch.", "pyad.")


@pytest.mark.parametrize(
    "values,kw",
    [
        ([1.5, 2.25, -3.125], {}),
        ([[0.5, 1.25], [2.5, -3.75]], {}),
        ([1, 2, 3], {}),
        ([True, False], {}),
        ([float("nan"), float("inf"), 1.5], {}),
        ([1.5, -2.25], {"dtype": F64}),
        ([1.5, -2.25], {"requires_grad": True}),
        ([[1e10, 1.5]], {}),
    ],
    ids=repr,
)
def test_repr_of_a_cuda_tensor(values, kw):
    tkw = {k: (TORCH_DTYPE[v] if k == "dtype" else v) for k, v in kw.items()}
    p = pyad.tensor(values, device="cuda", **kw)
    assert repr(p) == _torch_cuda_repr(torch.tensor(values, **tkw))
    assert str(p) == repr(p)
    if TORCH_CUDA:
        assert repr(p) == repr(torch.tensor(values, device="cuda", **tkw)).replace("torch.", "pyad.")
    y = p * 2 if p.dtype.is_floating_point else p
    assert "device='cuda:0'" in repr(y)


def test_repr_of_empty_and_0d_cuda_tensors():
    assert repr(pyad.tensor(2.5, device="cuda")) == "tensor(2.5000, device='cuda:0')"
    assert repr(pyad.tensor(3, device="cuda")) == "tensor(3, device='cuda:0')"
    assert repr(pyad.zeros(0, device="cuda")) == "tensor([], device='cuda:0')"
    assert repr(pyad.zeros(0, dtype=F64, device="cuda")) == "tensor([], device='cuda:0', dtype=pyad.float64)"
    assert repr(pyad.device("cuda")) == "device(type='cuda', index=0)"


def test_repr_of_an_empty_2d_cuda_tensor_like_torch():
    # torch/_tensor_str.py appends device='cuda:0' to the suffixes before size=(...) and dtype=...
    assert repr(pyad.zeros(0, 3, device="cuda")) == "tensor([], device='cuda:0', size=(0, 3))"
    assert (
        repr(pyad.zeros(2, 0, dtype=F64, device="cuda"))
        == "tensor([], device='cuda:0', size=(2, 0), dtype=pyad.float64)"
    )


# ---------------------------------------------------------------- zero-copy exchange: CuPy
def test_dlpack_device_and_refusals():
    y = pyad.ones(3, device="cuda")
    assert y.__dlpack_device__() == (2, 0)
    g = pyad.ones(3, device="cuda", requires_grad=True)
    with pytest.raises(RuntimeError, match="requires grad"):
        g.__dlpack__()
    with pytest.raises(RuntimeError, match="requires grad"):
        g.__cuda_array_interface__


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_cuda_array_interface(dtype):
    y = pyad.tensor(data((3, 4), dtype, np.random.default_rng(26)), device="cuda")
    cai = y.__cuda_array_interface__
    assert cai["shape"] == (3, 4) and cai["version"] == 3 and cai["strides"] is None
    assert cai["data"] == (y.data_ptr(), False)
    assert cai["typestr"] == {F32: "<f4", F64: "<f8", I64: "<i8", BOOL: "|b1"}[dtype]
    t = y.T
    assert t.__cuda_array_interface__["strides"] == tuple(s * y.element_size() for s in t.stride())
    assert t.__cuda_array_interface__["data"][0] == t.data_ptr()


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_cupy_from_pyad_shares_memory(dtype):
    cupy = pytest.importorskip("cupy")
    a = data((4, 6), dtype, np.random.default_rng(27))
    y = cu(a)
    c = cupy.from_dlpack(y)
    assert c.data.ptr == y.data_ptr() and c.shape == (4, 6) and c.dtype == a.dtype
    np.testing.assert_array_equal(cupy.asnumpy(c), a)
    one, zero = (True, False) if dtype == BOOL else (1, 0)
    c[0, 0] = one  # written through CuPy ...
    assert y[0, 0].item() == one  # ... read through pyad
    y[1, 2] = zero  # written through pyad ...
    assert cupy.asnumpy(c[1, 2]) == zero  # ... read through CuPy
    v = cupy.from_dlpack(y[:, 1::2])  # a strided view
    np.testing.assert_array_equal(cupy.asnumpy(v), host(y)[:, 1::2])
    w = cupy.from_dlpack(y.T)
    np.testing.assert_array_equal(cupy.asnumpy(w), host(y).T)
    d = cupy.asarray(y)  # through __cuda_array_interface__
    assert d.data.ptr == y.data_ptr()
    np.testing.assert_array_equal(cupy.asnumpy(d), host(y))
    e = cupy.asarray(y.T)
    np.testing.assert_array_equal(cupy.asnumpy(e), host(y).T)
    del y
    gc.collect()
    np.testing.assert_array_equal(cupy.asnumpy(c)[2:], a[2:])  # CuPy's array keeps the memory alive


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_pyad_from_cupy_shares_memory(dtype):
    cupy = pytest.importorskip("cupy")
    a = data((3, 5), dtype, np.random.default_rng(28))
    c = cupy.asarray(a)
    p = pyad.from_dlpack(c)
    assert p.is_cuda and p.dtype == dtype and p.shape == (3, 5) and p.data_ptr() == c.data.ptr
    exact(p, a)
    one, zero = (True, False) if dtype == BOOL else (1, 0)
    p[0, 0] = one  # written through pyad ...
    assert cupy.asnumpy(c)[0, 0] == one  # ... read through CuPy
    c[2, 4] = zero  # written through CuPy ...
    assert p[2, 4].item() == zero  # ... read through pyad
    s = pyad.from_dlpack(c[:, ::2])
    assert s.stride() == (5, 2)
    exact(s, cupy.asnumpy(c)[:, ::2])
    if dtype in FLOAT_DTYPES:
        q = pyad.from_dlpack(c)
        exact(q * 2, (cupy.asnumpy(c) * 2).astype(a.dtype))  # pyad computes on CuPy's memory
    del c
    gc.collect()
    assert p.shape == (3, 5) and host(p).shape == (3, 5)  # the capsule keeps CuPy's memory alive


def test_cupy_kernels_and_pyad_kernels_are_ordered():
    cupy = pytest.importorskip("cupy")
    c = cupy.zeros(1 << 22, dtype=cupy.float32)
    p = pyad.from_dlpack(c)
    for _ in range(10):
        c += 1.0  # CuPy's kernel
        p.mul_(2.0)  # then pyad's, on the same memory
    assert host(p)[0] == sum(2.0**k for k in range(1, 11))


# ---------------------------------------------------------------- zero-copy exchange: torch CUDA tensors
needs_torch_cuda = pytest.mark.skipif(not TORCH_CUDA, reason="this torch has no CUDA")


@needs_torch_cuda
@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_pyad_from_torch_cuda(dtype):
    a = data((3, 4), dtype, np.random.default_rng(29))
    t = torch.from_numpy(a).cuda()
    p = pyad.from_dlpack(t)
    assert p.is_cuda and p.dtype == dtype and p.data_ptr() == t.data_ptr()
    exact(p, a)
    one, zero = (True, False) if dtype == BOOL else (1, 0)
    p[0, 1] = one
    assert t[0, 1].item() == one
    t[2, 3] = zero
    assert p[2, 3].item() == zero
    s = pyad.from_dlpack(t[:, 1::2])
    assert s.stride() == tuple(t[:, 1::2].stride())
    exact(s, t[:, 1::2].cpu().numpy())


@needs_torch_cuda
@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_torch_from_pyad_cuda(dtype):
    a = data((3, 4), dtype, np.random.default_rng(30))
    y = cu(a)
    t = torch.from_dlpack(y)
    assert t.is_cuda and t.data_ptr() == y.data_ptr() and t.dtype == TORCH_DTYPE[dtype]
    np.testing.assert_array_equal(t.cpu().numpy(), a)
    one, zero = (True, False) if dtype == BOOL else (1, 0)
    t[0, 0] = one
    assert y[0, 0].item() == one
    y[1, 1] = zero
    assert t[1, 1].item() == zero
    v = torch.from_dlpack(y.T)
    assert tuple(v.stride()) == y.T.stride()
    np.testing.assert_array_equal(v.cpu().numpy(), host(y).T)


@needs_torch_cuda
def test_torch_and_pyad_kernels_are_ordered():
    t = torch.zeros(1 << 22, device="cuda")
    p = pyad.from_dlpack(t)
    for _ in range(10):
        t.add_(1.0)
        p.mul_(2.0)
    assert host(p)[0] == sum(2.0**k for k in range(1, 11))
