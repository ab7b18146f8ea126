"""The public-API fuzzer (tests/fuzz.py), bounded: every call returns or raises a documented exception that
names the op, and no call crashes or hangs its worker. The CI run: python tests/fuzz.py --calls 20000."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import fuzz  # noqa: E402

import pyad  # noqa: E402


def describe(failures):
    return "\n".join(
        f"{f.splitlines()[0]}\n  replay: python tests/fuzz.py --replay {repr(repr(s))}" for s, f in failures[:10]
    )


def test_bounded_random_run():
    n, failures = fuzz.fuzz(2000, seed=1234)
    assert n == 2000
    assert not failures, describe(failures)


def test_bounded_hypothesis_run():
    n, failures = fuzz.fuzz_hypothesis(150, seed=99)
    assert n > 0
    assert not failures, describe(failures)


def test_the_driver_reports_a_crash_with_its_call_and_goes_on():
    # A worker killed mid-call (here by a call that aborts on purpose) is one failure naming that call; the
    # calls after it run in a fresh worker.
    pool = fuzz.Pool()
    ok = {"target": "pyad.zeros", "self": ("tensor", {}), "args": [(2, 3)], "kwargs": {}, "context": "plain"}
    boom = dict(ok, target="os.abort", args=[])
    try:
        results = pool.run_batch([ok, boom, ok])
    finally:
        pool.close()
    assert results[0] is None and results[2] is None, results
    assert results[1].startswith("crash: worker exited with -6"), results[1]


# ---- what the fuzzer found, one regression test each ----


def t(*shape, **kw):
    return pyad.ones(*shape, **kw)


FOUND = [
    # Python-level wrappers met arguments of the wrong kind: AttributeError or messages naming no op.
    (lambda: pyad.empty_like(None), TypeError, r"\[empty_like\]"),
    (lambda: pyad.full_like((1,), [(False, 0)]), TypeError, r"\[full_like\]"),
    (lambda: pyad.nn.functional.linear(t(2), 0), TypeError, r"\[linear\]"),
    (lambda: t(2).type_as((1, 2)), TypeError, r"\[type_as\]"),
    (lambda: t(2).expand_as([t(2)]), TypeError, r"\[expand_as\]"),
    (lambda: t(3).flatten(None), TypeError, r"\[flatten\]"),
    (lambda: pyad.randn(pyad.device("cpu"), "cuda"), TypeError, r"\[randn\]"),
    (lambda: pyad.nn.functional.dropout(t(2), lambda: 3), TypeError, r"\[dropout\]"),
    (lambda: t(2).__deepcopy__(2**62), TypeError, r"\[__deepcopy__\]"),
    # pybind11 conversions inside bindings raised RuntimeError("Unable to cast ...").
    (lambda: t(2).size(1.5), TypeError, r"\[size\]"),
    (lambda: t(2).stride(object()), TypeError, r"\[stride\]"),
    (lambda: t(2, requires_grad=True).sum().backward(slice(None)), TypeError, r"\[backward\]"),
    # Transforms and autograd.grad given non-functions and non-tensors.
    (lambda: pyad.func.vjp(-3), TypeError, r"\[vjp\]"),
    (lambda: pyad.func.jacrev(None), TypeError, r"\[jacrev\]"),
    (lambda: pyad.autograd.grad(t(2, requires_grad=True), False), TypeError, r"\[grad\]"),
    (lambda: pyad.autograd.grad((2,), None), TypeError, r"\[grad\]"),
]


@pytest.mark.parametrize("call,exc,match", FOUND)
def test_found_by_the_fuzzer(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_the_guard_tags_subclasses_with_their_documented_base():
    # Found at 100,000 calls: NumPy's _ArrayMemoryError ("Unable to allocate 64.0 GiB ...") came out untagged.
    from pyad._api_guard import guard

    class ArrayMemoryError(MemoryError):
        pass

    def f():
        raise ArrayMemoryError("Unable to allocate 64.0 GiB")

    with pytest.raises(MemoryError, match=r"^\[f\] Unable to allocate"):
        guard(f, "f")()
    with pytest.raises(TypeError, match=r"^\[f\] invalid argument"):
        guard(lambda: None.shape, "f")()
    with pytest.raises(ValueError, match=r"^\[f\] argument out of range"):
        guard(lambda: (1).to_bytes(1, "little", signed=False) and int(1e308) and (2**70).to_bytes(1, "little"), "f")()


def test_int64_overflow_wraps_around_as_torch():
    # Found by the fuzzer under UBSan (tools/sanitize_tests.sh): negating INT64_MIN was undefined behaviour
    # in the kernel (as were +, -, * overflowing); torch wraps around.
    import torch

    lo, hi = -(2**63), 2**63 - 1
    a, ta = pyad.tensor([lo, hi, 3]), torch.tensor([lo, hi, 3])
    cases = [
        (-a, -ta),
        (a.abs(), ta.abs()),
        (a + 1, ta + 1),
        (a - 1, ta - 1),
        (a * 3, ta * 3),
        (a**3, ta**3),
        (pyad.neg(a), torch.neg(ta)),
    ]
    for got, want in cases:
        assert got.tolist() == want.tolist()
