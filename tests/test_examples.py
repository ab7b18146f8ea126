"""Every example runs (in its quick mode) and checks what it prints."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def load(name):
    path = os.path.join(EXAMPLES, name + ".py")
    spec = importlib.util.spec_from_file_location(f"pyad_example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gradient_check_example(capsys):
    err = load("gradient_check").main(d=12)
    assert err < 1e-7
    assert "max |pyad - finite differences|" in capsys.readouterr().out


def test_custom_function_example(capsys):
    rows = load("custom_function").main(quick=True)
    out = capsys.readouterr().out
    assert {r["x"] for r in rows} >= {-100.0, 100.0}
    for r in rows:
        assert np.isfinite(r["value"]) and np.isfinite(r["grad"])
        assert r["rel_err"] < 1e-6
    assert "pass" in out and "FAIL" not in out


def test_checkpointing_example(tmp_path, capsys):
    plot = str(tmp_path / "ckpt.png")
    rows = load("checkpointing").main(quick=True, plot=plot)
    out = capsys.readouterr().out
    assert {r["strategy"] for r in rows} == {"none", "sqrt(L) segments", "revolve"}
    biggest = max(r["layers"] for r in rows)
    peaks = {r["strategy"]: r["peak_bytes"] for r in rows if r["layers"] == biggest}
    assert peaks["sqrt(L) segments"] < peaks["none"] and peaks["revolve"] < peaks["none"]
    has_mpl = importlib.util.find_spec("matplotlib") is not None
    assert os.path.exists(plot) == has_mpl
    assert ("wrote " + plot in out) == has_mpl


def test_graph_inspection_example(capsys):
    res = load("graph_inspection").main(quick=True)
    out = capsys.readouterr().out
    np.testing.assert_allclose(res["gradient"], res["expected"], rtol=1e-12)
    for name in ("LogBackward0", "AddBackward0", "MulBackward0", "ExpBackward0", "SumBackward0", "saved"):
        assert name in out
    assert res["dot"].startswith("digraph")


@pytest.mark.parametrize("name", ["custom_function", "graph_inspection"])
def test_examples_run_as_scripts_in_quick_mode(name):
    proc = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, name + ".py"), "--quick"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout


def test_maml_example(capsys):
    err, before, after = load("maml").main(quick=True)
    out = capsys.readouterr().out
    assert err < 1e-7  # the meta-gradient, second-order terms included, matches finite differences
    assert after < 0.9 * before  # meta-training through the inner step lowers the held-out meta-loss
    assert "finite differences" in out and "held-out meta-loss" in out
