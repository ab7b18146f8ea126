"""Gradient checkpointing (pyad.utils.checkpoint): gradients equal the plain run's, random numbers replay,
checkpoint_revolve follows Griewank's optimal schedule, and peak memory shrinks as promised. Every test runs on
each device (the `device` fixture of conftest.py); memory is that of the device the test runs on."""

import gc
import math

import numpy as np
import pytest

import pyad
import pyad.nn.functional as NF
from pyad.utils.checkpoint import (
    checkpoint,
    checkpoint_revolve,
    checkpoint_sequential,
    revolve_evaluations,
    revolve_schedule,
)

try:  # pytest's --import-mode=importlib (the project's setting) registers the conftest as tests.conftest
    from tests.conftest import manual_seed_all, max_memory_allocated, memory_allocated, reset_peak_memory_stats
except ImportError:  # prepend/append import modes
    from conftest import manual_seed_all, max_memory_allocated, memory_allocated, reset_peak_memory_stats

pytestmark = pytest.mark.usefixtures("device")

F64 = pyad.float64
F32 = pyad.float32


def assert_same(a, b, msg=""):
    """Recomputation runs the same kernels on the same data: results agree to rounding (in practice exactly)."""
    assert (a is None) == (b is None), msg
    if a is None:
        return
    np.testing.assert_allclose(a.detach().cpu().numpy(), b.detach().cpu().numpy(), rtol=1e-12, atol=1e-14, err_msg=msg)


def make_mlp(n_layers, width, dtype=F64, requires_grad=True, dropout=0.0, noise=False):
    """Layers tanh(x @ W + b) (optionally with dropout and added randn noise) and their parameters."""
    params = []
    layers = []
    for _ in range(n_layers):
        W = (pyad.randn(width, width, dtype=dtype) / math.sqrt(width)).requires_grad_(requires_grad)
        b = (pyad.randn(width, dtype=dtype) * 0.1).requires_grad_(requires_grad)
        params += [W, b]

        def layer(x, W=W, b=b):
            y = pyad.tanh(x @ W + b)
            if dropout:
                y = NF.dropout(y, dropout)
            if noise:
                y = y + 0.01 * pyad.randn(*y.shape, dtype=y.dtype)
            return y

        layers.append(layer)
    return layers, params


def chain(layers, x):
    for f in layers:
        x = f(x)
    return x


def run_and_grads(forward, x, params, seed=7):
    """Seeded forward + backward of forward(x) against fixed weights; returns (output, dx, [dparams])."""
    for p in params:
        p.grad = None
    x.grad = None
    manual_seed_all(seed)
    y = forward(x)
    w = pyad.tensor(np.linspace(-1, 1, y.numel()).reshape(tuple(y.shape)), dtype=y.dtype)
    (y * w).sum().backward()
    return y.detach(), x.grad, [p.grad for p in params]


def assert_runs_equal(a, b):
    ya, gxa, gpa = a
    yb, gxb, gpb = b
    assert_same(ya, yb, "output")
    assert_same(gxa, gxb, "input grad")
    assert len(gpa) == len(gpb)
    for i, (p, q) in enumerate(zip(gpa, gpb)):
        assert_same(p, q, f"param {i} grad")


# ---------------------------------------------------------------- checkpoint
def test_checkpoint_gradients_equal_plain_run():
    layers, params = make_mlp(3, 6)
    x = pyad.randn(4, 6, dtype=F64, requires_grad=True)
    plain = run_and_grads(lambda v: chain(layers, v), x, params)
    ckpt = run_and_grads(lambda v: checkpoint(lambda u: chain(layers, u), v), x, params)
    assert_runs_equal(plain, ckpt)
    assert all(g is not None for g in ckpt[2])


def test_checkpoint_output_graph_holds_only_the_inputs():
    layers, params = make_mlp(4, 32, requires_grad=False)
    x = pyad.randn(8, 32, dtype=F64, requires_grad=True)
    plain = chain(layers, x)
    ck = checkpoint(lambda u: chain(layers, u), x)
    # The checkpointed graph is the ordinary one but holds no saved tensors (they are recomputed in backward);
    # the plain one holds every layer's activations and weights.
    assert ck.grad_fn.name() == plain.grad_fn.name()
    assert pyad.autograd.graph_memory(ck) == 0
    assert pyad.autograd.graph_memory(plain) > 4 * 8 * 32 * 8


