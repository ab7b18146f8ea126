"""In-place ops: values, version counters, views, leaf checks, saved-tensor checks and autograd through
in-place ops on non-leaf tensors. Compared with torch wherever torch defines the behaviour. Every test runs on each
device (the `device` fixture of conftest.py)."""

import re

import numpy as np
import pytest
import torch

import pyad

try:  # pytest's --import-mode=importlib (the project's setting) registers the conftest as tests.conftest
    from tests.conftest import assert_close, to_torch
except ImportError:  # prepend/append import modes
    from conftest import assert_close, to_torch

pytestmark = pytest.mark.usefixtures("device")

F64 = pyad.float64


def pair(*shape, requires_grad=False, low=None, dtype=F64):
    """A random pyad tensor and its torch twin."""
    a = np.random.randn(*shape)
    if low is not None:
        a = np.abs(a) + low
    x = pyad.tensor(a, dtype=dtype, requires_grad=requires_grad)
    return x, to_torch(x)


def scalar_pair(v, dtype=F64):
    """0-d tensors built without pyad.tensor(number) (see test_tensor_of_python_number_is_0d)."""
    x = pyad.zeros((), dtype=dtype) + v
    return x, torch.tensor(v, dtype=torch.float64 if dtype == F64 else torch.float32)


# ---------------------------------------------------------------- values, identity, version


OTHERS = {
    "same_shape": lambda: pair(3, 4, low=0.5),
    "row": lambda: pair(4, low=0.5),
    "col": lambda: pair(3, 1, low=0.5),
    "zero_d": lambda: scalar_pair(1.7),
    "float": lambda: (2.5, 2.5),
    "int": lambda: (3, 3),
}


@pytest.mark.parametrize("other", sorted(OTHERS))
@pytest.mark.parametrize("op", ["add_", "sub_", "mul_", "div_"])
def test_binary_inplace_values_identity_version(op, other):
    x, tx = pair(3, 4)
    o, to = OTHERS[other]()
    ptr, v0 = x.data_ptr(), x._version
    r = getattr(x, op)(o)
    getattr(tx, op)(to)
    assert r is x
    assert x.data_ptr() == ptr
    assert x._version == v0 + 1 == tx._version
    assert_close(x, tx)
    assert x.shape == (3, 4) and x.dtype == F64


@pytest.mark.parametrize("op", ["+=", "-=", "*=", "/="])
def test_augmented_assignment_is_in_place(op):
    x, tx = pair(2, 3)
    o, to = pair(3, low=0.5)
    before, ptr = x, x.data_ptr()
    ns = {"x": x, "o": o}
    exec(f"x {op} o", ns)
    tns = {"x": tx, "o": to}
    exec(f"x {op} o", tns)
    assert ns["x"] is before
    assert x.data_ptr() == ptr
    assert x._version == 1 == tns["x"]._version
    assert_close(x, tns["x"])
    exec(f"x {op} 2", ns)
    exec(f"x {op} 2", tns)
    assert ns["x"] is before and x._version == 2
    assert_close(x, tns["x"])


def test_inplace_with_self_as_operand():
    x, tx = pair(5)
    x.add_(x)
    tx.add_(tx)
    assert_close(x, tx)
    x.mul_(x)
    tx.mul_(tx)
    assert_close(x, tx)


def test_inplace_float32_with_float64_operand_keeps_dtype():
    x, tx = pair(3, dtype=pyad.float32)
    o, to = pair(3)
    x.mul_(o)
    tx.mul_(to)
    assert x.dtype == pyad.float32
    assert_close(x, tx)


def test_int_tensor_inplace():
    x = pyad.tensor([1, 2, 3])
    tx = torch.tensor([1, 2, 3])
    x.add_(2)
    tx.add_(2)
    x *= 3
    tx *= 3
    assert_close(x, tx)
    with pytest.raises(RuntimeError):
        tx.add_(1.5)
    with pytest.raises((TypeError, RuntimeError)):
        x.add_(1.5)
    with pytest.raises(RuntimeError):
        tx.div_(2)
    with pytest.raises((TypeError, RuntimeError)):
        x.div_(2)
    assert x.tolist() == [9, 12, 15] and x._version == 2


