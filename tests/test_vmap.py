"""pyad.func.vmap against torch.func.vmap, in float64: every op of tests/op_db.py batched (all inputs along dim 0,
then one input along its last dim with the others shared), per-op gradients and JVPs under vmap, in_dims/out_dims
forms, pytrees, nesting, randomness modes, chunking, compositions with grad, vjp, jvp, jacrev, jacfwd and hessian,
and per-sample gradients of an MLP."""

import numpy as np
import op_db
import pytest
import torch

import pyad
from pyad import func

try:  # pytest's --import-mode=importlib (the project's setting) registers the conftest as tests.conftest
    from tests.conftest import TNS, assert_close, leaf, to_torch
except ImportError:  # prepend/append import modes
    from conftest import TNS, assert_close, leaf, to_torch

F64 = pyad.float64
B = 3  # samples per batch


def tt(x):
    if isinstance(x, (tuple, list)):
        return type(x)(tt(v) for v in x)
    return to_torch(x, requires_grad=False) if isinstance(x, pyad.Tensor) else x


def close(actual, expected, msg=""):
    """assert_close through (named) tuples, requiring the same structure."""
    if isinstance(expected, (tuple, list)):
        assert isinstance(actual, (tuple, list)), f"{msg}: expected a tuple, got {type(actual).__name__}"
        assert len(actual) == len(expected), f"{msg}: length {len(actual)} != {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            close(a, e, f"{msg}[{i}]")
        return
    assert isinstance(actual, pyad.Tensor), f"{msg}: expected a Tensor, got {type(actual).__name__}"
    assert_close(actual, expected, msg=msg)


def batched_arrays(op, sample, in_dims):
    """One float64 array per input: B samples (fresh data per sample, fixed data repeated) stacked along the
    input's in_dim, or one sample where in_dim is None."""
    domains = op.domains(len(sample.inputs))
    per_sample = [sample.arrays(domains, seed=k) for k in range(B)]
    out = []
    for i, d in enumerate(in_dims):
        if d is None:
            out.append(per_sample[0][i])
        else:
            out.append(np.stack([s[i] for s in per_sample], axis=d if d >= 0 else per_sample[0][i].ndim + 1 + d))
    return out


def tensor_output(op, sample):
    """Whether the op returns a tensor or a tuple of them on one sample (rows returning a Python bool or a list
    are not vmap's business)."""
    xs = op_db.inputs(op, sample)
    out = op.call(pyad, *xs, **sample.kwargs)
    return isinstance(out, pyad.Tensor) or (
        isinstance(out, tuple) and len(out) > 0 and all(isinstance(o, pyad.Tensor) for o in out)
    )


def vmap_params():
    out = []
    for op in op_db.OP_DB:
        if op.arity == 0:
            continue  # creation ops: nothing to batch
        for s in op.samples_for(op_db.VALUES):
            out.append(pytest.param(op, s, id=f"{op.id}-{s.id()}"))
    return out


def in_dims_variants(n):
    yield (0,) * n
    yield (-1,) + (None,) * (n - 1)


def torch_loop(ft, xs, in_dims, out_dims):
    """torch's answer sample by sample, stacked along out_dims: what vmap means."""
    n = next(x.shape[d] for x, d in zip(xs, in_dims) if d is not None)
    outs = [ft(*(x if d is None else x.select(d, i) for x, d in zip(xs, in_dims))) for i in range(n)]
    if isinstance(outs[0], tuple):
        return tuple(torch.stack([o[k] for o in outs], out_dims) for k in range(len(outs[0])))
    return torch.stack(outs, out_dims)


def same(a, b):
    if isinstance(a, tuple) or isinstance(b, tuple):
        return isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b) and all(map(same, a, b))
    return a.shape == b.shape and torch.allclose(a, b, rtol=1e-7, atol=1e-7, equal_nan=True)


