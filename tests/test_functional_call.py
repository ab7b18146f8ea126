"""pyad.func.functional_call against torch.func.functional_call (partial dicts, buffers, tuples of dicts, tied
weights, strict, restore after exceptions), transforms over a dict of a pyad.nn model's parameters against
torch.func, and a MAML meta-gradient (seed notebook 001 section 9) against torch and against a central finite
difference, in float64."""

import numpy as np
import pytest
import torch

import pyad
from pyad import func

TOL = dict(rtol=1e-7, atol=1e-7)
LIBS = {"pyad": (pyad, pyad.nn, func), "torch": (torch, torch.nn, torch.func)}


def tensor(lib, a):
    a = np.asarray(a, dtype=np.float64)
    return pyad.tensor(a, dtype=pyad.float64) if lib == "pyad" else torch.tensor(a)


def npy(t):
    return t.detach().numpy()


def close(got, want):
    np.testing.assert_allclose(npy(got), npy(want), **TOL)


def dict_close(got, want):
    assert list(got) == list(want)
    for k in want:
        close(got[k], want[k])


def make_net(lib, seed=0, tied=False, fail=False):
    """The same 1-hidden-layer tanh regressor (plus a buffer) in pyad or torch, with identical weights."""
    M, nn, _ = LIBS[lib]
    rng = np.random.default_rng(seed)
    f64 = M.float64  # built in float64, not converted: pyad's Module.double() re-creates (so unties) parameters

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1 = nn.Linear(3, 3 if tied else 4, dtype=f64)
            self.l2 = nn.Linear(3 if tied else 4, 1, dtype=f64)
            if tied:
                self.l3 = nn.Linear(3, 3, dtype=f64)
                self.l3.weight = self.l1.weight
            self.register_buffer("shift", tensor(lib, [0.25]))

        def forward(self, x, *, scale=1.0):
            h = self.l1(x).tanh()
            if tied:
                h = self.l3(h).tanh()
            if fail:
                raise RuntimeError("forward failed on purpose")
            return self.l2(h) * scale + self.shift

    net = Net()
    values = {k: rng.standard_normal(tuple(v.shape)) for k, v in net.state_dict().items()}
    net.load_state_dict({k: tensor(lib, v) for k, v in values.items()})
    return net


def new_values(lib, net, seed=1, keys=None):
    rng = np.random.default_rng(seed)
    sd = {k: v for k, v in net.state_dict().items() if keys is None or k in keys}
    return {k: tensor(lib, rng.standard_normal(tuple(v.shape))) for k, v in sd.items()}


def both(fn):
    """fn(lib) for pyad and torch."""
    return fn("pyad"), fn("torch")


def x_of(lib, seed=2, n=5):
    return tensor(lib, np.random.default_rng(seed).standard_normal((n, 3)))


# ---------------------------------------------------------------- semantics
@pytest.mark.parametrize("keys", [None, ["l1.weight"], ["l2.bias", "shift"], ["shift"]])
def test_call_with_full_and_partial_dicts_matches_torch_and_restores(keys):
    def run(lib):
        _, _, F = LIBS[lib]
        net = make_net(lib)
        before = dict(net.state_dict(keep_vars=True))
        out = F.functional_call(net, new_values(lib, net, keys=keys), (x_of(lib),))
        after = dict(net.state_dict(keep_vars=True))
        assert all(after[k] is before[k] for k in before)  # the very same tensors are back
        plain = net(x_of(lib))
        return out, plain

    (out_p, plain_p), (out_t, plain_t) = both(run)
    close(out_p, out_t)
    close(plain_p, plain_t)
    assert not np.allclose(npy(out_p), npy(plain_p))  # the given values were used


def test_args_single_value_or_tuple_and_kwargs():
    def run(lib):
        _, _, F = LIBS[lib]
        net = make_net(lib)
        vals = new_values(lib, net)
        a = F.functional_call(net, vals, x_of(lib))
        b = F.functional_call(net, vals, (x_of(lib),), {"scale": 3.0})
        return a, b

    (a_p, b_p), (a_t, b_t) = both(run)
    close(a_p, a_t)
    close(b_p, b_t)
    assert not np.allclose(npy(a_p), npy(b_p))


def test_tuple_of_dicts_params_and_buffers():
    def run(lib):
        _, _, F = LIBS[lib]
        net = make_net(lib)
        vals = new_values(lib, net)
        params = {k: v for k, v in vals.items() if k != "shift"}
        return F.functional_call(net, (params, {"shift": vals["shift"]}), (x_of(lib),))

    close(*both(run))


