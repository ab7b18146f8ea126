"""pyad.func transforms over pytrees (tuples, lists, dicts, namedtuples and nested mixes of tensors) against
torch.func on the same inputs, in float64: the result's container structure must equal torch's (optree
compares types, namedtuple classes and dict keys) and every leaf must match. Plus the error cases: a
non-tensor leaf in a differentiated position names the transform and the leaf's path."""

import collections

import numpy as np
import optree
import pytest
import torch

import pyad
from pyad import func

P = collections.namedtuple("P", ["w", "b"])
TOL = dict(rtol=1e-7, atol=1e-7)


def _arrays(rng):
    return dict(
        W=rng.standard_normal((2, 3)),
        b=rng.standard_normal(3),
        c=rng.standard_normal(2),
        d=rng.standard_normal(()),
        x=rng.standard_normal(3),
    )


def trees(rng):
    """name -> (numpy tree, x array): every container kind, and a nested mix."""
    a = _arrays(rng)
    return {
        "tuple": (a["W"], a["b"]),
        "list": [a["W"], a["b"], a["d"]],
        "dict": {"w": a["W"], "b": a["b"]},
        "namedtuple": P(w=a["W"], b=a["b"]),
        "nested": {"layer": P(w=a["W"], b=[a["b"], a["c"]]), "extra": (a["d"],)},
    }


TREE_NAMES = ["tuple", "list", "dict", "namedtuple", "nested"]


def to_pyad(tree):
    return optree.tree_map(lambda a: pyad.tensor(np.asarray(a, dtype=np.float64), dtype=pyad.float64), tree)


def to_torch(tree):
    return optree.tree_map(lambda a: torch.tensor(np.asarray(a, dtype=np.float64)), tree)


def np_of(tree):
    def conv(v):
        if isinstance(v, pyad.Tensor):
            return v.detach().numpy()
        if isinstance(v, torch.Tensor):
            return v.detach().numpy()
        return v

    return optree.tree_map(conv, tree)


def assert_tree_close(got, want):
    """Same structure (containers and keys) and leaves equal within float64 tolerance."""
    g_leaves, g_spec = optree.tree_flatten(got)
    w_leaves, w_spec = optree.tree_flatten(want)
    assert g_spec == w_spec, f"pyad structure {g_spec} != torch structure {w_spec}"
    for g, w in zip(g_leaves, w_leaves):
        if isinstance(w, torch.Tensor):
            assert isinstance(g, pyad.Tensor), f"expected a tensor, got {type(g).__name__}"
            assert tuple(g.shape) == tuple(w.shape), (g.shape, w.shape)
            np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(), **TOL)
        else:
            assert g == w


# ---- functions written once for both libraries: they touch tensors only through methods and operators
def scalar_f(tree, x):
    leaves = optree.tree_leaves(tree)
    s = sum((leaf * leaf).sum() for leaf in leaves)
    t = sum(leaf.tanh().sum() for leaf in leaves)
    return s.sin() + t * (x * x).sum() + (leaves[0] * leaves[-1].sum()).exp().sum()


def tree_f(tree, x):
    """A pytree output: a dict holding a tensor, a namedtuple and a list."""
    leaves = optree.tree_leaves(tree)
    s = sum((leaf * leaf).sum() for leaf in leaves)
    return {"a": leaves[0].sin() * s, "p": P(w=(x * leaves[1].sum()).exp(), b=[s.cos(), leaves[-1] * x.sum()])}


def aux_of(tree, x):
    return {"first": optree.tree_leaves(tree)[0] * 2.0, "pair": P(w=x.sin(), b=[x * 3.0])}


def with_aux(f):
    def g(tree, x):
        return f(tree, x), aux_of(tree, x)

    return g


def inputs(name, seed=0):
    rng = np.random.default_rng(seed)
    tree = trees(rng)[name]
    x = rng.standard_normal(3)
    return (to_pyad(tree), to_pyad(x)), (to_torch(tree), to_torch(x))


def tangents_like(tree, seed=1):
    rng = np.random.default_rng(seed)
    arrays = optree.tree_map(lambda t: rng.standard_normal(tuple(t.shape)), tree)
    return to_pyad(arrays), to_torch(arrays)


