"""A tensor's autograd state (Note [AutogradMeta] in csrc/core/tensor.h) as Python sees it: Node.metadata is
one persistent dict per node, and a removed hook leaves its C++ list (csrc/autograd/variable.h), whether it
was a leaf's hook, a non-leaf's (a pre-hook of its grad_fn) or a node's pre-hook."""

import gc
import weakref

import pytest
import torch

import pyad
from pyad import _C
from pyad.autograd import Function


def leaf(*shape):
    return pyad.ones(*shape, dtype=pyad.float64).requires_grad_()


# ---------------------------------------------------------------- Node.metadata
def test_metadata_writes_persist_across_grad_fn_accesses():
    x = leaf(3)
    y = (x * 2.0).sum()
    n = y.grad_fn
    n.metadata["k"] = 1
    del n
    gc.collect()
    assert y.grad_fn.metadata["k"] == 1
    assert y.grad_fn.metadata is y.grad_fn.metadata


def test_metadata_of_accumulate_grad_and_custom_function_nodes():
    class Double(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2.0

        @staticmethod
        def backward(ctx, g):
            return g * 2.0

    x = leaf(2)
    y = Double.apply(x)
    y.grad_fn.metadata["custom"] = True
    acc = (x * 1.0).grad_fn.next_functions[0][0]
    acc.metadata["acc"] = "x"
    del acc
    assert y.grad_fn.metadata == {"custom": True}
    assert (x * 1.0).grad_fn.next_functions[0][0].metadata == {"acc": "x"}  # x's AccumulateGrad lives on via y


# ---------------------------------------------------------------- hooks and their handles
def test_ten_thousand_removed_leaf_hooks_leave_the_list_empty():
    x = leaf(3)
    handles = [x.register_hook(lambda g: g * 2.0) for _ in range(10_000)]
    assert _C._hook_count(x) == 10_000
    for h in handles:
        h.remove()
    assert _C._hook_count(x) == 0
    (x * 3.0).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0, 3.0]  # none of them ran


def test_ten_thousand_removed_non_leaf_hooks_leave_the_list_empty():
    x = leaf(3)
    h = x * 3.0
    handles = [h.register_hook(lambda g: g * 2.0) for _ in range(10_000)]
    assert _C._hook_count(h) == 10_000 and h.grad_fn._hook_count == 10_000
    for hd in handles:
        hd.remove()
    assert _C._hook_count(h) == 0 and h.grad_fn._hook_count == 0
    h.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0, 3.0]


def test_ten_thousand_removed_node_prehooks_leave_the_list_empty():
    x = leaf(3)
    n = (x * 3.0).grad_fn
    handles = [n.register_prehook(lambda g: g * 2.0) for _ in range(10_000)]
    assert n._hook_count == 10_000
    for h in handles:
        h.remove()
    assert n._hook_count == 0


def test_removing_one_hook_keeps_the_others_in_order():
    for lib in (pyad, torch):
        x = lib.ones(2, dtype=lib.float64, requires_grad=True)
        order = []
        hs = [x.register_hook(lambda g, i=i: order.append(i) or g + i) for i in range(4)]
        hs[1].remove()
        hs[1].remove()  # twice: nothing more happens, as torch
        (x * 1.0).sum().backward()
        assert order == [0, 2, 3], lib.__name__
        assert x.grad.tolist() == [6.0, 6.0], lib.__name__
    assert _C._hook_count(pyad.ones(2).requires_grad_()) == 0


def test_handle_as_context_manager_removes_on_exit():
    x = leaf(2)
    with x.register_hook(lambda g: g * 10.0) as h:
        assert isinstance(h, _C.RemovableHandle)
        assert _C._hook_count(x) == 1
    assert _C._hook_count(x) == 0
    (x * 1.0).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


