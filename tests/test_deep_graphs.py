"""Graphs of a million ops: backward, forward mode, inspection and, above all, destruction (Note [Iterative graph
destruction] in csrc/autograd/node.h). Freeing a long chain recursively overflows the C stack, a crash no pytest
can report, so each destruction check runs in a child interpreter and a signal there fails the test by name.
The child's stack is limited to 2 MiB, so that chains of 100,000 nodes would overflow it if any step recursed.
The 1,000,000-node wide graph and the figures (time, peak memory per node) are in benchmarks/deep_graphs.py."""

import resource
import subprocess
import sys
import textwrap

import pytest

import pyad
from pyad.autograd import forward_ad

N = 1_000_000
CHILD_STACK = 2 << 20


def small_stack():
    resource.setrlimit(resource.RLIMIT_STACK, (CHILD_STACK, resource.getrlimit(resource.RLIMIT_STACK)[1]))


def run_child(body, timeout=120):
    """Run body (Python source) in a fresh interpreter with a small stack; fail with its output if it dies or
    exits non-zero."""
    src = "import pyad\n" + textwrap.dedent(body)
    p = subprocess.run(
        [sys.executable, "-c", src], capture_output=True, text=True, timeout=timeout, preexec_fn=small_stack
    )
    assert p.returncode == 0, f"child exited with {p.returncode} (negative: killed by that signal)\n{p.stderr[-3000:]}"
    return p.stdout


def leaf():
    return pyad.tensor([0.5], dtype=pyad.float64, requires_grad=True)


# ---- destruction: each shape of ownership chain a graph can form ----


def test_drop_an_add_chain_without_backward():
    # The reproducer: validation without no_grad, loss thrown away.
    out = run_child("""
        x = pyad.tensor([0.5], dtype=pyad.float64, requires_grad=True); y = x
        for _ in range(300_000):
            y = y + 1e-9
        del y
        print("freed", pyad.memory_allocated())
    """)
    assert out.startswith("freed")


def test_drop_chains_that_hold_inputs_through_saved_tensors():
    # mul saves both inputs: Node -> SavedTensor -> TensorImpl -> grad_fn -> Node ... besides the edges.
    # The weight w is shared by every node, the running value is owned only through the chain.
    run_child("""
        x = pyad.tensor([0.5], dtype=pyad.float64, requires_grad=True)
        w = pyad.tensor([1.0], dtype=pyad.float64, requires_grad=True)
        y = x
        for _ in range(100_000):
            y = (y * w).tanh()
        del y
        assert pyad.memory_allocated() < 1000, pyad.memory_allocated()
    """)


def test_drop_a_chain_of_python_functions():
    # PyFunctionNode -> backward closure -> ctx -> saved tensors -> grad_fn -> PyFunctionNode ...
    run_child("""
        class Twice(pyad.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                ctx.stash = x
                return x * 2
            @staticmethod
            def backward(ctx, g):
                return g * 2
        y = pyad.tensor([0.5], dtype=pyad.float64, requires_grad=True)
        for _ in range(50_000):
            y = Twice.apply(y) * 0.5
        del y
    """)


def test_drop_a_forward_mode_chain_whose_tangents_carry_graphs():
    # Forward over reverse: each tangent has a graph of its own, freed with the primal's.
    run_child("""
        from pyad.autograd import forward_ad
        x = pyad.tensor([0.5], dtype=pyad.float64, requires_grad=True)
        t = pyad.tensor([1.0], dtype=pyad.float64, requires_grad=True)
        with forward_ad.dual_level():
            y = forward_ad.make_dual(x, t)
            for _ in range(100_000):
                y = y * 1.0 + 1e-9
            keep = forward_ad.unpack_dual(y).tangent
            del y
        del keep
    """)


def test_drop_a_double_backward_graph_and_checkpointed_chain():
    run_child("""
        from pyad.utils.checkpoint import checkpoint
        x = pyad.tensor([0.5], dtype=pyad.float64, requires_grad=True)
        y = x
        for _ in range(50_000):
            y = (y * 1.0).sin()
        (g,) = pyad.autograd.grad(y, x, create_graph=True)   # g's graph is as long as y's
        del y
        del g
        y = x
        for _ in range(30_000):
            y = checkpoint(lambda v: v * 1.0 + 1e-9, y)
        del y
    """)


def test_backward_then_drop_a_million_op_chain():
    out = run_child(f"""
        import resource
        x = pyad.tensor([0.5], dtype=pyad.float64, requires_grad=True); y = x
        for _ in range({N}):
            y = y + 1.0
        y.backward()
        assert x.grad.item() == 1.0
        del y
        print(pyad.memory_allocated())
    """)
    assert int(out) < 1000  # only x and its grad are left


# ---- the passes themselves, in this process ----


def test_wide_graph():
    # One leaf feeding 100,000 nodes that one stack gathers (300,000 nodes in all): a node with 100,000 edges,
    # and a leaf that receives 100,000 gradients. The million-node version: benchmarks/deep_graphs.py.
    n = 100_000
    x = leaf()
    parts = [x * float(i % 7) for i in range(n)]
    s = pyad.stack(parts).sum()
    del parts
    s.backward()
    assert x.grad.item() == sum(i % 7 for i in range(n))
    del s


def test_forward_mode_through_a_million_op_chain():
    x = pyad.tensor([0.5], dtype=pyad.float64)
    with forward_ad.dual_level():
        y = forward_ad.make_dual(x, pyad.tensor([1.0], dtype=pyad.float64))
        for _ in range(N):
            y = y + 1e-6
        primal, tangent = forward_ad.unpack_dual(y)
        assert tangent.item() == 1.0
        assert primal.item() == pytest.approx(1.5, rel=1e-9)


def test_grad_through_a_long_chain_matches_the_closed_form():
    # d/dx of tanh applied n times, checked against the product of derivatives computed alongside.
    x = leaf()
    y, expect = x, 1.0
    for _ in range(100_000):
        y = y.tanh()
        expect *= 1 - y.item() ** 2
    (g,) = pyad.autograd.grad(y, x)
    assert g.item() == pytest.approx(expect, rel=1e-9)


def test_inspect_a_hundred_thousand_node_graph():
    x = leaf()
    w = pyad.ones(64, dtype=pyad.float64, requires_grad=True)  # saved by every mul: counted once
    y = x * w
    for _ in range(50_000):
        y = (y * w) + 1.0
    n_nodes = 1 + 100_000 + 2  # mul, 50,000 x (mul, add), AccumulateGrad of x and of w
    dot = pyad.viz.to_dot(y)
    assert dot.count("[label=") == n_nodes + 1  # + the output ellipse
    assert dot.count(" -> ") == 1 + 2 + 3 * 50_000  # out, the first mul's two inputs, then mul (2) + add (1)
    # Saved storages, each once: w, x, and the 64 doubles each later mul saves of its running input.
    assert pyad.autograd.graph_memory(y) == 64 * 8 + 8 + 64 * 8 * 50_000
