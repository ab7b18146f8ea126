"""No memory growth over many training steps (benchmarks/flat_memory.py, bounded here), and graphs freed as
soon as the last reference goes: after a failed backward, with custom Functions that stash tensors on ctx,
checkpointing, double backward and forward mode. The 100,000-step run: python benchmarks/flat_memory.py."""

import gc
import importlib.util
import os
import weakref

import pytest

import pyad
from pyad.autograd import forward_ad
from pyad.utils.checkpoint import checkpoint

_spec = importlib.util.spec_from_file_location(
    "flat_memory", os.path.join(os.path.dirname(__file__), "..", "benchmarks", "flat_memory.py")
)
flat_memory = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(flat_memory)

RSS_TOLERANCE = 1 << 20  # 1 MiB over the sampled steps, after warm-up


def test_training_steps_keep_memory_flat():
    allocated, rss, losses = flat_memory.run(3000, samples=10, warmup=500)
    # pyad's own allocator: exactly the same bytes live after every step (parameters and inputs).
    assert len(set(allocated)) == 1, allocated
    if "libasan" not in os.environ.get("LD_PRELOAD", ""):  # AddressSanitizer keeps freed memory in quarantine
        assert max(rss) - min(rss) < RSS_TOLERANCE, [r / 2**20 for r in rss]
    assert losses[-1] < losses[0]  # it trains


def alive_after(make):
    """Build a graph with make() -> (tensor, ...) and drop it: True if the first tensor is still alive."""
    gc.collect()  # garbage an earlier test left would otherwise be freed inside the measurement
    base = pyad.memory_allocated()
    refs = [weakref.ref(t) for t in make()]
    gc.collect()
    return any(r() is not None for r in refs), pyad.memory_allocated() - base


class Stash(pyad.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(x, y)
        ctx.y, ctx.both = y, (x, y)  # stashes that would make cycles through the C++ node
        ctx.me = ctx
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        if not pyad.is_grad_enabled():  # (under create_graph, reading a stashed graph tensor raises by design)
            assert ctx.y.tolist() == y.tolist()
        return g * y

    @staticmethod
    def jvp(ctx, t):
        return t * ctx.y


class Boom(pyad.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * 2

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError("boom")


X = pyad.randn(256, dtype=pyad.float64, requires_grad=True)


def graph():
    return [Stash.apply(X.tanh()) * 2]


def failed_backward():
    y = (Boom.apply(X.sin()) * X).sum()
    with pytest.raises(RuntimeError, match="boom"):
        y.backward()
    return [y]


def checkpointed():
    return [checkpoint(lambda v: (v * v).tanh(), X).sum()]


def double_backward():
    y = Stash.apply(X).sum()
    (g,) = pyad.autograd.grad(y, X, create_graph=True)
    return [g, y]


def forward_mode():
    with forward_ad.dual_level():
        d = forward_ad.make_dual(X, pyad.ones(256, dtype=pyad.float64))
        y = Stash.apply(d.sin()) * X
        return [y]


@pytest.mark.parametrize("make", [graph, failed_backward, checkpointed, double_backward, forward_mode])
def test_dropped_graphs_are_freed(make):
    alive, leaked = alive_after(make)
    assert not alive and leaked == 0, leaked


def test_graphs_are_freed_by_reference_counting_alone():
    # Without gc.collect(): nothing in a graph needs the cycle collector (ctx.me = ctx aside, which is the
    # user's own cycle between Python objects).
    gc.disable()
    try:
        base = pyad.memory_allocated()
        y = (X.exp() * X).tanh().sum()
        r = weakref.ref(y)
        del y
        assert r() is None and pyad.memory_allocated() == base
    finally:
        gc.enable()


def test_a_backward_that_fails_frees_its_saved_tensors_with_the_graph():
    base = pyad.memory_allocated()
    for _ in range(100):
        failed_backward()
    assert pyad.memory_allocated() == base
    assert X.grad is None or True  # X may have received nothing: the failure came first


def test_a_stashed_output_reads_back_in_backward():
    x = pyad.tensor([0.0, 1.0], dtype=pyad.float64, requires_grad=True)
    Stash.apply(x).sum().backward()
    assert x.grad.tolist() == pytest.approx([1.0, 2.718281828459045])
