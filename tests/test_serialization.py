"""pickle, copy.copy, copy.deepcopy of tensors and pyad.save / pyad.load (safetensors), compared with torch's
behaviour where torch has one."""

import collections
import copy
import json
import os
import pickle
import struct

import numpy as np
import pytest
import safetensors.numpy
import torch

import pyad

try:  # pytest's --import-mode=importlib registers the conftest as tests.conftest
    from tests.conftest import host
except ImportError:
    from conftest import host

pytestmark = pytest.mark.usefixtures("device")


def values(t):
    return host(t).tolist()


def non_contiguous():
    base = pyad.arange(24, dtype=pyad.float64).reshape(4, 6)
    return base, base.transpose(0, 1)[1:5:2]  # strides (1, 12), offset 1


# ---- pickle ----


@pytest.mark.parametrize("dtype", [pyad.float32, pyad.float64, pyad.int64, pyad.bool])
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 0, 3), (2, 3, 4)])
def test_pickle_round_trip(dtype, shape):
    t = (pyad.rand(*shape, dtype=pyad.float64) * 10).to(dtype)
    u = pickle.loads(pickle.dumps(t))
    assert u.dtype == dtype and u.shape == t.shape and u.device == t.device
    assert values(u) == values(t)
    assert not u.requires_grad


def test_pickle_keeps_requires_grad_and_makes_non_leaves_leaves_as_torch():
    x = pyad.ones(3, requires_grad=True)
    y = pickle.loads(pickle.dumps(x))
    assert y.requires_grad and y.is_leaf and y.grad is None
    z = pickle.loads(pickle.dumps(x * 2))
    tx = torch.ones(3, requires_grad=True)
    tz = pickle.loads(pickle.dumps(tx * 2))
    assert (z.requires_grad, z.is_leaf) == (tz.requires_grad, tz.is_leaf) == (True, True)
    assert values(z) == [2.0, 2.0, 2.0]
    z.sum().backward()
    assert values(z.grad) == [1.0, 1.0, 1.0]


def test_pickle_keeps_layout_and_shares_storage_within_one_dump():
    base, v = non_contiguous()
    b2, v2 = pickle.loads(pickle.dumps([base, v]))
    assert v2.stride() == v.stride() and v2.storage_offset() == v.storage_offset()
    assert values(v2) == values(v)
    b2[0, 1] = -1.0  # v[0, 0] is base[0, 1]
    assert values(v2)[0][0] == -1.0
    assert values(v)[0][0] == 1.0  # the original is untouched


def test_pickle_is_independent_of_the_original():
    t = pyad.zeros(3)
    u = pickle.loads(pickle.dumps(t))
    t.add_(1.0)
    assert values(u) == [0.0, 0.0, 0.0]


def test_unpickling_a_tampered_geometry_raises_instead_of_reading_out_of_bounds():
    t = pyad.arange(6, dtype=pyad.float64)
    fn, (storage, offset, shape, strides, rg) = t.__reduce_ex__(4)
    for bad in [
        (0, (7,), (1,)),
        (5, (2,), (1,)),
        (0, (3,), (-1,)),
        (-1, (1,), (1,)),
        (0, (2, 2), (1,)),
        (0, (2**62, 4), (4, 1)),
    ]:
        with pytest.raises(ValueError, match=r"\[unpickle\]"):
            fn(storage, bad[0], bad[1], bad[2], rg)


def test_dtypes_and_devices_pickle_and_copy():
    for obj in [pyad.float32, pyad.int64, pyad.device("cpu"), {"d": pyad.device("cpu"), "t": pyad.bool}]:
        assert pickle.loads(pickle.dumps(obj)) == obj
        assert copy.deepcopy(obj) == obj


# ---- copy.copy ----


def test_copy_shares_storage_as_torch():
    x = pyad.ones(3, requires_grad=True)
    x.grad = pyad.ones(3)
    c = copy.copy(x)
    assert c is not x and c.requires_grad and c.grad is None
    assert c.data_ptr() == x.data_ptr()
    _, v = non_contiguous()
    cv = copy.copy(v)
    assert cv.stride() == v.stride() and cv.data_ptr() == v.data_ptr()


# ---- copy.deepcopy ----


