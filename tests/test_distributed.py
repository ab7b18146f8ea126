"""pyad.distributed and DistributedDataParallel, run under the MPI launcher of the [mpi] extra (mpiexec -n N) in
subprocesses, so that MPI never starts inside the test process. The worker scripts in tests/distributed/ check the
numbers (against NumPy and against one process on the full batch) and print "<name> ok <rank>" per rank."""

import os
import re
import shutil
import subprocess
import sys
import time

import pytest

import pyad
import pyad.distributed as dist

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "distributed")


def mpiexec():
    # the launcher installed next to this Python (the [mpi] extra's MPICH), else the one on PATH
    found = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
    assert found, "mpiexec not found: install the [mpi] extra (pip install -e '.[test]' brings it)"
    return found


def launch(n, script, *args, timeout=240, out_dir=None):
    env = dict(os.environ, PYAD_NUM_THREADS="1", OMP_NUM_THREADS="1")
    if out_dir is not None:
        env["PYAD_TEST_OUT"] = str(out_dir)
    start = time.monotonic()
    proc = subprocess.run(
        [mpiexec(), "-n", str(n), sys.executable, os.path.join(HERE, script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    return proc, time.monotonic() - start


def ranks_ok(out_dir, name):
    """The ranks whose worker finished: each writes <name>-<rank>.ok (its stdout, merged by the launcher, may
    interleave with the others' within a line)."""
    return sorted(int(m.group(1)) for f in os.listdir(out_dir) if (m := re.fullmatch(rf"{name}-(\d+)\.ok", f)))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_collectives_against_numpy(n, tmp_path):
    proc, _ = launch(n, "collectives.py", out_dir=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ranks_ok(tmp_path, "collectives") == list(range(n)), proc.stdout


@pytest.mark.parametrize("n", [1, 2, 4])
def test_ddp_matches_one_process_on_the_full_batch(n, tmp_path):
    proc, _ = launch(n, "ddp.py", out_dir=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ranks_ok(tmp_path, "ddp") == list(range(n)), proc.stdout


def test_a_rank_raising_ends_the_job():
    proc, seconds = launch(2, "failure.py", "raise", timeout=120)
    assert proc.returncode != 0
    assert "rank 1 failed on purpose" in proc.stderr
    assert "unreachable" not in proc.stdout
    assert seconds < 60


def test_a_stuck_rank_times_out_with_a_clear_error():
    proc, seconds = launch(2, "failure.py", "timeout", timeout=120)
    assert proc.returncode != 0
    assert "DistBackendError" in proc.stderr and "timed out after 2 s" in proc.stderr, proc.stderr
    assert seconds < 50


def test_collectives_before_init_raise():
    assert not dist.is_initialized()
    for call in (lambda: dist.all_reduce(pyad.ones(2)), dist.get_rank, dist.barrier):
        with pytest.raises(RuntimeError, match="has not been initialized"):
            call()
    with pytest.raises(RuntimeError, match="init_process_group"):
        pyad.nn.parallel.DistributedDataParallel(pyad.nn.Linear(2, 2))


def test_unknown_backend_and_bad_timeout():
    with pytest.raises(ValueError, match="unknown backend"):
        dist.init_process_group("gloo")
    with pytest.raises(ValueError, match="timeout"):
        dist.init_process_group("mpi", timeout=0)
    assert not dist.is_initialized()


def test_nccl_without_a_gpu_says_why():
    if pyad.cuda.is_available():
        pytest.skip("this machine has a GPU: tests/test_distributed_gpu.py covers NCCL")
    with pytest.raises(RuntimeError, match="nccl backend needs"):
        dist.init_process_group("nccl")


def test_post_accumulate_grad_hook_sees_the_summed_grad():
    w = pyad.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    handle = w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
    (w * 3).sum().backward()
    (w * 2).sum().backward()
    assert seen == [[3.0, 3.0], [5.0, 5.0]]
    handle.remove()
    (w * 2).sum().backward()
    assert len(seen) == 2
    with pytest.raises(RuntimeError, match="leaf"):
        (w * 2).register_post_accumulate_grad_hook(lambda p: None)


def test_missing_mpi4py_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py now raises ImportError
    assert not dist.is_mpi_available()
    with pytest.raises(RuntimeError, match=r"install the \[mpi\] extra"):
        dist.init_process_group("mpi")
    assert not dist.is_initialized()
