"""The CPU kernels' own threads (Note [CPU kernel threads] in csrc/kernels/cpu/parallel.h): one setting for them
and OpenBLAS, read from the environment as torch does; results bitwise equal at 1 and N threads (work is cut
by problem size, never by thread count) and equal to NumPy within reduction-order tolerance; the pool survives
concurrent callers and fork. The threaded runs also move the parallel threshold to 0, so that every loop is
split, the small ones included."""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import pyad


@pytest.fixture
def restore_threads():
    n = pyad.get_num_threads()
    threshold = pyad._C._set_parallel_min_bytes(0)
    pyad._C._set_parallel_min_bytes(threshold)
    yield
    pyad.set_num_threads(n)
    pyad._C._set_parallel_min_bytes(threshold)


DEFAULT_THRESHOLD = pyad._C._set_parallel_min_bytes(0)
pyad._C._set_parallel_min_bytes(DEFAULT_THRESHOLD)


def at_threads(n, fn, threshold=DEFAULT_THRESHOLD):
    """fn() on n threads, every loop above `threshold` bytes split (0: all of them)."""
    pyad.set_num_threads(n)
    pyad._C._set_parallel_min_bytes(threshold)
    return fn()


RNG = np.random.default_rng(0)
BIG = RNG.standard_normal((301, 1203))  # odd sizes: pieces and tiles with ragged ends
VEC = RNG.standard_normal(1203)
COL = RNG.standard_normal((301, 1))
LONG = RNG.standard_normal(1_000_003)


def cases(dtype):
    """name -> (pyad computation, NumPy reference); each above the threshold."""
    t = {k: pyad.tensor(v, dtype=dtype) for k, v in dict(big=BIG, vec=VEC, col=COL, long=LONG).items()}
    big, vec, col, long = t["big"], t["vec"], t["col"], t["long"]
    return {
        "add": (lambda: big + big, BIG + BIG),
        "mul row broadcast": (lambda: big * vec, BIG * VEC),
        "sub column broadcast": (lambda: big - col, BIG - COL),
        "scalar times": (lambda: 2.5 * big, 2.5 * BIG),
        "transposed times vector": (lambda: big.T * col.reshape(-1), BIG.T * COL.reshape(-1)),
        "transposed plus contiguous": (lambda: big.T + big.T.contiguous(), BIG.T + BIG.T),
        "sigmoid": (lambda: pyad.sigmoid(big), 1 / (1 + np.exp(-BIG))),
        "exp of transposed": (lambda: pyad.exp(big.T), np.exp(BIG.T)),
        "where": (lambda: pyad.where(big > 0, big, vec), np.where(BIG > 0, BIG, VEC)),
        "copy of transposed": (lambda: big.T.contiguous(), BIG.T),
        "long add": (lambda: long + long, LONG + LONG),
        "sum all": (lambda: big.sum(), BIG.sum()),
        "sum long": (lambda: long.sum(), LONG.sum()),
        "sum dim 0": (lambda: big.sum(0), BIG.sum(0)),
        "sum dim 1": (lambda: big.sum(1), BIG.sum(1)),
        "sum transposed dim 1": (lambda: big.T.sum(1), BIG.T.sum(1)),
        "mean dim 0": (lambda: big.mean(0), BIG.mean(0)),
        "max dim 1": (lambda: big.amax(1), BIG.max(1)),
        "min long": (lambda: long.amin(), LONG.min()),
        "logsumexp dim 1": (
            lambda: pyad.logsumexp(big, 1),
            np.log(np.exp(BIG - BIG.max(1, keepdims=True)).sum(1)) + BIG.max(1),
        ),
        "matrix @ vector": (lambda: big @ vec, BIG @ VEC),
        "vector @ matrix": (lambda: col.reshape(-1) @ big, COL.reshape(-1) @ BIG),
        "transposed matrix @ vector": (lambda: big.T @ col.reshape(-1), BIG.T @ COL.reshape(-1)),
    }


@pytest.mark.parametrize("dtype", [pyad.float64, pyad.float32], ids=["float64", "float32"])
def test_results_are_bitwise_equal_at_one_and_many_threads_and_match_numpy(dtype, restore_threads):
    tol = dict(rtol=1e-12, atol=1e-10) if dtype == pyad.float64 else dict(rtol=2e-5, atol=5e-3)
    for name, (fn, ref) in cases(dtype).items():
        one = at_threads(1, fn).numpy()
        for n in (2, 3, 8):
            for threshold in (DEFAULT_THRESHOLD, 0):
                many = at_threads(n, fn, threshold).numpy()
                assert np.array_equal(one, many, equal_nan=True), f"{name}: {n} threads differ from one"
        np.testing.assert_allclose(one, np.asarray(ref), **tol, err_msg=name)