def test_repeated_keys_across_dicts_and_bad_dicts_raise_as_torch():
    for lib in LIBS:
        _, _, F = LIBS[lib]
        net = make_net(lib)
        vals = new_values(lib, net)
        with pytest.raises(ValueError, match="appeared in multiple dictionaries"):
            F.functional_call(net, (vals, {"shift": vals["shift"]}), (x_of(lib),))
        with pytest.raises(ValueError, match="to be dictionaries"):
            F.functional_call(net, (vals, 3), (x_of(lib),))
        with pytest.raises(ValueError, match="to be a dict, or a list/tuple of dicts"):
            F.functional_call(net, 3, (x_of(lib),))


@pytest.mark.parametrize("tie_weights", [True, False])
def test_tied_weights(tie_weights):
    def run(lib):
        _, _, F = LIBS[lib]
        net = make_net(lib, tied=True)
        w = new_values(lib, net, keys=["l1.weight"])
        other = F.functional_call(net, w, (x_of(lib),), tie_weights=not tie_weights)
        return F.functional_call(net, w, (x_of(lib),), tie_weights=tie_weights), net(x_of(lib)), other

    (out_p, plain_p, other_p), (out_t, plain_t, _) = both(run)
    close(out_p, out_t)
    close(plain_p, plain_t)
    assert not np.allclose(npy(out_p), npy(other_p))  # the tie decides whether l3 sees the new weight


def test_tied_weights_with_two_different_values_raise_as_torch():
    msgs = []
    for lib in LIBS:
        _, _, F = LIBS[lib]
        net = make_net(lib, tied=True)
        vals = {
            "l1.weight": new_values(lib, net, seed=3)["l1.weight"],
            "l3.weight": new_values(lib, net, seed=4)["l1.weight"],
        }
        with pytest.raises(ValueError) as err:
            F.functional_call(net, vals, (x_of(lib),))
        msgs.append(str(err.value))
        # The same tensor under both names is fine; tie_weights=False takes the two values.
        F.functional_call(net, {"l1.weight": vals["l1.weight"], "l3.weight": vals["l1.weight"]}, (x_of(lib),))
        F.functional_call(net, vals, (x_of(lib),), tie_weights=False)
    assert msgs[0] == msgs[1]


def test_restored_after_an_exception():
    for lib in LIBS:
        _, _, F = LIBS[lib]
        net = make_net(lib, fail=True)
        before = dict(net.state_dict(keep_vars=True))
        with pytest.raises(RuntimeError, match="on purpose"):
            F.functional_call(net, {**new_values(lib, net), "extra": tensor(lib, 1.0)}, (x_of(lib),))
        after = dict(net.state_dict(keep_vars=True))
        assert list(after) == list(before) and all(after[k] is before[k] for k in before), lib
        assert not hasattr(net, "extra"), lib  # an unexpected key lived only for the call


@pytest.mark.parametrize("drop, add", [("l2.bias", None), (None, "l9"), ("shift", "other")])
def test_strict_reports_missing_and_unexpected_keys_as_torch(drop, add):
    msgs = []
    for lib in LIBS:
        _, _, F = LIBS[lib]
        net = make_net(lib)
        vals = new_values(lib, net)
        if drop:
            del vals[drop]
        if add:
            vals[add] = tensor(lib, 1.0)
        with pytest.raises(RuntimeError) as err:
            F.functional_call(net, vals, (x_of(lib),), strict=True)
        msgs.append(str(err.value))
    assert msgs[0] == msgs[1]
    assert "Error(s) in reparametrizing for Net" in msgs[0]


def test_strict_with_exact_keys_runs():
    close(
        *both(
            lambda lib: LIBS[lib][2].functional_call(
                make_net(lib), new_values(lib, make_net(lib)), (x_of(lib),), strict=True
            )
        )
    )


def test_non_tensor_value_raises():
    net = make_net("pyad")
    with pytest.raises(TypeError, match=r"\[functional_call\] the value for 'l1.bias' must be a Tensor"):
        func.functional_call(net, {"l1.bias": [1.0, 2.0, 3.0, 4.0]}, (x_of("pyad"),))
    assert net.l1.bias is not None and isinstance(net.l1.bias, pyad.Tensor)


# ---------------------------------------------------------------- transforms over a parameter dict
def loss_fn(lib, net, x, y):
    _, _, F = LIBS[lib]

    def loss(params):
        pred = F.functional_call(net, params, (x,))
        return ((pred - y) ** 2).mean()

    return loss


