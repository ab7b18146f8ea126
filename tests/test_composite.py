"""The ops composed of other ops (pyad/_composite.py, pyad/_einsum.py): what the op table (tests/op_db.py) cannot
say. Bad arguments raise an exception naming the op (and, for einsum, the equation); the splitting ops return
views; the comparisons answer with Python bools; the creation functions honour their keyword arguments."""

import numpy as np
import pytest
import torch

import pyad

try:  # pytest's --import-mode=importlib (the project's setting) registers the conftest as tests.conftest
    from tests.conftest import assert_close, to_torch
except ImportError:  # prepend/append import modes
    from conftest import assert_close, to_torch


def t(*shape, seed=0):
    return pyad.tensor(np.random.default_rng(seed).standard_normal(shape))


# ---------------------------------------------------------------- errors name the op
@pytest.mark.parametrize(
    "call,exc,words",
    [
        (lambda: pyad.einsum("ij,jk->ik", t(3, 4)), ValueError, ["'ij,jk->ik'", "2 operand terms for 1"]),
        (lambda: pyad.einsum("ijk->i", t(3, 4)), ValueError, ["'ijk->i'", "3 letters", "(3, 4)"]),
        (lambda: pyad.einsum("ij,jk->ik", t(3, 4), t(5, 2)), ValueError, ["'ij,jk->ik'", "'j'", "4 and 5"]),
        (lambda: pyad.einsum("ij->k", t(3, 4)), ValueError, ["'ij->k'", "'k' is in no operand"]),
        (lambda: pyad.einsum("ij->ii", t(3, 3)), ValueError, ["'ij->ii'", "more than once"]),
        (lambda: pyad.einsum("i1->i", t(3, 3)), ValueError, ["'i1->i'", "only letters"]),
        (lambda: pyad.einsum("ii->i", t(3, 4)), ValueError, ["'ii->i'", "sizes 3 and 4"]),
        (lambda: pyad.einsum("...ijk->i", t(3, 4)), ValueError, ["more letters than its operand has dims"]),
        (lambda: pyad.einsum(3, t(3)), TypeError, ["[einsum]"]),
        (lambda: pyad.tensordot(t(3, 4), t(5, 2), 1), RuntimeError, ["[tensordot]", "(3, 4)", "(5, 2)"]),
        (lambda: pyad.tensordot(t(3, 4), t(4, 2), 3), RuntimeError, ["[tensordot]", "dims=3"]),
        (lambda: pyad.tensordot(t(3, 4), t(4, 2), ([1], [0, 1])), RuntimeError, ["[tensordot]", "same length"]),
        (lambda: pyad.split(t(5), [2, 2]), RuntimeError, ["[split]", "[2, 2]", "5"]),
        (lambda: pyad.split(t(3), 0), RuntimeError, ["[split]", "size 3"]),
        (lambda: pyad.chunk(t(5), 0), RuntimeError, ["[chunk]", "greater than 0"]),
        (lambda: pyad.chunk(t(5), 2, dim=1), IndexError, ["[chunk]", "dim 1"]),
        (lambda: pyad.narrow(t(4, 5), 1, 3, 3), RuntimeError, ["[narrow]", "exceeds dimension size (5)"]),
        (lambda: pyad.narrow(t(4, 5), 1, 6, 0), IndexError, ["[narrow]", "start 6"]),
        (lambda: pyad.narrow(pyad.tensor(1.0), 0, 0, 1), RuntimeError, ["[narrow]", "0-dim"]),
        (lambda: pyad.movedim(t(2, 3), (0, 1), (1,)), ValueError, ["[movedim]", "same number"]),
        (lambda: pyad.movedim(t(2, 3), (0, 0), (1, 0)), ValueError, ["[movedim]", "repeated"]),
        (lambda: pyad.movedim(t(2, 3), 2, 0), IndexError, ["[movedim]", "dim 2"]),
        (lambda: t(2, 3).repeat(2), RuntimeError, ["[repeat]", "(2, 3)"]),
        (lambda: t(2, 3).repeat(2, -1), RuntimeError, ["[repeat]", "non-negative"]),
        (lambda: pyad.unbind(pyad.tensor(1.0)), IndexError, ["[unbind]"]),
        (lambda: pyad.norm(t(3), "nuc"), ValueError, ["[norm]", "'nuc'"]),
        (lambda: pyad.norm(pyad.tensor([1, 2])), RuntimeError, ["[norm]", "floating point"]),
        (lambda: pyad.var(pyad.tensor([1, 2])), RuntimeError, ["[var]", "floating point"]),
        (lambda: pyad.std(pyad.tensor([1, 2])), RuntimeError, ["[std]", "floating point"]),
        (lambda: pyad.var(t(3), 0, True, correction=1), ValueError, ["[var]", "not both"]),
        (lambda: pyad.prod(t(2, 3), 2), IndexError, ["[prod]", "dim 2"]),
        (lambda: pyad.isclose(t(2), t(2).float()), RuntimeError, ["[isclose]", "same dtype"]),
        (lambda: pyad.allclose(t(2), t(2).float()), RuntimeError, ["[isclose]", "same dtype"]),
        (lambda: pyad.equal(t(2), [1.0, 2.0]), TypeError, ["[equal]"]),
        (lambda: pyad.linspace(0, 1, -1), RuntimeError, ["[linspace]", "non-negative"]),
        (lambda: pyad.linspace(0, 1, 2.5), TypeError, ["[linspace]", "steps"]),
        (lambda: pyad.vstack(t(2, 3)), TypeError, ["[vstack]"]),
        (lambda: pyad.hstack([t(2, 3), t(3, 3)]), (RuntimeError, ValueError), ["cat"]),
    ],
)
def test_bad_arguments_raise_naming_the_op(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    for w in words:
        assert w in str(info.value), f"{w!r} not in {info.value}"


# ---------------------------------------------------------------- results as torch's
@pytest.mark.parametrize(
    "n,chunks,sizes", [(6, 4, [2, 2, 2]), (5, 3, [2, 2, 1]), (7, 7, [1] * 7), (2, 5, [1, 1]), (0, 3, [0, 0, 0])]
)
def test_chunk_gives_torchs_number_of_pieces(n, chunks, sizes):
    assert [p.shape[0] for p in pyad.chunk(t(n), chunks)] == sizes
    assert [p.shape[0] for p in torch.chunk(torch.zeros(n), chunks)] == sizes


def test_splitting_ops_return_views():
    for pieces in (lambda x: x.split(2), lambda x: x.chunk(2), lambda x: x.unbind(0), lambda x: [x.narrow(0, 2, 2)]):
        x = pyad.zeros(4, 3)
        p = pieces(x)[-1]
        p.add_(1.0)
        assert float(x.sum()) == float(p.numel()), "a piece does not share its tensor's memory"
        assert x._version == p._version == 1


def test_norm_of_the_zero_vector_has_gradient_zero():
    """torch's subgradient: 0, not NaN, in reverse and forward mode, for every p."""
    for p in (2, "fro", 1, float("inf"), 3.0):
        x = pyad.zeros(4, dtype=pyad.float64, requires_grad=True)
        n = x.norm(p)
        n.backward()
        assert float(n) == 0.0 and np.array_equal(x.grad.numpy(), np.zeros(4)), p
    with pyad.autograd.forward_ad.dual_level():
        d = pyad.autograd.forward_ad.make_dual(pyad.zeros(3, dtype=pyad.float64), pyad.ones(3, dtype=pyad.float64))
        tangent = pyad.autograd.forward_ad.unpack_dual(d.norm()).tangent
        assert float(tangent) == 0.0


def test_prod_gradient_with_zeros_is_torchs():
    a = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 4.0], [1.0, 2.0, 3.0]])
    x, tx = pyad.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    (pyad.prod(x, 1) * pyad.tensor([1.0, 2.0, 3.0], dtype=pyad.float64)).sum().backward()
    (torch.prod(tx, 1) * torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)).sum().backward()
    assert_close(x.grad, tx.grad)


