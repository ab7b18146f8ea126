"""Bad input: the exception type and a message that names the op and the shapes / dtypes involved; bad calls
never crash the interpreter; NaN and inf propagate as in torch."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import pyad

try:  # pytest's --import-mode=importlib (the project's setting) registers the conftest as tests.conftest
    from tests.conftest import assert_close
except ImportError:  # prepend/append import modes
    from conftest import assert_close


def raises(exc, fn, *needles):
    """Call fn, expect exc, and check every needle appears in the message; returns the message."""
    with pytest.raises(exc) as info:
        fn()
    msg = str(info.value)
    for n in needles:
        assert n in msg, f"{n!r} not in message {msg!r}"
    return msg


# ----------------------------------------------------------------------------------------------------------------
# shapes
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call",
    [
        lambda a, b: a @ b,
        lambda a, b: pyad.matmul(a, b),
        lambda a, b: a.matmul(b),
        lambda a, b: pyad.mm(a, b),
    ],
    ids=["@", "pyad.matmul", "Tensor.matmul", "mm"],
)
def test_matmul_shape_mismatch(call):
    raises(ValueError, lambda: call(pyad.ones(2, 3), pyad.ones(4, 5)), "matmul", "(2, 3)", "(4, 5)")


def test_matmul_vector_shape_mismatch():
    raises(ValueError, lambda: pyad.ones(3) @ pyad.ones(4), "matmul", "(3,)", "(4,)")
    raises(ValueError, lambda: pyad.ones(2, 3) @ pyad.ones(4), "matmul", "(2, 3)", "(4,)")


def test_matmul_batch_mismatch():
    raises(ValueError, lambda: pyad.ones(2, 2, 3) @ pyad.ones(3, 3, 4), "matmul", "(2", "(3")


def test_matmul_0d():
    raises(ValueError, lambda: pyad.ones(()) @ pyad.ones(3), "matmul", "()", "(3,)")


@pytest.mark.parametrize(
    "op, call",
    [
        ("add", lambda a, b: a + b),
        ("add", lambda a, b: pyad.add(a, b)),
        ("mul", lambda a, b: a * b),
        ("mul", lambda a, b: pyad.mul(a, b)),
        ("where", lambda a, b: pyad.where(a > 0, a, b)),
        ("maximum", lambda a, b: pyad.maximum(a, b)),
        ("sub", lambda a, b: a - b),
        ("div", lambda a, b: a / b),
    ],
    ids=["+", "pyad.add", "*", "pyad.mul", "where", "maximum", "-", "/"],
)
def test_broadcast_mismatch(op, call):
    raises(ValueError, lambda: call(pyad.ones(2, 3), pyad.ones(4, 3)), op, "(2, 3)", "(4, 3)")


def test_where_condition_broadcast_mismatch():
    raises(
        ValueError, lambda: pyad.where(pyad.ones(4) > 0, pyad.ones(2, 3), pyad.ones(2, 3)), "where", "(4,)", "(2, 3)"
    )


def test_inplace_broadcast_mismatch():
    raises(ValueError, lambda: pyad.ones(3).add_(pyad.ones(2, 3)), "add_", "(3,)", "(2, 3)")


@pytest.mark.parametrize("shape", [(4, 2), (7,), (5, -1)])
def test_reshape_incompatible(shape):
    raises(ValueError, lambda: pyad.ones(2, 3).reshape(*shape), "reshape", str(shape), "6")
    raises(ValueError, lambda: pyad.reshape(pyad.ones(2, 3), shape), "reshape", str(shape), "6")


def test_view_incompatible_size():
    raises(ValueError, lambda: pyad.ones(2, 3).view(5), "view", "(5,)", "(2, 3)")


def test_cat_mismatched_shapes():
    raises(ValueError, lambda: pyad.cat([pyad.ones(2, 3), pyad.ones(2, 4)]), "cat", "(2, 3)", "(2, 4)")
    raises(ValueError, lambda: pyad.cat([pyad.ones(2, 3), pyad.ones(3)]), "cat", "(2, 3)", "(3,)")
    raises(ValueError, lambda: pyad.cat([pyad.ones(2, 3), pyad.ones(3, 3)], dim=1), "cat", "(2, 3)", "(3, 3)")


def test_stack_mismatched_shapes():
    raises(ValueError, lambda: pyad.stack([pyad.ones(2, 3), pyad.ones(3, 2)]), "stack", "(2, 3)", "(3, 2)")


def test_expand_mismatch():
    raises(ValueError, lambda: pyad.ones(2, 3).expand(3, 3), "expand", "(2, 3)", "(3, 3)")


# ----------------------------------------------------------------------------------------------------------------
# dtypes
# ----------------------------------------------------------------------------------------------------------------
def test_matmul_dtype_mismatch():
    a, b = pyad.ones(2, 3), pyad.ones(3, 2, dtype=pyad.float64)
    raises(TypeError, lambda: a @ b, "matmul", "float32", "float64")
    raises(TypeError, lambda: pyad.matmul(b.T, a.T), "matmul", "float32", "float64")


@pytest.mark.parametrize("bad", ["float17", "int32", "complex64", "pyad.float16"])
def test_unknown_dtype_string(bad):
    raises(TypeError, lambda: pyad.zeros(2, dtype=bad), bad)
    raises(TypeError, lambda: pyad.tensor([1.0], dtype=bad), bad)
    raises(TypeError, lambda: pyad.arange(3, dtype=bad), bad)


def test_unknown_dtype_string_in_reduction():
    # sum(dtype=...) is a dtype argument: torch raises TypeError, not a device error.
    raises(TypeError, lambda: pyad.ones(2, 3).sum(dtype="float17"), "float17")


def test_requires_grad_on_int_tensor():
    raises(RuntimeError, lambda: pyad.tensor([1, 2], requires_grad=True), "floating point", "int64")
    raises(RuntimeError, lambda: pyad.tensor([1, 2]).requires_grad_(), "floating point", "int64")
    raises(RuntimeError, lambda: pyad.zeros(2, dtype=pyad.int64, requires_grad=True), "floating point", "int64")
    raises(RuntimeError, lambda: pyad.tensor([True]).requires_grad_(), "floating point", "bool")

    def set_attr():
        pyad.tensor([1, 2]).requires_grad = True

    raises(RuntimeError, set_attr, "int64")


# ----------------------------------------------------------------------------------------------------------------
# dims and indices
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "op, call",
    [
        ("sum", lambda x: x.sum(2)),
        ("sum", lambda x: pyad.sum(x, -3)),
        ("softmax", lambda x: x.softmax(2)),
        ("softmax", lambda x: pyad.softmax(x, -3)),
        ("log_softmax", lambda x: pyad.log_softmax(x, 5)),
        ("transpose", lambda x: x.transpose(0, 2)),
        ("transpose", lambda x: pyad.transpose(x, -3, 0)),
        ("unsqueeze", lambda x: x.unsqueeze(4)),
        ("unsqueeze", lambda x: pyad.unsqueeze(x, -5)),
        ("mean", lambda x: x.mean(3)),
        ("amax", lambda x: x.amax((0, 7))),
        ("max", lambda x: x.max(2)),
        ("squeeze", lambda x: x.squeeze(3)),
        ("logsumexp", lambda x: x.logsumexp(2)),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_bad_dim(op, call):
    raises(IndexError, lambda: call(pyad.ones(2, 3)), op, "out of range")


def test_bad_dim_in_flatten():
    # torch.ones(2, 3).flatten(5) raises IndexError (dim out of range); pyad must not wrap it modulo ndim.
    with pytest.raises(IndexError):
        torch.ones(2, 3).flatten(5)
    raises(IndexError, lambda: pyad.ones(2, 3).flatten(5))


@pytest.mark.parametrize(
    "key, needles",
    [
        (10, ("10", "size 3")),
        (-4, ("-4", "size 3")),
        ((0, 10), ("10",)),
    ],
)
def test_index_out_of_range(key, needles):
    x = pyad.ones(3) if not isinstance(key, tuple) else pyad.ones(2, 3)
    raises(IndexError, lambda: x[key], "index", *needles)

    def put():
        x[key] = 1.0

    raises(IndexError, put, "index")


def test_too_many_indices():
    raises(IndexError, lambda: pyad.ones(2, 3)[0, 0, 0], "index", "(2, 3)")


# ----------------------------------------------------------------------------------------------------------------
# autograd
# ----------------------------------------------------------------------------------------------------------------
def test_backward_non_scalar_without_gradient():
    y = pyad.ones(3, requires_grad=True) * 2
    raises(RuntimeError, lambda: y.backward(), "backward", "scalar", "(3,)")


def test_backward_without_requires_grad():
    raises(RuntimeError, lambda: pyad.ones(3).sum().backward(), "backward", "require")


def test_backward_gradient_wrong_shape():
    y = pyad.ones(3, requires_grad=True) * 2
    raises(RuntimeError, lambda: y.backward(pyad.ones(4)), "backward", "(4,)", "(3,)")
    z = pyad.ones(2, 3, requires_grad=True).sum()
    raises(RuntimeError, lambda: z.backward(pyad.ones(3)), "backward", "(3,)", "()")


# ----------------------------------------------------------------------------------------------------------------
# devices, data, scalars
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call",
    [
        lambda: pyad.zeros(2, device="tpu"),
        lambda: pyad.tensor([1.0], device="tpu"),
        lambda: pyad.ones(2).to("tpu"),
        lambda: pyad.device("tpu"),
        lambda: pyad.arange(3, device="tpu"),
    ],
    ids=["zeros", "tensor", "to", "device", "arange"],
)
def test_unknown_device(call):
    raises((RuntimeError, ValueError), call, "tpu")


@pytest.mark.parametrize("data", [["a"], "abc", [[1.0, "x"]], None, {"a": 1}, [1j]], ids=repr)
def test_non_numeric_data(data):
    with pytest.raises((TypeError, ValueError)) as info:
        pyad.tensor(data)
    assert "tensor" in str(info.value)


@pytest.mark.parametrize("data", [[[1, 2], [3]], [[1.0], [2.0, 3.0]], [1, [2, 3]]], ids=repr)
def test_ragged_data(data):
    with pytest.raises((TypeError, ValueError)) as info:
        pyad.tensor(data)
    assert "tensor" in str(info.value)


def test_item_of_multi_element_tensor():
    raises(RuntimeError, lambda: pyad.ones(2, 3).item(), "item", "6", "(2, 3)")
    raises(RuntimeError, lambda: pyad.zeros(0).item(), "item", "0")


@pytest.mark.parametrize(
    "call",
    [
        lambda x: x + "a",
        lambda x: "a" + x,
        lambda x: x * "a",
        lambda x: x - "a",
        lambda x: x + None,
        lambda x: x @ "a",
        lambda x: x < "a",
        lambda x: x + [1.0, 2.0],
        lambda x: pyad.add(x, "a"),
        lambda x: pyad.maximum(x, None),
        lambda x: x.add_("a"),
    ],
    ids=["+str", "str+", "*str", "-str", "+None", "@str", "<str", "+list", "pyad.add", "maximum-None", "add_"],
)
def test_tensor_and_non_number(call):
    with pytest.raises(TypeError):
        call(pyad.ones(2))


def test_negative_size():
    raises(ValueError, lambda: pyad.zeros(-1, 2), "zeros", "-1")
    raises(ValueError, lambda: pyad.arange(0, 5, 0), "arange")


# ----------------------------------------------------------------------------------------------------------------
# never crash
# ----------------------------------------------------------------------------------------------------------------
_CRASH_CASES = [
    # shapes / dims
    "x @ pyad.ones(4, 5)",
    "x + pyad.ones(4, 3)",
    "pyad.where(x > 0, x, pyad.ones(5))",
    "x.sum(7)",
    "x.sum(2**62)",
    "x.softmax(-2**62)",
    "x.transpose(0, 9)",
    "x.permute(0, 0)",
    "x.permute(2**40, 0)",
    "x.unsqueeze(2**40)",
    "x.reshape(-2, -3)",
    "x.view(-1, -1)",
    "x.expand(-2, 3)",
    "x[2**70]",
    "x[0, 0, 0]",
    "x[::0]",
    "pyad.cat([])",
    "pyad.cat([x, pyad.ones(2)])",
    "pyad.stack([x, x], 10)",
    "pyad.zeros(0).max()",
    "pyad.zeros(0, 3).max(0)",
    # absurd sizes (the byte count overflows)
    "pyad.zeros(2**62)",
    "pyad.ones(2**31, 2**31)",
    "pyad.eye(2**32)",
    "pyad.zeros(-5)",
    # None / wrong types where a Tensor is expected
    "pyad.matmul(x, None)",
    "pyad.matmul(None, x)",
    "None @ x",
    "pyad.outer(v, None)",
    "pyad.exp(None)",
    "pyad.relu(None)",
    "pyad.tanh(None)",
    "pyad.max(None, 0)",
    "x.copy_(None)",
    "pyad.add(x, None)",
    "pyad.where(None, x, x)",
    "pyad.cat([x, None])",
    "pyad.tensor(['a'])",
    "pyad.tensor([[1, 2], [3]])",
    "pyad.from_numpy([1, 2])",
    "pyad.from_dlpack(5)",
    "pyad.from_dlpack(object())",
    # autograd misuse
    "(x.requires_grad_() * 2).backward()",
    "pyad.ones(3).sum().backward()",
    "(pyad.ones(3, requires_grad=True) * 2).backward(pyad.ones(4))",
    "(pyad.ones(3, requires_grad=True) * 2).backward('x')",
    "pyad.tensor([1, 2], requires_grad=True)",
    # RNG / misc
    "pyad.set_rng_state(b'garbage')",
    "pyad.manual_seed(-1)",
    "pyad.set_num_threads(0)",
    "pyad.zeros(2, dtype='float17')",
    "pyad.zeros(2, device='tpu')",
]

_CRASH_DRIVER = textwrap.dedent(r"""
    import json, os, signal, sys
    import numpy as np
    import pyad

    cases = json.loads(sys.argv[1])
    bad = []
    for src in cases:
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            signal.alarm(10)  # a hang counts as a failure too (SIGALRM)
            x, v = pyad.ones(2, 3), pyad.ones(3)
            try:
                eval(src)
            except Exception:
                pass
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            bad.append(f"{src}  -> killed by {signal.Signals(os.WTERMSIG(status)).name}")
        elif os.WEXITSTATUS(status) != 0:
            bad.append(f"{src}  -> exit status {os.WEXITSTATUS(status)}")
    print(json.dumps(bad))