@pytest.mark.parametrize("kind", ["dropout", "randn", "both"])
def test_checkpoint_preserve_rng_state_replays_random_numbers(kind):
    layers, params = make_mlp(3, 8, dropout=0.5 if kind != "randn" else 0.0, noise=kind != "dropout")
    x = pyad.randn(5, 8, dtype=F64, requires_grad=True)
    plain = run_and_grads(lambda v: chain(layers, v), x, params)
    ckpt = run_and_grads(lambda v: checkpoint(lambda u: chain(layers, u), v), x, params)
    assert_runs_equal(plain, ckpt)


def test_checkpoint_leaves_the_generator_where_the_forward_left_it():
    layers, _ = make_mlp(2, 8, dropout=0.5, noise=True)
    x = pyad.randn(5, 8, dtype=F64, requires_grad=True)
    manual_seed_all(7)
    chain(layers, x)
    want = pyad.randn(4, dtype=F64)  # the draw that follows the forward
    manual_seed_all(7)
    y = checkpoint(lambda u: chain(layers, u), x)
    y.sum().backward()  # backward replays the saved state and must then restore the current one
    assert_same(pyad.randn(4, dtype=F64), want)


def test_checkpoint_without_preserve_rng_state_draws_new_numbers():
    layers, params = make_mlp(2, 8, dropout=0.5)
    x = pyad.randn(64, 8, dtype=F64, requires_grad=True)
    plain = run_and_grads(lambda v: chain(layers, v), x, params)
    ckpt = run_and_grads(lambda v: checkpoint(lambda u: chain(layers, u), v, preserve_rng_state=False), x, params)
    assert_same(plain[0], ckpt[0])  # the forward is the same run
    assert not np.allclose(plain[1].numpy(), ckpt[1].numpy())  # but backward saw other dropout masks


def test_checkpoint_multiple_outputs_non_tensor_args_and_kwargs():
    W = pyad.randn(5, 5, dtype=F64, requires_grad=True)
    a = pyad.randn(3, 5, dtype=F64, requires_grad=True)
    b = pyad.randn(3, 5, dtype=F64, requires_grad=True)
    c = pyad.randn(3, 5, dtype=F64)  # a tensor input without grad

    def fn(a, k, b, c, scale=1.0):
        h = pyad.tanh(a @ W) * k
        return h * b * scale, pyad.sin(b + c) * scale

    def loss(y):
        return (y[0] * y[0]).sum() + (y[1] * 3).sum()

    grads = {}
    for name, run in (
        ("plain", lambda: fn(a, 2.0, b, c, scale=0.5)),
        ("ckpt", lambda: checkpoint(fn, a, 2.0, b, c, scale=0.5)),
    ):
        for t in (W, a, b):
            t.grad = None
        out = run()
        loss(out).backward()
        grads[name] = (out, W.grad, a.grad, b.grad)
    for p, q in zip(grads["plain"][1:], grads["ckpt"][1:]):
        assert_same(p, q)
    assert_same(grads["plain"][0][0], grads["ckpt"][0][0])
    assert_same(grads["plain"][0][1], grads["ckpt"][0][1])
    assert c.grad is None


def test_checkpoint_only_one_output_used():
    x = pyad.randn(4, dtype=F64, requires_grad=True)
    y, z = checkpoint(lambda v: (v.exp(), v.sin()), x)
    z.sum().backward()
    assert_same(x.grad, x.detach().cos())


def test_checkpoint_with_input_not_requiring_grad_still_gives_parameter_grads():
    layers, params = make_mlp(3, 6)
    x = pyad.randn(4, 6, dtype=F64)
    for p in params:
        p.grad = None
    chain(layers, x).sum().backward()
    ref = [p.grad for p in params]
    for p in params:
        p.grad = None
    checkpoint(lambda u: chain(layers, u), x).sum().backward()
    for r, p in zip(ref, params):
        assert_same(p.grad, r)


def test_checkpoint_under_no_grad_just_runs():
    x = pyad.randn(4, dtype=F64, requires_grad=True)
    with pyad.no_grad():
        y = checkpoint(lambda v: v.exp(), x)
    assert not y.requires_grad
    assert_same(y, x.detach().exp())


def test_nested_checkpoints():
    layers, params = make_mlp(6, 7, dropout=0.25)
    x = pyad.randn(3, 7, dtype=F64, requires_grad=True)

    def inner(u):
        return checkpoint(lambda v: chain(layers[1:3], v), u)

    def outer(u):
        u = layers[0](u)
        u = inner(u)
        u = checkpoint(lambda v: chain(layers[3:5], v), u)
        return layers[5](u)

    plain = run_and_grads(lambda v: chain(layers, v), x, params)
    nested = run_and_grads(lambda v: checkpoint(outer, v), x, params)
    assert_runs_equal(plain, nested)


