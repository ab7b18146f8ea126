"""The CPU block cache (Note [CPU block cache] in csrc/core/storage.cpp): a freed block is handed to the next
allocation of its size, which must still see exactly what it asked for (zeros, ones, its own values), and
memory_allocated keeps counting live storages only."""

import numpy as np

import pyad


def test_reused_blocks_hold_what_the_new_tensor_asks_for():
    shape = [300, 301]  # ~700 KiB of float64: inside the cached range
    for _ in range(5):
        x = pyad.full(shape, 7.0, dtype=pyad.float64)
        del x
        z = pyad.zeros(shape, dtype=pyad.float64)
        assert not z.numpy().any()
        o = pyad.ones(shape, dtype=pyad.float64) + z
        assert (o.numpy() == 1).all()
        del z, o


def test_memory_allocated_counts_live_storages_only():
    base = pyad.memory_allocated()
    xs = [pyad.empty([256, 256], dtype=pyad.float64) for _ in range(3)]
    assert pyad.memory_allocated() - base == 3 * 256 * 256 * 8
    del xs
    assert pyad.memory_allocated() == base


def test_a_cached_block_is_never_shared_by_two_live_tensors():
    # More tensors than the cache holds, freed and reallocated in turns: each keeps its own value.
    live = {i: pyad.full([200, 200], float(i), dtype=pyad.float64) for i in range(12)}
    for k in range(12, 30):
        del live[min(live)]
        live[k] = pyad.full([200, 200], float(k), dtype=pyad.float64)
        for v, t in live.items():
            assert np.all(t.numpy() == v), f"tensor {v} was overwritten"