# ---------------------------------------------------------------- grad, grad_and_value
@pytest.mark.parametrize("name", TREE_NAMES)
@pytest.mark.parametrize("argnums", [0, 1, (0,), (0, 1), (1, 0)])
def test_grad_over_trees(name, argnums):
    (pt, px), (tt, tx) = inputs(name)
    got = func.grad(scalar_f, argnums=argnums)(pt, px)
    want = torch.func.grad(scalar_f, argnums=argnums)(tt, tx)
    assert_tree_close(got, want)


@pytest.mark.parametrize("name", TREE_NAMES)
@pytest.mark.parametrize("argnums", [0, (0, 1)])
def test_grad_and_value_with_aux(name, argnums):
    (pt, px), (tt, tx) = inputs(name)
    got = func.grad_and_value(with_aux(scalar_f), argnums=argnums, has_aux=True)(pt, px)
    want = torch.func.grad_and_value(with_aux(scalar_f), argnums=argnums, has_aux=True)(tt, tx)
    assert_tree_close(got, want)
    g, aux = func.grad(with_aux(scalar_f), argnums=argnums, has_aux=True)(pt, px)
    assert_tree_close((g, aux), torch.func.grad(with_aux(scalar_f), argnums=argnums, has_aux=True)(tt, tx))
    # The aux tensor leaves come back detached, as torch.func's (unwrapped from the transform).
    assert not aux["first"].requires_grad


def test_grad_kwargs_pass_through_undifferentiated():
    (pt, px), (tt, tx) = inputs("dict")

    def f(tree, x, *, scale):
        return scalar_f(tree, x) * scale

    assert_tree_close(func.grad(f)(pt, px, scale=3.0), torch.func.grad(f)(tt, tx, scale=3.0))


# ---------------------------------------------------------------- vjp, jvp, linearize
@pytest.mark.parametrize("name", TREE_NAMES)
@pytest.mark.parametrize("has_aux", [False, True])
def test_vjp_over_trees(name, has_aux):
    (pt, px), (tt, tx) = inputs(name)
    f = with_aux(tree_f) if has_aux else tree_f
    got = func.vjp(f, pt, px, has_aux=has_aux)
    want = torch.func.vjp(f, tt, tx, has_aux=has_aux)
    assert_tree_close(got[0], want[0])
    if has_aux:
        assert_tree_close(got[2], want[2])
    ct_p, ct_t = tangents_like(want[0], seed=5)
    assert_tree_close(got[1](ct_p), want[1](ct_t))


@pytest.mark.parametrize("name", TREE_NAMES)
@pytest.mark.parametrize("has_aux", [False, True])
def test_jvp_over_trees(name, has_aux):
    (pt, px), (tt, tx) = inputs(name)
    (vt_p, vx_p), (vt_t, vx_t) = tangents_like((tt, tx))
    f = with_aux(tree_f) if has_aux else tree_f
    got = func.jvp(f, (pt, px), (vt_p, vx_p), has_aux=has_aux)
    want = torch.func.jvp(f, (tt, tx), (vt_t, vx_t), has_aux=has_aux)
    assert_tree_close(got, want)


@pytest.mark.parametrize("name", ["dict", "nested"])
def test_linearize_over_trees(name):
    (pt, px), (tt, tx) = inputs(name)
    (vt_p, vx_p), (vt_t, vx_t) = tangents_like((tt, tx))
    out_p, jvp_p = func.linearize(tree_f, pt, px)
    out_t, jvp_t = torch.func.linearize(tree_f, tt, tx)
    assert_tree_close(out_p, out_t)
    assert_tree_close(jvp_p(vt_p, vx_p), jvp_t(vt_t, vx_t))


# ---------------------------------------------------------------- jacobians, hessian, hvp
@pytest.mark.parametrize("name", TREE_NAMES)
@pytest.mark.parametrize("argnums", [0, 1, (0, 1), (1,)])
@pytest.mark.parametrize("which", ["jacrev", "jacfwd"])
@pytest.mark.parametrize("chunk_size", [None, 2])
def test_jacobians_over_trees(name, argnums, which, chunk_size):
    (pt, px), (tt, tx) = inputs(name)
    got = getattr(func, which)(tree_f, argnums=argnums, chunk_size=chunk_size)(pt, px)
    want = getattr(torch.func, which)(tree_f, argnums=argnums)(tt, tx)
    assert_tree_close(got, want)


