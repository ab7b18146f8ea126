"""The README's main job, `python -m pyad.bench`, in its CI-sized mode: from the repository root (where the
source folder pyad/ is first on sys.path), from another folder, and as a plain (non-editable) install would
see it. Guards Note [Importing pyad from its source checkout] and the JSON the README promises."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import pyad

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location("check_bench_json", os.path.join(ROOT, ".ci", "check_bench_json.py"))
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)


def run_bench(cwd, tmp_path, *extra, env=None, python=(sys.executable,)):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [*python, "-m", "pyad.bench", "--no-torch", "--json", str(out), *extra],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, PYAD_BENCH_QUICK="1", **(env or {})),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(out) as fh:
        return json.load(fh), proc


@pytest.mark.parametrize("where", ["root", "elsewhere"])
def test_main_job_runs_and_writes_the_promised_json(where, tmp_path):
    cwd = ROOT if where == "root" else str(tmp_path)
    doc, proc = run_bench(cwd, tmp_path)
    assert check.problems(doc, expect_torch=False) == []
    assert doc["meta"]["quick"] is True and doc["meta"]["sizes"] == [50, 100, 200]
    assert {r["d"] for r in doc["results"]} == {50, 100, 200}
    for r in doc["results"]:
        assert len(r["times_s"]) == doc["meta"]["repeats"]
        assert r["min_s"] <= r["median_s"] <= r["max_s"] and r["max_rel_error"] <= r["tolerance"]
    # Not a terminal: plain progress lines, then the table for each size.
    assert "[  0%] d=50 pyad reverse (grad): 4 runs (1 warm-up)" in proc.stderr
    assert proc.stdout.count("cost model: forward/reverse") == 3
    has_mpl = importlib.util.find_spec("matplotlib") is not None
    assert (doc["plot"] is not None) == has_mpl
    if has_mpl:
        assert doc["plot"] == str(tmp_path / "bench.png") and os.path.getsize(doc["plot"]) > 10_000
        assert f"plot written to {doc['plot']}" in proc.stdout


def test_main_job_from_the_root_with_a_plain_install(tmp_path):
    """A `pip install .` puts pyad (with its compiled core) in site-packages; run from the root, the source
    folder comes first on sys.path and must hand over to it. Simulated without installing: the package and its
    core copied to a folder on PYTHONPATH, with site disabled so the editable install's hook is not loaded."""
    site = tmp_path / "site"
    shutil.copytree(os.path.join(ROOT, "pyad"), site / "pyad", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(pyad._C.__file__, site / "pyad")
    deps = os.path.dirname(os.path.dirname(np.__file__))  # numpy, scipy_openblas32 (no editable hook: -S)
    env = {"PYTHONPATH": os.pathsep.join([str(site), deps])}
    doc, _ = run_bench(
        ROOT, tmp_path, "--d", "20", "--repeats", "1", "--no-plot", env=env, python=(sys.executable, "-S")
    )
    assert check.problems(doc, expect_torch=False) == []
    probe = subprocess.run(
        [sys.executable, "-S", "-c", "import pyad; print(pyad.__file__)"],
        cwd=ROOT,
        env=dict(os.environ, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.stdout.strip() == str(site / "pyad" / "__init__.py"), probe.stderr


def test_source_checkout_without_a_core_raises_one_clear_import_error(tmp_path):
    deps = os.path.dirname(os.path.dirname(np.__file__))
    proc = subprocess.run(
        [sys.executable, "-S", "-c", "import pyad"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=deps),
    )
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: pyad is being imported from its source checkout")
    assert "pip install" in last and "circular import" not in proc.stderr
