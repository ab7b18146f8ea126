"""Looking into the graph: grad_fn names and edges, hooks and retain_grad (against torch), Graphviz DOT
(pyad.viz.to_dot / render), the bytes a graph holds (pyad.autograd.graph_memory), and detect_anomaly."""

import importlib.util
import inspect
import os
import shutil
import warnings

import numpy as np
import pytest
import torch

import pyad
from pyad.autograd import Function, detect_anomaly, is_anomaly_enabled

try:  # pytest's --import-mode=importlib (the project's setting) registers the conftest as tests.conftest
    from tests.conftest import assert_close, to_torch
except ImportError:  # prepend/append import modes
    from conftest import assert_close, to_torch

F64 = pyad.float64
F32 = pyad.float32


def leaf(*shape, dtype=F64):
    x = pyad.tensor(np.random.randn(*shape), dtype=dtype, requires_grad=True)
    return x, to_torch(x)


def here():
    """The caller's line number."""
    return inspect.currentframe().f_back.f_lineno


def structure(fn, torch_side=False):
    """Nested (name, [children]) of a backward graph; torch's sink name is normalised to pyad's."""
    if fn is None:
        return None
    name = fn.name()
    if torch_side:
        name = name.replace("torch::autograd::", "").replace("TorchDouble", "Double")
    return (name, [structure(f, torch_side) for f, _ in fn.next_functions])