def test_prod_dtypes_as_torch():
    assert pyad.prod(pyad.tensor([2, 3, 4])).dtype == pyad.int64
    assert int(pyad.prod(pyad.tensor([2, 3, 4]))) == 24
    assert pyad.prod(pyad.tensor([True, False])).dtype == pyad.int64
    assert pyad.prod(pyad.tensor([2, 3]), dtype=pyad.float64).dtype == pyad.float64


def test_var_of_too_few_elements_is_nan_or_inf_as_torch():
    for a, kw in (([1.5], {}), ([1.0, 2.0], {"correction": 2}), ([1.0, 2.0], {"correction": 3})):
        assert_close(pyad.var(pyad.tensor(a), **kw), torch.var(torch.tensor(a), **kw))


def test_var_positional_unbiased_as_torch():
    x = t(3, 4)
    assert_close(pyad.var(x, False), torch.var(to_torch(x), False))
    assert_close(x.std(0, False, True), to_torch(x).std(0, False, True))


def test_comparisons_answer_with_python_bools():
    a = pyad.tensor([1.0, 2.0])
    assert pyad.allclose(a, a + 1e-9) is True and pyad.allclose(a, a + 1.0) is False
    assert pyad.equal(a, a.clone()) is True and pyad.equal(a, pyad.tensor([1.0])) is False
    assert a.allclose(a) is True and a.equal(a) is True and a.isclose(a).dtype == pyad.bool