def test_hook_that_removes_itself_while_running_runs_once():
    x = leaf(2)
    calls = []
    handle = None

    def once(g):
        calls.append(1)
        handle.remove()
        return g * 5.0

    handle = x.register_hook(once)
    y = x * 1.0
    y.sum().backward(retain_graph=True)
    y.sum().backward()
    assert calls == [1]
    assert x.grad.tolist() == [6.0, 6.0]
    assert _C._hook_count(x) == 0


def test_hook_registering_hooks_while_running_is_safe():
    x = leaf(2)
    h = x * 1.0
    seen = []

    def spawner(g):
        seen.append("spawner")
        for _ in range(100):  # grows the list the engine is walking
            h.register_hook(lambda g: seen.append("late") or None)
        return None

    h.register_hook(spawner)
    h.sum().backward()
    assert seen == ["spawner"]  # hooks added while hooks run wait for the next pass
    assert _C._hook_count(h) == 101


def test_a_handle_keeps_no_graph_alive_and_outlives_it():
    x = leaf(2)
    h = x * 2.0
    handle = h.register_hook(lambda g: g)
    node = weakref.ref(h.grad_fn)
    del h
    gc.collect()
    assert node() is None
    handle.remove()  # its node is gone: nothing to do, no error


def test_retain_grad_hook_is_not_a_users_to_remove():
    x = leaf(2)
    h = x * 2.0
    h.retain_grad()
    extra = h.register_hook(lambda g: g * 3.0)
    assert _C._hook_count(h) == 2
    extra.remove()
    assert _C._hook_count(h) == 1
    h.sum().backward()
    assert h.grad.tolist() == [1.0, 1.0] and x.grad.tolist() == [2.0, 2.0]


def test_register_hook_on_a_tensor_that_needs_no_grad_raises():
    with pytest.raises(RuntimeError, match=r"\[register_hook\]"):
        pyad.ones(2).register_hook(lambda g: g)


# ---------------------------------------------------------------- attributes kept in AutogradMeta
def test_autograd_attributes_of_plain_tensors_are_defaults():
    for lib in (pyad, torch):
        t = lib.ones(2, dtype=lib.float64)
        assert not t.requires_grad and t.is_leaf and t.grad_fn is None and t.grad is None and not t.retains_grad
        t.requires_grad_(False)  # turning off what is off allocates nothing and changes nothing
        t.grad = None
        t.detach_()
        assert not t.requires_grad and t.grad is None


def test_detach_in_place_drops_history_and_flag():
    x = leaf(2)
    y = x * 2.0
    y.detach_()
    assert y.is_leaf and not y.requires_grad and y.grad_fn is None
    x.detach_()
    assert not x.requires_grad


def test_node_prehook_sees_and_replaces_the_output_gradients_as_torch():
    res = {}
    for lib in (pyad, torch):
        x = lib.ones(3, dtype=lib.float64, requires_grad=True)
        y = x * 2.0
        seen = []

        def pre(grad_outputs):
            seen.append(tuple(type(g).__name__ for g in grad_outputs))
            return (grad_outputs[0] * 10.0,)

        handle = y.grad_fn.register_prehook(pre)
        y.sum().backward(retain_graph=True)
        first = x.grad.tolist()
        handle.remove()
        y.sum().backward()
        res[lib.__name__] = (len(seen), seen[0][0] == "Tensor", first, x.grad.tolist())
    assert res["pyad"] == res["torch"] == (1, True, [20.0] * 3, [22.0] * 3)


def test_node_prehook_returning_a_wrong_shape_or_type_raises():
    x = leaf(3)
    y = x * 2.0
    y.grad_fn.register_prehook(lambda gs: (pyad.ones(2, dtype=pyad.float64),))
    with pytest.raises(
        RuntimeError,
        match=r"\[MulBackward0\] a pre-hook returned a gradient of shape \(2,\) for "
        r"a gradient of shape \(3,\)",
    ):
        y.sum().backward(retain_graph=True)
    z = x * 3.0
    z.grad_fn.register_prehook(lambda gs: 5)
    with pytest.raises(TypeError, match=r"\[MulBackward0\] a pre-hook must return None or a tuple"):
        z.sum().backward()