def test_inplace_cannot_change_shape():
    x, tx = pair(3)
    o, to = pair(2, 3)
    with pytest.raises(RuntimeError):
        tx.add_(to)
    with pytest.raises((RuntimeError, ValueError)):
        x.add_(o)
    with pytest.raises((RuntimeError, ValueError)):
        x.copy_(o)
    assert x._version == 0


def test_zero_and_fill():
    x, tx = pair(2, 3)
    assert x.zero_() is x
    tx.zero_()
    assert_close(x, tx)
    assert x._version == 1 == tx._version
    assert x.fill_(2.5) is x
    tx.fill_(2.5)
    assert_close(x, tx)
    x.fill_(-3)
    tx.fill_(-3)
    assert_close(x, tx)
    assert x._version == 3 == tx._version
    i = pyad.tensor([1, 2])
    i.fill_(7)
    assert i.tolist() == [7, 7] and i.dtype == pyad.int64


@pytest.mark.parametrize("src_shape", [(3, 4), (4,), (1, 4), (3, 1), ()])
def test_copy_with_broadcasting(src_shape):
    x, tx = pair(3, 4)
    s, ts = pair(*src_shape)
    ptr = x.data_ptr()
    assert x.copy_(s) is x
    tx.copy_(ts)
    assert x.data_ptr() == ptr
    assert x._version == 1 == tx._version
    assert_close(x, tx)


def test_copy_converts_dtype():
    x = pyad.zeros(3)
    x.copy_(pyad.tensor([1.5, 2.25, 3.0], dtype=F64))
    assert x.dtype == pyad.float32 and x.tolist() == [1.5, 2.25, 3.0]
    x.copy_(pyad.tensor([1, 2, 3]))
    assert x.tolist() == [1.0, 2.0, 3.0]
    i = pyad.tensor([0, 0])
    i.copy_(pyad.tensor([1.7, -2.7]))
    ti = torch.tensor([0, 0])
    ti.copy_(torch.tensor([1.7, -2.7]))
    assert_close(i, ti)


def test_copy_into_non_contiguous_view():
    x, tx = pair(4, 4)
    s, ts = pair(4, 2)
    x.T[:, ::2].copy_(s)
    tx.T[:, ::2].copy_(ts)
    assert_close(x, tx)


SETITEM_KEYS = {
    "int": (1, (4, 5)),
    "neg_int": (-1, (4, 5)),
    "two_ints": ((2, 3), (5,)),
    "three_ints": ((2, 3, 4), ()),
    "slice": (slice(1, 3), (2, 4, 5)),
    "step": ((slice(None, None, 2), slice(1, None, 2)), (2, 2, 5)),
    "mixed": ((1, slice(None), 2), (4,)),
    "ellipsis": ((Ellipsis, 0), (3, 4)),
    "neg_slice": ((slice(-2, None), -1), (2, 5)),
}


@pytest.mark.parametrize("key_name", sorted(SETITEM_KEYS))
def test_setitem_matches_torch(key_name):
    key, region_shape = SETITEM_KEYS[key_name]
    x, tx = pair(3, 4, 5)
    assert tuple(tx[key].shape) == region_shape
    # a python number, a full-shape tensor, and a broadcast tensor (the region's last dim, or 1)
    x[key] = 2.5
    tx[key] = 2.5
    assert_close(x, tx)
    v, tv = pair(*region_shape)
    x[key] = v
    tx[key] = tv
    assert_close(x, tx)
    b_shape = (1,) if not region_shape else (region_shape[-1],)
    b, tb = pair(*b_shape)
    x[key] = b
    tx[key] = tb
    assert_close(x, tx)
    x[key] = 7
    tx[key] = 7
    assert_close(x, tx)
    assert x._version == 4 == tx._version


def test_setitem_broadcast_row_and_column():
    x, tx = pair(4, 6)
    r, tr = pair(6)
    c, tc = pair(2, 1)
    x[1:3] = r
    tx[1:3] = tr
    x[2:, 1:4] = c
    tx[2:, 1:4] = tc
    assert_close(x, tx)


def test_setitem_zero_d_tensor_value():
    x, tx = pair(3)
    v, tv = scalar_pair(4.0)
    x[1] = v
    tx[1] = tv
    x[::2] = v
    tx[::2] = tv
    assert_close(x, tx)


def test_setitem_value_built_by_pyad_tensor_of_a_number():
    x = pyad.zeros(3, dtype=F64)
    tx = torch.zeros(3, dtype=torch.float64)
    x[0] = pyad.tensor(5.0, dtype=F64)
    tx[0] = torch.tensor(5.0, dtype=torch.float64)
    assert_close(x, tx)


