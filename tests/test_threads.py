"""Autograd from several Python threads at once: separate graphs give each thread exactly the gradients of a
single-threaded run; grad mode is per thread; the GIL is released around backward and large kernels and retaken
for Python code (custom Functions, hooks). See the thread-safety notes in pyad/autograd/__init__.py."""

import threading
import time

import numpy as np
import pytest

import pyad

THREADS = 4


class Cube(pyad.autograd.Function):
    """x**3 with a hand-written backward, so every backward calls into Python."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x * x


def make_problem(seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in [(8, 16), (16,), (16, 4), (5, 8)]]


def grads_of(arrays, hooks_seen):
    """One training step's gradients (with a custom Function and tensor hooks), as NumPy arrays."""
    w1, b1, w2, x = [pyad.tensor(a, dtype=pyad.float64, requires_grad=i < 3) for i, a in enumerate(arrays)]
    h = (x @ w1 + b1).tanh()
    h.register_hook(lambda g: hooks_seen.append(1) or g * 2.0)  # runs in Python, mid-backward
    w1.register_hook(lambda g: hooks_seen.append(1))
    out = Cube.apply(h @ w2)
    loss = (out * out).mean() + pyad.softmax(out, -1).sum()
    loss.backward()
    return [t.grad.numpy().copy() for t in (w1, b1, w2)]


def run_threads(fn, n=THREADS):
    errors, results = [], [None] * n
    barrier = threading.Barrier(n)

    def work(i):
        try:
            barrier.wait()
            results[i] = fn(i)
        except BaseException as e:  # noqa: BLE001  (re-raised in the main thread)
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def test_backward_on_separate_graphs_from_four_threads_matches_single_threaded():
    problems = [make_problem(i) for i in range(THREADS)]
    expect = [grads_of(p, []) for p in problems]
    iters = 250  # x 4 threads = 1,000 backward passes

    def work(i):
        seen = []
        for _ in range(iters):
            got = grads_of(problems[i], seen)
            for g, e in zip(got, expect[i]):
                assert np.array_equal(g, e), f"thread {i} got different gradients"
        return len(seen)

    assert run_threads(work) == [2 * iters] * THREADS  # every hook ran, in its own thread's backward


def test_grad_mode_is_per_thread():
    inside = threading.Event()
    release = threading.Event()
    seen = {}

    def in_no_grad():
        with pyad.no_grad():
            inside.set()
            release.wait(10)
            x = pyad.ones(2, requires_grad=True)
            seen["no_grad"] = ((x * 2).requires_grad, pyad.is_grad_enabled())

    t = threading.Thread(target=in_no_grad)
    t.start()
    inside.wait(10)
    # The other thread is inside no_grad now; this one still records.
    x = pyad.ones(2, requires_grad=True)
    assert pyad.is_grad_enabled() and (x * 2).requires_grad
    release.set()
    t.join()
    assert seen["no_grad"] == (False, False)
    # A new thread starts with grad mode on, whatever the creating thread's mode (as torch).
    with pyad.no_grad():
        assert run_threads(lambda i: pyad.is_grad_enabled(), 1) == [True]


def test_the_gil_is_released_around_backward_and_large_kernels():
    # During one long C++ call, another Python thread must get to run many times: with the GIL held it could
    # not run at all until the call returns.
    a = pyad.randn(300, 300, dtype=pyad.float64, requires_grad=True)
    big = pyad.randn(4_000_000, dtype=pyad.float64)
    m = pyad.randn(800, 800, dtype=pyad.float64)  # (a 300 x 300 product is over too soon to be seen)
    y = a
    for _ in range(30):
        y = (y @ a).tanh()
    loss = y.sum()
    calls = {
        "exp": lambda: big.exp(),
        "add": lambda: big + big,
        "sum": lambda: pyad.sum(big),
        "softmax": lambda: pyad.softmax(big, 0),
        "matmul": lambda: m @ m,
        "backward": lambda: loss.backward(retain_graph=True),
    }
    ticks, stop = [0], threading.Event()

    def ticker():
        while not stop.is_set():
            ticks[0] += 1
            time.sleep(0)

    t = threading.Thread(target=ticker)
    t.start()
    during = {}
    try:
        time.sleep(0.01)
        for name, call in calls.items():
            # The best of up to ten: on a loaded machine (the kernel's own threads on every core) the other
            # thread may not be scheduled during one call. With the GIL held it could tick at most once, at the
            # call's start, however many tries.
            during[name] = 0
            for _ in range(3 if name == "backward" else 10):
                before = ticks[0]
                call()
                during[name] = max(during[name], ticks[0] - before)
                if during[name] >= 2:
                    break
    finally:
        stop.set()
        t.join()
    assert all(n >= 2 for n in during.values()), f"ticks of the other thread during each call: {during}"


def test_custom_function_and_hooks_under_threads_with_create_graph():
    # Double backward through a custom Function whose backward is made of pyad ops, from 4 threads.
    def work(i):
        out = []
        for _ in range(50):
            x = pyad.tensor([0.5 + i, -1.0], dtype=pyad.float64, requires_grad=True)
            y = Cube.apply(x).sum()
            (g,) = pyad.autograd.grad(y, x, create_graph=True)
            (h,) = pyad.autograd.grad(g.sum(), x)
            out.append((g.detach().numpy().copy(), h.numpy().copy()))
        return out

    for i, res in enumerate(run_threads(work)):
        x = np.array([0.5 + i, -1.0])
        for g, h in res:
            assert np.allclose(g, 3 * x * x, rtol=0, atol=1e-12) and np.allclose(h, 6 * x, rtol=0, atol=1e-12)


def test_an_exception_in_one_threads_backward_leaves_the_others_alone():
    class Boom(pyad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, g):
            raise ValueError("boom")

    def work(i):
        for _ in range(100):
            x = pyad.ones(3, dtype=pyad.float64, requires_grad=True)
            if i % 2:
                with pytest.raises(ValueError, match="boom"):
                    Boom.apply(x).sum().backward()
            else:
                (x * x).sum().backward()
                assert x.grad.tolist() == [2.0, 2.0, 2.0]
        return True

    assert all(run_threads(work))