def test_comparisons_do_not_record_a_graph():
    a = pyad.tensor([1.0, 2.0], requires_grad=True)
    assert not pyad.isclose(a, a * 1.0).requires_grad


def test_creation_keywords():
    x = pyad.linspace(0, 1, 5, dtype=pyad.float64, requires_grad=True)
    assert x.requires_grad and x.is_leaf and x.dtype == pyad.float64
    assert pyad.linspace(0, 1, 3).dtype == pyad.get_default_dtype()
    assert pyad.logspace(0, 2, 3, device="cpu").device.type == "cpu"
    assert_close(pyad.linspace(pyad.tensor(-1.0), pyad.tensor(1.0), 5), torch.linspace(-1.0, 1.0, 5))
    assert_close(pyad.logspace(0, 3, 4, 2.0, dtype=pyad.float64), torch.logspace(0, 3, 4, 2.0, dtype=torch.float64))


@pytest.mark.parametrize(
    "eq,shapes",
    [("ij,jk->ik", [(3, 4), (4, 5)]), ("ii->i", [(3, 3)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)])],
)
def test_einsum_is_one_matmul_or_view_chain(eq, shapes):
    """einsum's result equals the explicit composition, and takes a list of operands too."""
    xs = [t(*s, seed=i) for i, s in enumerate(shapes)]
    assert_close(pyad.einsum(eq, xs), torch.einsum(eq, [to_torch(x) for x in xs]))


def test_einsum_spaces_and_implicit_ellipsis_output():
    a, b = t(2, 3, 4), t(2, 4, 5, seed=1)
    assert_close(pyad.einsum(" ...ij , ...jk ", a, b), torch.einsum("...ij,...jk", to_torch(a), to_torch(b)))


def test_tensor_methods_exist():
    for m in ("norm", "prod", "var", "std", "ravel", "narrow", "movedim", "moveaxis", "chunk", "split", "unbind"):
        assert callable(getattr(pyad.Tensor, m)), m
    for m in ("repeat", "tile", "isclose", "allclose", "equal"):
        assert callable(getattr(pyad.Tensor, m)), m