@pytest.mark.parametrize("which", ["jacrev", "jacfwd"])
def test_jacobians_with_aux(which):
    (pt, px), (tt, tx) = inputs("nested")
    got = getattr(func, which)(with_aux(tree_f), argnums=(0, 1), has_aux=True)(pt, px)
    want = getattr(torch.func, which)(with_aux(tree_f), argnums=(0, 1), has_aux=True)(tt, tx)
    assert_tree_close(got, want)


@pytest.mark.parametrize("mode", ["auto", "forward", "reverse"])
@pytest.mark.parametrize("name", ["tuple", "nested"])
def test_jacobian_over_trees_and_its_mode(mode, name):
    (pt, px), (tt, tx) = inputs(name)
    want = torch.func.jacrev(tree_f, argnums=(0, 1))(tt, tx)
    jac, used = func.jacobian(tree_f, argnums=(0, 1), mode=mode, return_mode=True)(pt, px)
    assert_tree_close(jac, want)
    n = sum(t.numel() for t in optree.tree_leaves((pt, px)))
    m = sum(t.numel() for t in optree.tree_leaves(tree_f(pt, px)))
    expected = {"forward": "forward", "reverse": "reverse", "auto": "forward" if n < m else "reverse"}[mode]
    assert used == expected
    # Without return_mode, the plain Jacobian; the function keeps the mode of its last call.
    jac_fn = func.jacobian(tree_f, argnums=(0, 1), mode=mode)
    assert_tree_close(jac_fn(pt, px), want)
    assert jac_fn.last_mode == expected


def test_jacobian_return_mode_follows_each_function_not_the_last_call():
    (pt, px), _ = inputs("dict")
    fwd = func.jacobian(tree_f, mode="forward", return_mode=True)
    rev = func.jacobian(tree_f, mode="reverse", return_mode=True)
    assert rev(pt, px)[1] == "reverse"
    assert fwd(pt, px)[1] == "forward"
    assert rev(pt, px)[1] == "reverse"


@pytest.mark.parametrize("name", TREE_NAMES)
@pytest.mark.parametrize("argnums", [0, (0, 1)])
def test_hessian_over_trees(name, argnums):
    (pt, px), (tt, tx) = inputs(name)
    assert_tree_close(
        func.hessian(scalar_f, argnums=argnums)(pt, px), torch.func.hessian(scalar_f, argnums=argnums)(tt, tx)
    )


@pytest.mark.parametrize("name", ["dict", "nested", "namedtuple"])
def test_hvp_over_trees(name):
    (pt, px), (tt, tx) = inputs(name)
    (vt_p, vx_p), (vt_t, vx_t) = tangents_like((tt, tx))
    value, h = func.hvp(scalar_f, (pt, px), (vt_p, vx_p))
    # H v by forward-over-reverse in torch.func on the same trees.
    g_t = torch.func.grad(scalar_f, argnums=(0, 1))
    want = torch.func.jvp(g_t, (tt, tx), (vt_t, vx_t))[1]
    assert_tree_close(h, want)
    assert_tree_close(value, scalar_f(tt, tx))
    # One primal: the single tree, not a 1-tuple.
    _, h1 = func.hvp(lambda t: scalar_f(t, px), (pt,), (vt_p,))
    want1 = torch.func.jvp(torch.func.grad(lambda t: scalar_f(t, tx)), (tt,), (vt_t,))[1]
    assert_tree_close(h1, want1)


def test_nested_grad_over_dicts():
    """grad of a function that itself takes grad over a dict: the inner dict gradient stays differentiable."""
    (pt, px), (tt, tx) = inputs("dict")

    def outer(tree, x, M_grad):
        g = M_grad(scalar_f)(tree, x)
        return sum((v * v).sum() for v in optree.tree_leaves(g))

    got = func.grad(lambda t, x: outer(t, x, func.grad))(pt, px)
    want = torch.func.grad(lambda t, x: outer(t, x, torch.func.grad))(tt, tx)
    assert_tree_close(got, want)


