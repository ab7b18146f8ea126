"""benchmarks/gpu_check.sh, the one-call GPU check, rehearsed without a GPU (GPU_CHECK_FORCE_NO_GPU=1, so even a
GPU machine takes this path): it must say the GPU is missing, run each stage's plumbing, write its summary and
logs where the device tool brings files back, and end quickly. Its test stage also checks the rule it relies on:
PYAD_EXPECT_CUDA=1 turns the CUDA tests' skips into failures."""
import os
import re
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

try:
    from tests.conftest import requires
except ImportError:
    from conftest import requires

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"


def run_script(out, **env):
    full = dict(os.environ, OUT=str(out), PYTHON=sys.executable, GPU_CHECK_FORCE_NO_GPU="1", **env)
    for k in ("PYAD_EXPECT_CUDA", "PYAD_EXPECT_CUBLAS"):
        full.pop(k, None)
    return subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, env=full, capture_output=True, text=True, timeout=300)


# A test of test_cuda.py and the cuda case of a device-parametrised test: both must fail under PYAD_EXPECT_CUDA=1.
EXPECTED_TO_FAIL = "tests/test_cuda.py::test_copy_flag_and_identity tests/test_tensor.py::test_max_of_empty_raises[cuda]"


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu-check-out")
    return run_script(out, GPU_CHECK_TESTS=EXPECTED_TO_FAIL), out


def summary_lines(out):
    return {line.split()[0]: line for line in (out / "summary.txt").read_text().splitlines()
            if re.match(r"^[a-z][\w.-]* +[A-Z-]+ +\d+s/", line)}


def test_rehearsal_reports_the_missing_gpu_and_exits_2(rehearsal):
    proc, out = rehearsal
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "no GPU: GPU_CHECK_FORCE_NO_GPU=1" in proc.stdout
    assert "Rehearsing the stages' plumbing" in proc.stdout
    text = (out / "summary.txt").read_text()
    assert text in proc.stdout, "the summary is printed at the end, for the device tool's output tail"
    assert 'run(command="bash benchmarks/gpu_check.sh", carry=[".whl"], timeout_s=540)' in text


def test_rehearsal_runs_every_stage(rehearsal):
    _, out = rehearsal
    lines = summary_lines(out)
    expect = {"probe": "NO-GPU", "build": "SKIP", "tests": "NO-GPU", "sanitize": "SKIP",
              "bench-pyad.bench": "SKIP", "bench-bench_cuda": "SKIP"}
    assert set(lines) == set(expect), lines
    for stage, status in expect.items():
        assert lines[stage].split()[1] == status, lines[stage]
    assert "would run:" in lines["build"] and "-DPYAD_REQUIRE_CUDA=ON" in lines["build"]
    assert "2 tests: 0 passed, 0 failed, 2 errors, 0 skipped" in lines["tests"]
    assert "every check passed on cpu" in lines["sanitize"], "the sanitizer workload's checks run on the CPU"
    for stage in ("bench-pyad.bench", "bench-bench_cuda"):
        assert "it answered:" in lines[stage] and "Traceback" not in lines[stage]


def test_rehearsal_files_fit_the_device_tool(rehearsal):
    _, out = rehearsal
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert 1 <= len(files) <= 8
    for f in files:
        assert len(f.parts) <= 3 and all(re.fullmatch(r"[A-Za-z0-9._-]+", part) for part in f.parts), f
        assert (out / f).stat().st_size <= 16 * 2 ** 20
    assert {"summary.txt", "junit-cuda.xml", "logs.tar.gz"} <= {str(f) for f in files}
    with tarfile.open(out / "logs.tar.gz") as tar:
        names = set(tar.getnames())
    assert {"logs/probe.txt", "logs/pytest.txt", "logs/gpu_sanitize-cpu.txt"} <= names
    errors = list(ET.parse(out / "junit-cuda.xml").getroot().iter("error"))
    assert len(errors) == 2
    for e in errors:
        assert "no CUDA device, but the environment (PYAD_EXPECT_*) says this machine has one" in e.get("message")


def test_rehearsal_stages_can_be_chosen(tmp_path):
    proc = run_script(tmp_path, GPU_CHECK_STAGES="sanitize")
    assert proc.returncode == 2, proc.stdout[-3000:]
    assert set(summary_lines(tmp_path)) == {"probe", "sanitize"}


def test_a_stage_without_time_left_is_reported_not_run(tmp_path):
    proc = run_script(tmp_path, GPU_CHECK_STAGES="bench", GPU_CHECK_BUDGET="12")
    lines = summary_lines(tmp_path)
    assert proc.returncode == 1, proc.stdout[-3000:]
    for stage in ("bench-pyad.bench", "bench-bench_cuda"):
        assert lines[stage].split()[1] == "TIMEOUT" and "not started" in lines[stage], lines[stage]


def test_requires_marks():
    assert requires(True, "thing", True) == [] and requires(True, "thing", False) == []
    skip, = requires(False, "thing", False)
    assert skip.name == "skip" and skip.kwargs["reason"] == "no thing"
    fail, = requires(False, "thing", True)
    assert fail.name == "missing_but_expected" and fail.args == ("thing",)
