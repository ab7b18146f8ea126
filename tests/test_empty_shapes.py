"""Tensors with a zero-size dim, through unary, binary, reduction, in-place and view ops, against torch.

An empty tensor is contiguous whatever its strides (torch's rule: no element is out of place), and the strides
of a fresh result are the contiguous strides torch computes for any shape (a size-0 or size-1 dim counts as 1).
Each case checks the result's shape, is_contiguous(), strides (where torch's are determined by the input's: views,
and results of contiguous inputs), values (NaN where torch has NaN) and the input's gradient, and that pyad
raises where torch does (amax over an empty dim, reshape with -1 and a zero).
"""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

import pyad

try:  # pytest's --import-mode=importlib registers the conftest as tests.conftest
    from tests.conftest import host
except ImportError:
    from conftest import host

SETTINGS = dict(
    deadline=None, derandomize=True, database=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow]
)


def torch_contiguous_strides(shape):
    strides, acc = [], 1
    for d in reversed(shape):
        strides.append(acc)
        acc *= max(d, 1)
    return tuple(reversed(strides))


@st.composite
def empty_shapes(draw):
    shape = draw(st.lists(st.integers(0, 3), min_size=1, max_size=4))
    if 0 not in shape:
        shape[draw(st.integers(0, len(shape) - 1))] = 0
    return tuple(shape)


def dims(shape):
    return st.integers(-len(shape), len(shape) - 1)


# (name, f(M, x, d)): the same code runs with M = pyad and M = torch; d is a dim of x.
UNARY = [
    ("neg", lambda M, x, d: -x),
    ("exp", lambda M, x, d: M.exp(x)),
    ("tanh", lambda M, x, d: M.tanh(x)),
    ("sigmoid", lambda M, x, d: M.sigmoid(x)),
    ("relu", lambda M, x, d: M.relu(x)),
    ("abs", lambda M, x, d: x.abs()),
    ("sqrt", lambda M, x, d: M.sqrt(x * x + 1.0)),
    ("mul_number", lambda M, x, d: x * 1.0),
    ("rsub_number", lambda M, x, d: 2.0 - x),
    ("rdiv_number", lambda M, x, d: 1.0 / (x * x + 1.0)),
    ("pow_number", lambda M, x, d: x**2.0),
    ("clamp", lambda M, x, d: x.clamp(-0.5, 0.5)),
    ("where", lambda M, x, d: M.where(x > 0, x, x * 2.0)),
    ("softmax", lambda M, x, d: M.softmax(x, d)),
    ("cumsum", lambda M, x, d: M.cumsum(x, d)),
    ("clone", lambda M, x, d: x.clone()),
    ("contiguous", lambda M, x, d: x.contiguous()),
]
BINARY = [  # y broadcasts against x
    ("add", lambda M, x, y: x + y),
    ("sub", lambda M, x, y: y - x),
    ("mul", lambda M, x, y: x * y),
    ("div", lambda M, x, y: x / (y * y + 1.0)),
    ("maximum", lambda M, x, y: M.maximum(x, y)),
]
REDUCTIONS = [
    ("sum", lambda M, x, d: x.sum()),
    ("sum_dim", lambda M, x, d: x.sum(d)),
    ("sum_keepdim", lambda M, x, d: x.sum(d, keepdim=True)),
    ("mean_dim", lambda M, x, d: x.mean(d)),
    ("prod_dim", lambda M, x, d: x.prod(d)),
    ("amax_dim", lambda M, x, d: x.amax(d)),
    ("logsumexp_dim", lambda M, x, d: M.logsumexp(x, d)),
    ("norm", lambda M, x, d: x.norm()),
]
VIEWS = [
    ("transpose", lambda M, x, d: x.transpose(0, d)),
    ("unsqueeze", lambda M, x, d: x.unsqueeze(d)),
    ("flatten", lambda M, x, d: x.flatten()),
    ("reshape", lambda M, x, d: x.reshape(0, -1)),
    ("view_flat", lambda M, x, d: x.view(-1)),
    ("view_split", lambda M, x, d: x.view(1, *x.shape)),
    ("narrow", lambda M, x, d: x.narrow(d, 0, min(1, x.shape[d]))),
    ("slice_step", lambda M, x, d: x.transpose(0, d)[::2]),
    ("index_int", lambda M, x, d: x[(slice(None),) * (d % x.ndim) + (0,)]),
    ("expand", lambda M, x, d: x.unsqueeze(0).expand(2, *x.shape)),
    ("permute", lambda M, x, d: x.permute(*reversed(range(x.ndim)))),
]