class Double(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2


class TorchDouble(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2


# ---------------------------------------------------------------- grad_fn names and next_functions
def test_grad_fn_names_and_next_functions_match_torch():
    x, tx = leaf(3, 4)
    w, tw = leaf(4)
    c = pyad.randn(3, dtype=F64)  # no grad: a None edge

    def f(lib, a, b, k, double):
        h = lib.exp(a @ b) + k
        return (lib.log(h * h) * k).sum() + double(a).sum()

    y = f(pyad, x, w, c, Double.apply)
    ty = f(torch, tx, tw, to_torch(c), TorchDouble.apply)
    assert structure(y.grad_fn) == structure(ty.grad_fn, torch_side=True)
    assert y.grad_fn.name() == "AddBackward0"
    names = set()
    stack = [y.grad_fn]
    while stack:
        n = stack.pop()
        if n is None:
            continue
        names.add(n.name())
        stack.extend(f for f, _ in n.next_functions)
    assert {
        "MvBackward0",
        "ExpBackward0",
        "LogBackward0",
        "MulBackward0",
        "SumBackward0",
        "DoubleBackward",
        "AccumulateGrad",
    } <= names


def test_next_functions_output_indices_for_multi_output_nodes():
    class Split(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0, x * 2.0

        @staticmethod
        def backward(ctx, a, b):
            return a + 2 * b

    x, _ = leaf(3)
    a, b = Split.apply(x)
    y = a * b
    (fa, ia), (fb, ib) = y.grad_fn.next_functions
    assert fa is fb and fa.name() == "SplitBackward"
    assert (ia, ib) == (0, 1)


def test_accumulate_grad_variable_is_the_leaf():
    x, _ = leaf(2)
    y = x.sin()
    ((acc, idx),) = y.grad_fn.next_functions
    assert acc.name() == "AccumulateGrad" and acc.variable is x and idx == 0
    assert x.grad_fn is None and x.is_leaf


# ---------------------------------------------------------------- hooks and retain_grad
def test_hook_on_non_leaf_sees_and_replaces_gradient_like_torch():
    x, tx = leaf(4)
    seen, tseen = [], []

    def run(lib, a, store):
        h = lib.sin(a) * 3
        handle = h.register_hook(lambda g: store.append(g.clone()) or g * 10)
        h.retain_grad()
        (h * h).sum().backward()
        return h, handle

    h, handle = run(pyad, x, seen)
    th, thandle = run(torch, tx, tseen)
    assert len(seen) == len(tseen) == 1
    assert_close(seen[0], tseen[0])
    assert_close(x.grad, tx.grad)
    assert_close(h.grad, th.grad)  # retain_grad keeps the gradient after the hooks (torch >= 2.0)
    assert h.retains_grad and th.retains_grad


def test_hook_returning_none_keeps_gradient_and_hooks_chain_in_order():
    x, tx = leaf(3)
    order = []

    def run(lib, a, tag):
        h = lib.exp(a)
        h.register_hook(lambda g: order.append((tag, 1)))
        h.register_hook(lambda g: order.append((tag, 2)) or g + 1)
        h.register_hook(lambda g: order.append((tag, 3)) or g * 2)
        h.sum().backward()

    run(pyad, x, "pyad")
    run(torch, tx, "torch")
    assert [o for t, o in order if t == "pyad"] == [o for t, o in order if t == "torch"] == [1, 2, 3]
    assert_close(x.grad, tx.grad)


def test_hook_on_leaf_replaces_the_accumulated_gradient_like_torch():
    x, tx = leaf(3)
    x.register_hook(lambda g: g * 0 + 7)
    tx.register_hook(lambda g: g * 0 + 7)
    (x * x).sum().backward()
    (tx * tx).sum().backward()
    assert_close(x.grad, tx.grad)
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 7.0))


def test_removed_hook_does_not_run():
    x, tx = leaf(3)
    calls = []
    handle = x.register_hook(lambda g: calls.append(1) or g * 100)
    thandle = tx.register_hook(lambda g: g * 100)
    handle.remove()
    thandle.remove()
    x.sin().sum().backward()
    tx.sin().sum().backward()
    assert calls == []
    assert_close(x.grad, tx.grad)


def test_retain_grad_on_several_non_leaves_matches_torch():
    x, tx = leaf(2, 3)

    def run(lib, a):
        b = a * 2
        c = lib.tanh(b)
        d = c.sum(0)
        for t in (b, c, d):
            t.retain_grad()
        (d * d).sum().backward()
        return b, c, d

    for p, t in zip(run(pyad, x), run(torch, tx)):
        assert_close(p.grad, t.grad)
    assert_close(x.grad, tx.grad)


def test_non_leaf_grad_without_retain_grad_is_none():
    x, tx = leaf(3)
    h = x * 2
    h.sum().backward()
    th = tx * 2
    th.sum().backward()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert h.grad is None and th.grad is None


# ---------------------------------------------------------------- to_dot
def test_to_dot_lists_every_op_with_shape_dtype_and_saved_bytes():
    x = pyad.randn(5, 3, dtype=F32, requires_grad=True)
    w = pyad.randn(3, dtype=F32, requires_grad=True)
    h = pyad.exp(x @ w)  # MvBackward0 saves x (60 B) and w (12 B); ExpBackward0 saves h (20 B)
    y = (h * h).sum()  # MulBackward0 saves h twice: 20 B once
    dot = pyad.viz.to_dot(y)
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    lines = dot.splitlines()

    def label_of(name):
        found = [ln for ln in lines if f'"{name}\\n' in ln]
        assert len(found) == 1, (name, dot)
        return found[0]

    assert "(5,) pyad.float32" in label_of("MvBackward0") and "saved 72 B" in label_of("MvBackward0")
    assert "(5,) pyad.float32" in label_of("ExpBackward0") and "saved 20 B" in label_of("ExpBackward0")
    assert "(5,) pyad.float32" in label_of("MulBackward0") and "saved 20 B" in label_of("MulBackward0")
    assert "() pyad.float32" in label_of("SumBackward0") and "saved" not in label_of("SumBackward0")
    leaves = [ln for ln in lines if "AccumulateGrad" in ln]
    assert len(leaves) == 2
    assert any("leaf (5, 3) pyad.float32" in ln for ln in leaves)
    assert any("leaf (3,) pyad.float32" in ln for ln in leaves)
    # One edge per (input, consumer) pair, the output ellipse included: 2 leaves -> mv -> exp =>2 mul -> sum.
    assert sum("->" in ln for ln in lines) == 2 + 1 + 2 + 1 + 1
    assert "output\\n() pyad.float32" in dot
    assert "saved" not in pyad.viz.to_dot(y, show_saved=False)


def test_to_dot_saved_sizes_in_kib_and_custom_function_names():
    x = pyad.randn(64, 64, dtype=F64, requires_grad=True)
    y = Double.apply(x.sin())
    dot = pyad.viz.to_dot(y)
    assert "DoubleBackward" in dot and "SinBackward0" in dot
    assert "(64, 64) pyad.float64" in dot
    assert "saved 32.0 KiB" in dot  # sin saves x: 64*64*8 bytes


def test_to_dot_of_tensor_without_graph_raises():
    with pytest.raises(ValueError, match="grad_fn"):
        pyad.viz.to_dot(pyad.randn(3))
    with pytest.raises(ValueError, match="grad_fn"):
        pyad.viz.to_dot(pyad.randn(3, requires_grad=True))


def test_to_dot_of_a_deep_graph_does_not_recurse():
    x = pyad.randn(2, dtype=F64, requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    dot = pyad.viz.to_dot(y)
    assert dot.count("MulBackward0") == 5000


def test_to_dot_under_anomaly_mode_names_the_creation_site():
    x = pyad.randn(3, dtype=F64, requires_grad=True)
    with detect_anomaly():
        line = here() + 1
        y = x.cos()
    dot = pyad.viz.to_dot(y)
    assert f"{os.path.basename(__file__)}:{line}" in dot


# ---------------------------------------------------------------- graph_memory
def test_graph_memory_counts_a_tensor_saved_by_two_nodes_once():
    x = pyad.randn(6, dtype=F64, requires_grad=True)
    h = x.exp()  # ExpBackward0 saves its output h
    y = h * h  # MulBackward0 saves h twice
    assert pyad.autograd.graph_memory(y) == 48
    naive = sum(nb for n in (y.grad_fn, h.grad_fn) for _, nb, _ in n._saved_storages())
    assert naive == 3 * 48


def test_graph_memory_counts_views_of_one_storage_once():
    x = pyad.randn(6, dtype=F64, requires_grad=True)
    v = x.reshape(2, 3)
    y = (v * v).sum() + x.sin().sum()  # mul saves two views of x's storage, sin saves x itself
    assert pyad.autograd.graph_memory(y) == 48
    m = pyad.randn(3, 4, dtype=F64, requires_grad=True)
    assert pyad.autograd.graph_memory(m @ m.T) == 96  # m and its transpose: one storage


def test_graph_memory_sums_distinct_storages():
    a = pyad.randn(10, dtype=F64, requires_grad=True)
    b = pyad.randn(10, dtype=F32, requires_grad=True)
    y = a * b.to(F64)  # saves a (80 B) and b cast to float64 (80 B)
    assert pyad.autograd.graph_memory(y) == 160
    z = y.sin()  # + y (80 B)
    assert pyad.autograd.graph_memory(z) == 240
    assert pyad.autograd.graph_memory(a) == 0  # a leaf holds no graph
    assert pyad.autograd.graph_memory(a.sum()) == 0  # sum saves nothing


def test_graph_memory_after_backward():
    x = pyad.randn(6, dtype=F64, requires_grad=True)
    y = x.sin()
    y.sum().backward(retain_graph=True)
    assert pyad.autograd.graph_memory(y) == 48  # retained
    y2 = x.sin()
    y2.sum().backward()
    assert pyad.autograd.graph_memory(y2) == 0  # released with the graph


def test_graph_memory_of_a_two_layer_net():
    B, D, H = 8, 5, 7
    x = pyad.randn(B, D, dtype=F32)
    W1 = pyad.randn(D, H, dtype=F32, requires_grad=True)
    W2 = pyad.randn(H, 1, dtype=F32, requires_grad=True)
    h = pyad.tanh(x @ W1)  # matmul saves x only (x needs no gradient, so W1 is not needed); tanh saves h
    y = (h @ W2).sum()  # matmul saves h (again) and W2
    assert pyad.autograd.graph_memory(y) == 4 * (B * D + B * H + H)


# ---------------------------------------------------------------- detect_anomaly
def test_detect_anomaly_names_the_op_and_where_it_was_created():
    x = pyad.zeros(3, dtype=F64, requires_grad=True)
    with detect_anomaly():
        line = here() + 1
        y = pyad.sqrt(x)  # d sqrt at 0 is inf; times a zero upstream: 0 * inf = nan
        z = (y * 0).sum()
        with pytest.raises(RuntimeError) as err:
            z.backward()
    msg = str(err.value)
    assert "SqrtBackward0" in msg
    assert f"{os.path.basename(__file__)}:{line}" in msg
    assert os.path.abspath(__file__) in msg or os.path.basename(__file__) in msg


def test_torch_agrees_on_the_failing_op():
    tx = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.autograd.detect_anomaly():
            with pytest.raises(RuntimeError, match="SqrtBackward0"):
                (tx.sqrt() * 0).sum().backward()


def test_without_detect_anomaly_nan_gradients_pass_silently():
    x = pyad.zeros(3, dtype=F64, requires_grad=True)
    (pyad.sqrt(x) * 0).sum().backward()
    assert np.isnan(x.grad.numpy()).all()
    tx = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    (tx.sqrt() * 0).sum().backward()
    assert_close(x.grad, tx.grad)


def test_detect_anomaly_inf_from_log_at_zero_and_pow():
    x = pyad.tensor([0.0, 1.0], dtype=F64, requires_grad=True)
    with detect_anomaly():
        line = here() + 1
        y = pyad.log(x)
        with pytest.raises(RuntimeError, match="LogBackward0") as err:
            y.sum().backward()
    assert f"{os.path.basename(__file__)}:{line}" in str(err.value)


def test_detect_anomaly_forward_nan_is_not_a_backward_anomaly():
    # log of a negative number is NaN in forward, but its gradient 1/x is finite: no error, as torch.
    x = pyad.tensor([-1.0, 2.0], dtype=F64, requires_grad=True)
    with detect_anomaly():
        pyad.log(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [-1.0, 0.5])


def test_detect_anomaly_names_a_custom_function():
    class NaNBackward(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, g):
            return g * float("nan")

    x = pyad.ones(2, dtype=F64, requires_grad=True)
    with detect_anomaly():
        line = here() + 1
        y = NaNBackward.apply(x)
        with pytest.raises(RuntimeError, match="NaNBackwardBackward") as err:
            y.sum().backward()
    assert f"{os.path.basename(__file__)}:{line}" in str(err.value)


def test_detect_anomaly_nested_restores_state_and_decorator():
    assert not is_anomaly_enabled()
    with detect_anomaly():
        assert is_anomaly_enabled()
        with detect_anomaly():
            assert is_anomaly_enabled()
        assert is_anomaly_enabled()
    assert not is_anomaly_enabled()

    @detect_anomaly()
    def f(x):
        assert is_anomaly_enabled()
        (pyad.sqrt(x) * 0).sum().backward()

    with pytest.raises(RuntimeError, match="SqrtBackward0"):
        f(pyad.zeros(2, dtype=F64, requires_grad=True))
    assert not is_anomaly_enabled()


def test_detect_anomaly_clean_backward_gives_torch_gradients():
    x, tx = leaf(4)
    with detect_anomaly():
        (pyad.exp(x).sin() * x).sum().backward()
    (torch.exp(tx).sin() * tx).sum().backward()
    assert_close(x.grad, tx.grad)


# ---------------------------------------------------------------- render
def test_render_writes_a_file_or_says_what_to_install(tmp_path):
    x = pyad.randn(3, dtype=F64, requires_grad=True)
    y = (x.exp() * x).sum()
    path = str(tmp_path / "graph.svg")
    have_package = importlib.util.find_spec("graphviz") is not None
    have_binary = shutil.which("dot") is not None
    if have_package and have_binary:
        assert pyad.viz.render(y, path) == path
        text = open(path).read()
        assert "<svg" in text and "MulBackward0" in text and "ExpBackward0" in text
        with pytest.raises(ValueError, match="svg"):
            pyad.viz.render(y, str(tmp_path / "graph.txt"))
    elif not have_package:
        with pytest.raises(RuntimeError, match="pip install graphviz") as err:
            pyad.viz.render(y, path)
        assert "Graphviz binary" in str(err.value)
        assert not os.path.exists(path)
    else:
        # The Python package without the binary: the error must still point at what is missing.
        with pytest.raises(RuntimeError) as err:
            pyad.viz.render(y, path)
        assert "graphviz" in str(err.value).lower()
        assert not os.path.exists(path)