def test_deepcopy_of_a_leaf_copies_data_requires_grad_and_grad():
    x = pyad.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    d = copy.deepcopy(x)
    assert d.requires_grad and d.is_leaf and values(d.grad) == [2.0, 4.0]
    assert d.data_ptr() != x.data_ptr() and d.grad.data_ptr() != x.grad.data_ptr()
    with pyad.no_grad():
        d.add_(1.0)
    assert values(x) == [1.0, 2.0]


def test_deepcopy_of_a_non_leaf_raises_as_torch():
    x = pyad.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="Only Tensors created explicitly by the user"):
        copy.deepcopy(x * 2)
    with pytest.raises(RuntimeError, match="Only Tensors created explicitly by the user"):
        copy.deepcopy(torch.ones(2, requires_grad=True) * 2)


def test_deepcopy_of_a_model_keeps_tied_weights_and_views_shared():
    w = pyad.randn(4, 3, requires_grad=True)
    base, v = non_contiguous()
    model = {"enc": w, "dec": w, "tr": base, "view": v, "meta": [1, "x"]}
    m2 = copy.deepcopy(model)
    assert m2["enc"] is m2["dec"] and m2["enc"] is not w
    assert values(m2["enc"]) == values(w) and m2["enc"].requires_grad
    m2["tr"][0, 1] = -5.0
    assert values(m2["view"])[0][0] == -5.0 and values(v)[0][0] == 1.0
    # torch shares views the same way
    tb = torch.arange(24.0).reshape(4, 6)
    t2 = copy.deepcopy({"b": tb, "v": tb.t()[1:5:2]})
    t2["b"][0, 1] = -5.0
    assert t2["v"][0, 0] == -5.0


def test_ema_snapshot_by_deepcopy_tracks_only_itself():
    w = pyad.zeros(3, requires_grad=True)
    ema = copy.deepcopy(w)
    for _ in range(3):
        (w * pyad.tensor([1.0, 2.0, 3.0])).sum().backward()
        with pyad.no_grad():
            w.sub_(w.grad)
            w.grad = None
            ema.mul_(0.5).add_(w * 0.5)
    assert values(w) == [-3.0, -6.0, -9.0]
    assert np.allclose(values(ema), [-2.125, -4.25, -6.375])


# ---- pyad.save / pyad.load ----


def test_save_load_a_tensor(tmp_path, device):
    _, v = non_contiguous()
    p = tmp_path / "t.safetensors"
    pyad.save(v, p)
    u = pyad.load(p)
    assert values(u) == values(v) and u.is_contiguous() and str(u.device) == str(v.device)


def test_save_load_a_nested_state(tmp_path):
    w = pyad.randn(3, 2, dtype=pyad.float64, requires_grad=True)
    state = collections.OrderedDict(
        model=collections.OrderedDict(
            [
                ("layer.0.weight", w),
                ("layer.0.bias", pyad.zeros(2)),
                ("tied", w),
                ("steps", pyad.tensor(7)),
                ("mask", pyad.tensor([True, False])),
            ]
        ),
        optim={"lr": 0.1, "betas": (0.9, 0.999), "state": {0: {"step": 3}}, "eps": float("inf"), "name": None},
        history=[pyad.ones(0), 1.5, "ok", True],
    )
    p = tmp_path / "ckpt.safetensors"
    pyad.save(state, p)
    s2 = pyad.load(p)
    assert type(s2) is collections.OrderedDict and type(s2["model"]) is collections.OrderedDict
    m = s2["model"]
    assert list(m) == list(state["model"])
    assert m["layer.0.weight"] is m["tied"] and m["layer.0.weight"].requires_grad
    assert values(m["layer.0.weight"]) == values(w) and m["layer.0.weight"].dtype == pyad.float64
    assert m["steps"].dtype == pyad.int64 and m["steps"].item() == 7 and m["steps"].shape == ()
    assert values(m["mask"]) == [True, False]
    assert s2["optim"] == {
        "lr": 0.1,
        "betas": (0.9, 0.999),
        "state": {0: {"step": 3}},
        "eps": float("inf"),
        "name": None,
    }
    assert s2["history"][0].shape == (0,) and s2["history"][1:] == [1.5, "ok", True]


