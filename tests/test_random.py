"""pyad's sampling functions (pyad/_random.py and the in-place Tensor samplers): ranges, dtypes, shapes, seeding,
the distributions' moments and frequencies (checked with tolerances of several standard errors, at fixed seeds),
and torch's errors."""

import numpy as np
import pytest

import pyad


def test_randint_range_dtype_and_uniformity():
    pyad.manual_seed(0)
    x = pyad.randint(-3, 5, (20000,))
    assert x.dtype == pyad.int64 and tuple(x.shape) == (20000,)
    v = x.numpy()
    assert v.min() == -3 and v.max() == 4
    counts = np.bincount(v + 3, minlength=8)
    expected = 20000 / 8
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))  # five standard errors
    assert pyad.randint(10, (2, 3)).shape == (2, 3)
    assert pyad.randint(0, 2, size=(4,), dtype=pyad.float64).dtype == pyad.float64
    assert pyad.randint(3, (0,)).numel() == 0


def test_randint_is_seeded():
    pyad.manual_seed(7)
    a = pyad.randint(0, 1000, (50,)).numpy()
    pyad.manual_seed(7)
    b = pyad.randint(0, 1000, (50,)).numpy()
    assert np.array_equal(a, b)


def test_randint_errors():
    with pytest.raises(ValueError, match="from=5 >= to=5"):
        pyad.randint(5, 5, (2,))
    with pytest.raises(TypeError, match="size"):
        pyad.randint()
    with pytest.raises(TypeError, match="high must be an int"):
        pyad.randint(2.5, (3,))


def test_randint_like():
    x = pyad.zeros(3, 4, dtype=pyad.int64)
    y = pyad.randint_like(x, 10)
    assert y.shape == x.shape and y.dtype == pyad.int64 and 0 <= y.numpy().min() and y.numpy().max() < 10
    z = pyad.randint_like(pyad.zeros(5), 2, 4)
    assert z.dtype == pyad.float32 and set(np.unique(z.numpy())) <= {2.0, 3.0}


def test_randperm_is_a_permutation():
    pyad.manual_seed(1)
    for n in (0, 1, 7, 1000):
        p = pyad.randperm(n)
        assert p.dtype == pyad.int64
        assert np.array_equal(np.sort(p.numpy()), np.arange(n))
    firsts = np.array([pyad.randperm(4).numpy()[0] for _ in range(2000)])
    counts = np.bincount(firsts, minlength=4)
    assert np.all(np.abs(counts - 500) < 5 * np.sqrt(500 * 0.75))
    with pytest.raises(ValueError, match="non-negative"):
        pyad.randperm(-1)


def test_normal_forms_and_moments():
    pyad.manual_seed(2)
    x = pyad.normal(2.0, 3.0, size=(40000,))
    assert x.dtype == pyad.float32
    assert abs(x.numpy().mean() - 2.0) < 5 * 3.0 / 200 and abs(x.numpy().std() - 3.0) < 0.05
    mean = pyad.tensor([0.0, 10.0, -10.0], dtype=pyad.float64)
    y = pyad.normal(mean, 0.0)
    assert np.array_equal(y.numpy(), mean.numpy())
    z = pyad.normal(mean.reshape(3, 1), pyad.ones(4, dtype=pyad.float64))
    assert z.shape == (3, 4) and z.dtype == pyad.float64
    m = pyad.tensor([1.0], requires_grad=True)
    assert not pyad.normal(m, 1.0).requires_grad
    with pytest.raises(ValueError, match="non-negative"):
        pyad.normal(0.0, -1.0, size=(2,))
    with pytest.raises(TypeError, match="size"):
        pyad.normal(0.0, 1.0)