@pytest.mark.parametrize("op,sample", vmap_params())
def test_op_batched_like_torch(op, sample):
    """The reference is torch.func.vmap; where torch.func.vmap has no batching rule or answers otherwise than its
    own per-sample loop (argmax(keepdim=True) without a dim, roll of 0-d samples, chunk/split/unbind of empty
    samples batched along the last dim), torch's per-sample loop. Ops whose answer goes through a Python value
    (allclose, equal) raise a clear error in both."""
    n = len(sample.inputs)
    for in_dims in in_dims_variants(n):
        arrays = batched_arrays(op, sample, in_dims)
        xs = [leaf(a) for a in arrays]
        out_dims = 0 if in_dims[0] == 0 else -1
        fp = lambda *a: op.call(pyad, *a, **sample.kwargs)  # noqa: E731
        ft = lambda *a: op.call(TNS, *a, **sample.kwargs)  # noqa: E731
        if not tensor_output(op, sample):
            # a Python value per sample (allclose, equal): vmap cannot batch it, in torch neither
            with pytest.raises(RuntimeError, match=r"\[vmap\] .*(returns a Python|needs one value per sample)"):
                func.vmap(fp, in_dims=in_dims, out_dims=out_dims)(*xs)
            return
        try:
            expected = torch_loop(ft, tt(xs), in_dims, out_dims)
        except RuntimeError:
            # samples of different shapes (nonzero, masked_select): there is no batched answer, and pyad says so
            with pytest.raises(RuntimeError, match=r"\[vmap\] .* gives samples of different shapes"):
                func.vmap(fp, in_dims=in_dims, out_dims=out_dims)(*xs)
            continue
        try:
            by_vmap = torch.func.vmap(ft, in_dims=in_dims, out_dims=out_dims)(*tt(xs))
        except RuntimeError:
            by_vmap = None
        if by_vmap is not None and same(tuple(by_vmap) if isinstance(by_vmap, tuple) else by_vmap, expected):
            expected = by_vmap
        try:
            got = func.vmap(fp, in_dims=in_dims, out_dims=out_dims)(*xs)
        except RuntimeError as e:
            # Python values per sample (allclose, equal turned into tensors): torch.func.vmap refuses them too
            if by_vmap is None and "needs one value per sample" in str(e):
                continue
            raise
        close(got, tuple(expected) if isinstance(expected, tuple) else expected, f"in_dims={in_dims}")


def transform_params():
    return [
        pytest.param(op, s, id=f"{op.id}-{s.id()}")
        for op in op_db.OP_DB
        if op_db.TRANSFORMS in op.modes and op.arity > 0
        for s in op.samples_for(op_db.TRANSFORMS)[:1]
    ]


@pytest.mark.parametrize("op,sample", transform_params())
def test_op_per_sample_grad_and_jvp_like_torch(op, sample):
    """vmap(grad(weighted sum of the op)) with the first input batched and the rest shared (per-sample gradients
    with respect to every differentiable input), and vmap(jvp(op)), as torch.func."""
    n = len(sample.inputs)
    in_dims = (0,) + (None,) * (n - 1)
    xs = [leaf(a) for a in batched_arrays(op, sample, in_dims)]
    one = op.call(pyad, *[x[0] if i == 0 else x for i, x in enumerate(xs)], **sample.kwargs)
    w = np.random.default_rng(5).standard_normal(tuple(one.shape))
    argnums = tuple(op.diff_inputs(n))

    def loss(M, wt):
        return lambda *a: (op.call(M, *a, **sample.kwargs) * wt).sum()

    expected = torch.func.vmap(torch.func.grad(loss(TNS, torch.from_numpy(w)), argnums), in_dims)(*tt(xs))
    got = func.vmap(func.grad(loss(pyad, leaf(w)), argnums), in_dims)(*xs)
    close(got, expected, "vmap(grad)")

    tangents = [leaf(np.random.default_rng(7 + i).standard_normal(tuple(x.shape))) for i, x in enumerate(xs)]

    def jvp_of(M, ns_call):
        def f(*a):
            k = len(a) // 2
            return M.jvp(ns_call, tuple(a[:k]), tuple(a[k:]))[1]

        return f

    pcall = lambda *a: op.call(pyad, *a, **sample.kwargs)  # noqa: E731
    tcall = lambda *a: op.call(TNS, *a, **sample.kwargs)  # noqa: E731
    jdims = in_dims + in_dims
    expected = torch.func.vmap(jvp_of(torch.func, tcall), jdims)(*tt(xs), *tt(tangents))
    got = func.vmap(jvp_of(func, pcall), jdims)(*xs, *tangents)
    close(got, expected, "vmap(jvp)")


# ---------------------------------------------------------------- in_dims, out_dims, pytrees
def _data(*shape, seed=0):
    return leaf(np.random.default_rng(seed).standard_normal(shape))


