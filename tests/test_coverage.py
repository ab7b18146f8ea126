"""The op coverage table (pyad.ops): every exported op has a row and a probe, every rule a row claims is
exercised by gradcheck in that mode through tests/op_db.py, and docs/coverage.md is current."""

import pathlib
import subprocess
import sys

import op_db
import pytest

import pyad
from pyad import func, ops

ROOT = pathlib.Path(__file__).resolve().parent.parent
TABLE = {r.name: r for r in ops.coverage()}


def _rows(name):
    """name's rows, and those of the function it is an alias of (the same rule; alias rows test few modes)."""
    return [op for op in op_db.OP_DB if op.name == name or name in op.aliases]


def _runs(name, mode):
    """Whether some op_db row of `name` runs gradcheck (or gradgradcheck) in `mode` on at least one sample."""
    for op in _rows(name):
        if mode == op_db.GRADGRAD:
            if op_db.GRADGRAD in op.modes and op.samples_for(op_db.GRADGRAD):
                return True
        elif op_db.REVERSE in op.modes and op.samples_for("gradcheck"):
            # test_ops_grad.test_gradcheck: reverse always, forward (check_forward_ad) where the row has it
            if mode == op_db.REVERSE or op_db.FORWARD in op.modes:
                return True
    return False


def test_every_exported_op_has_a_row_and_a_probe():
    assert sorted(TABLE) == sorted(op_db.EXPORTED_OPS)
    unprobed = sorted(n for n, r in TABLE.items() if r.note == "no probe")
    assert not unprobed, f"ops without a probe in pyad/ops.py (add one to _SPECIAL): {unprobed}"
    missing = sorted(n for n in TABLE if not _rows(n))
    assert not missing, f"ops in the coverage table without an OpInfo row in tests/op_db.py: {missing}"


# The mode whose gradcheck exercises each rule. Batched tangents: gradcheck's forward Jacobian pushes all n
# directions through the op as one batch of tangents (make_identity_dual), so forward mode exercises them.
EXERCISED_BY = {"vjp": op_db.REVERSE, "jvp": op_db.FORWARD, "double_backward": op_db.GRADGRAD, "batched": op_db.FORWARD}


@pytest.mark.parametrize("rule", sorted(EXERCISED_BY))
def test_every_claimed_rule_is_exercised_by_gradcheck(rule):
    mode = EXERCISED_BY[rule]
    unexercised = sorted(n for n, r in TABLE.items() if getattr(r, rule) and not _runs(n, mode))
    assert not unexercised, f"ops claiming a {rule} rule that no gradcheck in {mode} mode exercises: {unexercised}"


@pytest.mark.parametrize("mode,rule", [(op_db.FORWARD, "jvp"), (op_db.GRADGRAD, "double_backward")])
def test_rows_test_only_rules_the_table_has(mode, rule):
    # The other way round: a row testing a mode the probe found missing means the probe is wrong.
    claimed = sorted(
        {op.name for op in op_db.OP_DB if op.name in TABLE and mode in op.modes and not getattr(TABLE[op.name], rule)}
    )
    assert not claimed, f"op_db rows test {mode} for ops whose coverage row has no {rule}: {claimed}"


def test_kinds_and_integer_results():
    assert TABLE["sin"].kind == "kernel" and TABLE["norm"].kind == "composite" and TABLE["where"].kind == "wrapper"
    assert TABLE["sin"].jvp and TABLE["sin"].vjp and TABLE["sin"].double_backward and TABLE["sin"].batched
    assert not any((TABLE["argmax"].vjp, TABLE["argmax"].jvp)) and "integer" in TABLE["argmax"].note


def test_docs_coverage_is_current():
    out = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_coverage.py"), "--check"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr


def test_module_prints_the_table():
    out = subprocess.run([sys.executable, "-m", "pyad.ops"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("| op | kind |") and "| `sin` | kernel |" in out.stdout


def test_no_jvp_error_names_the_op_and_the_mode_that_works():
    # Every op has a JVP today; a custom Function without jvp is the case users meet: the error names it and
    # says reverse mode works.
    class NoJvp(pyad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2.0

        @staticmethod
        def backward(ctx, g):
            return g * 2.0

    x = pyad.tensor([1.0, 2.0], dtype=pyad.float64)
    with pytest.raises(RuntimeError, match=r"NoJvp.*jvp.*(reverse|jacrev|vjp)"):
        func.jacfwd(NoJvp.apply)(x)
    assert func.jacrev(NoJvp.apply)(x).shape == (2, 2)


def _main_row(name):
    rows = [op for op in _rows(name) if op_db.REVERSE in op.modes and op.samples_for("gradcheck")]
    rows.sort(key=lambda op: bool(op.variant))  # the function's own row first
    return rows[0] if rows else None


@pytest.mark.parametrize("name", sorted(n for n, r in TABLE.items() if r.sparsity))
def test_every_claimed_sparsity_rule_is_exercised(name):
    """A claimed sparsity rule, on the op's op_db samples: the detected pattern holds every nonzero of the
    Jacobian (by jacfwd) with respect to each differentiable input."""
    from pyad._sparsity_trace import detect

    op = _main_row(name)
    assert op is not None, f"{name} claims a sparsity rule but has no gradcheck row to exercise it"
    for sample in op.samples_for("gradcheck"):
        xs = op_db.inputs(op, sample)
        for i in op.diff_inputs(len(xs)):

            def f(xi, i=i, xs=xs, sample=sample):
                args = list(xs)
                args[i] = xi
                return op.call(pyad, *args, **sample.kwargs)

            out = f(xs[i])
            if not isinstance(out, pyad.Tensor):
                continue
            mask, shape = detect(f, xs[i])
            assert shape == tuple(out.shape)
            structure = func.jacfwd(f)(xs[i]).numpy().reshape(-1, xs[i].numel()) != 0
            assert (mask >= structure).all(), f"{name} {sample.id()} input {i}: the pattern misses a dependency"