def test_tensor_of_python_number_is_0d():
    for v in (3, 3.0, True):
        assert pyad.tensor(v).shape == tuple(torch.tensor(v).shape) == ()
    assert pyad.tensor(2.0, dtype=F64).shape == ()


def test_setitem_float_into_int_tensor_truncates_like_torch():
    x = pyad.tensor([1, 2, 3])
    tx = torch.tensor([1, 2, 3])
    x[0] = 2.7
    tx[0] = 2.7
    assert_close(x, tx)


def test_setitem_bad_broadcast_raises():
    x, tx = pair(3, 4)
    with pytest.raises(RuntimeError):
        tx[0] = torch.ones(3)
    with pytest.raises((RuntimeError, ValueError)):
        x[0] = pyad.ones(3, dtype=F64)
    assert x._version == 0


def test_setitem_through_view_writes_base():
    x, tx = pair(3, 4)
    v = x[1:]
    v[0, 0] = 9.0
    tv = tx[1:]
    tv[0, 0] = 9.0
    assert_close(x, tx)
    assert x[1, 0].item() == 9.0


# ---------------------------------------------------------------- version counters and views


VIEWS = {
    "select": lambda a: a[0],
    "slice": lambda a: a[1:],
    "T": lambda a: a.T,
    "view": lambda a: a.view(12),
    "reshape": lambda a: a.reshape(2, 6),
    "unsqueeze": lambda a: a.unsqueeze(0),
    "permute": lambda a: a.permute(1, 0),
    "transpose": lambda a: a.transpose(0, 1),
    "detach": lambda a: a.detach(),
    "view_of_view": lambda a: a[1:].T[::2],
}


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_views_share_version_counter(name):
    f = VIEWS[name]
    x, tx = pair(3, 4)
    v, tv = f(x), f(tx)
    assert v.data_ptr() >= x.data_ptr()
    x.add_(1)
    tx.add_(1)
    assert v._version == x._version == tv._version == 1
    v.mul_(2)
    tv.mul_(2)
    assert x._version == v._version == tx._version == 2
    assert_close(x, tx)  # writes through the view reach the base
    v2 = f(x)
    assert v2._version == 2  # a new view starts at the shared count
    v2.zero_()
    assert x._version == v._version == 3


def test_out_of_place_ops_do_not_bump_version():
    x, _ = pair(3, 4)
    _ = x + 1, x * 2, x.exp(), x.sum(), x[0], x.T, x.reshape(12), x.clone()
    assert x._version == 0


def test_clone_and_copying_reshape_have_own_counter():
    x, tx = pair(3, 4)
    c = x.clone()
    r = x.T.reshape(12)  # not viewable: a copy
    tr = tx.T.reshape(12)
    c.add_(1)
    r.add_(1)
    tr.add_(1)
    assert x._version == 0 == tx._version
    assert c._version == 1 and r._version == 1
    assert_close(x, tx)


# ---------------------------------------------------------------- leaves


LEAF_OPS = {
    "add_": lambda a: a.add_(1),
    "sub_": lambda a: a.sub_(1.0),
    "mul_": lambda a: a.mul_(a.detach()),
    "div_": lambda a: a.div_(2),
    "zero_": lambda a: a.zero_(),
    "fill_": lambda a: a.fill_(3.0),
    "copy_": lambda a: a.copy_(a.detach() * 2),
    "setitem": lambda a: a.__setitem__(0, 5.0),
    "setitem_slice": lambda a: a.__setitem__(slice(1, None), 5.0),
    "iadd": lambda a: a.__iadd__(1),
}