def test_in_dims_out_dims_and_pytrees():
    x, y = _data(4, 3), _data(3, 5, seed=1)
    tree = {"a": _data(2, 4, seed=2), "b": (_data(4, seed=3), _data(3, seed=4))}

    def f(d, s):
        return {"sum": d["a"].sum(0) * d["b"][0] + s.sum(), "pair": (d["b"][1] * s.sum(), d["a"])}

    def ft(d, s):
        return {"sum": d["a"].sum(0) * d["b"][0] + s.sum(), "pair": (d["b"][1] * s.sum(), d["a"])}

    in_dims = ({"a": 1, "b": (0, None)}, 1)
    out_dims = {"sum": 0, "pair": (1, -1)}
    got = func.vmap(f, in_dims=in_dims, out_dims=out_dims)(tree, y[:, :4])
    expected = torch.func.vmap(ft, in_dims=in_dims, out_dims=out_dims)(
        {"a": tt(tree["a"]), "b": tt(tree["b"])}, tt(y[:, :4])
    )
    close(got["sum"], expected["sum"])
    close(got["pair"], expected["pair"])
    # An output that does not depend on the batch is broadcast along out_dims, as torch.
    close(func.vmap(lambda a: y)(x), torch.func.vmap(lambda a: tt(y))(tt(x)))
    close(func.vmap(lambda a: y, out_dims=1)(x), torch.stack([tt(y)] * 4, 1))
    # out_dims=None for an unbatched output returns it as it is.
    close(func.vmap(lambda a: (a * 2, y), out_dims=(0, None))(x), (tt(x) * 2, tt(y)))
    # keyword arguments are not batched
    close(func.vmap(lambda a, *, k: a * k)(x, k=y[0, :3]), tt(x) * tt(y)[0, :3])


def test_nested_vmaps():
    x, y = _data(2, 3, 4), _data(3, 4, seed=1)
    f = lambda M: lambda a, b: M.sin(a) @ b.T  # noqa: E731
    got = func.vmap(func.vmap(f(pyad), in_dims=(0, None)), in_dims=(0, None))(x, y)
    expected = torch.func.vmap(torch.func.vmap(f(torch), in_dims=(0, None)), in_dims=(0, None))(tt(x), tt(y))
    close(got, expected)
    # the inner vmap over the outer one's shared argument, and over an inner dim of the batched one
    z = _data(4, 3, seed=2)
    got = func.vmap(func.vmap(lambda a, b: a * b.sum(), in_dims=(1, 0)), in_dims=(0, None))(x, z)
    expected = torch.func.vmap(torch.func.vmap(lambda a, b: a * b.sum(), in_dims=(1, 0)), in_dims=(0, None))(
        tt(x), tt(z)
    )
    close(got, expected)


def test_chunk_size_gives_the_same_result():
    x, w = _data(7, 3), _data(3, 2, seed=1)
    f = lambda a, w: (pyad.tanh(a @ w), a.sum())  # noqa: E731
    full = func.vmap(f, in_dims=(0, None))(x, w)
    for chunk in (1, 2, 3, 7, 100):
        close(func.vmap(f, in_dims=(0, None), chunk_size=chunk)(x, w), tt(full), f"chunk_size={chunk}")


def test_randomness_modes():
    x = _data(4, 3)
    with pytest.raises(RuntimeError, match=r"\[vmap\] rand called inside vmap with randomness='error'"):
        func.vmap(lambda a: a + pyad.rand(3))(x)
    pyad.manual_seed(0)
    diff = func.vmap(lambda a: a * 0 + pyad.randn(3), randomness="different")(x)
    assert diff.shape == (4, 3)
    assert len({tuple(r) for r in diff.tolist()}) == 4  # independent draws per sample
    same = func.vmap(lambda a: a * 0 + pyad.rand_like(a), randomness="same")(x)
    assert all(r == same.tolist()[0] for r in same.tolist())
    # dropout draws through rand_like: its masks differ per sample
    drop = func.vmap(lambda a: pyad.nn.functional.dropout(a * 0 + 1, 0.5), randomness="different")(_data(64, 32))
    rows = {tuple(r) for r in drop.tolist()}
    assert len(rows) == 64


