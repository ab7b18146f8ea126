"""The op table: every pyad op declared once, for every parity test (in the manner of PyTorch's OpInfo).

Each OpInfo row says how to call one op, written once for both libraries: `call(ns, *tensors, **kwargs)`, run with
ns = pyad on pyad tensors and with ns = conftest.TNS (torch's namespace) on torch tensors holding the same data.
The reverse-mode, gradcheck and double-backward tests (test_ops_grad.py), forward-mode tests (test_forward_ad.py),
transform tests (test_func.py) and the CUDA kernel tests (test_cuda.py; every parity test also runs on a GPU through
conftest's `device` fixture) all parametrise over OP_DB.  test_op_db.py fails when an exported op has no row, or a
row names nothing pyad exports.

How to add an op (say pyad.atan2):

    OpInfo("atan2", lambda ns, a, b: ns.atan2(a, b), BINARY_SHAPES, domain=("any", "nz"), elementwise=True),

* name: the export the row tests: "atan2" is pyad.atan2; "Tensor.view" is a Tensor method with no function.
* call: the op's call; `variant` names another form of the same op (the operator `a + b`, the method `x.exp()`,
  other arguments), one row each; `aliases` lists other exported names of the same function (rows are made).
* shapes: one tuple of input shapes per sample, e.g. [((3, 4), (4,)), ((), ()), ((0, 3), (3,))], or S(...)
  samples with keyword arguments (S((2, 3), dim=1)) or fixed data (S(np.array([0.0, 1.0]), fd=False));
  `kwargs` (a list of dicts) crosses every shape with several keyword sets.
* domain: where the inputs are drawn ("any", "pos", "nz" (away from kinks and poles), "unit", "int"), one for all
  inputs or one per input; `nondiff` lists inputs that get no gradient (a where condition).
* dtypes and modes: the float dtypes of the parity tests, int64 where the op takes integer inputs (CUDA kernel
  tests); modes among reverse, forward, gradgrad, transforms, cuda (values alone for ops without a derivative).
"""

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import pyad

try:  # pytest's --import-mode=importlib (the project's setting) registers the conftest as tests.conftest
    from tests.conftest import leaf, make
except ImportError:  # prepend/append import modes
    from conftest import leaf, make

F32, F64, I64 = pyad.float32, pyad.float64, pyad.int64

REVERSE, FORWARD, GRADGRAD, TRANSFORMS, CUDA, VALUES = "reverse", "forward", "gradgrad", "transforms", "cuda", "values"
ALL_MODES = frozenset({REVERSE, FORWARD, GRADGRAD, TRANSFORMS, CUDA})
# Another spelling of an op already tested in full (an operator, a method, other constant arguments): its
# derivative rule is the same one, so the costlier modes (double backward, transforms) need not repeat it.
FORMS = frozenset({REVERSE, FORWARD, CUDA})
NO_GRAD = frozenset({VALUES, CUDA})  # comparisons: values only

FLOATS = (F64, F32)
WITH_INT = (F64, F32, I64)


@dataclasses.dataclass(frozen=True)
class S:
    """One sample: an input shape (or a fixed NumPy array) per tensor input, and keyword arguments for `call`.
    fd=False: finite differences do not apply (data on a kink, a tie, -inf), so gradcheck and gradgradcheck skip
    it. raises=True: torch raises for it (a max over an empty dimension) and pyad must raise too."""

    inputs: tuple
    kwargs: dict
    name: str = ""
    fd: bool = True
    raises: bool = False

    def __init__(self, *inputs, name="", fd=True, raises=False, **kwargs):
        object.__setattr__(self, "inputs", tuple(inputs))
        object.__setattr__(self, "kwargs", kwargs)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "fd", fd)
        object.__setattr__(self, "raises", raises)

    @property
    def empty(self):
        return any(0 in (i.shape if isinstance(i, np.ndarray) else tuple(i)) for i in self.inputs)

    def arrays(self, domains, seed=0):
        """The float64 input arrays: fixed data as given, shapes filled from their domains (one rng for all, so
        the data of a sample is the same in every mode)."""
        rng = np.random.default_rng(seed)
        return [
            np.asarray(i, dtype=np.float64) if isinstance(i, np.ndarray) else make(i, d, rng)
            for i, d in zip(self.inputs, domains)
        ]

    def id(self):
        if self.name:
            return self.name
        shapes = "-".join(str(tuple(i)) for i in self.inputs)
        kw = ",".join(f"{k}={v}" for k, v in self.kwargs.items())
        return shapes + (f"-{kw}" if kw else "")


@dataclasses.dataclass(frozen=True)
class OpInfo:
    name: str  # pyad.<name>, or "Tensor.<method>" for a method without a function
    call: Callable[..., Any]  # call(ns, *tensors, **kwargs)
    shapes: list  # tuples of input shapes, or S samples
    domain: Any = "any"  # one domain for every input, or a tuple with one per input
    dtypes: tuple = FLOATS
    modes: frozenset = ALL_MODES
    variant: str = ""  # which form of the op this row calls ("" for the function itself)
    kwargs: tuple = ({},)  # keyword sets crossed with every plain shape tuple
    aliases: tuple = ()  # other exported names of the same function
    nondiff: tuple = ()  # input positions that get no gradient or tangent
    elementwise: bool = False  # an elementwise (broadcasting) op: the CUDA kernel and view tests take it
    composite: bool = False  # a composition of several ops (not one export): the engine, not one rule
    alias_of: str = ""  # set on the rows generated for `aliases`

    @property
    def id(self):
        return self.name + (f"-{self.variant}" if self.variant else "")

    @property
    def arity(self):
        return len(self.samples()[0].inputs)

    def domains(self, n=None):
        n = self.arity if n is None else n
        return tuple(self.domain) if isinstance(self.domain, tuple) else (self.domain,) * n

    def diff_inputs(self, n=None):
        return [i for i in range(self.arity if n is None else n) if i not in self.nondiff]

    def samples(self):
        out = []
        for s in self.shapes:
            if isinstance(s, S):
                out.append(s)
            else:
                out.extend(S(*s, **kw) for kw in self.kwargs)
        return out

    def samples_for(self, mode):
        """The samples a mode runs: all of them for reverse and forward mode (cheap), a few for the modes whose
        cost grows with the input size (finite differences, Jacobians, double backward)."""
        ok = [s for s in self.samples() if not s.raises]
        if mode in (REVERSE, FORWARD, VALUES):
            return self.samples() if mode == REVERSE else ok
        if mode == "gradcheck":
            return [s for s in ok if s.fd and not s.empty][:2]
        if mode == GRADGRAD:
            return [s for s in ok if s.fd and not s.empty][:1]
        if mode == TRANSFORMS:
            return [s for s in ok if not s.empty][:1] + [s for s in ok if s.empty][:1]
        raise ValueError(mode)


class _AliasNS:
    """A namespace that answers `name` with `alias`: an alias row runs its function's call through it."""

    def __init__(self, ns, name, alias):
        self._ns, self._name, self._alias = ns, name, alias

    def __getattr__(self, attr):
        return getattr(self._ns, self._alias if attr == self._name else attr)


def _alias_rows(op):
    def aliased(alias):
        return lambda ns, *t, **kw: op.call(_AliasNS(ns, op.name, alias), *t, **kw)

    return [
        dataclasses.replace(op, name=a, call=aliased(a), aliases=(), alias_of=op.name, modes=op.modes & FORMS)
        for a in op.aliases
    ]


def _arr(*v):
    return np.array(v, dtype=np.float64)