def test_doubly_nested_checkpoint_of_the_same_function():
    layers, params = make_mlp(2, 5)
    x = pyad.randn(2, 5, dtype=F64, requires_grad=True)
    f = lambda v: chain(layers, v)  # noqa: E731
    plain = run_and_grads(f, x, params)
    nested = run_and_grads(lambda v: checkpoint(lambda u: checkpoint(lambda w: checkpoint(f, w), u), v), x, params)
    assert_runs_equal(plain, nested)


def test_checkpoint_second_order_gradients_equal_plain():
    W = pyad.randn(4, 4, dtype=F64, requires_grad=True)
    x = pyad.randn(4, dtype=F64, requires_grad=True)
    f = lambda v: pyad.tanh(W @ pyad.tanh(W @ v))  # noqa: E731
    res = {}
    for name, fn in (("plain", f), ("ckpt", lambda v: checkpoint(f, v))):
        W.grad = x.grad = None
        (g,) = pyad.autograd.grad(fn(x).sum(), x, create_graph=True)
        (g * g).sum().backward()
        res[name] = (g, x.grad, W.grad)
    for p, q in zip(res["plain"], res["ckpt"]):
        assert_same(p, q)


def test_checkpoint_second_derivative_of_input_only_function():
    # d2/dx2 sum(sin x) = -sin x, also through a checkpoint (torch's use_reentrant=False agrees).
    x = pyad.randn(3, dtype=F64, requires_grad=True)
    (g,) = pyad.autograd.grad(checkpoint(pyad.sin, x).sum(), x, create_graph=True)
    (g2,) = pyad.autograd.grad(g.sum(), x, allow_unused=True)
    assert g2 is not None, "the create_graph gradient through checkpoint is disconnected from x"
    assert_same(g2, -x.detach().sin())


def test_autograd_grad_through_checkpoint_leaves_parameter_grad_alone():
    # autograd.grad must not accumulate into .grad of leaves it was not asked about (torch's use_reentrant=False
    # checkpoint leaves W.grad None; the reentrant one refuses .grad() outright).
    W = pyad.randn(3, 3, dtype=F64, requires_grad=True)
    x = pyad.randn(3, dtype=F64, requires_grad=True)
    f = lambda v: pyad.tanh(W @ v)  # noqa: E731
    (gx,) = pyad.autograd.grad(checkpoint(f, x).sum(), x)
    assert_same(gx, pyad.autograd.grad(f(x).sum(), x)[0])
    assert W.grad is None, "autograd.grad through checkpoint wrote W.grad"
    (gx,) = pyad.autograd.grad(checkpoint_revolve([f, f, f], x, 1).sum(), x)
    assert W.grad is None, "autograd.grad through checkpoint_revolve wrote W.grad"


# ---------------------------------------------------------------- checkpoint_sequential
@pytest.mark.parametrize("segments", [1, 2, 3, 4, 7, 12, 20])
def test_checkpoint_sequential_gradients_equal_plain(segments):
    layers, params = make_mlp(12, 6, dropout=0.2)
    x = pyad.randn(3, 6, dtype=F64, requires_grad=True)
    plain = run_and_grads(lambda v: chain(layers, v), x, params)
    seq = run_and_grads(lambda v: checkpoint_sequential(layers, segments, v), x, params)
    assert_runs_equal(plain, seq)


def test_checkpoint_sequential_counts_recomputations():
    # As torch: every segment but the last is checkpointed, so its layers run twice.
    calls = []
    layers = [lambda v, i=i: calls.append(i) or pyad.sin(v) for i in range(8)]
    x = pyad.randn(3, dtype=F64, requires_grad=True)
    checkpoint_sequential(layers, 4, x).sum().backward()
    assert sorted(calls) == sorted(list(range(8)) + list(range(6)))
    assert_same(x.grad, _sin_chain_grad(x.detach(), 8))


def _sin_chain_grad(x, n):
    g = np.ones(x.shape)
    v = x.numpy()
    vals = []
    for _ in range(n):
        vals.append(v)
        v = np.sin(v)
    for v in reversed(vals):
        g = g * np.cos(v)
    return pyad.tensor(g)


def test_checkpoint_sequential_rejects_bad_segments():
    with pytest.raises(ValueError, match="segments"):
        checkpoint_sequential([pyad.sin], 0, pyad.randn(2, requires_grad=True))


# ---------------------------------------------------------------- checkpoint_revolve: Griewank's bound
def binom(n, k):
    return math.comb(n, k) if 0 <= k <= n else 0


