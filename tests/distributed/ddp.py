"""Run under `mpiexec -n N`: DistributedDataParallel over N ranks gives, after 50 SGD steps, the parameters that one
process training on the full batch gets (to 1e-12 in float64); no_sync accumulation; the unused-parameter error.
Prints "ddp ok <rank>" on success."""

import os

import numpy as np

import pyad
import pyad.distributed as dist
from pyad import nn

dist.init_process_group("mpi")
rank, size = dist.get_rank(), dist.get_world_size()
per_rank = 6
rng = np.random.default_rng(7)
X = pyad.tensor(rng.standard_normal((size * per_rank, 5)))
Y = pyad.tensor(rng.standard_normal((size * per_rank, 2)))


def make_model(seed):
    pyad.manual_seed(seed + rank * 1000)  # different on every rank: DDP must broadcast rank 0's weights
    return nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 2)).double()


def shard(t, r, parts=size, n=per_rank):
    return t[r * n : (r + 1) * n] if parts == size else t


model = make_model(0)
ddp = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=0.001)  # ~1 KB buckets: several of them
assert len(ddp._buckets) > 1
reference = make_model(0)
# rank 0's initial weights, so that the reference starts where DDP does
with pyad.no_grad():
    for p, q in zip(reference.parameters(), model.parameters()):
        p.copy_(q)

opt = pyad.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
ref_opt = pyad.optim.SGD(reference.parameters(), lr=0.05, momentum=0.9)
loss_fn = nn.MSELoss()
for _ in range(50):
    opt.zero_grad()
    loss_fn(ddp(shard(X, rank)), shard(Y, rank)).backward()
    opt.step()
    ref_opt.zero_grad()
    loss_fn(reference(X), Y).backward()
    ref_opt.step()
for p, q in zip(model.parameters(), reference.parameters()):
    np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=0, atol=1e-12)

# no_sync: two micro-batches accumulated locally, then averaged once
opt.zero_grad()
ref_grads = None
micro = per_rank // 2
with ddp.no_sync():
    loss_fn(ddp(X[rank * per_rank : rank * per_rank + micro]), Y[rank * per_rank : rank * per_rank + micro]).backward()
    local = [p.grad.numpy().copy() for p in model.parameters()]
loss_fn(
    ddp(X[rank * per_rank + micro : (rank + 1) * per_rank]), Y[rank * per_rank + micro : (rank + 1) * per_rank]
).backward()
reference.zero_grad()
for r in range(size):
    for lo in (r * per_rank, r * per_rank + micro):
        (loss_fn(reference(X[lo : lo + micro]), Y[lo : lo + micro]) / size).backward()
for p, q in zip(model.parameters(), reference.parameters()):
    np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=0, atol=1e-12)
if size > 1:
    assert any(np.abs(a - p.grad.numpy()).max() > 1e-6 for a, p in zip(local, model.parameters()))


# a parameter left out of the loss: its bucket never completes, and the next forward says so
class PartlyUsed(nn.Module):
    def __init__(self):
        super().__init__()
        self.used = nn.Linear(5, 2).double()
        self.unused = nn.Linear(5, 2).double()

    def forward(self, x):
        return self.used(x)


ddp3 = nn.parallel.DistributedDataParallel(PartlyUsed())
ddp3(X[:2]).sum().backward()
try:
    ddp3(X[:2])
except RuntimeError as e:
    assert "finished reduction" in str(e), str(e)
else:
    raise AssertionError("the unused parameter must be reported")
dist.destroy_process_group()
print(f"ddp ok {rank}", flush=True)
if os.environ.get("PYAD_TEST_OUT"):  # one file per rank: the launcher may interleave the ranks' output
    with open(os.path.join(os.environ["PYAD_TEST_OUT"], f"ddp-{rank}.ok"), "w") as fh:
        fh.write("ok")