# ---------------------------------------------------------------- shapes
UNARY_SHAPES = [((3,),), ((2, 3),), ((4, 1, 3),), ((0, 3),), ((),), ((1,),)]
BINARY_SHAPES = [
    ((3,), (3,)),
    ((2, 3), (2, 3)),
    ((2, 3), (3,)),
    ((3,), (2, 3)),
    ((2, 1), (1, 3)),
    ((4, 1, 3), (1, 5, 3)),
    ((), (2, 3)),
    ((2, 3), ()),
    ((), ()),
    ((0, 3), (1, 3)),
    ((0, 3), (3,)),
    ((2, 0), (2, 1)),
]
SCALAR_SHAPES = [((3,),), ((2, 3),), ((),), ((0, 2),)]
WHERE_SHAPES = [((2, 3), (2, 3), (2, 3)), ((2, 1), (1, 3), (2, 3)), ((3,), (2, 3), ()), ((0, 3), (0, 3), (3,))]
MATMUL_SHAPES = [
    ((4,), (4,)),
    ((3, 4), (4,)),
    ((4,), (4, 5)),
    ((3, 4), (4, 5)),
    ((2, 3, 4), (4, 5)),
    ((3, 4), (2, 4, 5)),
    ((2, 3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((2, 3, 4), (4,)),
    ((4,), (2, 4, 5)),
    ((0, 4), (4, 5)),
    ((3, 0), (0, 5)),
    ((0, 3, 4), (4, 2)),
    ((1, 4), (4, 1)),
]
KINK = _arr(0.0, -1.0, 2.0)
TIES = [
    S(
        _arr(1.0, 2.0, -3.0, 0.5, 0.5, 4.0).reshape(2, 3),
        _arr(1.0, 1.0, -3.0, 0.5, 0.7, 4.0).reshape(2, 3),
        name="ties",
        fd=False,
    ),
    S(_arr(2.0, 2.0, 2.0, 1.0, 3.0, 2.0).reshape(2, 3), _arr(2.0), name="broadcast_tie", fd=False),
]
REDUCE_TIES = _arr(1.0, 3.0, 3.0, 0.0, 2.0, 2.0, 2.0, 2.0, -1.0, -1.0, 5.0, -2.0).reshape(3, 4)
BIG = _arr(1000.0, 999.0, 998.0, -1000.0, -1001.0, -999.0).reshape(2, 3)
MASKED = np.array([[0.5, -np.inf, 1.0, -0.3], [2.0, 1.0, -np.inf, -np.inf]])


def _reduce_samples(op):
    """Every (shape, dim, keepdim) case of a reduction; a max over an empty dimension raises, as in torch."""
    cases = [
        ((2, 3, 4), None),
        ((2, 3, 4), 0),
        ((2, 3, 4), 1),
        ((2, 3, 4), -1),
        ((2, 3, 4), -3),
        ((2, 3, 4), (0, 2)),
        ((2, 3, 4), (-1, -2)),
        ((2, 3, 4), (0, 1, 2)),
        ((4, 1, 3), 1),
        ((3,), 0),
        ((3,), None),
        ((), None),
        ((0, 3), 1),
        ((0, 3), None),
        ((0, 3), 0),
    ]
    out = []
    for shape, dim in cases:
        dims = range(len(shape)) if dim is None else [dim] if isinstance(dim, int) else dim
        raises = op in ("amax", "amin") and int(np.prod([shape[d] for d in dims])) == 0
        for keep in [False] if dim is None else [False, True]:
            kw = {} if dim is None else {"dim": dim, "keepdim": keep}
            out.append(S(shape, raises=raises, **kw))
    return out


def _dim_samples(cases, keepdims=(False, True)):
    return [S(shape, dim=dim, keepdim=k) for shape, dim in cases for k in keepdims]


LSE_CASES = [
    ((2, 3), 0),
    ((2, 3), -1),
    ((2, 3, 4), 1),
    ((2, 3, 4), (0, 2)),
    ((3,), 0),
    ((4, 1, 3), 1),
    ((0, 3), 1),
    ((0, 3), 0),
]
SOFTMAX_CASES = [
    ((2, 3), 0),
    ((2, 3), -1),
    ((2, 3), 1),
    ((2, 3, 4), 1),
    ((3,), 0),
    ((3,), -1),
    ((4, 1, 3), 1),
    ((0, 3), -1),
    ((0, 3), 0),
]
MAX_DIM_CASES = [((2, 3, 4), 0), ((2, 3, 4), 1), ((2, 3, 4), -1), ((3,), 0), ((4, 1, 3), 1), ((0, 3), 1)]
SOFTMAX_SAMPLES = [S(shape, dim=dim) for shape, dim in SOFTMAX_CASES] + [
    S(BIG, dim=-1, name="large_values", fd=False),
    S(MASKED, dim=-1, name="masked_-inf", fd=False),
]


SORT_SAMPLES = [
    S((3, 4), dim=1),
    S((2, 3, 4), dim=0, descending=True),
    S((5,)),
    S((2, 3, 4), dim=-2, stable=True),
    S((4, 1, 3), dim=1, descending=True),
    S(()),
    S((0, 3), dim=1),
    S((2, 0), dim=1, descending=True),
]
TOPK_SAMPLES = [
    S((3, 5), k=2, dim=1),
    S((2, 3, 4), k=3, dim=-1, largest=False),
    S((2, 3, 4), k=2, dim=0),
    S((5,), k=5),
    S((5,), k=0),
    S((), k=1),
    S((0, 3), k=0, dim=0),
    S((2, 0), k=0),
]
ARG_SAMPLES = [
    S((3, 4)),
    S((3, 4), dim=1),
    S((2, 3, 4), dim=0, keepdim=True),
    S((2, 3, 4), dim=-1),
    S((3, 4), keepdim=True),
    S(()),
    S((), dim=0),
    S((0, 3), dim=1),
]


def _index_of(ns, x, data):
    """An int64 index tensor on x's device (for gather's rows)."""
    return ns.tensor(data, dtype=ns.int64, device=x.device)


def _mask_of(ns, x, data):
    """A bool mask tensor on x's device."""
    return ns.tensor(data, dtype=ns.bool, device=x.device)


def _put(key):
    """x (copied) with v written at key: setitem, recorded as index_put_."""

    def call(ns, x, v):
        y = x * 1.0
        y[key(ns, x)] = v
        return y

    return call


_I = _index_of
_INDEX_ROWS = [
    OpInfo(
        "Tensor.__getitem__",
        lambda ns, x: x[_I(ns, x, [2, 0, 2, -1])],
        [((3, 4),), ((3,),), ((3, 0),)],
        dtypes=WITH_INT,
        variant="int64",
    ),
    OpInfo(
        "Tensor.__getitem__",
        lambda ns, x: x[:, _I(ns, x, [[0], [2]]), _I(ns, x, [1, 3, -1])],
        [((2, 3, 4),)],
        variant="adjacent",
    ),
    OpInfo(
        "Tensor.__getitem__",
        lambda ns, x: x[_I(ns, x, [1, 0, 1]), :, _I(ns, x, [3, 3, 0])],
        [((2, 3, 4),)],
        variant="separated",
    ),
    OpInfo(
        "Tensor.__getitem__",
        lambda ns, x: x[1, :, _I(ns, x, [[0, 2], [2, 2]])],
        [((2, 3, 4),)],
        variant="int_and_tensor",
    ),
    OpInfo(
        "Tensor.__getitem__",
        lambda ns, x: x[None, ..., _I(ns, x, [1, 1])],
        [((2, 3),)],
        variant="none_ellipsis",
        modes=FORMS,
    ),
    OpInfo(
        "Tensor.__getitem__",
        lambda ns, x: x[_I(ns, x, 1), 1:, _I(ns, x, [0, 2])],
        [((3, 4, 3),)],
        variant="0d_slice",
        modes=FORMS,
    ),
    OpInfo(
        "Tensor.__getitem__",
        lambda ns, x: x[_mask_of(ns, x, [[True, False, True], [False, False, True]])],
        [((2, 3),), ((2, 3, 2),)],
        dtypes=WITH_INT,
        variant="mask",
    ),
    OpInfo(
        "Tensor.__getitem__",
        lambda ns, x: x[:, _mask_of(ns, x, [False, True, True])],
        [((2, 3),)],
        variant="mask_dim1",
        modes=FORMS,
    ),
    OpInfo(
        "Tensor.__getitem__",
        lambda ns, x: x[_mask_of(ns, x, [False, False])],
        [((2, 3),)],
        variant="empty_mask",
        modes=FORMS,
    ),
    OpInfo(
        "Tensor.__getitem__", lambda ns, x: x[_I(ns, x, [[0, 1], [1, 1]])], [((2, 3),)], variant="2d_index", modes=FORMS
    ),
    OpInfo(
        "Tensor.__setitem__",
        _put(lambda ns, x: _I(ns, x, [2, 0, -2])),
        [((3, 4), (4,)), ((3, 4), (3, 4)), ((3,), ())],
        variant="int64",
    ),
    OpInfo(
        "Tensor.__setitem__",
        _put(lambda ns, x: (_I(ns, x, [1, 0]), slice(None), _I(ns, x, [3, 3]))),
        [((2, 3, 4), (2, 3)), ((2, 3, 4), (3,))],
        variant="separated",
        modes=ALL_MODES - {TRANSFORMS},  # torch.func's vmap of this setitem puts the batch dim elsewhere and raises
    ),
    OpInfo(
        "Tensor.__setitem__",
        _put(lambda ns, x: (1, _I(ns, x, [0, 2]))),
        [((2, 3, 4), (2, 4))],
        variant="int_and_tensor",
    ),
    OpInfo(
        "Tensor.__setitem__",
        _put(lambda ns, x: _mask_of(ns, x, [[True, False, True], [False, False, True]])),
        [((2, 3), (3,)), ((2, 3), ())],
        variant="mask",
    ),
    OpInfo(
        "index_put",
        lambda ns, x, v, **kw: ns.index_put(x, (_I(ns, x, [1, 1, 0]),), v, **kw),
        [((3, 4), (3, 4)), ((3, 4), (4,))],
        kwargs=({"accumulate": True},),
    ),
    OpInfo(
        "index_put",
        lambda ns, x, v: ns.index_put(x, (_I(ns, x, [2, 0]), _I(ns, x, [[1], [3]])), v),
        [((3, 4), (2, 2)), ((3, 4), ())],
        variant="assign",
    ),
    OpInfo(
        "index_put",
        lambda ns, x, v: x.index_put((_I(ns, x, [0, 0]),), v, accumulate=True),
        [((3, 2), (2,))],
        variant="method",
        modes=FORMS,
    ),
    OpInfo(
        "Tensor.index_put_",
        lambda ns, x, v: (x * 1.0).index_put_((_I(ns, x, [1, -1, 1]),), v, accumulate=True),
        [((3, 4), (3, 4)), ((3,), (3,))],
    ),
    OpInfo(
        "Tensor.index_put_",
        lambda ns, x, v: (x * 1.0).index_put_((_mask_of(ns, x, [True, False, True]),), v),
        [((3, 4), (4,))],
        variant="mask",
    ),
    OpInfo(
        "index_select",
        lambda ns, x: ns.index_select(x, 1, _I(ns, x, [3, 0, 3, 1])),
        [((2, 4),), ((3, 4, 2),)],
        dtypes=WITH_INT,
    ),
    OpInfo(
        "index_select", lambda ns, x: ns.index_select(x, 0, _I(ns, x, [1, 1])), [((2, 3),), ((2,),)], variant="dim0"
    ),
    OpInfo(
        "index_select",
        lambda ns, x: x.index_select(-1, _I(ns, x, 0)),
        [((2, 3),), ((),)],
        variant="0d_index",
        modes=FORMS,
    ),
    OpInfo("take", lambda ns, x: ns.take(x, _I(ns, x, [[0, 5], [-1, 5]])), [((2, 3),), ((6,),)]),
    OpInfo("take", lambda ns, x: x.take(_I(ns, x, [0, 0])), [((),)], variant="method", modes=FORMS),
    OpInfo("take_along_dim", lambda ns, x: ns.take_along_dim(x, _I(ns, x, [[0], [2], [2]]), 1), [((3, 4),), ((1, 4),)]),
    OpInfo("take_along_dim", lambda ns, x: ns.take_along_dim(x, _I(ns, x, [3, 3, 0])), [((2, 3),)], variant="flat"),
    OpInfo(
        "take_along_dim",
        lambda ns, x: x.take_along_dim(_I(ns, x, [[1, 0, 1]]), dim=0),
        [((2, 3),)],
        variant="method",
        modes=FORMS,
    ),
    OpInfo(
        "masked_fill",
        lambda ns, x: ns.masked_fill(x, _mask_of(ns, x, [True, False, True]), -2.5),
        [((3,),), ((2, 3),)],
        dtypes=WITH_INT,
    ),
    OpInfo(
        "masked_fill",
        lambda ns, x, v: ns.masked_fill(x, _mask_of(ns, x, [[False], [True]]), v),
        [((2, 3), ())],
        variant="tensor_value",
    ),
    OpInfo(
        "masked_fill",
        lambda ns, x: x.masked_fill(_mask_of(ns, x, [False, True]), 1.0),
        [((2,),)],
        variant="method",
        modes=FORMS,
    ),
    OpInfo(
        "Tensor.masked_fill_",
        lambda ns, x, v: (x * 1.0).masked_fill_(_mask_of(ns, x, [True, False, True]), v),
        [((2, 3), ())],
    ),
    OpInfo(
        "masked_select", lambda ns, x: ns.masked_select(x, _mask_of(ns, x, [True, False, True])), [((3,),), ((2, 3),)]
    ),
    OpInfo(
        "masked_select",
        lambda ns, x: x.masked_select(_mask_of(ns, x, [[True], [False]])),
        [((2, 3),)],
        variant="method",
        modes=FORMS,
    ),
    OpInfo(
        "scatter", lambda ns, x, s: ns.scatter(x, 0, _I(ns, x, [[0, 1, 2, 0], [2, 0, 1, 1]]), s), [((3, 4), (2, 4))]
    ),
    OpInfo(
        "scatter", lambda ns, x, s: ns.scatter(x, -1, _I(ns, x, [[3], [0]]), s), [((2, 4), (2, 1))], variant="last_dim"
    ),
    OpInfo("scatter", lambda ns, x: ns.scatter(x, 1, _I(ns, x, [[2, 0], [1, 1]]), 7.0), [((2, 3),)], variant="value"),
    OpInfo(
        "scatter", lambda ns, x, s: x.scatter(0, _I(ns, x, [1, 0]), s), [((3,), (2,))], variant="method", modes=FORMS
    ),
    OpInfo(
        "scatter_add",
        lambda ns, x, s: ns.scatter_add(x, 0, _I(ns, x, [[0, 1, 0, 0], [0, 2, 1, 0]]), s),
        [((3, 4), (2, 4))],
        dtypes=WITH_INT,
    ),
    OpInfo(
        "scatter_add",
        lambda ns, x, s: ns.scatter_add(x, 1, _I(ns, x, [[1, 1, 1]]), s),
        [((2, 3), (1, 3))],
        variant="dim1",
    ),
    OpInfo(
        "scatter_add",
        lambda ns, x, s: x.scatter_add(0, _I(ns, x, [0, 0]), s),
        [((2,), (2,))],
        variant="method",
        modes=FORMS,
    ),
    OpInfo(
        "index_add",
        lambda ns, x, s, **kw: ns.index_add(x, 1, _I(ns, x, [2, 0, 2]), s, **kw),
        [((2, 4), (2, 3))],
        kwargs=({}, {"alpha": -1.5}),
    ),
    OpInfo(
        "index_add",
        lambda ns, x, s: ns.index_add(x, 0, _I(ns, x, [1, 1]), s),
        [((3, 2), (2, 2)), ((3,), (2,))],
        variant="dim0",
    ),
    OpInfo(
        "index_add",
        lambda ns, x, s: x.index_add(0, _I(ns, x, [0]), s),
        [((2, 3), (1, 3))],
        variant="method",
        modes=FORMS,
    ),
    OpInfo(
        "Tensor.scatter_",
        lambda ns, x, s: (x * 1.0).scatter_(1, _I(ns, x, [[2, 0], [1, 0]]), s),
        [((2, 3), (2, 2))],
    ),
    OpInfo("Tensor.scatter_", lambda ns, x: (x * 1.0).scatter_(0, _I(ns, x, [1, 0]), -3.0), [((3,),)], variant="value"),
    OpInfo(
        "Tensor.scatter_add_",
        lambda ns, x, s: (x * 1.0).scatter_add_(0, _I(ns, x, [[1, 1, 0]]), s),
        [((2, 3), (1, 3))],
    ),
    OpInfo(
        "Tensor.index_add_",
        lambda ns, x, s: (x * 1.0).index_add_(0, _I(ns, x, [1, 1, 0]), s, alpha=2.0),
        [((2, 3), (3, 3))],
    ),
    OpInfo(
        "nonzero",
        lambda ns, x: ns.nonzero(x > 0),
        [((3, 4),), ((5,),), ((0, 2),), ((),)],
        dtypes=WITH_INT,
        modes=NO_GRAD,
    ),
    OpInfo("nonzero", lambda ns, x: x.nonzero(as_tuple=True)[-1], [((3, 4),)], variant="as_tuple", modes=NO_GRAD),
]


def _fn(name):
    """The call of pyad.<name> / torch.<name> with the sample's tensors and keyword arguments."""
    return lambda ns, *t, **kw: getattr(ns, name)(*t, **kw)


def _method_call(name):
    """The call of the Tensor method <name> on the first tensor, with the sample's keyword arguments."""
    return lambda ns, x, **kw: getattr(x, name)(**kw)


def _values_of(name):
    """max / min along a dim: the values of the (values, indices) pair."""
    return lambda ns, x, dim, keepdim: getattr(ns, name)(x, dim, keepdim).values


def _unary(name, call, domain="any", **kw):
    return OpInfo(name, call, UNARY_SHAPES, domain=domain, elementwise=True, **kw)


def _method(name, domain="any", **kw):
    """The Tensor method of the same name as a unary function (x.exp() for pyad.exp)."""
    return _unary(name, _method_call(name), domain, variant="method", modes=FORMS, **kw)


def _binary(name, call, domain="any", **kw):
    return OpInfo(name, call, BINARY_SHAPES, domain=domain, elementwise=True, **kw)


def _scalar(name, variant, call, domain="any"):
    return OpInfo(name, call, SCALAR_SHAPES, domain=domain, variant=variant, modes=FORMS, elementwise=True)


def _index(variant, call, shape=(3, 4, 5)):
    return OpInfo("Tensor.__getitem__", call, [(shape,)], variant=variant)


def _shape_op(name, variant, shape, call, **kw):
    return OpInfo(name, call, [(shape,)], variant=variant, **kw)


# ---------------------------------------------------------------- compositions of other ops (pyad/_composite.py)
INF = float("inf")
ZERO_ROW = _arr(0.0, 0.0, 0.0, 1.5, -2.0, 0.5).reshape(2, 3)
PROD_ZEROS = [
    S(_arr(1.5, 0.0, -2.0, 0.5, 0.7, 3.0).reshape(2, 3), dim=1, name="one_zero"),
    S(_arr(0.0, 1.5, 0.0, -2.0, 0.5, 0.7).reshape(2, 3), dim=1, name="two_zeros"),
    S(_arr(1.5, -0.5, 0.0, 2.0, 0.5, 0.7).reshape(2, 3), name="all_one_zero"),
]
CLOSE_A = _arr(1.0, INF, np.nan, 1.0, 2.0, -INF, 0.0, 1e-9, 100.0)
CLOSE_B = _arr(1.0 + 1e-9, INF, np.nan, INF, 2.1, -INF, 1e-9, 0.0, 100.0005)


def _pieces(split):
    """A splitting op's views, each weighted differently and joined again: one tensor whose gradient says
    which piece every element went to."""
    return lambda ns, x, **kw: ns.cat([p.flatten() * (i + 1.0) for i, p in enumerate(split(ns, x, **kw))])


def _as_tensor(test):
    """A comparison that answers with a Python bool, as a 0-d bool tensor (the value tests compare tensors)."""
    return lambda ns, *t, **kw: ns.tensor(test(ns, *t, **kw))


def _creation(fn):
    return lambda ns, dtype, **kw: fn(ns, dtype=getattr(ns, dtype), **kw)


LINSPACE_ARGS = [
    dict(start=0.0, end=1.0, steps=5),
    dict(start=-3, end=7, steps=4),
    dict(start=1.5, end=-2.0, steps=7),
    dict(start=2.0, end=3.0, steps=1),
    dict(start=0.0, end=1.0, steps=0),
    dict(start=-1.0, end=1.0, steps=100),
]
EINSUM = [
    S((3, 4), (4, 5), eq="ij,jk->ik"),
    S((3, 4), (4, 5), eq="ij,jk"),
    S((2, 3, 4), (2, 4, 5), eq="bij,bjk->bik"),
    S((3, 4), eq="ij->ji"),
    S((2, 3, 4), eq="ijk->kij"),
    S((3, 3), eq="ii->"),
    S((3, 3), eq="ii->i"),
    S((3, 3, 2), eq="iij->j"),
    S((2, 3, 3), eq="bii->b"),
    S((3, 4), eq="ij->"),
    S((3, 4), eq="ij->j"),
    S((3, 4), (3, 4), eq="ij,ij->ij"),
    S((3, 4), (3, 4), eq="bi,bi->b"),
    S((3,), (4,), eq="i,j->ij"),
    S((3,), (3,), eq="i,i"),
    S((3, 4), (2, 4), eq="ij,kj->ikj"),
    S((3, 4), (2, 5), eq="ab,cd->"),
    S((2, 3, 4), (4, 5), eq="...ij,...jk->...ik"),
    S((2, 1, 3), (4, 3), eq="...j,...j->..."),
    S((3, 1), (3, 4), eq="ij,ij->ij"),
    S((3, 4), (4, 5), (5, 2), eq="ij,jk,kl->il"),
    S((3, 4), (4, 2), (2,), eq="ij,jk,k->i"),
    S((0, 3), (3, 2), eq="ij,jk->ik"),
    S((2, 3), eq="ij->ij"),
]

_COMPOSED_ROWS = [
    # creation (no derivative): the call's dtype is a name, looked up in each library
    OpInfo(
        "linspace",
        _creation(lambda ns, **kw: ns.linspace(**kw)),
        [S(dtype=d, **a) for a in LINSPACE_ARGS for d in ("float64", "float32")]
        + [S(dtype="int64", start=0, end=10, steps=5), S(dtype="int64", start=-3, end=7, steps=4)],
        dtypes=(F64,),
        modes=NO_GRAD,
    ),
    OpInfo(
        "logspace",
        _creation(lambda ns, **kw: ns.logspace(**kw)),
        [S(dtype=d, **a) for a in LINSPACE_ARGS for d in ("float64", "float32")]
        + [S(dtype="float64", start=0.0, end=3.0, steps=4, base=2.0), S(dtype="int64", start=0, end=2, steps=3)],
        dtypes=(F64,),
        modes=NO_GRAD,
    ),
    # comparisons of whole tensors
    OpInfo(
        "isclose",
        lambda ns, a, b, **kw: ns.isclose(a, b, **kw),
        [
            S(CLOSE_A, CLOSE_B, name="special"),
            S(CLOSE_A, CLOSE_B, equal_nan=True, name="equal_nan"),
            S(CLOSE_A, CLOSE_B, rtol=0.1, atol=0.0, name="rtol"),
            S(CLOSE_A, CLOSE_B, rtol=0.0, atol=1e-6, name="atol"),
        ],
        modes=NO_GRAD,
    ),
    OpInfo(
        "isclose",
        lambda ns, a, b: ns.isclose(a, b),
        [((2, 3), (2, 3)), ((2, 1), (1, 3)), ((3,), ()), ((0, 3), (3,))],
        domain="int",
        dtypes=WITH_INT,
        variant="broadcast",
        modes=NO_GRAD,
    ),
    OpInfo(
        "allclose",
        _as_tensor(lambda ns, a, b, **kw: ns.allclose(a, b, **kw)),
        [
            S(CLOSE_A[:2], CLOSE_B[:2], name="close"),
            S(CLOSE_A, CLOSE_B, name="not_close"),
            S(CLOSE_A[[0, 1, 2, 4, 5]], CLOSE_B[[0, 1, 2, 4, 5]], equal_nan=True, rtol=0.1, name="equal_nan"),
            S((0, 3), (3,), name="empty"),
        ],
        modes=NO_GRAD,
    ),
    OpInfo(
        "equal",
        _as_tensor(lambda ns, a, b: ns.equal(a, b)),
        [
            S(_arr(1.0, 2.0), _arr(1.0, 2.0), name="same"),
            S(_arr(1.0, 2.0), _arr(1.0, 2.5), name="differ"),
            S(_arr(1.0, 1.0), _arr(1.0), name="broadcastable_shapes"),
            S(_arr(np.nan), _arr(np.nan), name="nan"),
            S((0, 3), (0, 3), name="empty"),
        ],
        dtypes=WITH_INT,
        modes=NO_GRAD,
    ),
    # reductions
    OpInfo(
        "norm",
        lambda ns, x, **kw: ns.norm(x, **kw),
        [
            S((3, 4)),
            S((3, 4), p=1),
            S((3, 4), p=INF),
            S((3, 4), p=-INF),
            S((3, 4), p=3),
            S((2, 3, 4), dim=1),
            S((2, 3, 4), p="fro", dim=(1, 2)),
            S((2, 3, 4), p=1, dim=(0, 2), keepdim=True),
            S((2, 3, 4), p=INF, dim=-1),
            S((2, 3, 4), p=2, dim=0, keepdim=True),
            S(()),
            S((0, 3), dim=1),
            S((0, 3)),
            S(np.zeros(3), name="zero_vector", fd=False),
            S(ZERO_ROW, dim=1, name="zero_row", fd=False),
            S(ZERO_ROW, p=INF, dim=1, name="zero_row_inf", fd=False),
            S(ZERO_ROW, p=1, dim=1, name="zero_row_1", fd=False),
        ],
        domain="nz",
    ),
    OpInfo("norm", lambda ns, x: x.norm(), [((3, 4),), ((5,),)], domain="nz", variant="method", modes=FORMS),
    OpInfo("norm", lambda ns, x: x.norm(0.5, 1), [((3, 4),)], domain="nz", variant="method_p_half", modes=FORMS),
    OpInfo(
        "prod",
        lambda ns, x, **kw: ns.prod(x, **kw),
        [
            S((2, 3, 4)),
            S((2, 3, 4), dim=1),
            S((2, 3, 4), dim=-1, keepdim=True),
            S((3,), dim=0),
            S(()),
            S((), dim=0),
            S((0, 3), dim=1),
            S((3, 0), dim=1),
            S((0, 3)),
            *PROD_ZEROS,
        ],
        domain="nz",
    ),
    OpInfo("prod", lambda ns, x: x.prod(0), [((3, 4),)], domain="nz", variant="method", modes=FORMS),
    OpInfo(
        "prod", lambda ns, x: x.prod(dtype=ns.float64), [S((3,), fd=False)], variant="dtype", modes=FORMS, dtypes=(F32,)
    ),
    *[
        OpInfo(
            r,
            lambda ns, x, r=r, **kw: getattr(ns, r)(x, **kw),
            [
                S((2, 3, 4)),
                S((2, 3, 4), dim=1),
                S((2, 3, 4), dim=(0, 2), keepdim=True),
                S((3, 4), dim=0, correction=0),
                S((3, 4), dim=-1, unbiased=False),
                S((3, 4), dim=1, correction=2),
                S((5,)),
                S((0, 3), dim=1),
            ],
        )
        for r in ("var", "std")
    ],
    *[
        OpInfo(r, lambda ns, x, r=r: getattr(x, r)(1, True, True), [((3, 4),)], variant="method", modes=FORMS)
        for r in ("var", "std")
    ],
    # shapes
    OpInfo("ravel", lambda ns, x: ns.ravel(x), [((2, 3, 4),), ((),)]),
    # (torch.func's vmap cannot reshape an empty tensor to -1: no transforms)
    OpInfo("ravel", lambda ns, x: ns.ravel(x), [((0, 3),)], variant="empty", modes=FORMS),
    OpInfo("ravel", lambda ns, x: x.T.ravel(), [((3, 4),)], variant="method_T", modes=FORMS),
    OpInfo(
        "narrow",
        lambda ns, x, **kw: ns.narrow(x, **kw),
        [
            S((4, 5), dim=1, start=1, length=3),
            S((4, 5), dim=0, start=-2, length=2),
            S((4, 5), dim=-1, start=5, length=0),
        ],
    ),
    OpInfo("narrow", lambda ns, x: x.narrow(0, 1, 2), [((3, 4),)], variant="method", modes=FORMS),
    OpInfo(
        "movedim",
        lambda ns, x, **kw: ns.movedim(x, **kw),
        [
            S((2, 3, 4), source=0, destination=-1),
            S((2, 3, 4), source=(0, 1), destination=(2, 0)),
            S((2, 3, 4), source=[-1], destination=[0]),
        ],
        aliases=("moveaxis",),
    ),
    OpInfo("movedim", lambda ns, x: x.movedim(1, 0), [((2, 3, 4),)], variant="method", modes=FORMS),
    OpInfo(
        "chunk",
        _pieces(lambda ns, x, **kw: ns.chunk(x, **kw)),
        [
            S((6, 4), chunks=3),
            S((5, 4), chunks=3),
            S((2, 7), chunks=3, dim=1),
            S((6,), chunks=4),
            S((0, 3), chunks=2),
        ],
    ),
    OpInfo("chunk", _pieces(lambda ns, x: x.chunk(2, -1)), [((3, 5),)], variant="method", modes=FORMS),
    OpInfo(
        "split",
        _pieces(lambda ns, x, **kw: ns.split(x, **kw)),
        [
            S((5, 4), split_size_or_sections=2),
            S((2, 6), split_size_or_sections=[1, 3, 2], dim=1),
            S((4, 3), split_size_or_sections=[4]),
            S((2, 3), split_size_or_sections=[0, 3], dim=1),
            S((0, 3), split_size_or_sections=2),
        ],
    ),
    OpInfo("split", _pieces(lambda ns, x: x.split([2, 1], 1)), [((3, 3),)], variant="method", modes=FORMS),
    OpInfo(
        "unbind",
        _pieces(lambda ns, x, **kw: ns.unbind(x, **kw)),
        [S((3, 4)), S((3, 4), dim=1), S((2, 3, 4), dim=-1), S((2, 0), dim=0)],
    ),
    OpInfo("unbind", _pieces(lambda ns, x: x.unbind(1)), [((2, 3),)], variant="method", modes=FORMS),
    OpInfo(
        "Tensor.repeat",
        lambda ns, x, sizes: x.repeat(*sizes),
        [
            S((2, 3), sizes=(2, 1)),
            S((2, 3), sizes=(2, 1, 3)),
            S((3,), sizes=(2, 2)),
            S((), sizes=(3,)),
            S((2, 3), sizes=(0, 2)),
        ],
    ),
    OpInfo("Tensor.repeat", lambda ns, x: x.repeat((2, 2)), [((2, 3),)], variant="tuple", modes=FORMS),
    OpInfo(
        "tile",
        lambda ns, x, dims: ns.tile(x, dims),
        [S((2, 3), dims=(2,)), S((2, 3), dims=(1, 2, 2)), S((), dims=(3,))],
    ),
    OpInfo("tile", lambda ns, x: x.tile(2, 1), [((2, 3),)], variant="method", modes=FORMS),
    OpInfo("vstack", lambda ns, *t: ns.vstack(list(t)), [((4,), (3, 4)), ((2, 3), (1, 3)), ((), ()), ((3,),)]),
    OpInfo("hstack", lambda ns, *t: ns.hstack(list(t)), [((4,), (2,)), ((3, 4), (3, 1)), ((), ()), ((2, 0), (2, 3))]),
    # contractions
    OpInfo(
        "tensordot",
        lambda ns, a, b, **kw: ns.tensordot(a, b, **kw),
        [
            S((3, 4), (4, 5), dims=1),
            S((2, 3, 4), (3, 4, 5)),
            S((2, 3, 4), (4, 3, 5), dims=([1, 2], [1, 0])),
            S((3,), (4,), dims=0),
            S((0, 3), (3, 2), dims=1),
        ],
    ),
    OpInfo("einsum", lambda ns, *t, eq: ns.einsum(eq, *t), EINSUM),
    OpInfo("einsum", lambda ns, a, b: ns.einsum("ij,jk->ik", [a, b]), [((3, 4), (4, 2))], variant="list", modes=FORMS),
]


# ---------------------------------------------------------------- the table
# ---- more of torch's surface, composed (pyad/_logical.py, _shape_more.py, _math_more.py) ----
SPECIAL = _arr(0.0, -0.0, 1.5, -2.0, np.inf, -np.inf, np.nan, 3.0)
_MORE_ROWS = [
    *[
        OpInfo(r, lambda ns, x, r=r: getattr(ns, r)(x), [S(SPECIAL), S((2, 3)), S((0, 3))], modes=NO_GRAD)
        for r in ("isnan", "isinf", "isposinf", "isneginf", "isfinite", "isreal", "logical_not")
    ],
    OpInfo("isnan", lambda ns, x: x.isnan(), [S(SPECIAL)], variant="method", modes=NO_GRAD),
    OpInfo("isinf", lambda ns, x: ns.isinf(x), [((2, 3),)], domain="int", dtypes=(I64,), variant="int", modes=NO_GRAD),
    OpInfo(
        "nan_to_num",
        lambda ns, x, **kw: ns.nan_to_num(x, **kw),
        [S(SPECIAL, fd=False), S(SPECIAL, nan=1.0, posinf=9.0, neginf=-9.0, fd=False), S((3, 4))],
    ),
    *[
        OpInfo(
            r,
            lambda ns, a, b, r=r: getattr(ns, r)(a, b),
            [S(SPECIAL[:4], SPECIAL[4:]), ((2, 3), (3,)), ((0, 2), (2,))],
            domain="int",
            dtypes=WITH_INT,
            modes=NO_GRAD,
        )
        for r in ("logical_and", "logical_or", "logical_xor")
    ],
    *[
        OpInfo(
            r,
            lambda ns, x, r=r, **kw: getattr(ns, r)(x, **kw),
            [
                S(SPECIAL),
                S(np.array([[0.0, 1.0], [0.0, 0.0]]), dim=1),
                S(np.array([[0.0, 1.0], [2.0, 3.0]]), dim=0, keepdim=True),
                S((0, 3)),
                S((0, 3), dim=1),
            ],
            dtypes=WITH_INT,
            modes=NO_GRAD,
        )
        for r in ("any", "all")
    ],
    OpInfo(
        "count_nonzero",
        lambda ns, x, **kw: ns.count_nonzero(x, **kw),
        [S(SPECIAL), S(np.array([[0.0, 1.0], [2.0, 0.0]]), dim=1), S((0, 3))],
        dtypes=WITH_INT,
        modes=NO_GRAD,
    ),
    # products and distances
    OpInfo("mv", lambda ns, a, v: ns.mv(a, v), [((3, 4), (4,)), ((0, 2), (2,))]),
    OpInfo("bmm", lambda ns, a, b: ns.bmm(a, b), [((2, 3, 4), (2, 4, 5)), ((0, 2, 3), (0, 3, 1))]),
    OpInfo(
        "addmm",
        lambda ns, c, a, b, **kw: ns.addmm(c, a, b, **kw),
        [S((3, 5), (3, 4), (4, 5)), S((5,), (3, 4), (4, 5), beta=0.5, alpha=2.0), S((1, 5), (3, 4), (4, 5), beta=0)],
    ),
    OpInfo(
        "addmv",
        lambda ns, c, a, v, **kw: ns.addmv(c, a, v, **kw),
        [S((3,), (3, 4), (4,)), S((3,), (3, 4), (4,), beta=2.0, alpha=-1.0)],
    ),
    OpInfo(
        "baddbmm",
        lambda ns, c, a, b, **kw: ns.baddbmm(c, a, b, **kw),
        [S((2, 3, 5), (2, 3, 4), (2, 4, 5)), S((3, 5), (2, 3, 4), (2, 4, 5), alpha=0.5)],
    ),
    OpInfo(
        "addcmul",
        lambda ns, a, b, c, **kw: ns.addcmul(a, b, c, **kw),
        [S((3, 4), (3, 4), (4,)), S((3, 1), (1, 4), (3, 4), value=-0.5)],
    ),
    OpInfo(
        "addcdiv",
        lambda ns, a, b, c, **kw: ns.addcdiv(a, b, c, **kw),
        [S((3, 4), (3, 4), (4,)), S((3, 1), (1, 4), (3, 4), value=2.0)],
        domain=("any", "any", "nz"),
    ),
    OpInfo("lerp", lambda ns, a, b, w: ns.lerp(a, b, w), [((3, 4), (3, 4), (3, 4)), ((3, 4), (4,), ())]),
    OpInfo("lerp", lambda ns, a, b: ns.lerp(a, b, 0.25), [((3, 4), (3, 4))], variant="scalar_weight", modes=FORMS),
    OpInfo(
        "cross",
        lambda ns, a, b, **kw: ns.cross(a, b, **kw),
        [S((4, 3), (4, 3), dim=1), S((3, 5), (3, 5), dim=0), S((2, 3, 2), (1, 3, 2), dim=1), S((3,), (3,), dim=0)],
    ),
    OpInfo(
        "dist",
        lambda ns, a, b, **kw: ns.dist(a, b, **kw),
        [S((3, 4), (3, 4)), S((3, 4), (4,), p=1), S((5,), (5,), p=3)],
        domain="nz",
    ),
    # torch has no forward-mode or double-backward rule for cdist: tests/test_math_more.py checks pyad's there
    OpInfo(
        "cdist",
        lambda ns, a, b, **kw: ns.cdist(a, b, **kw),
        [S((4, 3), (5, 3)), S((2, 4, 3), (2, 5, 3), p=1.0), S((4, 3), (2, 3), p=3.0)],
        domain="nz",
        modes=frozenset({REVERSE, CUDA}),
    ),
    # ... and in every mode against torch's same distances written as a norm of differences (it has those rules)
    OpInfo(
        "cdist",
        lambda ns, a, b, **kw: (
            ns.cdist(a, b, **kw)
            if ns is pyad
            else ns.linalg.vector_norm(a.unsqueeze(-2) - b.unsqueeze(-3), ord=kw.get("p", 2.0), dim=-1)
        ),
        [S((4, 3), (5, 3)), S((2, 4, 3), (2, 5, 3), p=1.0), S((4, 3), (2, 3), p=3.0)],
        domain="nz",
        variant="vs_norm",
    ),
    OpInfo(
        "cosine_similarity",
        lambda ns, a, b, **kw: ns.cosine_similarity(a, b, **kw),
        [S((4, 3), (4, 3)), S((4, 3), (3,), dim=-1), S((2, 3, 4), (2, 3, 4), dim=0)],
        domain="nz",
    ),
    # small elementwise functions
    OpInfo("clamp_min", lambda ns, x: ns.clamp_min(x, 0.2), [((3, 4),)], domain="nz"),
    OpInfo("clamp_max", lambda ns, x: ns.clamp_max(x, 0.2), [((3, 4),)], domain="nz"),
    OpInfo(
        "floor_divide",
        lambda ns, a, b: ns.floor_divide(a, b),
        [((3, 4), (4,)), ((2, 3), ())],
        domain=("int", "nz"),
        dtypes=(F64,),
        modes=NO_GRAD,
    ),
    OpInfo(
        "floor_divide",
        lambda ns, a, b: a // b,
        [S(_arr(7.0, -7.0, 7.0, -7.0, 0.0), _arr(2.0, 2.0, -2.0, -2.0, 3.0))],
        dtypes=(I64,),
        variant="int_operator",
        modes=NO_GRAD,
    ),
    OpInfo(
        "float_power",
        lambda ns, a, b: ns.float_power(a, b),
        [((3, 4), (3, 4)), ((3,), ())],
        domain=("pos", "any"),
        dtypes=(F64,),
    ),
    OpInfo("frac", lambda ns, x: ns.frac(x), [((3, 4),), ((),)], domain="nz"),
    OpInfo("sgn", lambda ns, x: ns.sgn(x), [((3, 4),)], domain="nz"),
    OpInfo(
        "heaviside", lambda ns, x, v: ns.heaviside(x, v), [S(SPECIAL[:4], _arr(0.5)), S((2, 3), (3,))], modes=NO_GRAD
    ),
    OpInfo("sinc", lambda ns, x: ns.sinc(x), [((3, 4),), S(_arr(0.0, 0.5, -1.0), name="at_zero", fd=False)]),
    OpInfo(
        "xlogy",
        lambda ns, a, b: ns.xlogy(a, b),
        [((3, 4), (3, 4)), S(_arr(0.0, 2.0, 0.0), _arr(0.5, 3.0, 2.0), name="zero_x", fd=False)],
        domain=("any", "pos"),
    ),
    OpInfo(
        "logit",
        lambda ns, x, **kw: ns.logit(x, **kw),
        [S(_arr(0.05, 0.3, 0.5, 0.81, 0.95)), S(_arr(0.1, 0.4, 0.5, 0.8), eps=0.3, fd=False)],
    ),
    OpInfo(
        "aminmax",
        lambda ns, x, **kw: ns.stack(list(ns.aminmax(x, **kw))),
        [S((3, 4)), S((3, 4), dim=1), S((2, 3), dim=0, keepdim=True)],
    ),
    *[
        OpInfo(
            r,
            lambda ns, x, r=r, **kw: ns.stack(list(getattr(ns, r)(x, **kw))),
            [S((3, 4)), S((3, 4), dim=1), S((2, 3), dim=0, keepdim=True, correction=0)],
        )
        for r in ("var_mean", "std_mean")
    ],
    OpInfo("median", lambda ns, x: ns.median(x), [((3, 4),), ((5,),), ((),)]),
    OpInfo(
        "median",
        lambda ns, x, **kw: ns.median(x, **kw).values,
        [S((3, 4), dim=1), S((4, 3), dim=0, keepdim=True)],
        variant="dim",
    ),
    # shapes
    OpInfo("broadcast_to", lambda ns, x: ns.broadcast_to(x, (2, 3, 4)), [((3, 1),), ((4,),), ((),)]),
    OpInfo(
        "broadcast_tensors",
        lambda ns, a, b: ns.cat([t.reshape(-1) * (i + 1.0) for i, t in enumerate(ns.broadcast_tensors(a, b))]),
        [((3, 1), (4,)), ((), (2,))],
    ),
    OpInfo(
        "broadcast_shapes",
        lambda ns, x: ns.tensor(list(ns.broadcast_shapes((3, 1), (4,), (2, 1, 1)))),
        [((1,),)],
        modes=NO_GRAD,
    ),
    OpInfo(
        "meshgrid",
        lambda ns, a, b, **kw: ns.cat([t.reshape(-1) * (i + 1.0) for i, t in enumerate(ns.meshgrid(a, b, **kw))]),
        [S((3,), (4,), indexing="ij"), S((3,), (4,), indexing="xy"), S((), (2,), indexing="ij")],
    ),
    *[
        OpInfo(r, lambda ns, x, r=r: getattr(ns, r)(x), [((),), ((3,),), ((2, 3),), ((2, 3, 4),)])
        for r in ("atleast_1d", "atleast_2d", "atleast_3d")
    ],
    OpInfo("column_stack", lambda ns, *t: ns.column_stack(list(t)), [((3,), (3, 2)), ((2,), (2,))]),
    OpInfo("row_stack", lambda ns, *t: ns.row_stack(list(t)), [((4,), (3, 4)), ((), ())]),
    OpInfo("dstack", lambda ns, *t: ns.dstack(list(t)), [((3,), (3,)), ((2, 3), (2, 3, 2))]),
    OpInfo("flipud", lambda ns, x: ns.flipud(x), [((3, 4),), ((5,),)]),
    OpInfo("fliplr", lambda ns, x: ns.fliplr(x), [((3, 4),), ((2, 3, 4),)]),
    OpInfo(
        "rot90",
        lambda ns, x, **kw: ns.rot90(x, **kw),
        [S((3, 4)), S((3, 4), k=2), S((3, 4), k=-1), S((2, 3, 4), k=3, dims=(2, 0)), S((3, 4), k=4)],
    ),
    OpInfo("swapdims", lambda ns, x: ns.swapdims(x, 0, -1), [((2, 3, 4),)]),
    OpInfo(
        "tensor_split",
        _pieces(lambda ns, x, parts, **kw: ns.tensor_split(x, parts, **kw)),
        [S((7, 2), parts=3), S((2, 6), parts=[1, 4], dim=1), S((5,), parts=[2, 2, 9]), S((3,), parts=5)],
    ),
    OpInfo(
        "diag",
        lambda ns, x, **kw: ns.diag(x, **kw),
        [S((4,)), S((3,), diagonal=1), S((3,), diagonal=-2), S((3, 4)), S((4, 3), diagonal=-1), S((3, 4), diagonal=2)],
    ),
    OpInfo(
        "diag_embed",
        lambda ns, x, **kw: ns.diag_embed(x, **kw),
        [S((2, 3)), S((3,), offset=1), S((2, 3), offset=-1, dim1=0, dim2=2), S((2, 3), dim1=-1, dim2=0)],
    ),
    OpInfo("block_diag", lambda ns, *t: ns.block_diag(*t), [((2, 3), (1, 2)), ((2, 2), (3,), ())]),
    OpInfo("cartesian_prod", lambda ns, *t: ns.cartesian_prod(*t), [((3,), (2,)), ((2,), (2,), (3,)), ((4,),)]),
    *[
        OpInfo(
            r,
            lambda ns, x, r=r, **kw: getattr(ns, r)(**kw),
            [
                S((1,), row=4, col=3),
                S((1,), row=3, col=5, offset=1),
                S((1,), row=3, col=3, offset=-1),
                S((1,), row=0, col=2),
            ],
            modes=NO_GRAD,
        )
        for r in ("tril_indices", "triu_indices")
    ],
]

_ROWS = [
    # unary elementwise
    _unary("neg", lambda ns, x: ns.neg(x), aliases=("negative",), dtypes=WITH_INT),
    _unary("neg", lambda ns, x: -x, variant="op", modes=FORMS, dtypes=WITH_INT),
    _unary("exp", lambda ns, x: ns.exp(x)),
    _method("exp"),
    _unary("log", lambda ns, x: ns.log(x), "pos"),
    _method("log", "pos"),
    _unary("log1p", lambda ns, x: ns.log1p(x), "unit"),
    _unary("sin", lambda ns, x: ns.sin(x)),
    _unary("cos", lambda ns, x: ns.cos(x)),
    _unary("tanh", lambda ns, x: ns.tanh(x)),
    _method("tanh"),
    _unary("sigmoid", lambda ns, x: ns.sigmoid(x)),
    _method("sigmoid"),
    _unary("relu", lambda ns, x: ns.relu(x), "nz"),
    _method("relu", "nz"),
    OpInfo("relu", lambda ns, x: ns.relu(x), [S(KINK, name="kink", fd=False)], variant="at_kink", modes=FORMS),
    _unary("softplus", lambda ns, x: ns.softplus(x)),
    _unary("softplus", lambda ns, x: ns.softplus(x * 15.0), variant="wide", modes=FORMS),
    _unary("sqrt", lambda ns, x: ns.sqrt(x), "pos"),
    _method("sqrt", "pos"),
    _unary("abs", lambda ns, x: ns.abs(x), "nz", dtypes=WITH_INT),
    _unary("abs", lambda ns, x: abs(x), "nz", variant="op", modes=FORMS),
    OpInfo("abs", lambda ns, x: ns.abs(x), [S(KINK, name="kink", fd=False)], variant="at_kink", modes=FORMS),
    # sign's derivative is zero everywhere, with a grad_fn, as torch's
    _unary("sign", lambda ns, x: ns.sign(x), "nz"),
    _unary("clamp", lambda ns, x: ns.clamp(x, -0.5, 0.4), aliases=("clip",)),
    _unary("clamp", lambda ns, x: ns.clamp(x, min=-0.25), variant="min", modes=FORMS),
    _unary("clamp", lambda ns, x: ns.clamp(x, max=0.35), variant="max", modes=FORMS),
    _unary("clamp", lambda ns, x: x.clamp(min=-0.1, max=0.6), variant="method", modes=FORMS),
    OpInfo(
        "clamp",
        lambda ns, x: ns.clamp(x, -0.5, 0.5),
        [S(_arr(-0.5, 0.5, -1.0, 0.2, 1.0), name="at_bounds", fd=False)],
        variant="at_bounds",
        modes=FORMS,
    ),
    OpInfo(
        "clamp", lambda ns, x: ns.clamp(x, min=0.0), [S(KINK, name="at_min", fd=False)], variant="at_min", modes=FORMS
    ),
    OpInfo(
        "clamp", lambda ns, x: ns.clamp(x, max=0.0), [S(KINK, name="at_max", fd=False)], variant="at_max", modes=FORMS
    ),
    _binary("clamp", lambda ns, a, b: ns.clamp(a, min=b), variant="tensor_min"),
    _scalar("clamp", "maximum_like", lambda ns, x: ns.clamp(x, min=0.0) - ns.clamp(x, max=0.0), "nz"),
    # pow with a number exponent (or base)
    _unary("pow", lambda ns, x: ns.pow(x, 3.0), variant="scalar_exponent"),
    _unary("pow", lambda ns, x: x**2, variant="op_2", modes=FORMS),
    _unary("pow", lambda ns, x: x**3, variant="op_int3", modes=FORMS),
    _unary("pow", lambda ns, x: x**0.5, "pos", variant="op_half", modes=FORMS),
    _unary("pow", lambda ns, x: x**-1, "nz", variant="op_m1", modes=FORMS),
    _unary("pow", lambda ns, x: ns.pow(x, -1.0), "nz", variant="m1_float", modes=FORMS),
    _unary("pow", lambda ns, x: x.pow(2), variant="method", modes=FORMS),
    _unary("pow", lambda ns, x: 2.0**x, variant="rpow", modes=FORMS),
    OpInfo("pow", lambda ns, x: x**2, [S(_arr(0.0, 1.0), name="at_0")], variant="2_at_0", modes=FORMS),
    OpInfo("pow", lambda ns, x: x**3.0, [S(_arr(0.0, -2.0), name="at_0")], variant="3_at_0", modes=FORMS),
    _unary("expm1", lambda ns, x: ns.expm1(x)),
    _method("expm1"),
    _unary("erf", lambda ns, x: ns.erf(x)),
    _method("erf"),
    _unary("erfc", lambda ns, x: ns.erfc(x)),
    _unary("erfc", lambda ns, x: ns.erfc(x * 3.0), variant="tail", modes=FORMS),
    _unary("sinh", lambda ns, x: ns.sinh(x)),
    _unary("cosh", lambda ns, x: ns.cosh(x)),
    _method("cosh"),
    _unary("tan", lambda ns, x: ns.tan(x), "unit"),
    _unary("asin", lambda ns, x: ns.asin(x), "unit"),
    _unary("acos", lambda ns, x: ns.acos(x), "unit"),
    _method("acos", "unit"),
    _unary("atan", lambda ns, x: ns.atan(x)),
    _unary("asinh", lambda ns, x: ns.asinh(x)),
    _unary("acosh", lambda ns, x: ns.acosh(x + 1.0), "pos"),
    _unary("atanh", lambda ns, x: ns.atanh(x), "unit"),
    _unary("log2", lambda ns, x: ns.log2(x), "pos"),
    _unary("log10", lambda ns, x: ns.log10(x), "pos"),
    _method("log10", "pos"),
    _unary("exp2", lambda ns, x: ns.exp2(x)),
    _unary("rsqrt", lambda ns, x: ns.rsqrt(x), "pos"),
    _method("rsqrt", "pos"),
    _unary("reciprocal", lambda ns, x: ns.reciprocal(x), "nz"),
    _method("reciprocal", "nz"),
    _unary("square", lambda ns, x: ns.square(x), dtypes=WITH_INT),
    _method("square"),
    # rounding: zero gradients, as torch's; integers pass through unchanged
    _unary("floor", lambda ns, x: ns.floor(x * 3.0), dtypes=WITH_INT),
    _unary("ceil", lambda ns, x: ns.ceil(x * 3.0), dtypes=WITH_INT),
    _method("ceil"),
    _unary("round", lambda ns, x: ns.round(x * 3.0), dtypes=WITH_INT),
    OpInfo(
        "round",
        lambda ns, x: ns.round(x),
        [S(_arr(0.5, 1.5, 2.5, -0.5, -1.5), name="halves", fd=False)],
        variant="halves_to_even",
        modes=FORMS,
    ),
    _unary("trunc", lambda ns, x: ns.trunc(x * 3.0), dtypes=WITH_INT),
    # binary elementwise
    _binary("atan2", lambda ns, a, b: ns.atan2(a, b), ("any", "nz")),
    _binary("atan2", lambda ns, a, b: a.atan2(b), ("any", "nz"), variant="method", modes=FORMS),
    _binary("hypot", lambda ns, a, b: ns.hypot(a, b), "nz"),
    _binary("logaddexp", lambda ns, a, b: ns.logaddexp(a, b)),
    _binary("logaddexp", lambda ns, a, b: ns.logaddexp(a * 30.0, b * 30.0), variant="wide", modes=FORMS),
    _binary("fmod", lambda ns, a, b: ns.fmod(a * 3.0, b), ("any", "nz")),
    _binary("fmod", lambda ns, a, b: a.fmod(b), ("any", "nz"), variant="method", modes=FORMS),
    _binary("remainder", lambda ns, a, b: ns.remainder(a * 3.0, b), ("any", "nz")),
    _binary("remainder", lambda ns, a, b: a % b, ("any", "nz"), variant="op", modes=FORMS),
    _scalar("remainder", "tensor_float", lambda ns, x: ns.remainder(x, 0.75)),
    _binary("add", lambda ns, a, b: ns.add(a, b), dtypes=WITH_INT),
    _binary("add", lambda ns, a, b: a + b, variant="op", modes=FORMS),
    _binary("sub", lambda ns, a, b: ns.sub(a, b), aliases=("subtract",), dtypes=WITH_INT),
    _binary("sub", lambda ns, a, b: a - b, variant="op", modes=FORMS),
    _binary("mul", lambda ns, a, b: ns.mul(a, b), aliases=("multiply",), dtypes=WITH_INT),
    _binary("mul", lambda ns, a, b: a * b, variant="op", modes=FORMS),
    _unary("mul", lambda ns, x: x * x, variant="self", modes=FORMS),
    _binary("div", lambda ns, a, b: ns.div(a, b), ("any", "nz"), aliases=("divide", "true_divide"), dtypes=WITH_INT),
    _binary("div", lambda ns, a, b: a / b, ("any", "nz"), variant="op", modes=FORMS),
    _binary("pow", lambda ns, a, b: ns.pow(a, b), ("pos", "any")),
    _binary("pow", lambda ns, a, b: a**b, ("pos", "any"), variant="op", modes=FORMS),
    _binary("maximum", lambda ns, a, b: ns.maximum(a, b), dtypes=WITH_INT),
    OpInfo("maximum", lambda ns, a, b: ns.maximum(a, b), TIES, variant="ties", modes=FORMS),
    _binary("minimum", lambda ns, a, b: ns.minimum(a, b), dtypes=WITH_INT),
    OpInfo("minimum", lambda ns, a, b: ns.minimum(a, b), TIES, variant="ties", modes=FORMS),
    _binary("max", lambda ns, a, b: ns.max(a, b), variant="binary", modes=FORMS),
    OpInfo("max", lambda ns, a, b: ns.max(a, b), TIES, variant="binary_ties", modes=FORMS),
    _binary("min", lambda ns, a, b: ns.min(a, b), variant="binary", modes=FORMS),
    OpInfo("min", lambda ns, a, b: ns.min(a, b), TIES, variant="binary_ties", modes=FORMS),
    # a Python number on either side
    _scalar("add", "tensor_float", lambda ns, x: x + 2.5),
    _scalar("add", "float_tensor", lambda ns, x: 2.5 + x),
    _scalar("add", "tensor_int", lambda ns, x: x + 2),
    _scalar("add", "fn_float", lambda ns, x: ns.add(x, 1.5)),
    _scalar("sub", "tensor_float", lambda ns, x: x - 1.5),
    _scalar("sub", "float_tensor", lambda ns, x: 2.0 - x),
    _scalar("sub", "int_tensor", lambda ns, x: 2 - x),
    _scalar("sub", "fn_float", lambda ns, x: ns.sub(x, 1.5)),
    _scalar("mul", "tensor_float", lambda ns, x: x * 3.0),
    _scalar("mul", "float_tensor", lambda ns, x: 3.0 * x),
    _scalar("mul", "int_tensor", lambda ns, x: 3 * x),
    _scalar("mul", "fn_float", lambda ns, x: ns.mul(x, -2.0)),
    _scalar("div", "tensor_float", lambda ns, x: x / 4.0),
    _scalar("div", "tensor_int", lambda ns, x: x / 4),
    _scalar("div", "float_tensor", lambda ns, x: 3.0 / x, "nz"),
    _scalar("div", "int_tensor", lambda ns, x: 3 / x, "nz"),
    _scalar("div", "fn_float", lambda ns, x: ns.div(x, -2.0)),
    _scalar("pow", "tensor_float", lambda ns, x: x**2.0),
    _scalar("pow", "float_tensor", lambda ns, x: 3.0**x),
    _scalar("pow", "int_tensor", lambda ns, x: 2**x),
    # where: the condition is computed from input 0, which gets no gradient
    OpInfo("where", lambda ns, c, a, b: ns.where(c > 0, a, b), WHERE_SHAPES, domain=("nz", "any", "any"), nondiff=(0,)),
    OpInfo(
        "where",
        lambda ns, a, b: ns.where(a > 0, a, b),
        BINARY_SHAPES[:6],
        domain="nz",
        variant="self_condition",
        modes=FORMS,
        elementwise=True,
    ),
    OpInfo(
        "where", lambda ns, a: ns.where(a > 0, a, 0.0), [((2, 3),)], domain="nz", variant="scalar_other", modes=FORMS
    ),
    OpInfo(
        "where",
        lambda ns, a: ns.where(a > 0, a * a, ns.exp(a)),
        [((2, 3),)],
        domain="nz",
        variant="computed_branches",
        modes=FORMS,
    ),
    # comparisons (no derivative)
    *[
        OpInfo(
            c,
            _fn(c),
            [((2, 3), (2, 3)), ((2, 1), (1, 3)), ((3,), ()), ((0, 3), (3,))],
            domain="int",
            dtypes=WITH_INT,
            modes=NO_GRAD,
            elementwise=True,
        )
        for c in ("eq", "ne", "lt", "le", "gt", "ge")
    ],
    # reductions
    *[OpInfo(r, _fn(r), _reduce_samples(r)) for r in ("sum", "mean", "amax", "amin")],
    *[
        OpInfo(r, _method_call(r), [((2, 3, 4),), ((3,),), ((),), ((4, 1, 3),)], variant="method_all", modes=FORMS)
        for r in ("sum", "mean", "amax", "amin", "max", "min")
    ],
    *[
        OpInfo(
            r,
            _fn(r),
            [
                S(REDUCE_TIES, dim=1, name="ties_dim1", fd=False),
                S(REDUCE_TIES, dim=0, keepdim=True, name="ties_dim0_keep", fd=False),
                S(REDUCE_TIES * 0.0 + 1.0, name="all_equal", fd=False),
                S(REDUCE_TIES, name="ties_all", fd=False),
            ],
            variant="ties",
            modes=FORMS,
        )
        for r in ("amax", "amin")
    ],
    *[
        OpInfo(
            r,
            _method_call(r),
            [S(REDUCE_TIES, name="ties", fd=False), S(REDUCE_TIES * 0.0 + 1.0, name="all_equal", fd=False)],
            variant="all_ties",
            modes=FORMS,
        )
        for r in ("max", "min")
    ],
    *[
        OpInfo(
            r,
            _values_of(r),
            _dim_samples(MAX_DIM_CASES) + [S(REDUCE_TIES, dim=1, keepdim=False, name="ties", fd=False)],
            variant="dim",
        )
        for r in ("max", "min")
    ],
    OpInfo("logsumexp", lambda ns, x, dim, keepdim: ns.logsumexp(x, dim, keepdim=keepdim), _dim_samples(LSE_CASES)),
    OpInfo(
        "logsumexp",
        lambda ns, x, dim: ns.logsumexp(x, dim),
        [S(BIG, dim=1, name="large_values", fd=False), S(MASKED, dim=-1, name="masked_-inf", fd=False)],
        variant="extremes",
        modes=FORMS,
    ),
    *[OpInfo(f, _fn(f), SOFTMAX_SAMPLES) for f in ("softmax", "log_softmax")],
    *[OpInfo(f, _method_call(f), SOFTMAX_SAMPLES, variant="method", modes=FORMS) for f in ("softmax", "log_softmax")],
    # scans
    OpInfo("cumsum", lambda ns, x: ns.cumsum(x, 1), [((3, 4),), ((2, 0),), ((2, 3, 4),)]),
    OpInfo("cumsum", lambda ns, x: ns.cumsum(x, -1), [((6,),), ((),)], variant="last"),
    OpInfo("cumsum", lambda ns, x: x.cumsum(0), [((4, 3),), ((3, 2, 2),)], variant="method_dim0", modes=FORMS),
    OpInfo("cumprod", lambda ns, x: ns.cumprod(x, 1), [((3, 4),), ((2, 0),), ((2, 3, 4),)]),
    OpInfo("cumprod", lambda ns, x: ns.cumprod(x, 0), [((5, 3),), ((),), ((1, 4),)], variant="dim0"),
    OpInfo(
        "cumprod",
        lambda ns, x: ns.cumprod(x, 1),
        [S(_arr(1.5, 0.0, -2.0, 0.5, 0.0, 3.0).reshape(2, 3), name="zeros")],
        variant="with_zeros",
    ),
    # sorting and selection: values are differentiable rows, indices (and argsort, argmax, argmin) values-only
    # rows (random data has no ties; tests/test_sort.py checks ties, NaN and the errors)
    OpInfo("sort", lambda ns, x, **kw: ns.sort(x, **kw).values, SORT_SAMPLES),
    OpInfo("sort", lambda ns, x, **kw: x.sort(**kw).values, SORT_SAMPLES[:3], variant="method", modes=FORMS),
    OpInfo("sort", lambda ns, x, **kw: ns.sort(x, **kw).indices, SORT_SAMPLES, variant="indices", modes=NO_GRAD),
    OpInfo("sort", lambda ns, x: ns.sort(x.transpose(0, 1), 0).values, [((3, 4),)], variant="strided", modes=FORMS),
    OpInfo("argsort", _fn("argsort"), SORT_SAMPLES, modes=NO_GRAD),
    OpInfo("argsort", lambda ns, x, **kw: x.argsort(**kw), SORT_SAMPLES[:3], variant="method", modes=NO_GRAD),
    OpInfo("topk", lambda ns, x, **kw: ns.topk(x, **kw).values, TOPK_SAMPLES),
    OpInfo("topk", lambda ns, x, **kw: x.topk(**kw).values, TOPK_SAMPLES[:2], variant="method", modes=FORMS),
    OpInfo("topk", lambda ns, x, **kw: ns.topk(x, **kw).indices, TOPK_SAMPLES, variant="indices", modes=NO_GRAD),
    *[OpInfo(f, _fn(f), ARG_SAMPLES, modes=NO_GRAD) for f in ("argmax", "argmin")],
    *[OpInfo(f, _method_call(f), ARG_SAMPLES[:3], variant="method", modes=NO_GRAD) for f in ("argmax", "argmin")],
    # gather: the index is fixed data (repeats included, so the VJP's accumulation is tested) on x's device
    OpInfo("gather", lambda ns, x: ns.gather(x, 1, _index_of(ns, x, [[0, 2, 0], [1, 1, 3]])), [((2, 4),), ((3, 5),)]),
    OpInfo(
        "gather", lambda ns, x: ns.gather(x, 0, _index_of(ns, x, [[1, 0], [1, 1], [0, 1]])), [((2, 3),)], variant="dim0"
    ),
    OpInfo(
        "gather",
        lambda ns, x: ns.gather(x, -2, _index_of(ns, x, [[[2, 0]], [[1, 1]]])),
        [((2, 3, 4),)],
        variant="3d_neg_dim",
    ),
    OpInfo("gather", lambda ns, x: x.gather(0, _index_of(ns, x, [2, 2, 0])), [((3,),)], variant="method", modes=FORMS),
    OpInfo("gather", lambda ns, x: ns.gather(x, 0, _index_of(ns, x, 0)), [((),), ((3,),)], variant="0d_index"),
    OpInfo(
        "gather",
        lambda ns, x: ns.gather(x, 1, _index_of(ns, x, [[]]).reshape(1, 0)),
        [((2, 3),)],
        variant="empty_index",
        modes=FORMS,
    ),
    # ---- indexing by tensors (wt-idx): indices and masks are fixed data on x's device, with repeats and negatives,
    # so the VJP's accumulation is tested; tests/test_indexing.py draws random ones and checks the errors
    *_INDEX_ROWS,
    # flips, rolls, triangles, diagonals
    OpInfo("flip", lambda ns, x: ns.flip(x, (0, 1)), [((3, 4),), ((2, 0, 3),)]),
    OpInfo("flip", lambda ns, x: ns.flip(x, [-1]), [((2, 3, 4),), ((5,),)], variant="last"),
    OpInfo("flip", lambda ns, x: x.flip(0), [((3, 2),)], variant="method", modes=FORMS),
    OpInfo("flip", lambda ns, x: ns.flip(x.transpose(0, 1)[::2], (0,)), [((3, 5),)], variant="strided", modes=FORMS),
    OpInfo("roll", lambda ns, x: ns.roll(x, 1), [((3, 4),), ((),), ((0, 3),)]),
    OpInfo("roll", lambda ns, x: ns.roll(x, (1, -5), (0, 1)), [((3, 4),), ((2, 3, 4),)], variant="dims"),
    OpInfo("roll", lambda ns, x: ns.roll(x, (2, -7, 1), (1, 0, -1)), [((3, 4),)], variant="repeated_dim", modes=FORMS),
    OpInfo(
        "roll",
        lambda ns, x: ns.roll(x, (2**40 + 1, -(2**40) - 3), (0, 1)),
        [((3, 5),)],
        variant="huge_shifts",
        modes=FORMS,
    ),
    OpInfo("roll", lambda ns, x: x.transpose(0, 1).roll(2), [((3, 4),)], variant="method_strided", modes=FORMS),
    OpInfo("tril", lambda ns, x: ns.tril(x), [((3, 4),), ((2, 3, 4),), ((0, 3),)]),
    OpInfo("tril", lambda ns, x: ns.tril(x, -1), [((4, 3),)], variant="below", modes=FORMS),
    OpInfo("tril", lambda ns, x: x.tril(5), [((3, 3),)], variant="method_far", modes=FORMS),
    OpInfo("triu", lambda ns, x: ns.triu(x, 1), [((3, 4),), ((2, 4, 3),), ((3, 0),)]),
    OpInfo("triu", lambda ns, x: x.triu(-2), [((4, 4),)], variant="method_below", modes=FORMS),
    OpInfo("diagonal", lambda ns, x: ns.diagonal(x), [((3, 4),), ((4, 3),), ((0, 3),)]),
    OpInfo("diagonal", lambda ns, x: ns.diagonal(x, 1), [((3, 4),), ((3, 3),)], variant="offset"),
    OpInfo("diagonal", lambda ns, x: ns.diagonal(x, -1, 2, 0), [((2, 3, 4),)], variant="dims"),
    OpInfo("diagonal", lambda ns, x: x.diagonal(5), [((3, 4),)], variant="method_empty", modes=FORMS),
    OpInfo("diagonal", lambda ns, x: ns.diagonal(x * x, 0, -1, -2), [((2, 3, 3),)], variant="of_result"),
    OpInfo("trace", lambda ns, x: ns.trace(x), [((3, 4),), ((4, 4),)]),
    OpInfo("trace", lambda ns, x: x.trace(), [((3, 2),)], variant="method", modes=FORMS),
    OpInfo(
        "kron",
        lambda ns, a, b: ns.kron(a, b),
        [((2, 3), (4, 2)), ((3,), (2, 2)), ((), (3,)), ((), ()), ((2, 0), (3, 1))],
    ),
    OpInfo("kron", lambda ns, a, b: a.kron(b), [((2, 1, 2), (3, 2))], variant="method", modes=FORMS),
    # matrix products
    OpInfo("matmul", lambda ns, a, b: ns.matmul(a, b), MATMUL_SHAPES),
    OpInfo("matmul", lambda ns, a, b: a @ b, MATMUL_SHAPES, variant="op", modes=FORMS),
    OpInfo("matmul", lambda ns, a, b: a.matmul(b), [((3, 4), (4, 5))], variant="method", modes=FORMS),
    OpInfo("matmul", lambda ns, a, b: a.T @ b, [((4, 3), (4, 5))], variant="xT@y", modes=FORMS),
    OpInfo("matmul", lambda ns, a, b: a @ b.T, [((3, 4), (5, 4))], variant="x@yT", modes=FORMS),
    OpInfo("matmul", lambda ns, a, b: a.T @ b.T, [((4, 3), (5, 4))], variant="xT@yT", modes=FORMS),
    OpInfo("matmul", lambda ns, a, b: a.mT @ b.mT, [((2, 4, 3), (2, 5, 4))], variant="mT_batched", modes=FORMS),
    OpInfo(
        "matmul",
        lambda ns, a, b: a.transpose(1, 2) @ b,
        [((2, 4, 3), (4, 5))],
        variant="transpose_batched",
        modes=FORMS,
    ),
    OpInfo("matmul", lambda ns, a, b: a[:, ::2] @ b, [((3, 6), (3, 5))], variant="sliced", modes=FORMS),
    OpInfo("matmul", lambda ns, a: a @ a.T, [((3, 4),)], variant="same_input", modes=FORMS),
    OpInfo("matmul", lambda ns, a: a.T @ a, [((3, 4),)], variant="same_input_T", modes=FORMS),
    OpInfo("mm", lambda ns, a, b: ns.mm(a, b), [((3, 4), (4, 2)), ((0, 4), (4, 2))]),
    OpInfo("dot", lambda ns, a, b: ns.dot(a, b), [((5,), (5,)), ((0,), (0,))]),
    OpInfo("outer", lambda ns, a, b: ns.outer(a, b), [((3,), (4,)), ((0,), (4,))]),
    OpInfo("outer", lambda ns, a, b: a.outer(b), [((3,), (1,))], variant="method", modes=FORMS),
    # shape ops
    _shape_op("reshape", "", (2, 3, 4), lambda ns, x: ns.reshape(x, (3, 8))),
    _shape_op("Tensor.reshape", "", (2, 3, 4), lambda ns, x: x.reshape(6, 4)),
    _shape_op("Tensor.reshape", "tuple", (2, 3, 4), lambda ns, x: x.reshape((4, -1)), modes=FORMS),
    _shape_op("Tensor.reshape", "flat", (2, 3, 4), lambda ns, x: x.reshape(-1), modes=FORMS),
    _shape_op("Tensor.reshape", "of_scalar", (), lambda ns, x: x.reshape(1, 1), modes=FORMS),
    _shape_op("Tensor.reshape", "to_scalar", (1,), lambda ns, x: x.reshape(()), modes=FORMS),
    _shape_op("Tensor.reshape", "empty", (0, 3), lambda ns, x: x.reshape(3, 0), modes=FORMS),
    _shape_op("Tensor.reshape", "of_T", (3, 4), lambda ns, x: x.T.reshape(12), modes=FORMS),
    _shape_op("Tensor.view", "", (2, 3, 4), lambda ns, x: x.view(4, 6)),
    _shape_op("Tensor.view", "m1", (2, 3, 4), lambda ns, x: x.view(2, -1), modes=FORMS),
    _shape_op("transpose", "", (2, 3, 4), lambda ns, x: ns.transpose(x, -1, -2), aliases=("swapaxes",)),
    _shape_op("transpose", "method", (2, 3, 4), lambda ns, x: x.transpose(0, 2), modes=FORMS),
    _shape_op("permute", "", (2, 3, 4), lambda ns, x: ns.permute(x, (2, 1, 0))),
    _shape_op("permute", "method", (2, 3, 4), lambda ns, x: x.permute(2, 0, 1), modes=FORMS),
    _shape_op("permute", "method_tuple", (2, 3, 4), lambda ns, x: x.permute((1, 2, 0)), modes=FORMS),
    _shape_op("permute", "then_mul", (2, 3, 4), lambda ns, x: x.permute(2, 1, 0) * 1.0, modes=FORMS),
    _shape_op("Tensor.T", "", (3, 4), lambda ns, x: x.T),
    _shape_op("Tensor.mT", "", (2, 3, 4), lambda ns, x: x.mT),
    _shape_op("squeeze", "", (1, 3), lambda ns, x: ns.squeeze(x, 0)),
    _shape_op("squeeze", "method_all", (4, 1, 3, 1), lambda ns, x: x.squeeze(), modes=FORMS),
    _shape_op("squeeze", "method_dim", (4, 1, 3), lambda ns, x: x.squeeze(1), modes=FORMS),
    _shape_op("squeeze", "method_neg", (4, 1, 3), lambda ns, x: x.squeeze(-2), modes=FORMS),
    _shape_op("squeeze", "method_noop", (4, 1, 3), lambda ns, x: x.squeeze(0), modes=FORMS),
    _shape_op("squeeze", "method_scalar", (), lambda ns, x: x.squeeze(), modes=FORMS),
    _shape_op("unsqueeze", "", (2, 3), lambda ns, x: ns.unsqueeze(x, 1)),
    _shape_op("unsqueeze", "method_0", (2, 3), lambda ns, x: x.unsqueeze(0), modes=FORMS),
    _shape_op("unsqueeze", "method_last", (2, 3), lambda ns, x: x.unsqueeze(-1), modes=FORMS),
    _shape_op("unsqueeze", "method_scalar", (), lambda ns, x: x.unsqueeze(0), modes=FORMS),
    _shape_op("Tensor.expand", "", (4, 1, 3), lambda ns, x: x.expand(4, 5, 3)),
    _shape_op("Tensor.expand", "new_dims", (3,), lambda ns, x: x.expand(2, 4, 3), modes=FORMS),
    _shape_op("Tensor.expand", "m1", (4, 1, 3), lambda ns, x: x.expand(-1, 2, -1), modes=FORMS),
    _shape_op("Tensor.expand", "tuple", (1, 3), lambda ns, x: x.expand((2, 3)), modes=FORMS),
    _shape_op("Tensor.expand", "of_scalar", (), lambda ns, x: x.expand(2, 3), modes=FORMS),
    _shape_op("Tensor.expand", "then_mul", (2, 1), lambda ns, x: x.expand(2, 3) * x, modes=FORMS),
    _shape_op("Tensor.expand", "then_sum", (4, 1, 3), lambda ns, x: x.expand(4, 5, 3).sum(1), modes=FORMS),
    _shape_op("Tensor.expand", "then_T_matmul", (3, 1), lambda ns, x: x.expand(3, 4).T @ x, modes=FORMS),
    OpInfo(
        "flatten",
        _fn("flatten"),
        [((2, 3, 4),), S(())],
        kwargs=({"start_dim": 1}, {"start_dim": 0, "end_dim": 1}, {"start_dim": -2, "end_dim": -1}, {}),
    ),
    _shape_op("flatten", "method", (2, 3, 4), lambda ns, x: x.flatten(), modes=FORMS),
    _shape_op("Tensor.clone", "", (2, 3), lambda ns, x: x.clone()),
    _shape_op("Tensor.clone", "then_mul", (2, 3), lambda ns, x: x.clone() * x, modes=FORMS),
    _shape_op("Tensor.to", "f64", (2, 3), lambda ns, x: x.to(ns.float64) * 2.0, modes=FORMS),
    # (a float32 result: finite differences in float64 do not apply)
    OpInfo("Tensor.to", lambda ns, x: x.to(ns.float32), [S((2, 3), fd=False)], variant="f32", modes=FORMS),
    OpInfo(
        "Tensor.to",
        lambda ns, x: ns.sin(x.to(ns.float32)).to(ns.float64),
        [S((2, 3), fd=False)],
        variant="f32_f64",
        modes=FORMS,
    ),
    _shape_op("Tensor.double", "", (2, 3), lambda ns, x: (x * 3.0).double(), modes=FORMS),
    # joining
    OpInfo(
        "cat",
        lambda ns, *t: ns.cat(list(t), 0),
        [((2, 3), (4, 3)), ((0, 3), (2, 3)), ((2, 3),)],
        aliases=("concat", "concatenate"),
    ),
    OpInfo(
        "cat", lambda ns, *t: ns.cat(list(t), dim=1), [((2, 3), (2, 1), (2, 2)), ((2, 3),)], variant="dim1", modes=FORMS
    ),
    OpInfo("cat", lambda ns, *t: ns.cat(t, -1), [((2, 3, 1), (2, 3, 2))], variant="tuple_neg_dim", modes=FORMS),
    OpInfo("cat", lambda ns, *t: ns.cat(list(t)), [((3,), (2,), (1,))], variant="1d", modes=FORMS),
    OpInfo("cat", lambda ns, *t: ns.cat([t[0], t[0] * 2.0], 0), [((2, 3),)], variant="same", modes=FORMS),
    OpInfo(
        "cat", lambda ns, *t: ns.cat([t[0].T, t[1][:, ::2].T.T], 1), [((3, 2), (2, 3))], variant="views", modes=FORMS
    ),
    OpInfo("stack", lambda ns, *t: ns.stack(list(t), 0), [((2, 3), (2, 3)), ((), (), ()), ((0, 3), (0, 3))]),
    OpInfo(
        "stack",
        lambda ns, *t: ns.stack(list(t), dim=1),
        [((2, 3), (2, 3), (2, 3)), ((0, 3), (0, 3))],
        variant="dim1",
        modes=FORMS,
    ),
    OpInfo("stack", lambda ns, *t: ns.stack(t, -1), [((2, 3), (2, 3))], variant="tuple_neg_dim", modes=FORMS),
    # indexing
    _index("int", lambda ns, x: x[1]),
    _index("neg_int", lambda ns, x: x[-1]),
    _index("int_int", lambda ns, x: x[1, 2]),
    _index("int_int_int", lambda ns, x: x[1, -1, 0]),
    _index("slice", lambda ns, x: x[:, 1:3]),
    _index("neg_slice", lambda ns, x: x[:, -2:]),
    _index("neg_slice_stop", lambda ns, x: x[:-1, :, 1:-1]),
    _index("ellipsis_step", lambda ns, x: x[..., ::2]),
    _index("step", lambda ns, x: x[::2, 1::2]),
    _index("none_int", lambda ns, x: x[None, 0]),
    _index("int_none", lambda ns, x: x[0, :, None]),
    _index("mixed", lambda ns, x: x[1:, ..., 0]),
    _index("ellipsis_int", lambda ns, x: x[..., 1]),
    _index("empty_slice", lambda ns, x: x[1:1]),
    _index("out_of_range_slice", lambda ns, x: x[:, 2:10]),
    _index("double_index", lambda ns, x: x[1][2]),
    _index("index_twice_add", lambda ns, x: x[0] + x[0] * 2.0 + x[-1]),
    _index("index_of_permuted", lambda ns, x: x.permute(2, 1, 0)[1:, 0]),
    _index("full", lambda ns, x: x[:]),
    _index("1d_int", lambda ns, x: x[2], (5,)),
    _index("1d_first", lambda ns, x: x[-5], (5,)),
    _index("1d_step", lambda ns, x: x[1:4:2], (5,)),
    _index("1d_none", lambda ns, x: x[None], (5,)),
    *_COMPOSED_ROWS,
    *_MORE_ROWS,
]


# ---------------------------------------------------------------- linalg (pyad.linalg)
# The samples are made well conditioned inside the call (the same composition runs in both libraries): square
# matrices as a + n I, symmetric positive-definite ones as a a^T + n I, symmetric ones as a + a^T. Outputs fixed
# only up to a sign (eigenvectors, singular vectors) enter through products that do not depend on it.
def _wc(ns, a):
    n = a.shape[-1]
    return a + n * ns.eye(n, dtype=a.dtype, device=a.device)


def _thin(ns, a):
    """a (..., m, n) with 3 added along its diagonal: full rank min(m, n), well conditioned, so that products of
    thin factors are rank-deficient matrices whose nonzero singular values sit well above the rank cut."""
    return a + 3 * ns.eye(a.shape[-2], a.shape[-1], dtype=a.dtype, device=a.device)


def _low_rank(ns, a, b):
    return _thin(ns, a) @ _thin(ns, b)


def _spd(ns, a):
    n = a.shape[-1]
    return a @ a.mT + n * ns.eye(n, dtype=a.dtype, device=a.device)


def _joined(ns, *outs):
    return ns.cat([o.flatten() * (i + 1.0) for i, o in enumerate(outs)])


def _cholesky_solve(ns):  # torch has it as torch.cholesky_solve, pyad as pyad.linalg.cholesky_solve
    return getattr(ns.linalg, "cholesky_solve", None) or ns.cholesky_solve


def _eigh_inv(ns, a, **kw):
    w, v = ns.linalg.eigh(a + a.mT, **kw)
    return _joined(ns, w, (v * ns.sin(w).unsqueeze(-2)) @ v.mT)


def _svd_inv(ns, a, **kw):
    u, s, vh = ns.linalg.svd(a, full_matrices=False)
    return _joined(ns, s, (u * ns.sin(s).unsqueeze(-2)) @ vh, u @ u.mT, vh.mT @ vh)


SQUARE_SHAPES = [((3, 3),), ((2, 4, 4),), ((1, 1),), ((0, 3, 3),)]
SOLVE_SHAPES = [
    ((3, 3), (3, 2)),
    ((2, 3, 3), (2, 3, 1)),
    ((2, 3, 3), (3,)),
    ((2, 1, 3, 3), (4, 3, 2)),
    ((0, 3, 3), (0, 3, 2)),
]
RECT_SHAPES = [((4, 3),), ((3, 3),), ((2, 3, 5),), ((0, 4, 2),)]
TRI_KWARGS = [
    dict(upper=u, left=lf, unitriangular=un) for u in (True, False) for lf in (True, False) for un in (False, True)
]
MATRIX_NORM_ORDS = ["fro", "nuc", math.inf, -math.inf, 1, -1, 2, -2]
_LINALG_ROWS = [
    OpInfo("linalg.solve", lambda ns, a, b: ns.linalg.solve(_wc(ns, a), b), SOLVE_SHAPES),
    OpInfo(
        "linalg.solve",
        lambda ns, a, b: ns.linalg.solve(_wc(ns, a), b, left=False),
        [((3, 3), (2, 3)), ((2, 3, 3), (4, 1, 2, 3))],
        variant="right",
        modes=FORMS,
    ),
    OpInfo("linalg.inv", lambda ns, a: ns.linalg.inv(_wc(ns, a)), SQUARE_SHAPES),
    OpInfo("linalg.det", lambda ns, a: ns.linalg.det(_wc(ns, a)), SQUARE_SHAPES),
    OpInfo("linalg.det", lambda ns, a: ns.linalg.det(a), [((3, 3),), ((2, 2, 2),)], variant="raw", modes=FORMS),
    OpInfo("linalg.slogdet", lambda ns, a: ns.linalg.slogdet(_wc(ns, a) - 4.0 * a).logabsdet, SQUARE_SHAPES),
    OpInfo(
        "linalg.slogdet",
        lambda ns, a: ns.linalg.slogdet(a).sign,
        [((3, 3),), ((2, 4, 4),)],
        variant="sign",
        modes=NO_GRAD,
    ),
    OpInfo("linalg.cholesky", lambda ns, a, **kw: ns.linalg.cholesky(_spd(ns, a), **kw), SQUARE_SHAPES),
    OpInfo(
        "linalg.cholesky",
        lambda ns, a: ns.linalg.cholesky(_spd(ns, a), upper=True),
        [((3, 3),)],
        variant="upper",
        modes=FORMS,
    ),
    OpInfo(
        "linalg.cholesky_solve",
        lambda ns, b, a, **kw: _cholesky_solve(ns)(b, ns.linalg.cholesky(_spd(ns, a)), **kw),
        [((3, 2), (3, 3)), ((2, 4, 1), (2, 4, 4)), ((3, 4, 2), (4, 4)), ((0, 3, 2), (3, 3))],
    ),
    OpInfo(
        "linalg.cholesky_solve",
        lambda ns, b, a: _cholesky_solve(ns)(b, _wc(ns, a).tril()),
        [((3, 2), (3, 3))],
        kwargs=[{}],
        variant="full_L",
        modes=FORMS,
    ),
    OpInfo(
        "linalg.cholesky_solve",
        lambda ns, b, a: _cholesky_solve(ns)(b, _wc(ns, a).triu(), upper=True),
        [((3, 2), (3, 3))],
        variant="upper",
        modes=FORMS,
    ),
    OpInfo(
        "linalg.solve_triangular",
        lambda ns, a, b, left=True, **kw: ns.linalg.solve_triangular(_wc(ns, a), b if left else b.mT, left=left, **kw),
        [((3, 3), (3, 2)), ((2, 3, 3), (3, 4))],
        kwargs=TRI_KWARGS,
    ),
    OpInfo(
        "linalg.solve_triangular",
        lambda ns, a, b: ns.linalg.solve_triangular(_wc(ns, a), b, upper=False),
        [((2, 1, 3, 3), (4, 3, 2)), ((0, 3, 3), (3, 1))],
        variant="broadcast",
        modes=FORMS,
    ),
    OpInfo("linalg.qr", lambda ns, a, **kw: _joined(ns, *ns.linalg.qr(a, **kw)), RECT_SHAPES),
    OpInfo(
        "linalg.qr",
        lambda ns, a: _joined(ns, *ns.linalg.qr(a, mode="complete")),
        [((3, 3),), ((2, 3, 5),)],
        variant="complete",
        modes=FORMS,
    ),
    OpInfo("linalg.qr", lambda ns, a: ns.linalg.qr(a, mode="r").R, [((4, 3),), ((3, 5),)], variant="r", modes=NO_GRAD),
    OpInfo("linalg.eigh", _eigh_inv, [((3, 3),), ((2, 4, 4),), ((0, 2, 2),)], kwargs=[{}, dict(UPLO="U")]),
    OpInfo("linalg.eigvalsh", lambda ns, a: ns.linalg.eigvalsh(a + a.mT), [((3, 3),), ((2, 4, 4),)]),
    OpInfo("linalg.svd", _svd_inv, [((4, 3),), ((3, 3),), ((2, 3, 5),)]),
    OpInfo("linalg.svdvals", lambda ns, a: ns.linalg.svdvals(a), RECT_SHAPES),
    OpInfo(
        "linalg.lstsq",
        lambda ns, a, b: ns.linalg.lstsq(a, b).solution,
        [((5, 3), (5, 2)), ((2, 3, 5), (2, 3, 1)), ((4, 4), (4, 2)), ((5, 3), (5,))],
    ),
    # Rank-deficient input as a product of thin factors, so that finite differences and torch move both factors
    # and the rank stays fixed (pinv has no derivative where it changes). The cut is set at 1e-4 of the largest
    # singular value: in float32 the product's null singular values land near the default cut (eps * max(m, n)
    # of it) and the rank would be a coin flip. test_linalg.py tests the default cut.
    OpInfo(
        "linalg.lstsq",
        lambda ns, a, b, c: ns.linalg.lstsq(_low_rank(ns, a, b), c, rcond=1e-4).solution,
        [((5, 2), (2, 3), (5, 2)), ((3, 1), (1, 4), (3,)), ((2, 4, 3), (2, 3, 4), (2, 4, 1))],
        variant="rank_deficient",
    ),
    OpInfo("linalg.pinv", lambda ns, a: ns.linalg.pinv(a), RECT_SHAPES),
    OpInfo(
        "linalg.pinv",
        lambda ns, a, b: ns.linalg.pinv(_low_rank(ns, a, b), rtol=1e-4),
        [((4, 2), (2, 3)), ((3, 1), (1, 5)), ((2, 3, 2), (2, 2, 4))],
        variant="rank_deficient",
    ),
    OpInfo(
        "linalg.pinv",
        lambda ns, a: ns.linalg.pinv(_thin(ns, a) @ _thin(ns, a).mT, rtol=1e-4, hermitian=True),
        [((4, 2),), ((2, 3, 2),)],
        variant="hermitian",
    ),
    OpInfo(
        "linalg.matrix_rank",
        lambda ns, a, b, **kw: ns.linalg.matrix_rank(_low_rank(ns, a, b), **kw),
        [((4, 2), (2, 3)), ((2, 3, 3), (2, 3, 3))],
        kwargs=(dict(rtol=1e-4), dict(atol=0.5), dict(rtol=0.3)),
        dtypes=FLOATS,
        modes=NO_GRAD,
    ),
    OpInfo(
        "linalg.matrix_norm",
        lambda ns, a, **kw: ns.linalg.matrix_norm(a, **kw),
        [S((3, 4), ord=o) for o in MATRIX_NORM_ORDS]
        + [S((2, 3, 3), ord=o, keepdim=True) for o in ("fro", 1, 2)]
        + [S((3, 2, 4), ord=o, dim=(0, 2)) for o in ("nuc", math.inf)],
    ),
    OpInfo(
        "linalg.vector_norm",
        lambda ns, a, **kw: ns.linalg.vector_norm(a, **kw),
        [S((3, 4)), S((3, 4), ord=1, dim=1), S((2, 3, 4), ord=math.inf, dim=(0, 2), keepdim=True), S((5,), ord=3.5)],
        domain="nz",
    ),
    OpInfo(
        "linalg.norm",
        lambda ns, a, **kw: ns.linalg.norm(a, **kw),
        [S((3, 4)), S((3, 4), ord="nuc"), S((2, 3, 4), ord=2, dim=(1, 2)), S((2, 3, 4), dim=1), S((5,), ord=1)],
        domain="nz",
    ),
]


# Compositions of several ops (not one export each): they test the engine's bookkeeping (one tensor used twice,
# chains of rules), in every mode as the ops are.
_COMPOSITES = [
    OpInfo("self_chain", lambda ns, x: ns.exp(ns.sin(x)) * x - x / 3.0, UNARY_SHAPES, composite=True),
    OpInfo("tanh_mul_div", lambda ns, a, b: ns.tanh(a * b + a) / (1.0 + b * b), BINARY_SHAPES, composite=True),
    OpInfo("view_chain", lambda ns, x: x.permute(1, 0, 2).reshape(3, 8).T.unsqueeze(0), [((2, 3, 4),)], composite=True),
]

OP_DB = [r for op in _ROWS + _LINALG_ROWS for r in [op] + _alias_rows(op)] + _COMPOSITES

# The op functions pyad exports: the C++ op list's (pyad._C.__all__, Note [The op list]) and those written in
# Python (pyad._functions.__all__) or composed of other ops (pyad._composite.__all__).
EXPORTED_OPS = sorted({name for module in pyad._OP_MODULES for name in module.__all__})
# linalg: pyad.linalg's functions, by their dotted names
EXPORTED_OPS += sorted(f"linalg.{n}" for n in pyad.linalg.__all__ if n != "LinAlgError")


# Where pyad is known to differ from torch: (mode, row id, sample id) -> why. Those tests are strict xfails, so the
# fix shows up as a failure that asks for the entry to go.
KNOWN_DIFFERENCES = {
    (FORWARD, "logsumexp", "(0, 3)-dim=0,keepdim=False"): "over an empty dim torch's tangent is NaN, pyad's 0",
    (FORWARD, "logsumexp", "(0, 3)-dim=0,keepdim=True"): "over an empty dim torch's tangent is NaN, pyad's 0",
}


def resolve(name):
    """The pyad object a row's name refers to (None when there is none)."""
    if name.startswith("Tensor."):
        return getattr(pyad.Tensor, name[len("Tensor.") :], None)
    obj = pyad
    for part in name.split("."):  # a dotted name (linalg.solve) is looked up attribute by attribute
        obj = getattr(obj, part, None)
    return obj


def params(mode, *, where=lambda op: True, with_samples=True):
    """pytest parameters (op, sample) over every row that supports `mode` ("gradcheck" follows REVERSE), one per
    sample the mode runs; with_samples=False gives one parameter per row."""
    needs = REVERSE if mode == "gradcheck" else mode
    out = []
    for op in OP_DB:
        if needs not in op.modes or not where(op):
            continue
        if not with_samples:
            out.append(pytest.param(op, id=op.id))
            continue
        for s in op.samples_for(mode):
            why = KNOWN_DIFFERENCES.get((mode, op.id, s.id()))
            marks = [pytest.mark.xfail(reason=why, strict=True)] if why else []
            out.append(pytest.param(op, s, id=f"{op.id}-{s.id()}", marks=marks))
    return out


def skip_unless_on(op, device):
    """Rows without the cuda mode run on the CPU only (the device fixture runs every parity test on both)."""
    if device == "cuda" and CUDA not in op.modes:
        pytest.skip(f"{op.id} is not run on CUDA")


def inputs(op, sample, dtype=F64, seed=0, requires_grad=False):
    """pyad leaves (on the default device) for one sample; requires_grad on the differentiable inputs."""
    arrays = sample.arrays(op.domains(len(sample.inputs)), seed)
    dts = dtype if isinstance(dtype, (list, tuple)) else [dtype] * len(arrays)
    diff = op.diff_inputs(len(arrays))
    return [leaf(a, d, requires_grad=requires_grad and i in diff) for i, (a, d) in enumerate(zip(arrays, dts))]


def tangent_placements(op, n):
    """Which inputs carry a tangent in the forward-mode tests: each differentiable input alone, then all."""
    diff = op.diff_inputs(n)
    return [(i,) for i in diff] + ([tuple(diff)] if len(diff) > 1 else [])