@pytest.mark.parametrize("name", sorted(LEAF_OPS))
def test_inplace_on_leaf_requiring_grad_raises(name):
    f = LEAF_OPS[name]
    x, tx = pair(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        f(tx)
    before = x.tolist()
    with pytest.raises(RuntimeError, match="leaf"):
        f(x)
    assert x.tolist() == before and x._version == 0
    assert x.is_leaf and x.grad_fn is None and x.requires_grad


@pytest.mark.parametrize("name", sorted(LEAF_OPS))
def test_inplace_on_leaf_inside_no_grad(name):
    f = LEAF_OPS[name]
    x, tx = pair(3, requires_grad=True)
    with pyad.no_grad():
        f(x)
    with torch.no_grad():
        f(tx)
    assert_close(x, tx)
    assert x._version == 1 == tx._version
    assert x.is_leaf and x.grad_fn is None and x.requires_grad


def test_inplace_on_view_of_leaf_requiring_grad_raises():
    x, tx = pair(3, 4, requires_grad=True)
    with pytest.raises(RuntimeError):
        tx[0].add_(1)
    before = x.tolist()
    with pytest.raises(RuntimeError):
        x[0].add_(1)
    with pytest.raises(RuntimeError):
        x.T.mul_(2)
    assert x.tolist() == before


def test_sgd_loop_in_no_grad_matches_torch():
    X, tX = pair(16, 3)
    Y, tY = pair(16, 1)
    w, tw = pair(3, 1, requires_grad=True)
    b, tb = pair(1, requires_grad=True)
    lr = 0.1
    for step in range(25):
        loss = ((X @ w + b - Y) ** 2).mean()
        tloss = ((tX @ tw + tb - tY) ** 2).mean()
        assert_close(loss, tloss)
        loss.backward()
        tloss.backward()
        with pyad.no_grad():
            w -= lr * w.grad
            b.sub_(lr * b.grad)
        with torch.no_grad():
            tw -= lr * tw.grad
            tb.sub_(lr * tb.grad)
        if step % 2:
            w.grad = None
            b.grad = None
            tw.grad = None
            tb.grad = None
        else:
            w.grad.zero_()
            b.grad.zero_()
            tw.grad.zero_()
            tb.grad.zero_()
    assert_close(w, tw)
    assert_close(b, tb)
    assert w.is_leaf and w.requires_grad and w._version == 25


# ---------------------------------------------------------------- saved tensors modified in place


def check_version_error(err, actual, expected, node=None):
    msg = str(err)
    assert "version" in msg, msg
    assert re.search(rf"\b{actual}\b", msg) and re.search(rf"\b{expected}\b", msg), msg
    assert re.search(rf"version {actual}\b.*expected version {expected}\b", msg), msg
    if node is not None:
        assert node in msg, msg


def _exp_output_modified(lib, x):
    a = x * 1
    b = a.exp()  # saves its result
    b.add_(1)
    return b.sum(), "ExpBackward0", 1, 0


def _sin_input_modified(lib, x):
    y = x * 1
    z = y.sin()  # saves its input
    y.mul_(2)
    return z.sum(), "SinBackward0", 1, 0


def _modified_twice(lib, x):
    y = x * 1
    z = y.tanh()  # saves its result
    z.add_(1)
    z.sub_(1)
    return z.sum(), "TanhBackward0", 2, 0


def _setitem_on_saved(lib, x):
    y = x * 1
    z = y.sigmoid()  # saves its result
    z[0] = 0.5
    return z.sum(), "SigmoidBackward0", 1, 0


def _view_modified(lib, x):
    y = x * 1
    z = y * y  # saves both inputs
    with lib.no_grad():
        y[1:].mul_(3)
    return z.sum(), "MulBackward0", 1, 0


def _leaf_modified_in_no_grad(lib, x):
    w = x.detach().clone().requires_grad_()
    z = (x * w).sum()  # saves x for w's gradient and w for x's
    with lib.no_grad():
        w.add_(1)
    return z, "MulBackward0", 1, 0


def _detached_alias_modified(lib, x):
    y = x.exp()
    y.detach().add_(1)
    return y.sum(), "ExpBackward0", 1, 0


def _matmul_input_modified(lib, x):
    y = x * 1
    m = y.reshape(2, 2) @ y.reshape(2, 2)
    with lib.no_grad():
        y.fill_(0.0)
    return m.sum(), "MmBackward0", 1, 0


SAVED_CASES = {
    f.__name__.strip("_"): f
    for f in [
        _exp_output_modified,
        _sin_input_modified,
        _modified_twice,
        _setitem_on_saved,
        _view_modified,
        _leaf_modified_in_no_grad,
        _detached_alias_modified,
        _matmul_input_modified,
    ]
}


@pytest.mark.parametrize("name", sorted(SAVED_CASES))
def test_modified_saved_tensor_raises_on_backward(name):
    case = SAVED_CASES[name]
    x, tx = pair(4, requires_grad=True)
    tloss, _, actual, expected = case(torch, tx)
    with pytest.raises(RuntimeError) as terr:
        tloss.backward()
    check_version_error(terr.value, actual, expected)
    loss, node, actual, expected = case(pyad, x)
    with pytest.raises(RuntimeError) as err:
        loss.backward()
    check_version_error(err.value, actual, expected, node)


def test_modified_saved_tensor_raises_in_autograd_grad():
    x, _ = pair(4, requires_grad=True)
    b = (x * 1).exp()
    b.mul_(2)
    with pytest.raises(RuntimeError, match="version"):
        pyad.autograd.grad(b.sum(), x)


def test_modifying_unsaved_tensor_is_fine():
    # add and multiplication by a constant save nothing that the in-place op touches
    x, tx = pair(4, requires_grad=True)
    for _lib, a in ((pyad, x), (torch, tx)):
        y = a * 1
        z = (y + 1) * 3
        y.add_(10)
        (z.sum() + y.sum()).backward()
    assert_close(x.grad, tx.grad)


# ---------------------------------------------------------------- autograd through in-place ops


def _grads_match(f, n_inputs=1, shape=(4,), low=None):
    ins = [pair(*shape, requires_grad=True, low=low) for _ in range(n_inputs)]
    xs = [p[0] for p in ins]
    txs = [p[1] for p in ins]
    out, tout = f(pyad, *xs), f(torch, *txs)
    assert_close(out, tout)
    (out * out).sum().backward()
    (tout * tout).sum().backward()
    for x, tx in zip(xs, txs):
        assert_close(x.grad, tx.grad)


def test_chain_of_inplace_on_non_leaf():
    def f(lib, x):
        y = x * 2
        y.add_(3)
        y.mul_(2)
        y[0] = 5.0
        y.sub_(1.5)
        y.div_(4)
        y += 1
        y *= 1.5
        return y

    _grads_match(f)


def test_inplace_result_is_non_leaf_with_history():
    x, _ = pair(3, requires_grad=True)
    y = x * 2
    y.add_(1)
    assert not y.is_leaf and y.requires_grad and y.grad_fn is not None
    assert "AddBackward0" in y.grad_fn.name()
    c = pyad.zeros(3, dtype=F64)
    c.add_(x)
    assert c.requires_grad and not c.is_leaf and "AddBackward0" in c.grad_fn.name()


@pytest.mark.parametrize("op", ["add_", "sub_"])
def test_inplace_with_grad_requiring_operand_add_sub(op):
    def f(lib, x, w):
        y = x.sin()
        getattr(y, op)(w)
        return y

    _grads_match(f, 2)


@pytest.mark.parametrize("op", ["mul_", "div_"])
def test_inplace_with_grad_requiring_operand_mul_div(op):
    def f(lib, x, w):
        y = x * 2
        getattr(y, op)(w)
        return y

    _grads_match(f, 2, low=0.5)


def test_inplace_with_broadcast_grad_operand():
    def f(lib, x, w):
        y = x.sin()  # saves its input, not its result
        y.add_(w[:, :1])
        y.sub_(w[0])
        return y

    _grads_match(f, 2, shape=(3, 3))


def test_inplace_into_tensor_that_did_not_require_grad():
    w, tw = pair(4, requires_grad=True)
    c, tc = pair(4)
    c.add_(w * 2)
    tc.add_(tw * 2)
    c.mul_(3)
    tc.mul_(3)
    assert c.requires_grad and tc.requires_grad
    (c * c).sum().backward()
    (tc * tc).sum().backward()
    assert_close(w.grad, tw.grad)


def test_copy_on_non_leaf_routes_gradient_to_source():
    x, tx = pair(3, 4, requires_grad=True)
    s, ts = pair(4, requires_grad=True)
    for _lib, a, b in ((pyad, x, s), (torch, tx, ts)):
        y = a * 2
        y.copy_(b)  # broadcast: s's gradient sums over rows, x gets zero
        (y.exp() + a).sum().backward()
    assert_close(x.grad, tx.grad)
    assert_close(s.grad, ts.grad)


def test_zero_and_fill_on_non_leaf():
    x, tx = pair(4, requires_grad=True)
    for _lib, a in ((pyad, x), (torch, tx)):
        y = a * 2
        y.zero_()
        z = a * 3
        z.fill_(7.0)
        (y * a + z * a + a).sum().backward()
    assert_close(x.grad, tx.grad)


def test_setitem_on_non_leaf_with_slices():
    w, tw = pair(3, requires_grad=True)

    def f(lib, x, v):
        y = x.sin() * 2  # nothing saved that the writes below touch
        y[1:, ::2] = 0.0
        y[:, 0] = v
        y[2] = y[0] * 3
        return y

    xs = pair(3, 4, requires_grad=True)
    out = f(pyad, xs[0], w)
    tout = f(torch, xs[1], tw)
    assert_close(out, tout)
    (out.sin()).sum().backward()
    (tout.sin()).sum().backward()
    assert_close(xs[0].grad, xs[1].grad)
    assert_close(w.grad, tw.grad)


def test_setitem_grad_value_into_zeros():
    v, tv = pair(4, requires_grad=True)
    u, tu = pair(2, 2, requires_grad=True)
    s, ts = pair(1, requires_grad=True)
    c, tc = pair(3, 4)
    outs = []
    for lib, vv, uu, ss, cc in ((pyad, v, u, s, c), (torch, tv, tu, ts, tc)):
        z = lib.zeros(3, 4, dtype=lib.float64)
        z[0] = vv
        z[1:, 1:3] = uu
        z[2, :] = ss  # broadcast over the row; overwrites part of u's block
        z[0, 1] = 7.0  # overwrites one element of v
        assert z.requires_grad and not z.is_leaf
        outs.append(z)
        (z.tanh() * cc).sum().backward()
    assert_close(outs[0], outs[1])
    assert_close(v.grad, tv.grad)
    assert_close(u.grad, tu.grad)
    assert_close(s.grad, ts.grad)
    assert v.grad[1].item() == 0.0
    assert u.grad[1].tolist() == [0.0, 0.0]


def test_setitem_same_value_in_two_places():
    v, tv = pair(4, requires_grad=True)
    for lib, vv in ((pyad, v), (torch, tv)):
        z = lib.zeros(3, 4, dtype=lib.float64)
        z[0] = vv
        z[2] = vv * 2
        (z**2).sum().backward()
    assert_close(v.grad, tv.grad)


def test_setitem_zero_d_value_requiring_grad():
    x = pyad.zeros((), dtype=F64, requires_grad=True)
    tx = torch.zeros((), dtype=torch.float64, requires_grad=True)
    for lib, a in ((pyad, x), (torch, tx)):
        z = lib.ones(2, 3, dtype=lib.float64)
        z[:, 1:] = a * 2 + 1
        (z * z).sum().backward()
    assert_close(x.grad, tx.grad)


def test_inplace_on_view_of_non_leaf_with_autograd():
    # torch rebases the base's history onto the view's in-place op
    x, tx = pair(4, requires_grad=True)
    for _lib, a in ((pyad, x), (torch, tx)):
        y = a * 1
        y[:2].mul_(2)
        (y * y).sum().backward()
    assert_close(x.grad, tx.grad)


def test_double_backward_through_inplace():
    x, tx = pair(3, requires_grad=True)
    gs = []
    for lib, a in ((pyad, x), (torch, tx)):
        y = a.sin()
        y.add_(a * a)
        (g,) = lib.autograd.grad(y.sum(), a, create_graph=True)
        g.sum().backward()
        gs.append(g)
    assert_close(gs[0], gs[1])
    assert_close(x.grad, tx.grad)


def test_setitem_value_gradient_with_batched_cotangents():
    # jacrev pulls all cotangents back at once: the setitem node's index steps must skip their batch dims
    # (this used to raise a shape error, or pick the wrong dim when the batch size matched).
    from pyad import func

    def f(M, x):
        y = x.clone()
        y[1:3] = x[0] * x[1:3] * 2.0
        y[0] = x[2] * x[3]
        return y * y

    a = np.random.default_rng(4).standard_normal(4)
    x, tx = pyad.tensor(a, dtype=F64), torch.tensor(a, dtype=torch.float64)
    want = torch.func.jacrev(lambda v: f(torch, v))(tx)
    assert_close(func.jacrev(lambda v: f(pyad, v))(x), want)
    assert_close(
        func.jacrev(func.jacrev(lambda v: f(pyad, v).sum()))(x), torch.func.hessian(lambda v: f(torch, v).sum())(tx)
    )
