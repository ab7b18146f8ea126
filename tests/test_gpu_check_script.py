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
EXPECTED_TO_FAIL = (
    "tests/test_cuda.py::test_copy_flag_and_identity tests/test_tensor.py::test_max_of_empty_raises[cuda]"
)


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu-check-out")
    return run_script(out, GPU_CHECK_TESTS=EXPECTED_TO_FAIL), out


def summary_lines(out):
    return {
        line.split()[0]: line
        for line in (out / "summary.txt").read_text().splitlines()
        if re.match(r"^[a-z][\w.-]* +[A-Z-]+ +\d+s/", line)
    }


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
    expect = {
        "probe": "NO-GPU",
        "build": "SKIP",
        "tests": "NO-GPU",
        "sanitize": "SKIP",
        "bench-pyad.bench": "SKIP",
        "bench-bench_cuda": "SKIP",
    }
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
        assert (out / f).stat().st_size <= 16 * 2**20
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


FAKE_NVIDIA_SMI = """#!/bin/sh
echo "NVIDIA H200 (fake), 580.159.04, 143771 MiB"
"""
# Reports no error, except for racecheck (3 errors, exit 99 as --error-exitcode asks); runs nothing.
FAKE_SANITIZER = """#!/bin/bash
tool= log=
while (($#)); do
  case $1 in --tool) tool=$2; shift ;; --log-file) log=$2; shift ;; --print-limit | --error-exitcode) shift ;;
    *) break ;; esac
  shift
done
n=0; [[ $tool == racecheck ]] && n=3
[[ -n $log ]] && echo "========= ERROR SUMMARY: $n errors" >"$log"
((n == 0)) || exit 99
"""
# Fakes pip (so the build stage installs and builds nothing), runs everything else with the real interpreter.
FAKE_PYTHON = """#!/bin/bash
if [[ "$1 $2" == "-m pip" ]]; then echo "fake pip: $*"; exit 0; fi
exec {python} "$@"
"""


def test_the_gpu_path_with_fake_tools(tmp_path):
    """The stages' GPU path, which only a GPU machine takes, run with stand-ins for nvidia-smi, compute-sanitizer
    and pip, so that a shell error there cannot first show up in a lease's scarce minutes."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in [
        ("nvidia-smi", FAKE_NVIDIA_SMI),
        ("compute-sanitizer", FAKE_SANITIZER),
        ("python", FAKE_PYTHON.format(python=sys.executable)),
    ]:
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    out = tmp_path / "out"
    env = dict(
        os.environ,
        OUT=str(out),
        PYTHON=str(bin_dir / "python"),
        PATH=f"{bin_dir}:{os.environ['PATH']}",
        GPU_CHECK_TESTS="tests/test_numeric_rules.py -k 'cpu and rand_stays'",
        GPU_CHECK_RUNTIME="firecracker",
        GPU_CHECK_XDIST="2",
    )  # two pytest-xdist workers where it is installed
    for k in ("PYAD_EXPECT_CUDA", "PYAD_EXPECT_CUBLAS", "GPU_CHECK_FORCE_NO_GPU"):
        env.pop(k, None)
    proc = subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    lines = summary_lines(out)
    status = {k: v.split()[1] for k, v in lines.items()}
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert status == {
        "probe": "PASS",
        "build": "PASS",
        "tests": "PASS",
        "sanitize-memcheck": "PASS",
        "sanitize-racecheck": "FAIL",
        "sanitize-initcheck": "PASS",
        "bench-pyad.bench": "FAIL",
        "bench-bench_cuda": "FAIL",
    }, lines
    assert "NVIDIA H200 (fake)" in lines["probe"]
    assert re.search(r"built in \d+s with \d+ cores; scipy-openblas32 \S+; carried: ", lines["build"])
    assert "cuda compiled" in lines["build"] and "matmul pyad" in lines["build"]
    assert re.search(r"\d+ tests: \d+ passed, 0 failed, 0 errors, 0 skipped", lines["tests"])
    assert "  ERROR SUMMARY: 3 errors: logs/sanitizer-racecheck.txt" in lines["sanitize-racecheck"]
    assert "no bench-pyad-cuda.json; exit 1: pyad-bench: error: --device cuda:" in lines["bench-pyad.bench"]
    with tarfile.open(out / "logs.tar.gz") as tar:
        names = set(tar.getnames())
    assert {"logs/build.txt", "logs/sanitizer-racecheck.txt", "logs/pyad.bench.txt"} <= names


def test_no_test_starts_after_the_deadline():
    env = dict(os.environ, PYAD_TEST_DEADLINE="1")  # long past
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "tests/test_numeric_rules.py", "-k", "uniform"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and "2 skipped" in proc.stdout, proc.stdout[-2000:]
    assert "not run: PYAD_TEST_DEADLINE (the time limit of the run) has passed" in proc.stdout


def test_requires_marks():
    assert requires(True, "thing", True) == [] and requires(True, "thing", False) == []
    (skip,) = requires(False, "thing", False)
    assert skip.name == "skip" and skip.kwargs["reason"] == "no thing"
    (fail,) = requires(False, "thing", True)
    assert fail.name == "missing_but_expected" and fail.args == ("thing",)
