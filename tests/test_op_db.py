"""The op table (tests/op_db.py) itself: every exported op has a row, every row names something pyad exports, and
the rows are well formed (the parity tests trust them)."""

import numpy as np
import op_db
import pytest

import pyad

try:  # pytest's --import-mode=importlib (the project's setting) registers the conftest as tests.conftest
    from tests.conftest import TNS
except ImportError:  # prepend/append import modes
    from conftest import TNS


def test_every_exported_op_has_a_row():
    covered = {op.name for op in op_db.OP_DB}
    missing = sorted(set(op_db.EXPORTED_OPS) - covered)
    assert not missing, f"exported ops without a row in tests/op_db.py (add one OpInfo each): {missing}"


def test_every_row_names_an_export():
    unknown = sorted({op.name for op in op_db.OP_DB if not op.composite and op_db.resolve(op.name) is None})
    assert not unknown, f"rows of tests/op_db.py naming nothing pyad exports: {unknown}"


def test_exported_ops_are_pyad_functions():
    # (pyad._C.__all__, or the fallback list standing in for it until the core exports it)
    for name in op_db.EXPORTED_OPS:
        assert callable(op_db.resolve(name)), name


def test_row_ids_are_unique():
    ids = [op.id for op in op_db.OP_DB]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


def test_rows_are_well_formed():
    for op in op_db.OP_DB:
        samples = op.samples()
        assert samples, f"{op.id}: a row needs at least one sample"
        ids = [s.id() for s in samples]
        assert len(ids) == len(set(ids)), f"{op.id}: samples with the same id: {ids}"
        for s in samples:
            doms = op.domains(len(s.inputs))
            assert len(doms) == len(s.inputs), f"{op.id} {s.id()}: {len(doms)} domains for {len(s.inputs)} inputs"
            assert all(i < len(s.inputs) for i in op.nondiff), f"{op.id}: nondiff {op.nondiff}"
        assert op.modes <= op_db.ALL_MODES | {op_db.VALUES}, f"{op.id}: modes {op.modes}"
        assert set(op.dtypes) <= {pyad.float64, pyad.float32, pyad.int64}, f"{op.id}: dtypes {op.dtypes}"


@pytest.mark.parametrize("op", [op for op in op_db.OP_DB if op.alias_of], ids=lambda op: op.id)
def test_alias_rows_call_the_alias(op):
    """An alias row runs its function's call with the alias in its place: the call must use ns.<function>."""
    seen = []

    class Recorder:
        def __init__(self, ns):
            self.ns = ns

        def __getattr__(self, attr):
            seen.append(attr)
            return getattr(self.ns, attr)

    s = op.samples()[0]
    xs = [pyad.tensor(a) for a in s.arrays(op.domains(len(s.inputs)))]
    op.call(Recorder(pyad), *xs, **s.kwargs)
    assert op.name in seen, f"the call of {op.alias_of} never reads ns.{op.alias_of}; {op.name} went untested"
    assert callable(getattr(TNS, op.name)), f"torch has no {op.name}"


def test_sample_data_is_the_same_in_every_mode():
    op = next(o for o in op_db.OP_DB if o.id == "pow")
    s = op.samples()[0]
    a1, a2 = s.arrays(op.domains()), s.arrays(op.domains())
    assert all(np.array_equal(x, y) for x, y in zip(a1, a2))
    assert (a1[0] > 0).all(), "pow's base is drawn from its positive domain"


def test_known_differences_name_real_tests():
    ids = {
        (m, op.id, s.id())
        for m in (op_db.REVERSE, op_db.FORWARD, op_db.GRADGRAD, op_db.TRANSFORMS)
        for op in op_db.OP_DB
        for s in op.samples_for(m)
    }
    stale = sorted(k for k in op_db.KNOWN_DIFFERENCES if k not in ids)
    assert not stale, f"KNOWN_DIFFERENCES entries that match no test: {stale}"


def test_sample_emptiness():
    assert op_db.S((0,), (3,)).empty and op_db.S((2, 0)).empty and op_db.S(np.zeros((0, 2))).empty
    assert not op_db.S((3,), ()).empty and not op_db.S(np.zeros(3)).empty
