"""pyad.optim against torch.optim: 200 steps on a small MLP from the same weights give the same parameters to
1e-10 in float64, for every optimizer and the option combinations that change its update; param groups,
zero_grad, closures, state dict round trips; schedulers' lr sequences."""

import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import pyad
import pyad.nn as nn
import pyad.optim as optim
from pyad.optim import lr_scheduler


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """torch's tiny ops spin their thread pool; on a loaded machine that makes them 20x slower."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def mlp_pair(dtype=torch.float64):
    torch.manual_seed(0)
    tm = torch.nn.Sequential(
        torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3)
    ).to(dtype)
    pm = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))
    pm.to(pyad.float64 if dtype == torch.float64 else pyad.float32)
    pm.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    return tm, pm


rng = np.random.default_rng(0)
X = rng.standard_normal((32, 5))
Y = rng.integers(0, 3, 32)


def train(tm, pm, topt, popt, steps, dtype=torch.float64, tsched=None, psched=None):
    tx, ty = torch.tensor(X, dtype=dtype), torch.tensor(Y)
    px, py = pyad.tensor(X, dtype=pyad.float64 if dtype == torch.float64 else pyad.float32), pyad.tensor(Y)
    for _ in range(steps):
        if topt is not None:
            topt.zero_grad()
            torch.nn.functional.cross_entropy(tm(tx), ty).backward()
            topt.step()
            if tsched is not None:
                tsched.step()
        if popt is not None:
            popt.zero_grad()
            nn.functional.cross_entropy(pm(px), py).backward()
            popt.step()
            if psched is not None:
                psched.step()


def max_diff(tm, pm):
    return max(np.abs(pm.state_dict()[k].numpy() - v.detach().numpy()).max() for k, v in tm.state_dict().items())


CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, weight_decay=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.002, momentum=0.5, nesterov=True, weight_decay=0.01, maximize=True)),
    ("Adam", dict(lr=1e-2)),
    ("Adam", dict(lr=1e-2, betas=(0.3, 0.9))),  # 1 - beta1 >= 0.5: the other branch of torch's lerp
    ("Adam", dict(lr=1e-2, weight_decay=0.1)),
    ("Adam", dict(lr=1e-2, amsgrad=True)),
    ("Adam", dict(lr=1e-2, amsgrad=True, weight_decay=0.1, maximize=True, eps=1e-6)),
    ("AdamW", dict(lr=1e-2)),
    ("AdamW", dict(lr=1e-2, weight_decay=0.3, amsgrad=True)),
    ("AdamW", dict(lr=1e-2, maximize=True)),
    ("RMSprop", dict(lr=1e-3)),
    ("RMSprop", dict(lr=1e-3, alpha=0.9, weight_decay=0.1)),
    ("RMSprop", dict(lr=1e-3, momentum=0.8)),
    ("RMSprop", dict(lr=1e-3, centered=True)),
    ("RMSprop", dict(lr=1e-3, centered=True, momentum=0.5, weight_decay=0.05, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-6, maximize=True)),
]


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=[f"{n}-{'-'.join(k)}" for n, k in CONFIGS])
def test_200_steps_match_torch_float64(name, kwargs):
    tm, pm = mlp_pair()
    topt = getattr(torch.optim, name)(tm.parameters(), foreach=False, **kwargs)
    popt = getattr(optim, name)(pm.parameters(), **kwargs)
    train(tm, pm, topt, popt, 200)
    assert max_diff(tm, pm) < 1e-10
    # the run moved the weights a good deal: the comparison is not of two untouched models
    _, fresh = mlp_pair()
    assert max(np.abs(pm.state_dict()[k].numpy() - v.numpy()).max() for k, v in fresh.state_dict().items()) > 1e-2
    assert all(p.is_leaf and p.grad_fn is None and p.requires_grad for p in pm.parameters())
    assert sorted(popt.param_groups[0]) == sorted(topt.param_groups[0])


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("SGD", dict(lr=0.05, momentum=0.9)),
        ("Adam", dict(lr=1e-2)),
        ("RMSprop", dict(lr=1e-3)),
        ("Adagrad", dict(lr=0.1)),
    ],
)
def test_float32_steps_match_torch(name, kwargs):
    tm, pm = mlp_pair(torch.float32)
    topt = getattr(torch.optim, name)(tm.parameters(), foreach=False, **kwargs)
    popt = getattr(optim, name)(pm.parameters(), **kwargs)
    train(tm, pm, topt, popt, 20, dtype=torch.float32)
    assert max_diff(tm, pm) < 1e-4


def test_param_groups_match_torch():
    tm, pm = mlp_pair()
    tl, pl = list(tm.parameters()), list(pm.parameters())
    topt = torch.optim.Adam(
        [{"params": tl[:2], "lr": 0.05}, {"params": tl[2:], "weight_decay": 0.1}], lr=1e-3, foreach=False
    )
    popt = optim.Adam([{"params": pl[:2], "lr": 0.05}, {"params": pl[2:], "weight_decay": 0.1}], lr=1e-3)
    assert popt.param_groups[0]["lr"] == 0.05 and popt.param_groups[1]["lr"] == 1e-3
    assert popt.param_groups[1]["weight_decay"] == 0.1 and popt.param_groups[0]["weight_decay"] == 0
    train(tm, pm, topt, popt, 50)
    assert max_diff(tm, pm) < 1e-10
    # a group added later, with a parameter not yet optimized
    extra = nn.Parameter(pyad.ones(2))
    popt.add_param_group({"params": [extra], "lr": 0.5})
    assert len(popt.param_groups) == 3 and popt.param_groups[2]["betas"] == (0.9, 0.999)
    with pytest.raises(ValueError, match="more than one parameter group"):
        popt.add_param_group({"params": [extra]})


def test_sgd_without_grad_skips_and_zero_grad_modes():
    a, b = nn.Parameter(pyad.ones(3)), nn.Parameter(pyad.ones(3))
    opt = optim.SGD([a, b], lr=0.5, momentum=0.9)
    (a * 2).sum().backward()
    opt.step()
    assert np.allclose(a.detach().numpy(), 0.0) and np.array_equal(b.detach().numpy(), np.ones(3))
    assert b not in opt.state and "momentum_buffer" in opt.state[a]
    opt.zero_grad(set_to_none=False)
    assert a.grad is not None and not a.grad.numpy().any()
    opt.zero_grad()
    assert a.grad is None


def test_closure_is_run_with_grad_enabled():
    tm, pm = mlp_pair()
    popt = optim.SGD(pm.parameters(), lr=0.1)
    px, py = pyad.tensor(X), pyad.tensor(Y)

    def closure():
        popt.zero_grad()
        loss = nn.functional.cross_entropy(pm(px), py)
        loss.backward()
        return loss

    with pyad.no_grad():
        loss = popt.step(closure)
    assert loss.item() > 0 and max(p.grad.numpy().__abs__().max() for p in pm.parameters()) > 0


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
        ("Adam", dict(lr=1e-2, amsgrad=True)),
        ("AdamW", dict(lr=1e-2)),
        ("RMSprop", dict(lr=1e-3, centered=True, momentum=0.5)),
        ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
    ],
)
def test_state_dict_round_trip_continues_the_same(name, kwargs):
    _, straight = mlp_pair()
    opt = getattr(optim, name)(straight.parameters(), **kwargs)
    train(None, straight, None, opt, 100)
    model_sd = {k: v.numpy().copy() for k, v in straight.state_dict().items()}
    opt_sd = snapshot(opt.state_dict())
    # the torch layout: integer keys, groups whose params are indices, torch's hyper-parameter names
    assert sorted(opt_sd["state"]) == list(range(6))
    assert opt_sd["param_groups"][0]["params"] == list(range(6))
    train(None, straight, None, opt, 100)

    _, resumed = mlp_pair()
    resumed.load_state_dict(model_sd)
    opt2 = getattr(optim, name)(resumed.parameters(), **{**kwargs, "lr": 123.0})
    opt2.load_state_dict(opt_sd)
    assert opt2.param_groups[0]["lr"] == kwargs["lr"]
    train(None, resumed, None, opt2, 100)
    for k, v in straight.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[k].numpy(), v.numpy())
    # the loaded state is a copy: the first optimizer's later steps did not change what was saved
    some = next(iter(opt2.state.values()))
    first = next(iter(opt.state.values()))
    for key, value in some.items():
        if isinstance(value, pyad.Tensor):
            assert value.data_ptr() != first[key].data_ptr()


def snapshot(sd):
    """A copy of an optimizer state dict (whose tensors, as torch's, are the live state) as NumPy arrays,
    the form a checkpoint file would hold."""
    state = {
        i: {k: v.numpy().copy() if isinstance(v, pyad.Tensor) else v for k, v in s.items()}
        for i, s in sd["state"].items()
    }
    return {"state": state, "param_groups": [dict(g) for g in sd["param_groups"]]}


def test_state_dict_errors():
    _, pm = mlp_pair()
    opt = optim.Adam(pm.parameters())
    sd = opt.state_dict()
    other = optim.Adam(list(pm.parameters())[:2])
    with pytest.raises(ValueError, match="doesn't match the size"):
        other.load_state_dict(sd)
    two = optim.Adam([{"params": list(pm.parameters())[:2]}, {"params": list(pm.parameters())[2:]}])
    with pytest.raises(ValueError, match="different number of parameter groups"):
        two.load_state_dict(sd)


def test_constructor_errors():
    p = nn.Parameter(pyad.ones(2))
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="iterable of Tensors"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p * 2], lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.Adam([p], lr=-1)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Nesterov momentum requires"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(NotImplementedError, match="differentiable=True"):
        optim.Adam([p], differentiable=True)
    with pytest.raises(ValueError, match="duplicate parameters"):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(TypeError, match="Tensors"):
        optim.SGD([1.0], lr=0.1)
    optim.Adam([p], foreach=True).step()  # accepted: pyad runs its one loop either way
    assert "Adam (" in repr(optim.Adam([p]))


# ---- schedulers ----
def _scheduler_pairs(make_t, make_p, groups=2):
    tparams = [torch.nn.Parameter(torch.ones(1)) for _ in range(groups)]
    pparams = [nn.Parameter(pyad.ones(1)) for _ in range(groups)]
    topt = torch.optim.SGD([{"params": [t], "lr": 0.1 * (i + 1)} for i, t in enumerate(tparams)], lr=0.1)
    popt = optim.SGD([{"params": [p], "lr": 0.1 * (i + 1)} for i, p in enumerate(pparams)], lr=0.1)
    return make_t(topt), make_p(popt), topt, popt


SCHEDULERS = {
    "StepLR": (
        lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
        lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
    ),
    "CosineAnnealingLR": (
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.001),
        lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.001),
    ),
    "LambdaLR": (
        lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda e: 0.9**e + 0.01 * e),
        lambda o: lr_scheduler.LambdaLR(o, lambda e: 0.9**e + 0.01 * e),
    ),
    "LambdaLR-per-group": (
        lambda o: torch.optim.lr_scheduler.LambdaLR(o, [lambda e: 1 / (e + 1), lambda e: 0.95**e]),
        lambda o: lr_scheduler.LambdaLR(o, [lambda e: 1 / (e + 1), lambda e: 0.95**e]),
    ),
    "LinearLR": (
        lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.25, end_factor=0.9, total_iters=6),
        lambda o: lr_scheduler.LinearLR(o, start_factor=0.25, end_factor=0.9, total_iters=6),
    ),
    "LinearLR-default": (lambda o: torch.optim.lr_scheduler.LinearLR(o), lambda o: lr_scheduler.LinearLR(o)),
}


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_scheduler_lr_sequence_matches_torch(name):
    tsched, psched, topt, popt = _scheduler_pairs(*SCHEDULERS[name])
    t_lrs, p_lrs = [tsched.get_last_lr()], [psched.get_last_lr()]
    for _ in range(30):
        topt.step()
        popt.step()
        tsched.step()
        psched.step()
        t_lrs.append(tsched.get_last_lr())
        p_lrs.append(psched.get_last_lr())
        assert [g["lr"] for g in popt.param_groups] == p_lrs[-1]
    assert p_lrs == t_lrs  # bit for bit: the same recursive formulas
    assert [g["initial_lr"] for g in popt.param_groups] == [g["initial_lr"] for g in topt.param_groups]


@pytest.mark.parametrize("name", ["StepLR", "CosineAnnealingLR", "LinearLR"])
def test_scheduler_state_dict_and_epoch_argument(name):
    tsched, psched, topt, popt = _scheduler_pairs(*SCHEDULERS[name])
    for _ in range(4):
        psched.step()
    sd = psched.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 4
    _, psched2, _, popt2 = _scheduler_pairs(*SCHEDULERS[name])
    psched2.load_state_dict(sd)
    for g, lr in zip(popt2.param_groups, psched.get_last_lr()):
        g["lr"] = lr
    for _ in range(5):
        psched.step()
        psched2.step()
    assert psched.get_last_lr() == psched2.get_last_lr()
    # step(epoch) uses the closed form, as torch
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tsched.step(5)
    psched.step(5)
    np.testing.assert_allclose(psched.get_last_lr(), tsched.get_last_lr(), rtol=1e-15)


def test_scheduler_drives_training_like_torch():
    tm, pm = mlp_pair()
    topt = torch.optim.SGD(tm.parameters(), lr=0.2, momentum=0.9, foreach=False)
    popt = optim.SGD(pm.parameters(), lr=0.2, momentum=0.9)
    tsched = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=50)
    psched = lr_scheduler.CosineAnnealingLR(popt, T_max=50)
    train(tm, pm, topt, popt, 60, tsched=tsched, psched=psched)
    assert max_diff(tm, pm) < 1e-10
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), 1)
    assert math.isclose(psched.get_last_lr()[0], tsched.get_last_lr()[0], rel_tol=1e-15)


FUSED_CONFIGS = [
    (optim.Adam, dict(lr=1e-2)),
    (optim.Adam, dict(lr=1e-2, betas=(0.3, 0.9))),
    (optim.Adam, dict(lr=1e-2, weight_decay=0.1)),
    (optim.Adam, dict(lr=1e-2, amsgrad=True, weight_decay=0.1, maximize=True)),
    (optim.AdamW, dict(lr=1e-2, weight_decay=0.3, amsgrad=True)),
    (optim.SGD, dict(lr=0.05)),
    (optim.SGD, dict(lr=0.05, momentum=0.9, dampening=0.5, weight_decay=0.01)),
    (optim.SGD, dict(lr=0.01, momentum=0.5, nesterov=True, weight_decay=0.01, maximize=True)),
]


class _Counting:
    """Wraps a fused step of pyad._C, counting its calls and the parameters they update."""

    def __init__(self, fn):
        self.fn, self.calls, self.params = fn, 0, 0

    def __call__(self, params, *args):
        self.calls += 1
        self.params += len(params)
        return self.fn(params, *args)


@pytest.fixture
def fused_calls(monkeypatch):
    counters = {name: _Counting(getattr(pyad._C, name)) for name in ("_adam_step", "_sgd_step")}
    for name, c in counters.items():
        monkeypatch.setattr(pyad._C, name, c)
    return counters


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("cls,kwargs", FUSED_CONFIGS)
def test_fused_step_is_taken_and_gives_the_loops_bits(fused_calls, cls, kwargs, dtype):
    """Note [Fused optimizer steps]: foreach (the default) runs one fused call per step for all six tensors,
    foreach=False the loop, and both agree bit for bit, through a step where one parameter has no gradient (it
    keeps its step count: then two fused groups) and a state dict reload."""
    _, a = mlp_pair(dtype)
    _, b = mlp_pair(dtype)
    oa, ob = cls(a.parameters(), **kwargs), cls(b.parameters(), foreach=False, **kwargs)
    counter = fused_calls["_sgd_step" if cls is optim.SGD else "_adam_step"]
    train(None, a, None, oa, 10, dtype)
    assert counter.calls == 10 and counter.params == 60
    train(None, b, None, ob, 10, dtype)
    assert counter.calls == 10  # the loop
    x = pyad.tensor(X, dtype=pyad.float64 if dtype == torch.float64 else pyad.float32)
    for model, opt in ((a, oa), (b, ob)):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), pyad.tensor(Y)).backward()
        model[0].bias.grad = None
        opt.step()
    assert counter.calls == 11 and counter.params == 65
    oa.load_state_dict(oa.state_dict())
    for model, opt in ((a, oa), (b, ob)):
        train(None, model, None, opt, 10, dtype)
    # Adam's parameters now sit at two step counts: one fused call each; SGD's at one (buffers all exist)
    assert counter.calls == 11 + 10 * (1 if cls is optim.SGD else 2)
    for k, v in b.state_dict().items():
        np.testing.assert_array_equal(a.state_dict()[k].numpy(), v.numpy())
    for p, q in zip(a.parameters(), b.parameters()):
        for name, t in ob.state[q].items():
            want = t.numpy() if isinstance(t, pyad.Tensor) else t
            got = oa.state[p][name]
            np.testing.assert_array_equal(got.numpy() if isinstance(got, pyad.Tensor) else got, want)


# Each vector width of the fused steps (Note [Run-time ISA dispatch], csrc/kernels/cpu/optim_step.cpp) in a
# process of its own, capped by PYAD_CPU_ISA: the loop's bits for tensor lengths around every width's tail, in
# both dtypes and every configuration.
_ISA_CHILD = r"""
import numpy as np, pyad, pyad.nn as nn, pyad.optim as optim
CONFIGS = %s
rng = np.random.default_rng(3)
sizes = (1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 1000)
for dtype in (pyad.float32, pyad.float64):
    for name, kw in CONFIGS:
        w = [rng.standard_normal(n) for n in sizes]
        pairs = [[nn.Parameter(pyad.tensor(a, dtype=dtype)) for a in w] for _ in range(2)]
        opts = [getattr(optim, name)(pairs[0], **kw), getattr(optim, name)(pairs[1], foreach=False, **kw)]
        for step in range(4):
            g = [rng.standard_normal(n) for n in sizes]
            for ps, opt in zip(pairs, opts):
                for p, a in zip(ps, g):
                    p.grad = pyad.tensor(a, dtype=dtype)
                opt.step()
        for a, b in zip(*pairs):
            assert np.array_equal(a.detach().numpy(), b.detach().numpy()), (name, kw, dtype, a.numel())
print("ok")
"""


@pytest.mark.parametrize("isa", ["baseline", "avx2", "avx512"])
def test_every_isa_path_of_the_fused_step_gives_the_loops_bits(isa):
    configs = [(cls.__name__, kw) for cls, kw in FUSED_CONFIGS]
    env = dict(os.environ, PYAD_CPU_ISA=isa)
    child = _ISA_CHILD % repr(configs)
    run = subprocess.run([sys.executable, "-c", child], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stdout + run.stderr


@pytest.mark.parametrize("cls,kwargs", FUSED_CONFIGS)
def test_fused_step_matches_torch_foreach(cls, kwargs):
    """200 fused steps from the same weights land within 1e-10 of torch's foreach implementation in float64."""
    tm, pm = mlp_pair()
    topt = getattr(torch.optim, cls.__name__)(tm.parameters(), foreach=True, **kwargs)
    popt = cls(pm.parameters(), **kwargs)
    train(tm, pm, topt, popt, 200)
    assert max_diff(tm, pm) < 1e-10


def test_fused_step_groups_dtypes_and_falls_back_for_odd_tensors(fused_calls):
    """Mixed dtypes: one fused call per dtype; a non-contiguous parameter takes the loop; results as torch's."""
    base = np.arange(6.0).reshape(2, 3)
    p32, p64 = nn.Parameter(pyad.ones(3)), nn.Parameter(pyad.ones(3, dtype=pyad.float64))
    pt = nn.Parameter(pyad.tensor(base).t())  # a transposed (non-contiguous) leaf
    t32, t64 = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    tt = torch.nn.Parameter(torch.tensor(base).t())
    opt, topt = optim.Adam([p32, p64, pt], lr=0.1), torch.optim.Adam([t32, t64, tt], lr=0.1, foreach=False)
    for _ in range(3):
        for p, t in ((p32, t32), (p64, t64), (pt, tt)):
            p.grad = p.detach() * 2.0
            t.grad = t.detach() * 2.0
        opt.step()
        topt.step()
    assert fused_calls["_adam_step"].calls == 6 and fused_calls["_adam_step"].params == 6
    np.testing.assert_allclose(p64.detach().numpy(), t64.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(pt.detach().numpy(), tt.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(p32.detach().numpy(), t32.detach().numpy(), rtol=1e-6)


def test_fused_step_errors():
    p = nn.Parameter(pyad.ones(3))
    g = pyad.ones(3)
    args = (0.1, 0.9, 0.999, 1e-8, 0.0, 0.1, 0.1, False, False, False)
    with pyad.no_grad(), pytest.raises(ValueError, match=r"\[adam_step\] gradient 0 must match its parameter"):
        pyad._C._adam_step([p], [pyad.ones(4)], [pyad.zeros(3)], [pyad.zeros(3)], [], *args)
    with pyad.no_grad(), pytest.raises(ValueError, match=r"\[adam_step\] got 1 parameters but 2 gradients"):
        pyad._C._adam_step([p], [g, g], [pyad.zeros(3)], [pyad.zeros(3)], [], *args)
    with pytest.raises(RuntimeError, match=r"\[adam_step\] a leaf Variable that requires grad"):
        pyad._C._adam_step([p], [g], [pyad.zeros(3)], [pyad.zeros(3)], [], *args)
    with pyad.no_grad(), pytest.raises(ValueError, match=r"\[sgd_step\] momentum_buffer 0 must match"):
        pyad._C._sgd_step([p], [g], [pyad.zeros(3, dtype=pyad.float64)], 0.1, 0.9, 0.0, 0.0, False, False, False)
    with pyad.no_grad(), pytest.raises(TypeError, match=r"\[sgd_step\] expected every parameter of one dtype"):
        pyad._C._sgd_step([p, pyad.ones(2, dtype=pyad.float64)], [g, g], [], 0.1, 0.0, 0.0, 0.0, False, False, True)
