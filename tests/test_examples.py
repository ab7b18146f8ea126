"""Every example runs (in its quick mode) and checks what it prints."""

import gc
import importlib.util
import os
import runpy
import subprocess
import sys

import numpy as np
import pytest
import torch

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


@pytest.fixture(autouse=True)
def collect_garbage():
    """An example's module and the graphs its functions close over form reference cycles: free them here, so
    that tests after these (tests/test_flat_memory.py counts bytes across gc.collect()) start clean."""
    yield
    gc.collect()


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


def test_custom_function_example_stable_softplus(capsys):
    rows = load("custom_function").main(quick=True)
    out = capsys.readouterr().out
    assert {r["x"] for r in rows} >= {-1000.0, 1000.0}
    for r in rows:
        assert np.isfinite(r["value"]) and np.isfinite(r["grad"])
        assert r["rel_err"] < 1e-6
        np.testing.assert_allclose(r["grad"], r["sigmoid"], rtol=1e-12, atol=0)  # the gradient is sigmoid(x)
    at = {r["x"]: r for r in rows}
    assert at[1000.0]["value"] == 1000.0 and at[1000.0]["grad"] == 1.0  # no overflow at x = 1000
    assert at[-1000.0]["value"] == 0.0 and at[0.0]["value"] == pytest.approx(np.log(2.0), rel=1e-15)
    assert "pass" in out and "FAIL" not in out and "inf" in out  # the naive formula overflows


def test_checkpointing_example_memory_grows_as_theory_says(tmp_path, capsys):
    res = load("checkpointing").main(quick=True, out=str(tmp_path))
    out = capsys.readouterr().out
    rows = res["rows"]
    assert {r["strategy"] for r in rows} == {"none", "sqrt(L) segments", "revolve"}
    biggest = max(r["layers"] for r in rows)
    peaks = {r["strategy"]: r["peak_bytes"] for r in rows if r["layers"] == biggest}
    assert peaks["sqrt(L) segments"] < peaks["none"] and peaks["revolve"] < peaks["none"]
    # Without checkpointing every layer's activation is kept: one more per layer. sqrt(L) segments keep
    # L/k segment inputs and one segment's k activations: 2 sqrt(L).
    assert 0.9 < res["slopes"]["none"] < 1.1, res["slopes"]
    assert 1.7 < res["slopes"]["sqrt(L) segments"] < 2.3, res["slopes"]
    for r in rows:
        if r["strategy"] == "none":
            assert r["layers"] <= r["activations"] <= r["layers"] + 3, r
        if r["strategy"] == "sqrt(L) segments":
            assert 2 * np.sqrt(r["layers"]) <= r["activations"] <= 2 * np.sqrt(r["layers"]) + 3, r
    assert os.path.getsize(res["plot"]) > 0 and "wrote " + res["plot"] in out


def test_graph_inspection_example(capsys):
    res = load("graph_inspection").main(quick=True)
    out = capsys.readouterr().out
    np.testing.assert_allclose(res["gradient"], res["expected"], rtol=1e-12)
    for name in ("LogBackward0", "AddBackward0", "MulBackward0", "ExpBackward0", "SumBackward0", "saved"):
        assert name in out
    assert res["dot"].startswith("digraph")


# Every example, with the arguments its script test runs it with: --quick, --out where it plots, and for the
# slowest ones smaller sizes still (their quick mode is checked in full by the tests above).
SCRIPTS = {
    "chain_rule": ["--quick"],
    "checkpointing": ["--quick", "--layers", "1", "4", "--width", "8"],
    "custom_function": ["--quick"],
    "digits": ["--quick", "--epochs", "1"],
    "dual_numbers": ["--quick"],
    "finite_differences": ["--quick"],
    "gradient_check": ["--quick"],
    "graph_inspection": ["--quick"],
    "hvp": ["--quick"],
    "jacobian_crossover": ["--quick", "--sizes", "2", "3"],
    "linear_relu_network": ["--quick"],
    "maml": ["--quick", "--steps", "2"],
    "micrograd": ["--quick"],
    "softmax_jacobian": ["--quick"],
    "topological_order": ["--quick"],
    "xor": ["--quick", "--steps", "5"],
}
PLOTS = {"checkpointing", "digits", "finite_differences", "jacobian_crossover"}
TESTED_ELSEWHERE = {"ift_ridge"}  # tests/test_example_ift_ridge.py, with pyad.linalg