def test_bad_arguments_raise_clear_errors():
    x = _data(4, 3)
    with pytest.raises(ValueError, match=r"\[vmap\] at least one argument must be batched"):
        func.vmap(lambda a: a, in_dims=None)(x)
    with pytest.raises(ValueError, match=r"\[vmap\] the batched arguments must have the same size"):
        func.vmap(lambda a, b: a + b)(x, _data(5, 3))
    with pytest.raises(ValueError, match=r"\[vmap\] in_dim 2 is out of range"):
        func.vmap(lambda a: a, in_dims=2)(x)
    with pytest.raises(ValueError, match=r"\[vmap\] in_dims is a tuple of 1 entries but the function got 2"):
        func.vmap(lambda a, b: a, in_dims=(0,))(x, x)
    with pytest.raises(ValueError, match=r"\[vmap\] in_dims 0 given for args\[1\], a float"):
        func.vmap(lambda a, b: a, in_dims=(0, 0))(x, 1.0)
    with pytest.raises(ValueError, match=r"\[vmap\] randomness must be one of"):
        func.vmap(lambda a: a, randomness="sometimes")
    with pytest.raises(ValueError, match=r"\[vmap\] chunk_size must be a positive int"):
        func.vmap(lambda a: a, chunk_size=0)
    with pytest.raises(RuntimeError, match=r"\[vmap\] tensor.item\(\) needs one value per sample"):
        func.vmap(lambda a: a.sum().item())(x)
    with pytest.raises(ValueError, match=r"\[vmap\] the function must return tensors"):
        func.vmap(lambda a: 3)(x)
    with pytest.raises(RuntimeError, match=r"\[vmap\] backward\(\) inside vmap"):
        func.vmap(lambda a: a.sum().backward())(x)
    # an op's own shape error still names the op
    with pytest.raises(Exception, match=r"matmul"):
        func.vmap(lambda a: a @ pyad.ones(4, dtype=F64))(x)


def test_ops_without_a_rule_loop_over_the_samples():
    rules = func.vmap_rules()
    assert set(op_db.EXPORTED_OPS) <= set(rules)
    assert set(rules.values()) <= {"rule", "loop", "composite"}
    assert rules["exp"] == rules["matmul"] == rules["sum"] == rules["add"] == "rule"
    loops = sorted(name for name, kind in rules.items() if kind == "loop")
    # kron and the indexing ops of index tensors have no rule; pyad.linalg's Functions and masked_fill (a
    # batched value) run once per sample
    linalg = [f"linalg.{n}" for n in pyad.linalg.__all__ if n != "LinAlgError"]
    indexing = ["index_add", "index_put", "index_select", "masked_fill", "nonzero", "scatter", "scatter_add", "take"]
    assert loops == sorted(["kron", *indexing, *linalg])
    a, b = _data(3, 2, 2), _data(3, 2, seed=1)
    close(
        func.vmap(pyad.kron, in_dims=(0, None))(a, b[0:2]),
        torch.func.vmap(torch.kron, in_dims=(0, None))(tt(a), tt(b[0:2])),
    )


