"""grad_fn objects have a stable identity while their node lives (Note [Python wrappers of nodes] in
csrc/python/node_wrapper.h): graph walks that record id(fn) count exactly torch's nodes, `is`, ==, hash and
metadata hold across accesses, and the wrappers keep no graph alive once Python and the tensors let go."""

import weakref

import pytest
import torch

import pyad
from pyad.autograd import Function

pytestmark = pytest.mark.usefixtures("device")


# ---------------------------------------------------------------- graph walks as users write them
def count_by_id_stack(fn):
    """Iterative walk that keeps only the ids of the nodes it has seen (the wrappers themselves are dropped)."""
    seen, stack = set(), [fn]
    while stack:
        f = stack.pop()
        if f is None or id(f) in seen:
            continue
        seen.add(id(f))
        stack.extend(nf for nf, _ in f.next_functions)
    return len(seen)


def count_by_id_topo(fn):
    """Seed notebook 001's topological sort: a recursive DFS over next_functions with seen.add(id(fn)),
    appending node names (not the nodes) in post-order."""
    seen, order = set(), []

    def visit(f):
        if f is None or id(f) in seen:
            return
        seen.add(id(f))
        for nf, _ in f.next_functions:
            visit(nf)
        order.append(f.name())

    visit(fn)
    return len(order)


def churn():
    """Make and drop many wrappers of other nodes, so that a dead wrapper's address gets reused."""
    x = pyad.ones(2, requires_grad=True)
    keep = [(x * float(i)) for i in range(50)]
    fns = [k.grad_fn for k in keep]
    return keep, fns


def graphs(lib):
    x = lib.tensor([0.5, -1.0, 2.0], requires_grad=True)
    w = lib.tensor([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]], requires_grad=True)
    h = x.exp()
    chain = x
    for _ in range(20):
        chain = (chain * 1.5).sin()
    return {
        "add_mul_sin": (x + 1) * lib.sin(x),
        "shared_subexpression": (h * h + h).sum(),
        "two_leaves": lib.relu(w @ x + 1).sum(),
        "diamond": (lib.sin(x) * lib.cos(x) + lib.exp(x) * lib.sin(x)).sum(),
        "chain": chain.sum(),
    }


@pytest.mark.parametrize("walk", [count_by_id_stack, count_by_id_topo])
@pytest.mark.parametrize("name", ["add_mul_sin", "shared_subexpression", "two_leaves", "diamond", "chain"])
def test_walk_by_id_finds_torchs_node_count(name, walk):
    want = walk(graphs(torch)[name].grad_fn)
    got = walk(graphs(pyad)[name].grad_fn)
    assert got == want
    if name == "add_mul_sin":
        assert got == 4  # MulBackward0, AddBackward0, SinBackward0, AccumulateGrad


# ---------------------------------------------------------------- identity, equality, hash, metadata
def test_grad_fn_is_the_same_object_across_accesses():
    x = pyad.tensor([1.0, 2.0], requires_grad=True)
    y = (x + 1) * pyad.sin(x)
    assert y.grad_fn is y.grad_fn
    first, h = id(y.grad_fn), hash(y.grad_fn)
    inputs = [id(f) for f, _ in y.grad_fn.next_functions]
    keep = churn()
    assert id(y.grad_fn) == first and hash(y.grad_fn) == h
    assert [id(f) for f, _ in y.grad_fn.next_functions] == inputs
    add, sin = (f for f, _ in y.grad_fn.next_functions)
    # x's AccumulateGrad, reached through two different nodes, is one object.
    assert add.next_functions[0][0] is sin.next_functions[0][0]
    assert add.next_functions[0][0] is not add and add is not sin
    del keep


def test_eq_and_hash_follow_the_node():
    x = pyad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = y.sin()
    assert z.grad_fn.next_functions[0][0] == y.grad_fn
    assert z.grad_fn != y.grad_fn and y.grad_fn != "MulBackward0"
    assert len({z.grad_fn, y.grad_fn, z.grad_fn.next_functions[0][0]}) == 2
    assert hash(z.grad_fn.next_functions[0][0]) == hash(y.grad_fn)