def test_every_example_is_listed_and_none_imports_torch():
    on_disk = {f[:-3] for f in os.listdir(EXAMPLES) if f.endswith(".py")}
    assert on_disk - TESTED_ELSEWHERE <= set(SCRIPTS), on_disk - set(SCRIPTS)
    for name in on_disk:
        with open(os.path.join(EXAMPLES, name + ".py")) as fh:
            source = fh.read()
        assert "import torch" not in source, name  # the examples show pyad alone


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_example_runs_as_a_script(name, tmp_path, monkeypatch, capsys):
    """The script's command line reaches main (run in this process: a fresh interpreter per script would
    cost more than the examples themselves)."""
    args = SCRIPTS[name] + (["--out", str(tmp_path)] if name in PLOTS else [])
    monkeypatch.setattr(sys, "argv", [name + ".py", *args])
    runpy.run_path(os.path.join(EXAMPLES, name + ".py"), run_name="__main__")
    assert capsys.readouterr().out
    if name in PLOTS:
        (png,) = tmp_path.glob("*.png")
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name", ["custom_function", "graph_inspection"])
def test_examples_run_in_a_fresh_interpreter(name):
    proc = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, name + ".py"), "--quick"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout


def test_maml_example(capsys):
    res = load("maml").main(quick=True)
    out = capsys.readouterr().out
    assert res["meta_gradient_err"] < 1e-7  # second-order terms included, it matches finite differences
    assert res["meta_loss_after"] < 0.9 * res["meta_loss_before"]  # meta-training lowers the held-out meta-loss
    assert "finite differences" in out and "held-out meta-loss" in out


def test_chain_rule_example_every_intermediate_in_both_modes():
    x = 0.3
    res = load("chain_rule").main(quick=True, x=x)
    h1, h2 = 2 * x, 4 * x * x
    values = {"x": x, "h1": h1, "h2": h2, "y": np.sin(h2)}
    tangents = {"x": 1.0, "h1": 2.0, "h2": 2 * h1 * 2.0, "y": np.cos(h2) * 2 * h1 * 2.0}  # d(.)/dx
    adjoints = {"y": 1.0, "h2": np.cos(h2), "h1": np.cos(h2) * 2 * h1, "x": np.cos(h2) * 2 * h1 * 2}  # dy/d(.)
    for name in values:
        for mode in ("forward", "reverse"):
            assert res[mode][name][0] == pytest.approx(values[name], rel=1e-15, abs=1e-15)
        assert res["forward"][name][1] == pytest.approx(tangents[name], rel=1e-14)
        assert res["reverse"][name][1] == pytest.approx(adjoints[name], rel=1e-14)
    closed = 8 * x * np.cos(4 * x * x)
    assert res["dydx_forward"] == pytest.approx(closed, rel=1e-14)
    assert res["dydx_reverse"] == pytest.approx(closed, rel=1e-14)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    torch.sin((2 * xt) ** 2).backward()
    assert res["dydx_reverse"] == pytest.approx(xt.grad.item(), rel=1e-15)