def test_custom_function_runs_per_sample():
    class Cube(pyad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x * x * g

    x = _data(4, 3)
    close(func.vmap(Cube.apply)(x), tt(x) ** 3)
    close(func.vmap(func.grad(lambda a: Cube.apply(a).sum()))(x), 3 * tt(x) ** 2)


# ---------------------------------------------------------------- compositions
def mlp(M, params, x):
    h = M.tanh(x @ params["w1"].T + params["b1"])
    return h @ params["w2"].T + params["b2"]


def mlp_loss(M):
    def loss(params, x, y):
        return ((mlp(M, params, x) - y) ** 2).mean()

    return loss


def mlp_params(seed=0):
    rng = np.random.default_rng(seed)
    shapes = {"w1": (6, 4), "b1": (6,), "w2": (2, 6), "b2": (2,)}
    return {k: leaf(rng.standard_normal(s) * 0.5) for k, s in shapes.items()}


def test_per_sample_gradients_of_an_mlp_match_torch_func():
    params = mlp_params()
    x, y = _data(8, 4, seed=1), _data(8, 2, seed=2)
    got = func.vmap(func.grad(mlp_loss(pyad)), in_dims=(None, 0, 0))(params, x, y)
    tparams = {k: tt(v) for k, v in params.items()}
    expected = torch.func.vmap(torch.func.grad(mlp_loss(torch)), in_dims=(None, 0, 0))(tparams, tt(x), tt(y))
    assert set(got) == set(expected)
    for k in expected:
        close(got[k], expected[k], k)
    # and each sample's gradient is the gradient of that sample's loss alone
    for i in range(8):
        one = func.grad(mlp_loss(pyad))(params, x[i], y[i])
        for k in one:
            close(got[k][i], tt(one[k]), f"{k}[{i}]")


def f_vec(M):
    return lambda a, b: M.sin(a) * (a @ b) + M.exp(a).sum()


@pytest.mark.parametrize(
    "name",
    ["grad", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "jacrev_chunked", "grad_of_vmap", "jacfwd_of_vmap"],
)
def test_vmap_composes_with_the_transforms(name):
    a, b = _data(5, 3), _data(3, seed=1)
    ta, tb = tt(a), tt(b)
    scalar = lambda M: lambda a, b: (f_vec(M)(a, b) ** 2).sum()  # noqa: E731
    if name == "grad":
        got = func.vmap(func.grad(scalar(pyad), argnums=(0, 1)), in_dims=(0, None))(a, b)
        exp = torch.func.vmap(torch.func.grad(scalar(torch), argnums=(0, 1)), in_dims=(0, None))(ta, tb)
    elif name == "vjp":
        ct = _data(5, 3, seed=2)
        got = func.vmap(lambda a, c: func.vjp(lambda x: f_vec(pyad)(x, b), a)[1](c)[0])(a, ct)
        exp = torch.func.vmap(lambda a, c: torch.func.vjp(lambda x: f_vec(torch)(x, tb), a)[1](c)[0])(ta, tt(ct))
    elif name == "jvp":
        t = _data(5, 3, seed=2)
        got = func.vmap(lambda a, t: func.jvp(lambda x: f_vec(pyad)(x, b), (a,), (t,)))(a, t)
        exp = torch.func.vmap(lambda a, t: torch.func.jvp(lambda x: f_vec(torch)(x, tb), (a,), (t,)))(ta, tt(t))
    elif name in ("jacrev", "jacfwd", "hessian"):
        tf = {"jacrev": torch.func.jacrev, "jacfwd": torch.func.jacfwd, "hessian": torch.func.hessian}[name]
        pf = getattr(func, name)
        fn = scalar if name == "hessian" else f_vec
        got = func.vmap(pf(fn(pyad), argnums=(0, 1)), in_dims=(0, None))(a, b)
        exp = torch.func.vmap(tf(fn(torch), argnums=(0, 1)), in_dims=(0, None))(ta, tb)
    elif name == "jacrev_chunked":
        got = func.vmap(func.jacrev(f_vec(pyad), chunk_size=2), in_dims=(0, None))(a, b)
        exp = torch.func.vmap(torch.func.jacrev(f_vec(torch)), in_dims=(0, None))(ta, tb)
    elif name == "grad_of_vmap":
        got = func.grad(lambda b: func.vmap(f_vec(pyad), in_dims=(0, None))(a, b).sum())(b)
        exp = torch.func.grad(lambda b: torch.func.vmap(f_vec(torch), in_dims=(0, None))(ta, b).sum())(tb)
    else:
        got = func.jacfwd(lambda b: func.vmap(f_vec(pyad), in_dims=(0, None))(a, b))(b)
        exp = torch.func.jacfwd(lambda b: torch.func.vmap(f_vec(torch), in_dims=(0, None))(ta, b))(tb)
    close(got, exp, name)


def test_grad_of_per_sample_gradients():
    """An outer grad through vmap(grad): the per-sample gradients stay connected to the shared parameters."""
    params = mlp_params()
    x, y = _data(4, 4, seed=1), _data(4, 2, seed=2)

    def outer(M, vmap, grad):
        def f(w1):
            p = dict(params_of(M), w1=w1)
            g = vmap(grad(mlp_loss(M)), in_dims=(None, 0, 0))(p, xs_of(M), ys_of(M))
            return (g["w2"] ** 2).sum()

        return f

    tparams = {k: tt(v) for k, v in params.items()}
    params_of = lambda M: params if M is pyad else tparams  # noqa: E731
    xs_of = lambda M: x if M is pyad else tt(x)  # noqa: E731
    ys_of = lambda M: y if M is pyad else tt(y)  # noqa: E731
    got = func.grad(outer(pyad, func.vmap, func.grad))(params["w1"])
    exp = torch.func.grad(outer(torch, torch.func.vmap, torch.func.grad))(tparams["w1"])
    close(got, exp)


def test_autograd_grad_inside_vmap_keeps_each_samples_gradient():
    """pyad.autograd.grad inside vmap with respect to a tensor made outside (shared by the samples) and one made
    inside: per-sample gradients, as torch's per-sample loop gives them."""
    w = _data(3, seed=1).requires_grad_(True)
    x = _data(4, 3)

    def f(a):
        a = a.detach().requires_grad_(True)
        return pyad.autograd.grad((a * w).sin().sum(), [w, a])

    gw, ga = func.vmap(f)(x)
    tw, tx = to_torch(w), tt(x)
    for i in range(4):
        ti = tx[i].clone().requires_grad_(True)
        ew, ea = torch.autograd.grad((ti * tw).sin().sum(), [tw, ti])
        close(gw[i], ew, f"w[{i}]")
        close(ga[i], ea, f"a[{i}]")


def test_per_sample_gradients_of_a_module_through_functional_call():
    """The torch.func tutorial's pattern: vmap(grad(loss of functional_call(model, params, x))) with a
    cross-entropy loss, whose target range check sees every sample's targets at once."""
    pyad.manual_seed(0)
    model = pyad.nn.Sequential(pyad.nn.Linear(4, 8), pyad.nn.Tanh(), pyad.nn.Linear(8, 3)).double()
    params = {k: v.detach() for k, v in model.named_parameters()}
    x, y = _data(5, 4), pyad.tensor([0, 1, 2, 1, 0])
    tmodel = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    tparams = {k: tt(v) for k, v in params.items()}

    def loss(M, mod, call):
        return lambda p, xi, yi: M.nn.functional.cross_entropy(call(mod, p, (xi.unsqueeze(0),)), yi.unsqueeze(0))

    got = func.vmap(func.grad(loss(pyad, model, func.functional_call)), in_dims=(None, 0, 0))(params, x, y)
    exp = torch.func.vmap(torch.func.grad(loss(torch, tmodel, torch.func.functional_call)), in_dims=(None, 0, 0))(
        tparams, tt(x), tt(y)
    )
    for k in exp:
        close(got[k], exp[k], k)
    with pytest.raises(IndexError, match=r"out of range"):
        func.vmap(func.grad(loss(pyad, model, func.functional_call)), in_dims=(None, 0, 0))(
            params, x, pyad.tensor([0, 1, 5, 1, 0])
        )


@pytest.mark.parametrize("name", ["hvp", "linearize", "jvp_of_vmap", "hessian_of_vmap"])
def test_vmap_composes_with_the_other_transforms(name):
    x, v = _data(4, 3), _data(4, 3, seed=1)
    tx, tv = tt(x), tt(v)
    f = lambda M: lambda a: (M.sin(a) * a).sum()  # noqa: E731
    g = lambda M: lambda r: M.sin(r) * r.sum()  # noqa: E731
    if name == "hvp":
        got = func.vmap(lambda a, t: func.hvp(f(pyad), (a,), (t,))[1])(x, v)
        exp = torch.func.vmap(lambda a, t: torch.func.jvp(torch.func.grad(f(torch)), (a,), (t,))[1])(tx, tv)
    elif name == "linearize":  # (torch.func.vmap has no rule for linearize's make_dual: its jvp is the reference)
        got = func.vmap(lambda a, t: func.linearize(g(pyad), a)[1](t))(x, v)
        exp = torch.func.vmap(lambda a, t: torch.func.jvp(g(torch), (a,), (t,))[1])(tx, tv)
    elif name == "jvp_of_vmap":
        got = func.jvp(func.vmap(g(pyad)), (x,), (v,))
        exp = torch.func.jvp(torch.func.vmap(g(torch)), (tx,), (tv,))
    else:
        got = func.hessian(lambda a: func.vmap(f(pyad))(a).sum())(x)
        exp = torch.func.hessian(lambda a: torch.func.vmap(f(torch))(a).sum())(tx)
    close(got, exp, name)


def test_vmap_levels_belong_to_their_thread():
    """Another thread's random ops are not inside this thread's vmap (randomness="error" does not reach them)."""
    import threading

    seen = []

    def other():
        seen.append(pyad.rand(2).shape)

    def f(a):
        t = threading.Thread(target=other)
        t.start()
        t.join()
        return a * 2

    func.vmap(f)(_data(3, 2))
    assert seen == [(2,)]
