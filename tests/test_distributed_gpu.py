"""NCCL with world size 1 (one GPU per rank: NCCL forbids two ranks on one GPU), where a GPU and NCCL are present.
CPU-only machines skip it: there is no GPU there for NCCL to drive (tests/test_distributed.py covers MPI)."""

import numpy as np
import pytest

import pyad
import pyad.distributed as dist

pytestmark = pytest.mark.skipif(
    not (pyad.cuda.is_available() and dist.is_nccl_available()), reason="needs a GPU and NCCL ([nccl] extra)"
)


def test_nccl_collectives_world_size_one():
    dist.init_process_group("nccl", rank=0, world_size=1)
    try:
        assert dist.get_backend() == "nccl" and dist.get_world_size() == 1
        for dtype in (pyad.float32, pyad.float64, pyad.int64):
            t = pyad.arange(6, dtype=dtype, device="cuda").reshape(2, 3)
            want = t.cpu().numpy().copy()
            dist.all_reduce(t, dist.ReduceOp.SUM)
            np.testing.assert_array_equal(t.cpu().numpy(), want)
            dist.broadcast(t, 0)
            outs = [pyad.zeros(2, 3, dtype=dtype, device="cuda")]
            dist.all_gather(outs, t)
            np.testing.assert_array_equal(outs[0].cpu().numpy(), want)
            out = pyad.zeros(2, 3, dtype=dtype, device="cuda")
            dist.reduce_scatter(out, [t])
            np.testing.assert_array_equal(out.cpu().numpy(), want)
        with pytest.raises(ValueError, match="communicates tensors on"):
            dist.all_reduce(pyad.ones(3))
        model = pyad.nn.Linear(4, 2).cuda()
        ddp = pyad.nn.parallel.DistributedDataParallel(model)
        ddp(pyad.ones(3, 4, device="cuda")).sum().backward()
        np.testing.assert_allclose(model.bias.grad.cpu().numpy(), [3.0, 3.0])
        dist.barrier()
    finally:
        dist.destroy_process_group()