""")


def test_bad_calls_never_crash():
    import json

    assert len(_CRASH_CASES) >= 40
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-c", _CRASH_DRIVER, json.dumps(_CRASH_CASES)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, f"driver died (rc {proc.returncode}): {proc.stderr[-2000:]}"
    bad = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not bad, "bad calls that crashed the interpreter instead of raising:\n" + "\n".join(bad)


# ----------------------------------------------------------------------------------------------------------------
# NaN and inf propagate as in torch
# ----------------------------------------------------------------------------------------------------------------
NAN, INF = float("nan"), float("inf")

_NAN_CASES = [
    ("log", lambda m, x: m.log(x), [-1.0, 0.0, 1.0, NAN]),
    ("log1p", lambda m, x: m.log1p(x), [-1.0, -2.0, INF]),
    ("sqrt", lambda m, x: m.sqrt(x), [-1.0, 0.0, INF]),
    ("reciprocal", lambda m, x: 1 / x, [0.0, -0.0, INF, NAN]),
    ("div0", lambda m, x: x / 0, [0.0, 1.0, -1.0]),
    ("int-div0", lambda m, x: x.long() / 0, [0.0, 1.0, -1.0]),
    ("exp", lambda m, x: m.exp(x), [1000.0, -1000.0, NAN, INF, -INF]),
    ("relu", lambda m, x: m.relu(x), [NAN, -1.0, INF, -INF]),
    ("maximum", lambda m, x: m.maximum(x, m.zeros(4)), [NAN, -1.0, INF, -INF]),
    ("maximum-rev", lambda m, x: m.maximum(m.tensor([0.0, NAN, 0.0, 0.0]), x), [NAN, -1.0, INF, -INF]),
    ("minimum", lambda m, x: m.minimum(x, m.zeros(4)), [NAN, -1.0, INF, -INF]),
    ("amax-mid", lambda m, x: m.amax(x, 0), [1.0, NAN, 3.0]),
    ("amax-first", lambda m, x: m.amax(x, 0), [NAN, 1.0, 3.0]),
    ("amin-last", lambda m, x: m.amin(x, 0), [1.0, 3.0, NAN]),
    ("amax-all", lambda m, x: x.amax(), [1.0, NAN, INF]),
    ("max-values", lambda m, x: m.max(x, 0).values, [1.0, NAN, 3.0]),
    ("max-indices", lambda m, x: m.max(x, 0).indices, [1.0, NAN, 3.0]),
    ("min-indices", lambda m, x: m.min(x, 0).indices, [1.0, 3.0, NAN]),
    ("max-all", lambda m, x: x.max(), [1.0, NAN, 3.0]),
    ("sum-nan", lambda m, x: x.sum(), [1.0, NAN, INF]),
    ("sum-inf-inf", lambda m, x: x.sum(), [INF, -INF]),
    ("mean-inf", lambda m, x: x.mean(), [INF, 1.0]),
    ("mul-inf-0", lambda m, x: x * 0, [INF, -INF, NAN]),
    ("sigmoid", lambda m, x: m.sigmoid(x), [INF, -INF, NAN]),
    ("tanh", lambda m, x: m.tanh(x), [INF, -INF, NAN]),
    ("softplus", lambda m, x: (F if m is torch else m).softplus(x), [1000.0, -1000.0, NAN]),
    ("abs", lambda m, x: m.abs(x), [NAN, -INF]),
    ("sign", lambda m, x: m.sign(x), [NAN, -0.0, 0.0, -INF]),
    ("clamp", lambda m, x: m.clamp(x, 0, 1), [NAN, 2.0, -INF]),
    ("pow", lambda m, x: x**0.5, [-1.0, INF]),
    ("pow0", lambda m, x: x**0, [NAN, INF]),
    ("softmax-nan", lambda m, x: m.softmax(x, 0), [1.0, NAN]),
    ("softmax-inf", lambda m, x: m.softmax(x, 0), [1.0, INF]),
    ("softmax-all-neginf", lambda m, x: m.softmax(x, 0), [-INF, -INF]),
    ("log_softmax-neginf", lambda m, x: m.log_softmax(x, 0), [-INF, 1.0]),
    ("logsumexp-inf", lambda m, x: m.logsumexp(x, 0), [INF, 1.0]),
    ("logsumexp-neginf", lambda m, x: m.logsumexp(x, 0), [-INF, -INF]),
    ("eq-nan", lambda m, x: x == x, [NAN, 1.0]),
    ("lt-nan", lambda m, x: x < 1.0, [NAN, 0.0]),
    ("ne-nan", lambda m, x: x != x, [NAN, 1.0]),
    ("matmul-nan", lambda m, x: x.reshape(1, 3) @ m.ones(3, 2, dtype=x.dtype), [1.0, NAN, 2.0]),
    ("matmul-inf", lambda m, x: x.reshape(1, 3) @ m.ones(3, 2, dtype=x.dtype), [1.0, INF, -INF]),
]


@pytest.mark.parametrize("name, f, data", _NAN_CASES, ids=[c[0] for c in _NAN_CASES])
@pytest.mark.parametrize("dtype", [pyad.float32, pyad.float64], ids=str)
def test_nan_inf_forward_like_torch(name, f, data, dtype):
    tdt = torch.float32 if dtype == pyad.float32 else torch.float64
    assert_close(f(pyad, pyad.tensor(data, dtype=dtype)), f(torch, torch.tensor(data, dtype=tdt)), msg=name)


_NAN_GRAD_CASES = [
    ("sqrt-at-0", lambda m, x: m.sqrt(x), [0.0, 4.0]),
    ("log-at-0", lambda m, x: m.log(x), [0.0, -1.0]),
    ("reciprocal-at-0", lambda m, x: 1 / x, [0.0, 2.0]),
    ("exp-overflow", lambda m, x: m.exp(x), [1000.0, -1000.0]),
    ("relu-nan", lambda m, x: m.relu(x), [NAN, 1.0, -1.0]),
    ("maximum-nan", lambda m, x: m.maximum(x, m.zeros(3)), [NAN, 0.0, 1.0]),
    ("amax-nan", lambda m, x: x.amax(), [NAN, 1.0, 2.0]),
    ("max-dim-nan", lambda m, x: m.max(x, 0).values, [1.0, NAN, 2.0]),
    ("abs-nan", lambda m, x: m.abs(x), [0.0, NAN]),
    ("tanh-inf", lambda m, x: m.tanh(x), [INF, NAN]),
    ("logsumexp-inf", lambda m, x: m.logsumexp(x, 0), [INF, 1.0]),
    ("mul0-inf", lambda m, x: x * 0, [INF]),
]


@pytest.mark.parametrize("name, f, data", _NAN_GRAD_CASES, ids=[c[0] for c in _NAN_GRAD_CASES])
def test_nan_inf_gradients_like_torch(name, f, data):
    x = pyad.tensor(data, dtype=pyad.float64, requires_grad=True)
    t = torch.tensor(data, dtype=torch.float64, requires_grad=True)
    f(pyad, x).sum().backward()
    f(torch, t).sum().backward()
    assert_close(x.grad, t.grad, msg=name)


def test_nan_item_and_repr():
    assert np.isnan(pyad.log(pyad.tensor([-1.0])).item())
    assert pyad.exp(pyad.tensor([1000.0])).item() == INF
    assert (pyad.tensor([1.0]) / 0).item() == INF
    assert "nan" in repr(pyad.log(pyad.tensor([-1.0])))
    assert "inf" in repr(pyad.tensor([1.0]) / 0)


def test_pyad_never_imports_torch():
    # torch is a test and benchmark dependency only: importing every pyad module (the benchmark's
    # `python -m pyad.bench` entry point aside, which imports torch lazily when asked to compare) loads no torch.
    import subprocess
    import sys

    code = (
        "import sys, pyad, pyad.func, pyad.autograd, pyad.utils.checkpoint, pyad.viz, pyad.nn, "
        "pyad.bench.experiment; assert 'torch' not in sys.modules, 'pyad imported torch'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