def beta(s, r):
    return binom(s + r, s)


def griewank_t(length, snaps):
    """Griewank's minimal number of forward steps to reverse `length` steps with `snaps` snapshots."""
    r = 0
    while length > beta(snaps, r):
        r += 1
    return r * length - beta(snaps + 1, r - 1)


def counted(layers):
    calls = []

    def wrap(i, f):
        def g(x):
            calls.append(i)
            return f(x)

        return g

    return [wrap(i, f) for i, f in enumerate(layers)], calls


def test_griewank_closed_form_sanity():
    # Known values: no extra snapshot costs L(L-1)/2; enough snapshots cost L-1 (each step once forward).
    for L in range(1, 15):
        assert griewank_t(L, 1) == L * (L - 1) // 2
        assert griewank_t(L, L) == L - 1
    # (10 steps, 3 snapshots): beta(3, 1) = 4 < 10 <= beta(3, 2) = 10, so r = 2 and t = 2*10 - beta(4, 1) = 15.
    assert griewank_t(10, 3) == 15


@pytest.mark.parametrize("L", range(1, 13))
def test_revolve_evaluations_match_griewank_and_actual_calls(L):
    layers, params = make_mlp(L, 4)
    x = pyad.randn(2, 4, dtype=F64, requires_grad=True)
    plain = run_and_grads(lambda v: chain(layers, v), x, params)
    for slots in range(5):
        expected = griewank_t(L, slots + 1) + L
        assert revolve_evaluations(L, slots) == expected, (L, slots)
        wrapped, calls = counted(layers)
        res = run_and_grads(lambda v: checkpoint_revolve(wrapped, v, slots), x, params)
        assert len(calls) == expected, (L, slots, len(calls), expected)
        # every layer runs at least twice... except that the last one is recorded once and never advanced over
        assert calls.count(L - 1) == 1
        assert_runs_equal(plain, res)


def test_revolve_with_enough_slots_runs_each_layer_at_most_twice():
    for L in range(1, 10):
        assert revolve_evaluations(L, L - 1) == 2 * L - 1
        assert revolve_evaluations(L, L + 3) == 2 * L - 1


def _simulate(actions, L):
    """Replay a schedule's bookkeeping; returns the most activations stored at once (x_0 not counted)."""
    stored, pos, most, reversed_ = set(), 0, 0, []
    for a in actions:
        kind = a[0]
        if kind == "advance":
            assert a[1] == pos and a[1] < a[2] <= L, a
            pos = a[2]
        elif kind == "store":
            assert a[1] == pos and a[1] not in stored and a[1] != 0, a
            stored.add(a[1])
            most = max(most, len(stored))
        elif kind == "free":
            assert a[1] in stored, a
            stored.remove(a[1])
        elif kind == "restore":
            assert a[1] == 0 or a[1] in stored, a
            pos = a[1]
        elif kind == "youturn":
            assert a[1] == pos, a
            reversed_.append(a[1])
        else:
            raise AssertionError(a)
    assert reversed_ == list(range(L - 1, -1, -1))  # each layer reversed once, last first
    assert not stored  # everything stored is freed
    return most


@pytest.mark.parametrize("L", [1, 2, 3, 5, 8, 13, 30, 64])
def test_revolve_schedule_never_holds_more_than_slots(L):
    for slots in range(0, 9):
        acts = revolve_schedule(L, slots)
        most = _simulate(acts, L)
        assert most <= slots, (L, slots, most)
        advances = sum(b - a for kind, *rest in acts if kind == "advance" for a, b in [rest])
        assert advances + L == revolve_evaluations(L, slots)


def test_revolve_schedule_rejects_bad_arguments():
    with pytest.raises(ValueError):
        revolve_schedule(0, 2)
    with pytest.raises(ValueError):
        revolve_schedule(4, -1)


def test_checkpoint_revolve_replays_dropout_and_noise():
    layers, params = make_mlp(9, 6, dropout=0.3, noise=True)
    x = pyad.randn(4, 6, dtype=F64, requires_grad=True)
    plain = run_and_grads(lambda v: chain(layers, v), x, params)
    for slots in (0, 1, 3):
        assert_runs_equal(plain, run_and_grads(lambda v: checkpoint_revolve(layers, v, slots), x, params))


def test_checkpoint_revolve_input_without_grad_gives_parameter_grads():
    layers, params = make_mlp(6, 5)
    x = pyad.randn(2, 5, dtype=F64)
    plain = run_and_grads(lambda v: chain(layers, v), x, params)
    rev = run_and_grads(lambda v: checkpoint_revolve(layers, v, 2), x, params)
    assert rev[1] is None and x.grad is None
    assert_runs_equal(plain, rev)


