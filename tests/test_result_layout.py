"""Elementwise results are laid out in their operands' memory order (Note [Results keep their operand's layout] in
csrc/core/tensor.cpp), as torch's: the strides torch gives (on every dim longer than 1) and the values torch
gives, over hand-picked cases and hypothesis's shapes, permutations and gaps."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import pyad

rng = np.random.default_rng(5)


def layout(t):
    """The strides that matter: those of dims longer than 1 (a size-1 dim's stride never moves an element)."""
    return tuple(s for s, n in zip(t.stride(), t.shape) if n > 1)


# (description, call(ns, a, b)) with a of shape (4, 6), b of shape (6, 4)
CASES = {
    "unary of a transpose": lambda ns, a, b: ns.sigmoid(b.T),
    "transpose times a row": lambda ns, a, b: b.T * a[0],
    "transpose plus a transpose": lambda ns, a, b: b.T + b.T,
    "contiguous first": lambda ns, a, b: a - b.T,
    "transpose first": lambda ns, a, b: b.T - a,
    "number operand": lambda ns, a, b: b.T * 2.0,
    "comparison": lambda ns, a, b: b.T > a,
    "where": lambda ns, a, b: ns.where(b.T > 0, b.T, a),
    "a strided slice (gaps)": lambda ns, a, b: ns.exp(a[:, ::2]),
    "a transposed slice with gaps": lambda ns, a, b: ns.exp(b[::2].T),
    "permuted 3-d": lambda ns, a, b: ns.tanh(a.reshape(2, 3, 4).permute(2, 0, 1)),
    "size-1 dims": lambda ns, a, b: ns.sin(a.reshape(4, 1, 6).transpose(0, 2)),
    "a 1-d slice": lambda ns, a, b: ns.cos(a[0]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_strides_and_values_are_torchs(name):
    a, b = rng.standard_normal((4, 6)), rng.standard_normal((6, 4))
    out = CASES[name](pyad, pyad.tensor(a), pyad.tensor(b))
    want = CASES[name](torch, torch.tensor(a), torch.tensor(b))
    assert layout(out) == layout(want), (out.stride(), want.stride())
    assert out.is_contiguous() == want.is_contiguous()
    np.testing.assert_allclose(out.numpy(), want.numpy(), rtol=1e-14, atol=1e-15)


def test_a_permuted_result_backpropagates_and_reshapes_as_torch():
    a = rng.standard_normal((5, 3))
    x, tx = pyad.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, ty = pyad.tanh(x.T) * 3.0, torch.tanh(tx.T) * 3.0
    np.testing.assert_allclose(y.reshape(-1).numpy(force=True), ty.reshape(-1).detach().numpy(), rtol=1e-12)
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    assert x.grad.is_contiguous()


@settings(max_examples=150, deadline=None)
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=4),
    data=st.data(),
)
def test_any_permutation_gives_torchs_strides(shape, data):
    perm = data.draw(st.permutations(range(len(shape))))
    step = data.draw(st.sampled_from([1, 2]))  # 2: gaps in the last dim
    a = rng.standard_normal(shape[:-1] + [shape[-1] * step])
    other = rng.standard_normal([shape[i] for i in perm])
    for fn in (lambda ns, x, y: ns.exp(x), lambda ns, x, y: x * y, lambda ns, x, y: y - x, lambda ns, x, y: x / 3.0):
        x = pyad.tensor(a)[..., ::step].permute(*perm)
        tx = torch.tensor(a)[..., ::step].permute(*perm)
        out, want = fn(pyad, x, pyad.tensor(other)), fn(torch, tx, torch.tensor(other))
        assert layout(out) == layout(want), (shape, perm, step, out.stride(), want.stride())
        np.testing.assert_allclose(out.numpy(), want.numpy(), rtol=1e-14, atol=1e-15)