def test_gradients_are_bitwise_equal_at_one_and_many_threads(restore_threads):
    def grads():
        A = pyad.tensor(BIG, dtype=pyad.float64, requires_grad=True)
        x = pyad.tensor(VEC, dtype=pyad.float64, requires_grad=True)
        (pyad.sigmoid(A @ x) * 3.0).sum().backward()
        return A.grad.numpy().copy(), x.grad.numpy().copy()

    one = at_threads(1, grads)
    for n in (2, 5):
        for g1, gn in zip(one, at_threads(n, grads, 0)):
            assert np.array_equal(g1, gn)


def test_set_num_threads_is_the_one_setting_get_num_threads_reports(restore_threads):
    pyad.set_num_threads(3)
    assert pyad.get_num_threads() == 3
    pyad.set_num_threads(1)
    assert pyad.get_num_threads() == 1
    with pytest.raises(ValueError, match=r"set_num_threads.*positive"):
        pyad.set_num_threads(0)


def _threads_in_child(env_update):
    env = {
        k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
    }
    env.update(env_update)
    code = "import pyad; x = pyad.ones([300, 300], dtype=pyad.float64); (x @ x).sum(); print(pyad.get_num_threads())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    return int(out.stdout.strip().splitlines()[-1])


def test_the_default_comes_from_the_environment_as_torch_reads_it():
    assert _threads_in_child({"OMP_NUM_THREADS": "3"}) == 3
    assert _threads_in_child({"OMP_NUM_THREADS": "5,2"}) == 5  # a nested list: its first level
    assert _threads_in_child({"MKL_NUM_THREADS": "2"}) == 2
    assert _threads_in_child({"OPENBLAS_NUM_THREADS": "1"}) == 1
    assert _threads_in_child({"OMP_NUM_THREADS": "4", "OPENBLAS_NUM_THREADS": "1"}) == 4
    # Unset (or unreadable): the physical cores this process may use, at least one.
    default = _threads_in_child({"OMP_NUM_THREADS": "not a number"})
    assert 1 <= default <= len(os.sched_getaffinity(0))


def test_concurrent_python_threads_share_the_pool_and_get_exact_results(restore_threads):
    # The GIL is released around large ops, so these kernels really overlap; a caller that finds the pool busy
    # runs on its own thread, and every result is the one-thread result.
    pyad.set_num_threads(1)
    inputs = [pyad.tensor(BIG * (i + 1), dtype=pyad.float64) for i in range(4)]
    vec = pyad.tensor(VEC, dtype=pyad.float64)
    expect = [((x * vec).sum(1) + x @ vec).numpy() for x in inputs]
    pyad.set_num_threads(2)
    pyad._C._set_parallel_min_bytes(0)
    errors = []

    def work(i):
        try:
            for _ in range(30):
                x = inputs[i]
                assert np.array_equal(((x * vec).sum(1) + x @ vec).numpy(), expect[i])
        except BaseException as e:  # noqa: BLE001  (re-raised below)
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_runs_parallel_kernels(restore_threads):
    pyad.set_num_threads(2)
    pyad._C._set_parallel_min_bytes(0)
    x = pyad.tensor(LONG, dtype=pyad.float64)
    expect = float((x * x).sum())  # the parent's pool is started
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its parent's workers do not exist here
        try:
            ok = float((x * x).sum()) == expect
            os.write(w, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(w)
    got = os.read(r, 1)
    os.close(r)
    os.waitpid(pid, 0)
    assert got == b"1"


# gemv's AVX2 and baseline bodies (Note [Run-time ISA dispatch]), each in a process of its own capped by
# PYAD_CPU_ISA, against NumPy: sizes around the 4-row unroll and the vector tails, both products (A x, A^T g).
_GEMV_CHILD = r"""
import numpy as np, pyad
rng = np.random.default_rng(3)
for dt in (np.float64, np.float32):
    for n, m in ((1, 1), (3, 7), (7, 3), (5, 1003), (1003, 9)):
        A = rng.standard_normal((n, m)).astype(dt)
        x, g = rng.standard_normal(m).astype(dt), rng.standard_normal(n).astype(dt)
        v = pyad.tensor(x, requires_grad=True)
        y = pyad.tensor(A) @ v
        y.backward(pyad.tensor(g))
        tol = 1e-12 if dt == np.float64 else 1e-4
        np.testing.assert_allclose(y.detach().numpy(), A @ x, rtol=tol, atol=tol, err_msg=f"{n}x{m}")
        np.testing.assert_allclose(v.grad.numpy(), A.T @ g, rtol=tol, atol=tol, err_msg=f"{n}x{m}")
print("ok")
"""


@pytest.mark.parametrize("isa", ["baseline", "avx2"])
def test_gemv_isa_paths_match_numpy(isa):
    env = dict(os.environ, PYAD_CPU_ISA=isa)
    run = subprocess.run([sys.executable, "-c", _GEMV_CHILD], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stdout + run.stderr