def params_of(net):
    return {k: v.detach() for k, v in net.named_parameters()}


def data(lib, seed):
    rng = np.random.default_rng(seed)
    return tensor(lib, rng.standard_normal((6, 3))), tensor(lib, rng.standard_normal((6, 1)))


@pytest.mark.parametrize("transform", ["grad", "jacrev", "jacfwd", "hessian"])
def test_transform_over_parameter_dict_matches_torch(transform):
    def run(lib):
        _, _, F = LIBS[lib]
        net = make_net(lib)
        x, y = data(lib, 5)
        loss = loss_fn(lib, net, x, y)
        if transform in ("jacrev", "jacfwd"):

            def preds(params):
                return F.functional_call(net, params, (x,))

            return getattr(F, transform)(preds)(params_of(net))
        return getattr(F, transform)(loss)(params_of(net))

    got, want = both(run)
    assert set(got) == set(want)
    for k in want:
        if isinstance(want[k], dict):
            assert set(got[k]) == set(want[k])
            for k2 in want[k]:
                close(got[k][k2], want[k][k2])
        else:
            close(got[k], want[k])


# ---------------------------------------------------------------- MAML (seed notebook 001, section 9)
ALPHA = 0.1


def maml_meta_grad_autograd(lib):
    """theta' = theta - alpha grad L_train(theta) with create_graph=True, then dL_val(theta')/dtheta."""
    M, _, _ = LIBS[lib]
    net = make_net(lib)
    (x_tr, y_tr), (x_va, y_va) = data(lib, 10), data(lib, 11)
    names = [k for k, _ in net.named_parameters()]
    theta = [p for _, p in net.named_parameters()]
    train = loss_fn(lib, net, x_tr, y_tr)(dict(zip(names, theta)))
    grads = M.autograd.grad(train, theta, create_graph=True)
    adapted = {k: p - ALPHA * g for k, p, g in zip(names, theta, grads)}
    val = loss_fn(lib, net, x_va, y_va)(adapted)
    return dict(zip(names, M.autograd.grad(val, theta))), val


def maml_meta_objective(lib, net):
    _, _, F = LIBS[lib]
    (x_tr, y_tr), (x_va, y_va) = data(lib, 10), data(lib, 11)
    train, val = loss_fn(lib, net, x_tr, y_tr), loss_fn(lib, net, x_va, y_va)

    def meta(theta):
        g = F.grad(train)(theta)  # nested: the outer grad differentiates through this inner one
        return val({k: theta[k] - ALPHA * g[k] for k in theta})

    return meta


def test_maml_meta_gradient_with_create_graph_matches_torch():
    (g_p, v_p), (g_t, v_t) = both(maml_meta_grad_autograd)
    dict_close(g_p, g_t)
    close(v_p, v_t)


def test_maml_meta_gradient_with_nested_func_grad_matches_torch_and_autograd():
    def run(lib):
        net = make_net(lib)
        return LIBS[lib][2].grad(maml_meta_objective(lib, net))(params_of(net))

    got, want = both(run)
    dict_close(got, want)
    dict_close(got, maml_meta_grad_autograd("pyad")[0])
    # The second-order term matters: a first-order MAML gradient (inner gradient detached) differs.
    net = make_net("pyad")
    (x_tr, y_tr), (x_va, y_va) = data("pyad", 10), data("pyad", 11)
    theta = params_of(net)
    g = func.grad(loss_fn("pyad", net, x_tr, y_tr))(theta)
    first_order = func.grad(
        lambda th: loss_fn("pyad", net, x_va, y_va)({k: th[k] - ALPHA * g[k].detach() for k in th})
    )(theta)
    assert not all(np.allclose(npy(first_order[k]), npy(got[k]), rtol=1e-4, atol=1e-6) for k in got)


def test_maml_meta_gradient_matches_central_finite_difference():
    net = make_net("pyad")
    meta = maml_meta_objective("pyad", net)
    theta = params_of(net)
    got = func.grad(meta)(theta)
    h = 1e-5
    for k, p in theta.items():
        base = p.numpy().astype(np.float64)
        fd = np.zeros_like(base)
        for idx in np.ndindex(base.shape):
            vals = []
            for sign in (1.0, -1.0):
                shifted = base.copy()
                shifted[idx] += sign * h
                vals.append(float(meta({**theta, k: pyad.tensor(shifted, dtype=pyad.float64)}).item()))
            fd[idx] = (vals[0] - vals[1]) / (2 * h)
        np.testing.assert_allclose(npy(got[k]), fd, rtol=1e-6, atol=1e-8, err_msg=k)