def test_bernoulli_frequency_and_errors():
    pyad.manual_seed(3)
    p = pyad.tensor([0.0, 0.25, 1.0], dtype=pyad.float64).expand(20000, 3)
    b = pyad.bernoulli(p).numpy()
    assert set(np.unique(b)) <= {0.0, 1.0}
    assert b[:, 0].sum() == 0 and b[:, 2].sum() == 20000
    assert abs(b[:, 1].mean() - 0.25) < 5 * np.sqrt(0.25 * 0.75 / 20000)
    assert pyad.bernoulli(pyad.zeros(10), p=1.0).numpy().sum() == 10
    with pytest.raises(ValueError, match="0 <= p <= 1"):
        pyad.bernoulli(pyad.tensor([1.5]))


@pytest.mark.parametrize("replacement", [True, False])
def test_multinomial_frequencies(replacement):
    pyad.manual_seed(4)
    w = pyad.tensor([1.0, 0.0, 3.0, 4.0], dtype=pyad.float64)
    if replacement:
        s = pyad.multinomial(w, 40000, replacement=True).numpy()
        assert s.shape == (40000,) and 1 not in s
        freq = np.bincount(s, minlength=4) / 40000
        assert np.all(np.abs(freq - np.array([1, 0, 3, 4]) / 8) < 0.01)
    else:
        first = []
        for _ in range(3000):
            s = pyad.multinomial(w, 3).numpy()
            assert len(set(s.tolist())) == 3 and 1 not in s  # distinct, never the zero weight
            first.append(s[0])
        freq = np.bincount(first, minlength=4) / 3000
        assert np.all(np.abs(freq - np.array([1, 0, 3, 4]) / 8) < 0.03)


def test_multinomial_rows_and_errors():
    rows = pyad.tensor([[0.0, 1.0], [1.0, 0.0]])
    s = pyad.multinomial(rows, 5, replacement=True).numpy()
    assert s.shape == (2, 5) and np.all(s[0] == 1) and np.all(s[1] == 0)
    with pytest.raises(RuntimeError, match="without replacement"):
        pyad.multinomial(pyad.ones(3), 4)
    with pytest.raises(RuntimeError, match="element < 0"):
        pyad.multinomial(pyad.tensor([1.0, -1.0]), 1)
    with pytest.raises(RuntimeError, match="inf, nan"):
        pyad.multinomial(pyad.tensor([1.0, float("nan")]), 1)
    with pytest.raises(RuntimeError, match="sum of probabilities"):
        pyad.multinomial(pyad.zeros(3), 1, replacement=True)
    with pytest.raises(RuntimeError, match="not enough"):
        pyad.multinomial(pyad.tensor([1.0, 0.0, 0.0]), 2)


def test_in_place_samplers_and_new_factories():
    pyad.manual_seed(5)
    x = pyad.empty(10000, dtype=pyad.float64)
    v = x._version
    assert x.uniform_(-2.0, 2.0) is x and x._version > v
    assert -2.0 <= x.numpy().min() and x.numpy().max() < 2.0 and abs(x.numpy().mean()) < 0.1
    x.normal_(1.0, 0.5)
    assert abs(x.numpy().mean() - 1.0) < 0.03 and abs(x.numpy().std() - 0.5) < 0.03
    x.bernoulli_(0.5)
    assert set(np.unique(x.numpy())) == {0.0, 1.0}
    y = pyad.empty(100, dtype=pyad.int64).random_(3, 6)
    assert set(np.unique(y.numpy())) <= {3, 4, 5}
    leaf = pyad.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        leaf.uniform_()
    t = pyad.ones(2, dtype=pyad.float64)
    for made, fill in [(t.new_zeros(2, 3), 0.0), (t.new_ones((2, 3)), 1.0), (t.new_full((2, 3), 7), 7.0)]:
        assert made.shape == (2, 3) and made.dtype == pyad.float64 and np.all(made.numpy() == fill)
    assert t.new_empty(4).shape == (4,)
    assert t.new_tensor([1, 2]).dtype == pyad.float64
    assert t.new_zeros(2, dtype=pyad.int64).dtype == pyad.int64
