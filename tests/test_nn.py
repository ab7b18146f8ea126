"""pyad.nn.Module's API against torch.nn.Module's: registration and its order, traversal, modes, gradients,
conversion, state dicts (keys, errors, NumPy round trips with torch) and repr; Parameter."""

import collections

import numpy as np
import pytest
import torch

import pyad
import pyad.nn as nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.scale = nn.Parameter(pyad.ones(4))
        self.register_buffer("running", pyad.ones(4) * 2)
        self.register_buffer("scratch", pyad.ones(1), persistent=False)
        self.act = nn.Tanh()

    def forward(self, x):
        return self.act(self.fc(x)) * self.scale + self.running


class TorchBlock(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3, 4)
        self.scale = torch.nn.Parameter(torch.ones(4))
        self.register_buffer("running", torch.ones(4) * 2)
        self.register_buffer("scratch", torch.ones(1), persistent=False)
        self.act = torch.nn.Tanh()

    def forward(self, x):
        return self.act(self.fc(x)) * self.scale + self.running


def models():
    pm = nn.Sequential(collections.OrderedDict(first=Block(), drop=nn.Dropout(0.1), out=nn.Linear(4, 2)))
    tm = torch.nn.Sequential(
        collections.OrderedDict(first=TorchBlock(), drop=torch.nn.Dropout(0.1), out=torch.nn.Linear(4, 2))
    )
    return pm, tm