def leaf_pair(shape, transposed):
    """x (float64 leaves requiring grad) on both sides: contiguous, or the permuted view of a contiguous tensor."""
    a = np.random.default_rng(0).standard_normal(shape[::-1] if transposed else shape)
    # torch.tensor of an empty array has strides 0; torch.empty has the contiguous ones, as pyad's tensors
    p, t = pyad.tensor(a, dtype=pyad.float64), torch.empty(a.shape, dtype=torch.float64).copy_(torch.from_numpy(a))
    if transposed:
        p, t = p.permute(*reversed(range(len(shape)))), t.permute(*reversed(range(len(shape))))
    return p.detach().requires_grad_(True), t.detach().requires_grad_(True)


def outcome(f, M, *args):
    try:
        return f(M, *args), None
    except Exception as e:  # noqa: BLE001 - which side raises is what is compared
        return None, e


def check_pair(name, r, tr, exact_strides):
    assert tuple(r.shape) == tuple(tr.shape), f"{name}: shape {tuple(r.shape)} vs torch {tuple(tr.shape)}"
    assert r.is_contiguous() == tr.is_contiguous(), (
        f"{name}: is_contiguous {r.is_contiguous()} vs torch {tr.is_contiguous()} (strides {r.stride()})"
    )
    if exact_strides:
        assert tuple(r.stride()) == tuple(tr.stride()), f"{name}: strides {r.stride()} vs torch {tr.stride()}"
    np.testing.assert_allclose(host(r), tr.detach().numpy(), rtol=1e-12, atol=0, err_msg=name)


def run_case(name, f, shape, transposed, extra, fresh_result):
    x, tx = leaf_pair(shape, transposed)
    r, err = outcome(f, pyad, x, *extra(pyad))
    tr, terr = outcome(f, torch, tx, *extra(torch))
    if terr is not None or err is not None:
        assert terr is not None and err is not None, f"{name}: pyad raised {err!r}, torch raised {terr!r}"
        return
    # The strides torch gives a fresh empty result vary with the path it takes (a clone of a (0,) tensor has
    # strides (0,), a permuted input's layout is kept): only views' strides are torch's to compare with; a
    # fresh result has the contiguous strides.
    check_pair(name, r, tr, exact_strides=not fresh_result)
    if fresh_result:
        assert tuple(r.stride()) == torch_contiguous_strides(tuple(r.shape)), f"{name}: strides {r.stride()}"
    w = np.random.default_rng(1).standard_normal(tuple(tr.shape))
    (r * pyad.tensor(w, dtype=pyad.float64)).sum().backward()
    (tr * torch.tensor(w, dtype=torch.float64)).sum().backward()
    assert tuple(x.grad.shape) == tuple(tx.grad.shape), f"{name}: grad shape"
    np.testing.assert_allclose(host(x.grad), tx.grad.numpy(), rtol=1e-12, atol=0, err_msg=f"{name} grad")


@settings(**SETTINGS)
@given(st.data(), empty_shapes(), st.booleans())
def test_unary_and_reductions(data, shape, transposed):
    d = data.draw(dims(shape))
    for name, f in UNARY + REDUCTIONS:
        run_case(name, lambda M, x: f(M, x, d), shape, transposed, lambda M: (), fresh_result=name != "contiguous")