def test_metadata_persists_while_the_node_lives():
    x = pyad.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 2).sin()
    y.grad_fn.metadata["tag"] = "sin"
    y.grad_fn.next_functions[0][0].metadata["tag"] = "mul"
    keep = churn()
    assert y.grad_fn.metadata == {"tag": "sin"}
    assert y.grad_fn.next_functions[0][0].metadata == {"tag": "mul"}
    assert y.grad_fn.metadata is y.grad_fn.metadata
    del keep

    class Marker:
        pass

    m = Marker()
    alive = weakref.ref(m)
    y.grad_fn.metadata["m"] = m
    del m
    assert alive() is not None
    del y  # the node dies, and its metadata with it
    assert alive() is None


def test_a_held_wrapper_keeps_its_node_working():
    x = pyad.tensor([1.0, 2.0], requires_grad=True)
    fn = (x * 2).grad_fn  # the tensor is gone at once; the wrapper keeps the node
    assert fn.name() == "MulBackward0"
    assert fn.next_functions[0][0].name() == "AccumulateGrad"
    nf = ((x * 3).sin()).grad_fn.next_functions[0][0]  # a child kept after its parent died
    assert nf.name() == "MulBackward0" and nf.next_functions[0][0].variable is x


def test_custom_function_nodes_are_stable_too():
    class Double(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = pyad.tensor([1.0, 2.0], requires_grad=True)
    y = Double.apply(x).sin()
    fn = y.grad_fn.next_functions[0][0]
    fn.metadata["seen"] = True
    first = id(fn)
    del fn
    keep = churn()
    assert id(y.grad_fn.next_functions[0][0]) == first
    assert y.grad_fn.next_functions[0][0].metadata == {"seen": True}
    assert count_by_id_topo(y.grad_fn) == 3
    y.sum().backward()
    assert x.grad.tolist() == pytest.approx([2 * float(torch.cos(torch.tensor(v * 2.0))) for v in (1.0, 2.0)])
    del keep


# ---------------------------------------------------------------- no leaks
def graph_on(a):
    y = a
    for _ in range(5):
        y = (y.exp() * a).sin()
    return y.sum()


def walk_all(fn):
    """Touch every wrapper of the graph: names, next_functions and metadata."""
    for f in _nodes(fn):
        f.metadata["name"] = f.name()


def _nodes(fn):
    seen, order, stack = set(), [], [fn]
    while stack:
        f = stack.pop()
        if f is None or f in seen:
            continue
        seen.add(f)
        order.append(f)
        stack.extend(nf for nf, _ in f.next_functions)
    return order


def test_dropped_graph_frees_its_memory_after_python_touched_it(device):
    a = pyad.randn(10_000, requires_grad=True)
    start = pyad.memory_allocated(device)
    y = graph_on(a)
    walk_all(y.grad_fn)
    assert pyad.memory_allocated(device) > start
    del y  # no gc.collect(): nothing may wait for the cycle collector
    assert pyad.memory_allocated(device) == start

    y = graph_on(a)
    held = next(f for f in _nodes(y.grad_fn) if f.name() == "SinBackward0" and f._saved_storages())
    del y
    assert pyad.memory_allocated(device) > start  # the held node still owns its saved tensors and its inputs
    del held
    assert pyad.memory_allocated(device) == start


def test_backward_then_drop_frees_everything(device):
    a = pyad.randn(10_000, requires_grad=True)
    start = pyad.memory_allocated(device)
    y = graph_on(a)
    walk_all(y.grad_fn)
    y.backward()
    grad_bytes = a.grad.numel() * a.grad.element_size()
    del y
    assert pyad.memory_allocated(device) == start + grad_bytes


def test_long_chain_walked_and_dropped(device):
    a = pyad.ones(4, requires_grad=True)
    start = pyad.memory_allocated(device)
    y = a
    for _ in range(20_000):
        y = y.sin()  # saves its input: every node holds memory
    assert count_by_id_stack(y.grad_fn) == 20_001
    del y
    assert pyad.memory_allocated(device) == start