# ---------------------------------------------------------------- errors
NON_TENSOR_CASES = {
    "grad": lambda t, x: func.grad(scalar_f)(t, x),
    "grad(argnums=1)": lambda t, x: func.grad(lambda a, b: scalar_f(b, a), argnums=1)(x, t),
    "jacrev": lambda t, x: func.jacrev(tree_f)(t, x),
    "jacfwd": lambda t, x: func.jacfwd(tree_f, argnums=(1, 0))(x, t),
    "jacobian": lambda t, x: func.jacobian(tree_f)(t, x),
    "hessian": lambda t, x: func.hessian(scalar_f)(t, x),
    "vjp": lambda t, x: func.vjp(tree_f, t, x),
    "jvp": lambda t, x: func.jvp(tree_f, (t, x), (t, x)),
    "linearize": lambda t, x: func.linearize(tree_f, t, x),
    "hvp": lambda t, x: func.hvp(scalar_f, (t, x), (t, x)),
}
EXPECTED_PATH = {
    "grad": "args[0]['layer'].b[1]",
    "grad(argnums=1)": "args[1]['layer'].b[1]",
    "jacrev": "args[0]['layer'].b[1]",
    "jacfwd": "args[1]['layer'].b[1]",
    "jacobian": "args[0]['layer'].b[1]",
    "hessian": "args[0]['layer'].b[1]",
    "vjp": "primals[0]['layer'].b[1]",
    "jvp": "primals[0]['layer'].b[1]",
    "linearize": "primals[0]['layer'].b[1]",
    "hvp": "primals[0]['layer'].b[1]",
}


@pytest.mark.parametrize("case", list(NON_TENSOR_CASES))
def test_non_tensor_leaf_names_transform_argnum_and_path(case):
    (pt, px), _ = inputs("nested")
    bad = {"layer": P(w=pt["layer"].w, b=[pt["layer"].b[0], 1.5]), "extra": pt["extra"]}
    with pytest.raises(TypeError) as err:
        NON_TENSOR_CASES[case](bad, px)
    msg = str(err.value)
    transform = case.split("(")[0]
    assert msg.startswith(f"[{transform}]"), msg
    assert EXPECTED_PATH[case] in msg, msg
    assert "float" in msg, msg


def test_the_issue_example_now_works_and_int_leaves_are_refused():
    a, b = pyad.tensor([1.0, 2.0], dtype=pyad.float64), pyad.tensor(3.0, dtype=pyad.float64)
    ga, gb = func.grad(lambda ab: (ab[0] * ab[1]).sum())((a, b))
    np.testing.assert_allclose(ga.numpy(), [3.0, 3.0])
    np.testing.assert_allclose(gb.numpy(), 3.0)
    with pytest.raises(TypeError, match=r"\[grad\] .*floating point.*int64.*args\[0\]\[1\]"):
        func.grad(lambda ab: ab[0].sum())((a, pyad.tensor([1, 2])))


def test_none_in_a_differentiated_position_is_refused_as_torch():
    (pt, px), (tt, tx) = inputs("dict")
    with pytest.raises(ValueError):
        torch.func.grad(scalar_f)({**tt, "n": None}, tx)
    with pytest.raises(TypeError, match=r"\[grad\] expected every leaf .* got NoneType at args\[0\]\['n'\]"):
        func.grad(scalar_f)({**pt, "n": None}, px)


def test_structure_mismatches_raise():
    (pt, px), _ = inputs("dict")
    out, vjp_fn = func.vjp(tree_f, pt, px)
    with pytest.raises(ValueError, match=r"\[vjp\] expected cotangents with the structure"):
        vjp_fn({"a": out["a"]})
    wrong_shape = optree.tree_map(lambda t: pyad.zeros(7, dtype=pyad.float64), out)
    with pytest.raises(ValueError, match=r"\[vjp\] cotangents shape"):
        vjp_fn(wrong_shape)
    with pytest.raises(ValueError, match=r"\[jvp\] expected tangents with the primals' structure"):
        func.jvp(tree_f, (pt, px), ([pt["w"], pt["b"]], px))
    with pytest.raises(ValueError, match=r"\[grad\] argnums .* must not repeat"):
        func.grad(scalar_f, argnums=(0, 0))(pt, px)
    with pytest.raises(TypeError, match=r"\[jacrev\] expected every leaf of outputs to be a Tensor.*outputs\['n'\]"):
        func.jacrev(lambda t, x: {"a": x * 1.0, "n": 3})(pt, px)