@settings(**SETTINGS)
@given(st.data(), empty_shapes(), st.booleans())
def test_binary_broadcasting(data, shape, transposed):
    # y has x's shape with some dims made 1 (and maybe fewer leading dims): both broadcast to x's shape
    keep = data.draw(st.lists(st.booleans(), min_size=len(shape), max_size=len(shape)))
    yshape = tuple(n if k else 1 for n, k in zip(shape, keep))[data.draw(st.integers(0, len(shape) - 1)) :]
    b = np.random.default_rng(2).standard_normal(yshape)

    def other(M):
        return (M.tensor(b, dtype=M.float64),)

    for name, f in BINARY:
        run_case(name, f, shape, transposed, other, fresh_result=True)
        run_case(name + "_flipped", lambda M, x, y, f=f: f(M, y, x), shape, transposed, other, fresh_result=True)


@settings(**SETTINGS)
@given(st.data(), empty_shapes(), st.booleans())
def test_views(data, shape, transposed):
    d = data.draw(dims(shape))
    for name, f in VIEWS:
        run_case(name, lambda M, x: f(M, x, d), shape, transposed, lambda M: (), fresh_result=False)


@settings(**SETTINGS)
@given(st.data(), empty_shapes())
def test_inplace_on_views_of_empty_results(data, shape):
    """In-place ops with autograd on views of an empty non-leaf (its base is contiguous: empty)."""
    d = data.draw(dims(shape))
    for vname, view in VIEWS:
        for iname, op in [
            ("mul_", lambda v: v.mul_(2.0)),
            ("add_", lambda v: v.add_(v * 3.0)),
            ("fill_", lambda v: v.fill_(1.0)),
        ]:
            name = f"{vname}.{iname}"
            x, tx = leaf_pair(shape, False)
            outs = []
            for M, a in [(pyad, x), (torch, tx)]:
                y = a * 1.0
                try:
                    v = view(M, y, d)
                except Exception as e:  # noqa: BLE001
                    outs.append(e)
                    continue
                if vname == "expand":  # torch refuses writes to expanded (overlapping) memory
                    continue
                op(v)
                outs.append((y, v))
            if len(outs) < 2:
                continue
            if isinstance(outs[0], Exception) or isinstance(outs[1], Exception):
                assert isinstance(outs[0], Exception) and isinstance(outs[1], Exception), f"{name}: {outs}"
                continue
            (y, v), (ty, tv) = outs
            # y is a fresh result (torch's strides for it are its own choice): contiguity and values compared
            check_pair(name, v, tv, exact_strides=False)
            check_pair(name + " base", y, ty, exact_strides=False)
            assert y._version == ty._version, f"{name}: version {y._version} vs torch {ty._version}"
            y.sum().backward()
            ty.sum().backward()
            np.testing.assert_allclose(host(x.grad), tx.grad.numpy(), err_msg=f"{name} grad")


@pytest.mark.parametrize("shape", [(0,), (0, 0), (3, 0), (0, 3), (2, 0, 4), (1, 0), (0, 1)])
def test_fresh_empty_tensors_are_contiguous(shape):
    for name, p, t in [
        ("zeros", pyad.zeros(*shape), torch.zeros(*shape)),
        ("mul", pyad.zeros(*shape) * 1.0, torch.zeros(*shape) * 1.0),
        ("empty_like", pyad.empty_like(pyad.zeros(*shape)), torch.empty_like(torch.zeros(*shape))),
    ]:
        check_pair(name, p, t, exact_strides=name == "zeros")
        assert tuple(p.stride()) == torch_contiguous_strides(shape), f"{name}: strides {p.stride()}"


def test_prod_over_a_dim_is_a_fresh_tensor():
    """prod(dim) is the last slice of cumprod: made contiguous, as torch's result, not a strided view of it."""
    a = np.arange(1.0, 7.0).reshape(3, 2)
    for d in (0, 1):
        check_pair(f"prod({d})", pyad.tensor(a).prod(d), torch.tensor(a).prod(d), exact_strides=True)