def test_finite_differences_example_v_shaped_error(tmp_path):
    res = load("finite_differences").main(quick=False, out=str(tmp_path))
    x = 1.5
    exact = 2 * x * np.sin(x) + x * x * np.cos(x)
    assert res["symbolic"] == pytest.approx(exact, rel=1e-15)
    assert res["autodiff"] == pytest.approx(exact, rel=1e-14)
    # The theory's optimal steps: 2 sqrt(eps |f| / |f''|) forward, (3 eps |f| / |f'''|)^(1/3) central.
    eps, fx = np.finfo(float).eps, x * x * np.sin(x)
    d2 = 2 * np.sin(x) + 4 * x * np.cos(x) - x * x * np.sin(x)
    d3 = 6 * np.cos(x) - 6 * x * np.sin(x) - x * x * np.cos(x)
    assert res["theory_forward_step"] == pytest.approx(2 * np.sqrt(eps * fx / abs(d2)), rel=1e-12)
    assert res["theory_central_step"] == pytest.approx((3 * eps * fx / abs(d3)) ** (1 / 3), rel=1e-12)
    # The measured best steps sit near them (within a decade: the bottom of the V is flat and noisy) ...
    for kind in ("forward", "central"):
        ratio = res[f"best_{kind}_step"] / res[f"theory_{kind}_step"]
        assert 0.1 < ratio < 10, (kind, ratio)
    steps, fwd, cen = res["steps"], res["forward_error_smoothed"], res["central_error_smoothed"]
    # ... and the curve is a V: large at both ends, the central difference's floor far below the forward one's
    # (theory: about 2 sqrt(eps |f f''|) = 2e-8 and 1.3e-10).
    for kind, err in (("forward", res["forward_error"]), ("central", res["central_error"])):
        floor = res[f"{kind}_error_smoothed"].min()
        assert err[steps < 1e-14].min() > 100 * floor and err[steps > 1e-2].min() > 100 * floor, kind
    assert cen.min() < fwd.min() / 30 and 1e-10 < fwd.min() < 1e-7 and cen.min() < 1e-9
    assert open(res["plot"], "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_dual_numbers_example_partials():
    res = load("dual_numbers").main(quick=True)
    x, y = 2.0, 3.0
    closed = [2 * x * y + y * np.cos(x * y), x * x + x * np.cos(x * y)]
    np.testing.assert_allclose(res["dual_class"], closed, rtol=1e-14)
    np.testing.assert_allclose(res["forward_ad"], closed, rtol=1e-14)
    xt = torch.tensor([x, y], dtype=torch.float64, requires_grad=True)
    (xt[0] ** 2 * xt[1] + torch.sin(xt[0] * xt[1])).backward()
    np.testing.assert_allclose(res["forward_ad"], xt.grad.numpy(), rtol=1e-14)


def test_micrograd_example_against_closed_forms_and_torch():
    res = load("micrograd").main(quick=True)
    expected = {  # (value, gradients) derived by hand
        "z = xy + x^2 at (x, y) = (2, 3)": (2 * 3 + 4, [3 + 2 * 2, 2]),
        "f = (x1 + x2)(x1 x2) at (2, 3)": (5 * 6, [6 + 5 * 3, 6 + 5 * 2]),
        "relu(w·x + b), b = 6.7 (active)": (0.7, [2.0, 0.0, -3.0, 1.0, 1.0]),
        "relu(w·x + b), b = 5 (inactive)": (0.0, [0.0] * 5),
    }
    assert set(res) == set(expected)
    for name, (value, grads) in expected.items():
        for engine in ("micrograd", "pyad"):
            v, g = res[name][engine]
            assert v == pytest.approx(value, abs=1e-14), (name, engine)
            np.testing.assert_allclose(g, grads, atol=1e-14, err_msg=f"{name} ({engine})")
    w = torch.tensor([-3.0, 1.0], dtype=torch.float64, requires_grad=True)
    xs = torch.tensor([2.0, 0.0], dtype=torch.float64, requires_grad=True)
    b = torch.tensor(6.7, dtype=torch.float64, requires_grad=True)
    torch.relu(w @ xs + b).backward()
    got = res["relu(w·x + b), b = 6.7 (active)"]["pyad"][1]
    np.testing.assert_allclose(got, [*w.grad.numpy(), *xs.grad.numpy(), b.grad.item()], atol=1e-15)


def test_linear_relu_network_example_by_hand_pyad_torch_finite_differences():
    res = load("linear_relu_network").main(quick=True)
    assert [r["batch"] for r in res.values()] == [1, 8]
    for label, r in res.items():
        assert r["loss"] == pytest.approx(r["loss_numpy"], rel=1e-13)
        assert r["hand_vs_pyad"] < 1e-12 and r["pyad_vs_fd"] < 1e-7, label
        for k in ("W1", "b1", "W2", "b2"):
            np.testing.assert_allclose(r["pyad"][k], r["finite_differences"][k], rtol=1e-6, atol=1e-8)
            assert np.abs(r["pyad"][k]).max() > 1e-3  # every parameter's gradient is live (no dead network)


def test_jacobian_crossover_example_table_and_agreement(tmp_path):
    res = load("jacobian_crossover").main(quick=True, out=str(tmp_path))
    sizes, rows = res["sizes"], res["rows"]
    assert [(r["n"], r["m"]) for r in rows] == [(n, m) for n in sizes for m in sizes]
    for r in rows:
        assert r["shape"] == (r["m"], r["n"])
        assert r["forward_s"] > 0 and r["reverse_s"] > 0
        assert r["fwd_vs_rev"] < 1e-12 and r["fwd_vs_closed_form"] < 1e-12, r
    assert open(res["plot"], "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_hvp_example_three_ways():
    res = load("hvp").main(quick=True)
    errs = res["errors"]
    for name in ("forward-over-reverse", "reverse-over-reverse", "pyad.func.hvp"):
        assert errs[name] < 1e-12, (name, errs)
    assert errs["finite differences"] < 1e-7
    assert np.abs(res["exact"]).max() > 0.1  # a product that is not trivially zero


def test_topological_order_example_kahn():
    res = load("topological_order").main(quick=True)
    assert res["kahn_is_topological"] and res["engine_is_topological"] and res["engine_ran_every_node"]
    assert res["order"][0] == "AddBackward0" and res["order"][-2:] == ["AccumulateGrad"] * 2
    assert len(res["order"]) == res["n_nodes"] and res["n_edges"] > res["n_nodes"] - 1  # a DAG, not a tree
    x0, y0 = res["inputs"]
    a = x0 * y0
    dout_da = np.cos(a) * (a + x0) + np.sin(a) + np.exp(a)
    expected = (dout_da * y0 + np.sin(a), dout_da * x0)
    np.testing.assert_allclose(res["grads"], expected, rtol=1e-14)


def test_softmax_jacobian_example():
    res = load("softmax_jacobian").main(quick=True)
    assert res["jacfwd_err"] < 1e-15 and res["jacrev_err"] < 1e-15 and res["row_sums"] < 1e-15
    z = torch.tensor(np.random.default_rng(0).standard_normal(res["n"]) * 2, dtype=torch.float64)
    J = torch.autograd.functional.jacobian(lambda v: torch.softmax(v, -1), z).numpy()
    np.testing.assert_allclose(res["jacrev"], J, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(res["closed_form"], res["closed_form"].T)


def test_xor_example_reaches_full_accuracy():
    res = load("xor").main(quick=True)
    assert res["accuracy"] == 1.0
    np.testing.assert_array_equal(res["predictions"], [0, 1, 1, 0])
    assert res["losses"][-1] < 0.1 < res["losses"][0]


def test_digits_example_reaches_95_percent(tmp_path):
    res = load("digits").main(quick=True, out=str(tmp_path))
    assert res["n_test"] >= 400 and res["test_accuracy"] >= 0.95, res["test_accuracy"]
    losses = res["losses"]
    k = res["steps_per_epoch"]
    assert np.mean(losses[-k:]) < 0.2 * np.mean(losses[:k])  # the loss curve goes down
    assert open(res["plot"], "rb").read(8) == b"\x89PNG\r\n\x1a\n"
