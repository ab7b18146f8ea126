"""Run under `mpiexec -n N`: every collective on every dtype against NumPy, async_op, version counters and errors.
Prints "collectives ok <rank>" on success (tests/test_distributed.py checks it for every rank)."""

import os

import numpy as np

import pyad
import pyad.distributed as dist

dist.init_process_group("mpi")
rank, size = dist.get_rank(), dist.get_world_size()
rng = np.random.default_rng(1234)  # the same stream on every rank: each rank draws every rank's data
DTYPES = [np.float64, np.float32, np.int64, np.bool_]


def per_rank(dtype, shape):
    if dtype == np.bool_:
        return [rng.random(shape) < 0.5 for _ in range(size)]
    if dtype == np.int64:
        return [rng.integers(-50, 50, shape).astype(np.int64) for _ in range(size)]
    return [rng.standard_normal(shape).astype(dtype) for _ in range(size)]


def close(got, want, dtype):
    tol = 1e-5 if dtype == np.float32 else 1e-12
    if dtype in (np.float32, np.float64):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    else:
        np.testing.assert_array_equal(got, want)


for dtype in DTYPES:
    for shape in [(), (5,), (3, 4)]:
        data = per_rank(dtype, shape)
        stack = np.stack(data)
        ops = {dist.ReduceOp.SUM: stack.sum(0), dist.ReduceOp.MAX: stack.max(0), dist.ReduceOp.MIN: stack.min(0)}
        if dtype == np.bool_:
            ops = {dist.ReduceOp.SUM: stack.any(0), dist.ReduceOp.MAX: stack.any(0), dist.ReduceOp.MIN: stack.all(0)}
        else:
            ops[dist.ReduceOp.PRODUCT] = stack.prod(0)
        if dtype in (np.float32, np.float64):
            ops[dist.ReduceOp.AVG] = stack.mean(0)
        for op, want in ops.items():
            t = pyad.tensor(data[rank])
            v = t._version
            assert dist.all_reduce(t, op) is None
            close(t.numpy(), want.astype(dtype), dtype)
            assert t._version > v, "all_reduce must bump the version counter"

        t = pyad.tensor(data[rank])
        dist.broadcast(t, src=size - 1)
        close(t.numpy(), data[size - 1], dtype)

        outs = [pyad.zeros(shape, dtype=pyad.tensor(data[0]).dtype) for _ in range(size)]
        dist.all_gather(outs, pyad.tensor(data[rank]))
        for r in range(size):
            close(outs[r].numpy(), data[r], dtype)

        if dtype != np.bool_:
            chunks = [per_rank(dtype, shape) for _ in range(size)]  # chunks[r][j]: rank r's input j
            out = pyad.zeros(shape, dtype=pyad.tensor(data[0]).dtype)
            dist.reduce_scatter(out, [pyad.tensor(c) for c in chunks[rank]])
            close(out.numpy(), np.stack([chunks[r][rank] for r in range(size)]).sum(0).astype(dtype), dtype)

# async_op: the result lands at wait()
t = pyad.full((1000,), float(rank))
work = dist.all_reduce(t, async_op=True)
assert work.wait() and work.is_completed()
assert np.all(t.numpy() == sum(range(size)))

# a view that is contiguous works in place on its base
base = pyad.zeros(4, 3, dtype=pyad.float64) + rank
dist.all_reduce(base[1])
assert np.all(base.numpy()[1] == sum(range(size))) and np.all(base.numpy()[0] == rank)

# errors every rank raises alike, without a collective being left half done
for bad, exc, text in [
    (lambda: dist.all_reduce(pyad.zeros(3, 4).t()), ValueError, "contiguous"),
    (lambda: dist.all_reduce(pyad.ones(3, dtype=pyad.int64), op=dist.ReduceOp.AVG), TypeError, "AVG"),
    (lambda: dist.broadcast(pyad.ones(3), src=size), ValueError, "src"),
    (
        lambda: dist.all_gather([pyad.ones(3)], pyad.ones(3)) if size > 1 else dist.all_gather([], pyad.ones(3)),
        ValueError,
        "tensor_list",
    ),
    (lambda: dist.all_reduce(pyad.ones(2 + rank)), dist.DistBackendError, "disagree"),
    (lambda: dist.all_reduce([1.0]), TypeError, "Tensor"),
]:
    try:
        bad()
    except exc as e:
        assert text in str(e), (text, str(e))
    else:
        if not (text == "disagree" and size == 1):
            raise AssertionError(f"expected {exc.__name__} with {text!r}")

# all_reduce_gradients: the .grad of several parameters of two dtypes, averaged
a = pyad.tensor([1.0, 2.0], requires_grad=True)
b = pyad.tensor([[3.0]], dtype=pyad.float32, requires_grad=True)
((a * (rank + 1)).sum() + (b * (rank + 1)).sum()).backward()
dist.all_reduce_gradients([a, b])
mean = np.mean([r + 1 for r in range(size)])
assert np.allclose(a.grad.numpy(), mean) and np.allclose(b.grad.numpy(), mean)

dist.barrier()
try:
    dist.init_process_group("mpi")
except RuntimeError as e:
    assert "twice" in str(e)
else:
    raise AssertionError("a second init must raise")
dist.destroy_process_group()
assert not dist.is_initialized()
print(f"collectives ok {rank}", flush=True)
if os.environ.get("PYAD_TEST_OUT"):  # one file per rank: the launcher may interleave the ranks' output
    with open(os.path.join(os.environ["PYAD_TEST_OUT"], f"collectives-{rank}.ok"), "w") as fh:
        fh.write("ok")