def test_a_saved_state_dict_reads_with_plain_safetensors_and_torch_files_read_in_pyad(tmp_path):
    sd = {"fc.weight": pyad.randn(2, 3), "fc.bias": pyad.zeros(2)}
    p = tmp_path / "sd.safetensors"
    pyad.save(sd, p)
    raw = safetensors.numpy.load_file(str(p))
    assert sorted(raw) == ["fc.bias", "fc.weight"] and np.array_equal(raw["fc.weight"], host(sd["fc.weight"]))
    # A file written by another tool (no pyad metadata) loads as a flat dict; half and int32 widen.
    q = tmp_path / "other.safetensors"
    safetensors.numpy.save_file({"a": np.arange(3, dtype=np.int32), "b": np.ones(2, dtype=np.float16)}, str(q))
    d = pyad.load(q)
    assert d["a"].dtype == pyad.int64 and values(d["a"]) == [0, 1, 2]
    assert d["b"].dtype == pyad.float32 and values(d["b"]) == [1.0, 1.0]


def test_load_map_location(tmp_path):
    p = tmp_path / "t.safetensors"
    pyad.save({"x": pyad.ones(2)}, p)
    assert str(pyad.load(p, map_location="cpu")["x"].device) == "cpu"


def test_save_refuses_what_it_cannot_store_safely(tmp_path):
    p = tmp_path / "x.safetensors"
    with pytest.raises(TypeError, match=r"\[save\] cannot save an object of type object"):
        pyad.save({"a": object()}, p)
    with pytest.raises(TypeError, match=r"\[save\] dict keys must be str or int"):
        pyad.save({(1, 2): pyad.ones(1)}, p)
    with pytest.raises(ValueError, match="weights_only=False"):
        pyad.load(p, weights_only=False)


def corrupt_variants(data):
    """Truncations and tamperings of a valid file."""
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + n])
    yield "empty", b""
    yield "short length", data[:5]
    for cut in (8, 8 + n // 2, 8 + n, len(data) - 1):
        yield f"truncated at {cut}", data[:cut]
    yield "huge header length", struct.pack("<Q", 2**62) + data[8:]
    yield "garbage header", data[:8] + b"\xff" * n + data[8 + n :]
    name = next(k for k in header if k != "__metadata__")
    for key, val in [("data_offsets", [0, 10**12]), ("shape", [10**9, 10**9]), ("dtype", "F99"), ("shape", [-1])]:
        h = json.loads(json.dumps(header))
        h[name][key] = val
        hb = json.dumps(h).encode()
        yield f"{key}={val}", struct.pack("<Q", len(hb)) + hb + data[8 + n :]
    for struct_text in [
        "{",
        '{"tensor": "nope"}',
        '{"list": 3}',
        '{"what": []}',
        '{"dict": [[1]]}',
        "[[[[",
        '{"a": 1, "b": 2}',
        '{"tensor": "b", "requires_grad": true}',
    ]:
        h = json.loads(json.dumps(header))
        h["__metadata__"]["pyad.structure"] = struct_text
        hb = json.dumps(h).encode()
        yield f"structure {struct_text}", struct.pack("<Q", len(hb)) + hb + data[8 + n :]


def test_loading_truncated_or_tampered_files_raises_clearly(tmp_path):
    p = tmp_path / "good.safetensors"
    pyad.save({"w": pyad.randn(4, 4), "b": pyad.arange(3), "n": [1, 2]}, p)
    data = p.read_bytes()
    for what, bad in corrupt_variants(data):
        q = tmp_path / "bad.safetensors"
        q.write_bytes(bad)
        with pytest.raises(ValueError, match=r"\[load\]") as e:
            pyad.load(q)
        assert str(q) in str(e.value), what


def test_load_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        pyad.load(tmp_path / "nope.safetensors")


def test_saved_file_holds_no_pickle(tmp_path):
    p = tmp_path / "t.safetensors"
    pyad.save({"x": pyad.ones(2), "lr": 0.1}, p)
    data = p.read_bytes()
    assert b"\x80\x04" not in data and b"\x80\x02" not in data  # no pickle protocol header anywhere
    assert os.path.getsize(p) == len(data)