def test_checkpoint_revolve_under_no_grad_is_the_plain_chain():
    layers, _ = make_mlp(4, 3)
    x = pyad.randn(2, 3, dtype=F64, requires_grad=True)
    with pyad.no_grad():
        y = checkpoint_revolve(layers, x, 1)
    assert not y.requires_grad
    assert_same(y, chain(layers, x))


@pytest.mark.parametrize("how", ["checkpoint", "sequential", "revolve"])
def test_backward_twice_with_retain_graph(how):
    # checkpoint and checkpoint_sequential rebuild the graph on every backward; checkpoint_revolve must either do
    # the same or refuse clearly (a RuntimeError that names it), never fail with an unrelated error.
    layers, params = make_mlp(4, 3)
    x = pyad.randn(2, 3, dtype=F64, requires_grad=True)
    chain(layers, x).sum().backward()
    ref = x.grad.cpu().numpy().copy()
    x.grad = None
    run = {
        "checkpoint": lambda v: checkpoint(lambda u: chain(layers, u), v),
        "sequential": lambda v: checkpoint_sequential(layers, 2, v),
        "revolve": lambda v: checkpoint_revolve(layers, v, 1),
    }[how]
    y = run(x)
    y.sum().backward(retain_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), ref, rtol=1e-12)
    try:
        y.sum().backward()
    except RuntimeError as e:
        assert how == "revolve" and "revolve" in str(e), e
    else:
        np.testing.assert_allclose(x.grad.numpy(), 2 * ref, rtol=1e-12)


def test_checkpoint_of_functions_returning_their_input():
    x = pyad.randn(2, 3, dtype=F64, requires_grad=True)
    checkpoint(lambda u: u, x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 3)))
    x.grad = None
    a, b = checkpoint(lambda u: (u, u * 2), x)
    (a + b).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 3.0))


# ---------------------------------------------------------------- memory
MEM_L, MEM_WIDTH, MEM_BATCH = 64, 512, 32
ACT = MEM_BATCH * MEM_WIDTH * 4  # one float32 activation


@pytest.fixture
def deep_mlp(device):
    manual_seed_all(123)
    Ws = [pyad.randn(MEM_WIDTH, MEM_WIDTH, dtype=F32) / math.sqrt(MEM_WIDTH) for _ in range(MEM_L)]
    layers = [lambda v, W=W: pyad.tanh(v @ W) for W in Ws]
    x0 = pyad.randn(MEM_BATCH, MEM_WIDTH, dtype=F32)
    return layers, x0


def peak_and_grad(run, x0):
    x = x0.detach().clone().requires_grad_(True)
    gc.collect()
    base = memory_allocated()
    reset_peak_memory_stats()
    run(x).sum().backward()
    peak = max_memory_allocated() - base
    return peak, x.grad


def test_memory_sqrt_segments_versus_plain_versus_revolve(deep_mlp):
    layers, x0 = deep_mlp
    seg = int(math.isqrt(MEM_L))
    plain_peak, g_plain = peak_and_grad(lambda v: chain(layers, v), x0)
    seq_peak, g_seq = peak_and_grad(lambda v: checkpoint_sequential(layers, seg, v), x0)
    rev_peak, g_rev = peak_and_grad(lambda v: checkpoint_revolve(layers, v, seg), x0)
    bound = (2 * seg + seg) * ACT
    report = (
        f"peaks in activations: plain {plain_peak / ACT:.1f}, sqrt {seq_peak / ACT:.1f}, revolve {rev_peak / ACT:.1f}"
    )
    assert plain_peak >= 0.75 * MEM_L * ACT, report
    assert seq_peak <= bound, report
    assert rev_peak <= bound, report
    np.testing.assert_array_equal(g_seq.numpy(), g_plain.numpy())
    np.testing.assert_array_equal(g_rev.numpy(), g_plain.numpy())


def test_checkpoint_memory_returns_to_baseline(deep_mlp):
    layers, x0 = deep_mlp
    x = x0.detach().clone().requires_grad_(True)
    gc.collect()
    base = memory_allocated()
    for run in (
        lambda v: checkpoint_sequential(layers[:16], 4, v),
        lambda v: checkpoint_revolve(layers[:16], v, 3),
        lambda v: checkpoint(lambda u: chain(layers[:16], u), v),
    ):
        run(x).sum().backward()
        x.grad = None
        gc.collect()
        assert memory_allocated() == base