def test_names_and_order_match_torch():
    pm, tm = models()
    assert [n for n, _ in pm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert [n for n, _ in pm.named_buffers()] == [n for n, _ in tm.named_buffers()]
    assert [n for n, _ in pm.named_modules()] == [n for n, _ in tm.named_modules()]
    assert [n for n, _ in pm.named_children()] == [n for n, _ in tm.named_children()]
    assert list(pm.state_dict()) == list(tm.state_dict())
    assert [type(m).__name__ for m in pm.modules()] == [
        type(m).__name__.replace("TorchBlock", "Block") for m in tm.modules()
    ]
    assert [n for n, _ in pm.first.named_parameters(prefix="p", recurse=False)] == ["p.scale"]


def test_reassignment_keeps_position_and_type_rules():
    m = nn.Module()
    m.a = nn.Parameter(pyad.ones(1))
    m.b = nn.Parameter(pyad.ones(1))
    m.a = nn.Parameter(pyad.zeros(1))
    assert list(dict(m.named_parameters())) == ["a", "b"]
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'a'"):
        m.a = pyad.ones(1)
    m.a = None
    assert list(dict(m.named_parameters())) == ["b"] and m.a is None
    m.register_buffer("buf", pyad.ones(2))
    m.buf = pyad.zeros(2)
    assert m.buf.detach().numpy().tolist() == [0.0, 0.0]
    with pytest.raises(TypeError, match="as buffer 'buf'"):
        m.buf = 3
    m.sub = nn.Linear(1, 1)
    with pytest.raises(TypeError, match="as child module 'sub'"):
        m.sub = 3
    del m.sub
    assert list(m.children()) == []
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'nope'"):
        m.nope
    with pytest.raises(KeyError, match="attribute 'b' already exists"):
        m.register_buffer("b", pyad.ones(1))
    with pytest.raises(KeyError, match="must not be empty nor contain"):
        m.register_parameter("x.y", None)


def test_assignment_before_init_and_missing_forward():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(pyad.ones(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Bad()
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(1)


def test_shared_parameters_and_modules_are_listed_once():
    lin = nn.Linear(2, 2)
    m = nn.Sequential(lin, nn.ReLU(), lin)
    tl = torch.nn.Linear(2, 2)
    t = torch.nn.Sequential(tl, torch.nn.ReLU(), tl)
    assert len(list(m.parameters())) == len(list(t.parameters())) == 2
    assert len(list(m.modules())) == len(list(t.modules())) == 3
    assert list(m.state_dict()) == list(t.state_dict())


def test_parameter():
    data = pyad.ones(2, 3)
    p = nn.Parameter(data)
    assert isinstance(p, nn.Parameter) and isinstance(p, pyad.Tensor)
    assert not isinstance(data, nn.Parameter) and not isinstance(p * 2, nn.Parameter)
    assert p.requires_grad and p.is_leaf and not data.requires_grad
    assert p.data_ptr() == data.data_ptr()  # shares memory, as torch
    assert repr(p).startswith("Parameter containing:\ntensor([[1., 1., 1.],")
    assert repr(nn.Parameter(pyad.ones(1), requires_grad=False)) == "Parameter containing:\ntensor([1.])"
    assert repr(p * 2).startswith("tensor(")
    assert p.requires_grad_(True) is p and isinstance(p.requires_grad_(True), nn.Parameter)
    (p * p).sum().backward()
    assert np.array_equal(p.grad.detach().numpy(), np.full((2, 3), 2.0))
    with pytest.raises(TypeError, match="must be a Tensor"):
        nn.Parameter([1.0])
    assert nn.Parameter().shape == (0,)


def test_parameter_is_a_real_tensor_subclass():
    """As torch: type(p) is Parameter, a subclass of Tensor; ops give plain Tensors, in-place ops the Parameter."""
    import copy
    import pickle

    p = nn.Parameter(pyad.ones(2, 3))
    assert type(p) is nn.Parameter and issubclass(nn.Parameter, pyad.Tensor)
    assert type(p * 2) is pyad.Tensor and type(p.detach()) is pyad.Tensor and type(p.sum()) is pyad.Tensor
    assert type(torch.nn.Parameter(torch.ones(1)) * 2) is torch.Tensor  # what torch does
    with pyad.no_grad():
        assert p.add_(1.0) is p and type(p.mul_(2.0)) is nn.Parameter
    assert np.array_equal(p.detach().numpy(), np.full((2, 3), 4.0))
    q = nn.Parameter(pyad.ones(2), requires_grad=False)
    assert type(q) is nn.Parameter and not q.requires_grad
    (p * p).sum().backward()
    d = copy.deepcopy(p)
    assert type(d) is nn.Parameter and d is not p and d.requires_grad and d.data_ptr() != p.data_ptr()
    assert np.array_equal(d.detach().numpy(), p.detach().numpy()) and np.array_equal(d.grad.numpy(), p.grad.numpy())
    r = pickle.loads(pickle.dumps(p))
    assert type(r) is nn.Parameter and r.requires_grad and np.array_equal(r.detach().numpy(), p.detach().numpy())
    lin = nn.Linear(2, 2)
    twin = copy.deepcopy(lin)
    assert all(type(t) is nn.Parameter for t in twin.parameters())
    assert [n for n, _ in twin.named_parameters()] == ["weight", "bias"]


@pytest.mark.parametrize(
    "convert",
    [lambda m: m.double(), lambda m: m.to(pyad.float64), lambda m: m.to("cpu", pyad.float64), lambda m: m.cpu()],
)
def test_conversion_keeps_tied_weights_tied(convert):
    """Two modules sharing one Parameter (and one buffer) still share it after to()/double()/cpu(), as torch."""
    emb, head = nn.Embedding(5, 3), nn.Linear(3, 5, bias=False)
    head.weight = emb.weight
    model = nn.ModuleList([emb, head])
    buf = pyad.zeros(2)
    model.register_buffer("shared", buf)
    emb.register_buffer("shared", buf)
    model.zero_grad()
    (head(emb(pyad.tensor([0, 1]))) ** 2).sum().backward()
    convert(model)
    assert head.weight is emb.weight and isinstance(emb.weight, nn.Parameter)
    assert model.shared is emb.shared
    assert head.weight.grad is not None and len(list(model.parameters())) == 1
    t_emb, t_head = torch.nn.Embedding(5, 3), torch.nn.Linear(3, 5, bias=False)
    t_head.weight = t_emb.weight
    t_model = torch.nn.ModuleList([t_emb, t_head]).double()
    assert t_head.weight is t_emb.weight  # torch's behaviour, the one kept here
    assert len(list(t_model.parameters())) == 1


def test_train_eval_propagate():
    pm, tm = models()
    assert pm.training and all(m.training for m in pm.modules())
    assert pm.eval() is pm
    assert not any(m.training for m in pm.modules())
    pm.first.train()
    assert pm.first.training and pm.first.fc.training and not pm.training and not pm.drop.training
    with pytest.raises(ValueError, match="boolean"):
        pm.train("yes")


def test_zero_grad_and_requires_grad():
    pm, _ = models()
    pm(pyad.randn(5, 3)).sum().backward()
    assert all(p.grad is not None for p in pm.parameters())
    pm.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in pm.parameters())
    pm.zero_grad()
    assert all(p.grad is None for p in pm.parameters())
    assert pm.requires_grad_(False) is pm
    assert not any(p.requires_grad for p in pm.parameters())
    pm.first.requires_grad_()
    assert [n for n, p in pm.named_parameters() if p.requires_grad] == [
        "first.scale",
        "first.fc.weight",
        "first.fc.bias",
    ]


def test_apply_visits_children_first():
    pm, tm = models()
    seen, tseen = [], []
    assert pm.apply(lambda m: seen.append(type(m).__name__)) is pm
    tm.apply(lambda m: tseen.append(type(m).__name__))
    assert seen == [n.replace("TorchBlock", "Block") for n in tseen]

    def init(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)

    pm.apply(init)
    assert not pm.out.weight.detach().numpy().any() and not pm.first.fc.weight.detach().numpy().any()


def test_to_converts_floating_tensors():
    pm, _ = models()
    pm.register_buffer("steps", pyad.tensor([1, 2]))
    w = pm.out.weight
    assert pm.to("cpu") is pm and pm.out.weight is w  # nothing to convert: the same tensors
    pm.out.weight.grad = pyad.ones(2, 4)
    pm.to(pyad.float64)
    assert all(p.dtype == pyad.float64 and isinstance(p, nn.Parameter) for p in pm.parameters())
    assert pm.first.running.dtype == pyad.float64 and pm.steps.dtype == pyad.int64
    assert pm.out.weight.grad.dtype == pyad.float64
    assert pm.float().out.weight.dtype == pyad.float32
    assert pm.double().out.weight.dtype == pyad.float64
    assert pm.to(pyad.zeros(1)).out.weight.dtype == pyad.float32
    with pytest.raises(TypeError, match="floating point"):
        pm.to(pyad.int64)
    assert pm.cpu() is pm


def test_state_dict_round_trip_with_torch_through_numpy():
    pm, tm = models()
    res = pm.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    assert res.missing_keys == [] and res.unexpected_keys == []
    x = np.random.standard_normal((5, 3)).astype(np.float32)
    pm.eval(), tm.eval()
    np.testing.assert_allclose(
        pm(pyad.tensor(x)).detach().numpy(), tm(torch.tensor(x)).detach().numpy(), rtol=1e-6, atol=1e-6
    )
    # and back: pyad's state dict loads into a fresh torch model
    tm2 = models()[1].eval()
    tm2.load_state_dict({k: torch.from_numpy(v.detach().numpy().copy()) for k, v in pm.state_dict().items()})
    np.testing.assert_allclose(tm2(torch.tensor(x)).detach().numpy(), tm(torch.tensor(x)).detach().numpy())
    # state_dict values are detached and share memory with the parameters
    sd = pm.state_dict()
    assert not sd["out.weight"].requires_grad and sd["out.weight"].data_ptr() == pm.out.weight.data_ptr()
    assert pm.state_dict(keep_vars=True)["out.weight"] is pm.out.weight
    assert "first.scratch" not in sd


def test_load_state_dict_errors():
    pm, _ = models()
    sd = {k: v.numpy().copy() for k, v in pm.state_dict().items()}
    before = pm.out.bias.detach().numpy().copy()
    bad = dict(sd)
    del bad["out.bias"]
    bad["extra.weight"] = np.zeros(2)
    bad["out.weight"] = np.zeros((3, 4))
    with pytest.raises(RuntimeError) as e:
        pm.load_state_dict(bad)
    msg = str(e.value)
    assert msg.startswith("Error(s) in loading state_dict for Sequential:")
    assert 'Missing key(s) in state_dict: "out.bias".' in msg
    assert 'Unexpected key(s) in state_dict: "extra.weight".' in msg
    assert (
        "size mismatch for out.weight: copying a param with shape (3, 4) from checkpoint, the shape in current "
        "model is (2, 4)."
    ) in msg
    # non-strict: the shape mismatch still raises; without it the keys are reported and the rest is loaded
    with pytest.raises(RuntimeError, match="size mismatch"):
        pm.load_state_dict(bad, strict=False)
    del bad["out.weight"]
    sd_bias = np.full(2, 7.0, dtype=np.float32)
    res = pm.load_state_dict({**bad, "first.fc.bias": np.zeros(4)}, strict=False)
    assert res.missing_keys == ["out.weight", "out.bias"] and res.unexpected_keys == ["extra.weight"]
    assert not pm.first.fc.bias.detach().numpy().any() and np.array_equal(pm.out.bias.detach().numpy(), before)
    pm.load_state_dict({**sd, "out.bias": sd_bias})
    assert np.array_equal(pm.out.bias.detach().numpy(), sd_bias)
    with pytest.raises(TypeError, match="dict-like"):
        pm.load_state_dict([1, 2])


def test_load_state_dict_assign_and_dtype_cast():
    m = nn.Linear(2, 2)
    w = m.weight
    m.load_state_dict({"weight": np.ones((2, 2)), "bias": np.zeros(2)})  # float64 arrays cast to float32
    assert m.weight is w and m.weight.dtype == pyad.float32 and m.weight.detach().numpy().sum() == 4
    m.load_state_dict({"weight": pyad.zeros(2, 2, dtype=pyad.float64), "bias": pyad.ones(2)}, assign=True)
    assert m.weight is not w and isinstance(m.weight, nn.Parameter) and m.weight.requires_grad


def test_repr_matches_torch():
    pm = nn.Sequential(
        nn.Linear(4, 8),
        nn.ReLU(),
        nn.Dropout(0.2),
        nn.LayerNorm(8),
        nn.GELU("tanh"),
        nn.Softplus(),
        nn.Embedding(5, 3, padding_idx=0),
        nn.Flatten(),
        nn.Identity(),
        nn.Tanh(),
        nn.Sigmoid(),
        nn.Linear(8, 2, bias=False),
        nn.CrossEntropyLoss(),
        nn.MSELoss(),
        nn.ModuleList([nn.Linear(1, 1)]),
        nn.ModuleDict({"a": nn.ReLU()}),
    )
    tm = torch.nn.Sequential(
        torch.nn.Linear(4, 8),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.2),
        torch.nn.LayerNorm(8),
        torch.nn.GELU("tanh"),
        torch.nn.Softplus(),
        torch.nn.Embedding(5, 3, padding_idx=0),
        torch.nn.Flatten(),
        torch.nn.Identity(),
        torch.nn.Tanh(),
        torch.nn.Sigmoid(),
        torch.nn.Linear(8, 2, bias=False),
        torch.nn.CrossEntropyLoss(),
        torch.nn.MSELoss(),
        torch.nn.ModuleList([torch.nn.Linear(1, 1)]),
        torch.nn.ModuleDict({"a": torch.nn.ReLU()}),
    )
    assert repr(pm) == repr(tm)
    assert repr(Block()) == repr(TorchBlock()).replace("TorchBlock", "Block")


def test_containers():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear) and isinstance(seq[1:], nn.Sequential)
    assert [n for n, _ in seq[1:].named_children()] == ["1", "2"]
    with pytest.raises(IndexError, match="out of range"):
        seq[3]
    del seq[1]
    assert [n for n, _ in seq.named_children()] == ["0", "1"]
    seq.append(nn.Tanh())
    assert seq(pyad.randn(4, 2)).shape == (4, 1)
    ml = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
    ml.append(nn.Linear(1, 2))
    ml.insert(0, nn.ReLU())
    assert len(ml) == 5 and isinstance(ml[0], nn.ReLU) and len(list(ml.parameters())) == 8
    assert [n for n, _ in ml.named_parameters()][:2] == ["1.weight", "1.bias"]
    ml[0] = nn.Tanh()
    assert isinstance(ml[0], nn.Tanh) and isinstance(ml[1:3], nn.ModuleList)
    md = nn.ModuleDict({"b": nn.Linear(1, 1), "a": nn.ReLU()})
    md["c"] = nn.Linear(2, 2)
    assert list(md.keys()) == ["b", "a", "c"] and "a" in md and len(md) == 3
    assert [n for n, _ in md.named_parameters()] == ["b.weight", "b.bias", "c.weight", "c.bias"]
    md.pop("b")
    assert list(md) == ["a", "c"]
    holder = nn.Module()
    holder.layers = ml
    assert len(list(holder.parameters())) == 8
    assert holder.get_submodule("layers.4") is ml[4]
    assert holder.get_parameter("layers.4.weight") is ml[4].weight


def test_linear_default_init_is_torchs():
    lin = nn.Linear(400, 300)
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    bound = 1 / np.sqrt(400)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / np.sqrt(3)) < 1e-3
    assert np.abs(b).max() <= bound
    assert lin.weight.dtype == pyad.float32
    assert nn.Linear(2, 2, dtype=pyad.float64).weight.dtype == pyad.float64
