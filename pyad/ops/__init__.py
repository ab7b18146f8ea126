"""The op coverage table: for every public op, what pyad has for it, found by running it.

(`python -m pyad.ops` prints it: pyad/ops/__main__.py.)

coverage() lists every exported op (the op list: _C.__all__, which the kernels/math.h rows and def_op
fill, plus the Python op modules of pyad._OP_MODULES and pyad.linalg's functions) with

* kind: "kernel" (a C++ op with its own kernel, run by both backends: csrc/kernels/backend.inc declares each
  kernel once for the CPU and the CUDA backend), "composite" (a composition of other ops, in Python or C++:
  it runs wherever they run) or "wrapper" (torch's signature in Python over a _C op);
* cpu, cuda: whether it has a kernel (or, for a composite, its ops have) on that backend. Both come from
  the one kernel list (csrc/kernels/backend.inc), which every backend implements whole, so they are claimed
  together; the CUDA side is compiled only in CUDA builds and exercised by the op_db rows' cuda mode on a GPU;
* vjp, jvp, double_backward, batched: whether a reverse pass, a forward pass, the gradient of a gradient and a
  forward pass with a leading batch of tangents (the batched-tangent rule vmap builds on) work on a small
  probe of the op, in float64 (for an op with integer outputs, none apply);
* sparsity: whether pyad.func.sparse_jacobian can detect a pattern through it: the probe runs on the
  sparsity tracer (pyad/_sparsity_trace.py), whose rules are keyed by _C op name (a composite has one when
  every op it is made of has);
* vmap_rule: the kind of vmap batching rule the op gets (pyad.func.vmap_rules(): "rule" for a batching rule,
  "loop" where vmap falls back to a loop over the samples), where that table has the op; a composite batches
  through its ops' rules ("composite").

Probing runs each op on tiny inputs once (a few milliseconds per op). `python -m pyad.ops` prints the
table; docs/coverage.md is the same table with a column saying how tests/op_db.py tests each op
(tools/gen_coverage.py writes it; tests/test_coverage.py checks it is current and that every rule the
table claims is exercised by gradcheck in that mode).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

__all__ = ["OpCoverage", "coverage", "format_table", "op_names"]

RULES = ("vjp", "jvp", "double_backward", "batched")


class OpCoverage(NamedTuple):
    """One op's row of the coverage table."""

    name: str
    kind: str
    cpu: bool
    cuda: bool
    vjp: bool
    jvp: bool
    double_backward: bool
    batched: bool
    sparsity: bool
    vmap_rule: str = "-"
    note: str = ""


def op_names() -> list[str]:
    """Every exported op: the names of the op list, sorted."""
    import pyad

    names = {n for module in pyad._OP_MODULES for n in module.__all__}
    return sorted(names | {f"linalg.{n}" for n in pyad.linalg.__all__ if n != "LinAlgError"})


def _t(shape: tuple[int, ...], seed: int = 0, low: float = 0.3, high: float = 0.9) -> Any:
    import pyad

    return pyad.tensor(np.random.default_rng(seed).uniform(low, high, shape), dtype=pyad.float64)


# Probes: op name -> (call, input shapes). The call takes the pyad namespace and float64 tensors drawn in
# (0.3, 0.9) (inside every op's domain: log, sqrt, asin, atanh ...); a shape of None marks a bool condition.
_X, _XY, _M = ((3,),), ((3,), (3,)), ((3, 3),)
_SPECIAL: dict[str, tuple[Callable[..., Any], tuple[Any, ...]]] = {
    "acosh": (lambda ns, x: ns.acosh(x + 1.0), _X),
    "amax": (lambda ns, x: ns.amax(x, 0), _M),
    "amin": (lambda ns, x: ns.amin(x, 0), _M),
    "argmax": (lambda ns, x: ns.argmax(x), _X),
    "argmin": (lambda ns, x: ns.argmin(x), _X),
    "argsort": (lambda ns, x: ns.argsort(x), _X),
    "allclose": (lambda ns, a, b: ns.allclose(a, b), _XY),
    "cat": (lambda ns, a, b: ns.cat([a, b]), _XY),
    "chunk": (lambda ns, x: ns.chunk(x, 3)[1], _X),
    "clamp": (lambda ns, x: ns.clamp(x, 0.4, 0.8), _X),
    "clip": (lambda ns, x: ns.clip(x, 0.4, 0.8), _X),
    "concat": (lambda ns, a, b: ns.concat([a, b]), _XY),
    "concatenate": (lambda ns, a, b: ns.concatenate([a, b]), _XY),
    "cumprod": (lambda ns, x: ns.cumprod(x, 0), _X),
    "cumsum": (lambda ns, x: ns.cumsum(x, 0), _X),
    "diagonal": (lambda ns, x: ns.diagonal(x), _M),
    "dot": (lambda ns, a, b: ns.dot(a, b), _XY),
    "einsum": (lambda ns, a, b: ns.einsum("ij,j->i", a, b), ((3, 3), (3,))),
    "equal": (lambda ns, a, b: ns.equal(a, b), _XY),
    "flatten": (lambda ns, x: ns.flatten(x), _M),
    "flip": (lambda ns, x: ns.flip(x, (0,)), _X),
    "gather": (lambda ns, x: ns.gather(x, 0, ns.tensor([2, 0])), _X),
    "hstack": (lambda ns, a, b: ns.hstack([a, b]), _XY),
    "isclose": (lambda ns, a, b: ns.isclose(a, b), _XY),
    "kron": (lambda ns, a, b: ns.kron(a, b), ((2, 2), (2, 2))),
    "linspace": (lambda ns, a, b: ns.linspace(a[0], b[0], 4), _XY),
    "log_softmax": (lambda ns, x: ns.log_softmax(x, 0), _X),
    "logspace": (lambda ns, a, b: ns.logspace(a[0], b[0], 4), _XY),
    "logsumexp": (lambda ns, x: ns.logsumexp(x, 0), _X),
    "matmul": (lambda ns, a, b: ns.matmul(a, b), ((3, 3), (3,))),
    "max": (lambda ns, x: ns.max(x), _X),
    "mean": (lambda ns, x: ns.mean(x), _X),
    "min": (lambda ns, x: ns.min(x), _X),
    "mm": (lambda ns, a, b: ns.mm(a, b), (_M[0], _M[0])),
    "moveaxis": (lambda ns, x: ns.moveaxis(x, 0, 1), ((2, 3),)),
    "movedim": (lambda ns, x: ns.movedim(x, 0, 1), ((2, 3),)),
    "narrow": (lambda ns, x: ns.narrow(x, 0, 1, 2), _X),
    "norm": (lambda ns, x: ns.norm(x), _X),
    "outer": (lambda ns, a, b: ns.outer(a, b), _XY),
    "permute": (lambda ns, x: ns.permute(x, (1, 0)), ((2, 3),)),
    "prod": (lambda ns, x: ns.prod(x), _X),
    "ravel": (lambda ns, x: ns.ravel(x), _M),
    "reshape": (lambda ns, x: ns.reshape(x, (9,)), _M),
    "roll": (lambda ns, x: ns.roll(x, 1), _X),
    "softmax": (lambda ns, x: ns.softmax(x, 0), _X),
    "sort": (lambda ns, x: ns.sort(x).values, _X),
    "split": (lambda ns, x: ns.split(x, [1, 2])[1], _X),
    "squeeze": (lambda ns, x: ns.squeeze(x), ((3, 1),)),
    "stack": (lambda ns, a, b: ns.stack([a, b]), _XY),
    "std": (lambda ns, x: ns.std(x), _X),
    "sum": (lambda ns, x: ns.sum(x), _X),
    "swapaxes": (lambda ns, x: ns.swapaxes(x, 0, 1), ((2, 3),)),
    "tensordot": (lambda ns, a, b: ns.tensordot(a, b, 1), (_M[0], (3,))),
    "tile": (lambda ns, x: ns.tile(x, (2,)), _X),
    "topk": (lambda ns, x: ns.topk(x, 2).values, _X),
    "trace": (lambda ns, x: ns.trace(x), _M),
    "transpose": (lambda ns, x: ns.transpose(x, 0, 1), ((2, 3),)),
    "tril": (lambda ns, x: ns.tril(x), _M),
    "triu": (lambda ns, x: ns.triu(x), _M),
    "unbind": (lambda ns, x: ns.unbind(x)[1], _M),
    "unsqueeze": (lambda ns, x: ns.unsqueeze(x, 0), _X),
    "var": (lambda ns, x: ns.var(x), _X),
    "vstack": (lambda ns, a, b: ns.vstack([a, b]), _XY),
    "where": (lambda ns, a, b: ns.where(a > 0.6, a, b), _XY),
    # more of torch's surface (pyad/_math_more.py, _shape_more.py)
    "addcdiv": (lambda ns, a, b: ns.addcdiv(a, b, a + 1.0), _XY),
    "aminmax": (lambda ns, x: ns.aminmax(x).max, _X),
    "broadcast_tensors": (lambda ns, a, b: ns.broadcast_tensors(a, b[:1])[1], _XY),
    "meshgrid": (lambda ns, a, b: ns.meshgrid(a, b)[0], _XY),
    "std_mean": (lambda ns, x: ns.std_mean(x)[0], _X),
    "var_mean": (lambda ns, x: ns.var_mean(x)[0], _X),
    "addcmul": (lambda ns, a, b: ns.addcmul(a, b, b), _XY),
    "addmm": (lambda ns, a, b: ns.addmm(a, a, b), (_M[0], _M[0])),
    "addmv": (lambda ns, a, b: ns.addmv(b, a, b), ((3, 3), (3,))),
    "baddbmm": (lambda ns, a, b: ns.baddbmm(a, a, b), ((2, 3, 3), (2, 3, 3))),
    "bmm": (lambda ns, a, b: ns.bmm(a, b), ((2, 3, 3), (2, 3, 3))),
    "broadcast_to": (lambda ns, x: ns.broadcast_to(x, (2, 3)), _X),
    "cdist": (lambda ns, a, b: ns.cdist(a, b + 1.0), ((3, 2), (4, 2))),
    "cosine_similarity": (lambda ns, a, b: ns.cosine_similarity(a, b), ((2, 3), (2, 3))),
    "fliplr": (lambda ns, x: ns.fliplr(x), _M),
    "lerp": (lambda ns, a, b: ns.lerp(a, b, 0.3), _XY),
    "mv": (lambda ns, a, b: ns.mv(a, b), ((3, 3), (3,))),
    "rot90": (lambda ns, x: ns.rot90(x), _M),
    "swapdims": (lambda ns, x: ns.swapdims(x, 0, 1), ((2, 3),)),
    "tensor_split": (lambda ns, x: ns.tensor_split(x, 2)[0], _X),
    "tril_indices": (lambda ns, x: ns.tril_indices(3, 3), _X),
    "triu_indices": (lambda ns, x: ns.triu_indices(3, 3), _X),
    # indexing (pyad/_index_ops.py, csrc/ops/index_ops.cpp)
    "index_add": (lambda ns, a, b: ns.index_add(a, 0, ns.tensor([2, 0, 2]), b), _XY),
    "index_put": (lambda ns, a, b: ns.index_put(a, (ns.tensor([2, 0]),), b[:2]), _XY),
    "index_select": (lambda ns, x: ns.index_select(x, 0, ns.tensor([2, 0, 2])), _X),
    "masked_fill": (lambda ns, x: ns.masked_fill(x, x > 0.6, 0.5), _X),
    "masked_select": (lambda ns, x: ns.masked_select(x, x > 0.6), _X),
    "scatter": (lambda ns, a, b: ns.scatter(a, 0, ns.tensor([2, 0]), b), _XY),
    "scatter_add": (lambda ns, a, b: ns.scatter_add(a, 0, ns.tensor([2, 0, 2]), b), _XY),
    "take": (lambda ns, x: ns.take(x, ns.tensor([[2, 0], [8, 4]])), _M),
    "take_along_dim": (lambda ns, x: ns.take_along_dim(x, ns.tensor([[2], [0], [1]]), 1), _M),
    # linalg (pyad/linalg/): square inputs made well conditioned or positive definite
    "linalg.cholesky": (lambda ns, a: ns.linalg.cholesky(_spd(ns, a)), _M),
    "linalg.cholesky_solve": (
        lambda ns, a, b: ns.linalg.cholesky_solve(b, ns.linalg.cholesky(_spd(ns, a))),
        ((3, 3), (3, 2)),
    ),
    "linalg.det": (lambda ns, a: ns.linalg.det(_spd(ns, a)), _M),
    "linalg.eigh": (lambda ns, a: ns.linalg.eigh(_spd(ns, a)).eigenvalues, _M),
    "linalg.eigvalsh": (lambda ns, a: ns.linalg.eigvalsh(_spd(ns, a)), _M),
    "linalg.inv": (lambda ns, a: ns.linalg.inv(_spd(ns, a)), _M),
    "linalg.lstsq": (lambda ns, a, b: ns.linalg.lstsq(_spd(ns, a), b).solution, ((3, 3), (3, 2))),
    "linalg.matrix_norm": (lambda ns, a: ns.linalg.matrix_norm(a), _M),
    "linalg.matrix_rank": (lambda ns, a: ns.linalg.matrix_rank(_spd(ns, a)), _M),
    "linalg.pinv": (lambda ns, a: ns.linalg.pinv(_spd(ns, a)), _M),
    "linalg.qr": (lambda ns, a: ns.linalg.qr(_spd(ns, a)).R, _M),
    "linalg.slogdet": (lambda ns, a: ns.linalg.slogdet(_spd(ns, a)).logabsdet, _M),
    "linalg.solve": (lambda ns, a, b: ns.linalg.solve(_spd(ns, a), b), ((3, 3), (3,))),
    "linalg.solve_triangular": (
        lambda ns, a, b: ns.linalg.solve_triangular(ns.linalg.cholesky(_spd(ns, a)), b, upper=False),
        ((3, 3), (3, 2)),
    ),
    "linalg.svd": (lambda ns, a: ns.linalg.svd(_spd(ns, a)).S, _M),
    "linalg.svdvals": (lambda ns, a: ns.linalg.svdvals(_spd(ns, a)), _M),
}


def _resolve(ns: Any, name: str) -> Any:
    for part in name.split("."):
        ns = getattr(ns, part)
    return ns


def _spd(ns: Any, a: Any) -> Any:
    """A well-conditioned symmetric positive-definite matrix from a (3, 3) probe input."""
    return a @ a.mT + ns.eye(3, dtype=a.dtype)


def _probe_of(name: str) -> tuple[Callable[..., Any], tuple[Any, ...]] | None:
    import pyad

    if name in _SPECIAL:
        return _SPECIAL[name]
    fn: Any = pyad
    for part in name.split("."):  # linalg.solve: pyad.linalg.solve
        fn = getattr(fn, part, None)
    if fn is None:
        return None
    for shapes in (_X, _XY):  # the elementwise ops and their aliases: f(x) or f(x, y)
        try:
            fn(*[_t(s) for s in shapes])
        except (TypeError, RuntimeError, ValueError, IndexError):
            continue
        return (lambda ns, *xs, _n=name: _resolve(ns, _n)(*xs)), shapes
    return None


def _kind(name: str) -> str:
    import pyad

    if name in pyad._C.__all__ or name.startswith("linalg."):  # linalg: LAPACK kernels with their own rules
        return "kernel"
    if name in pyad._functions.__all__:
        return "wrapper"
    return "composite"


def _works(run: Callable[[], Any]) -> bool:
    try:
        return bool(run())
    except (RuntimeError, TypeError, ValueError, NotImplementedError):
        return False


def _probe(name: str) -> OpCoverage:
    import pyad
    from pyad.autograd import forward_ad

    kind = _kind(name)
    probe = _probe_of(name)
    if probe is None:
        return OpCoverage(name, kind, False, False, False, False, False, False, False, "-", "no probe")
    call, shapes = probe

    def inputs(grad: bool = False) -> list[Any]:
        return [_t(s, seed=i).requires_grad_(grad) for i, s in enumerate(shapes)]

    out = call(pyad, *inputs())
    if not (isinstance(out, pyad.Tensor) and out.dtype.is_floating_point):
        # integer or bool results (argmax, comparisons): no derivative applies
        return OpCoverage(
            name,
            kind,
            True,
            True,
            False,
            False,
            False,
            False,
            False,
            _vmap_kind(name, kind),
            "no derivative (integer result)",
        )

    def vjp() -> bool:
        xs = inputs(True)
        y = call(pyad, *xs)
        return y.requires_grad and len(pyad.autograd.grad([y.sum()], xs, allow_unused=True)) == len(xs)

    def jvp(batch: int | None = None) -> bool:
        xs = inputs()
        with forward_ad.dual_level():
            lead = () if batch is None else (batch,)
            # (_C.make_dual takes a leading batch of tangents; the public make_dual refuses one, as torch's)
            duals = [pyad._C.make_dual(x, _t(lead + tuple(x.shape), seed=7)) for x in xs]
            t = forward_ad.unpack_dual(call(pyad, *duals)).tangent
            want = lead + tuple(out.shape)
            return t is not None and tuple(t.shape) == want

    def double() -> bool:
        xs = inputs(True)
        y = call(pyad, *xs)
        gs = pyad.autograd.grad([(y * y).sum()], xs, create_graph=True, allow_unused=True)
        total = sum(g.sum() for g in gs if g is not None)
        # A gradient that does not require grad is a constant (ceil's zeros, a linear op's): its own
        # derivative is exactly zero, which is the double backward.
        if not getattr(total, "requires_grad", False):
            return True
        return len(pyad.autograd.grad([total], xs, allow_unused=True)) == len(xs)

    def sparsity() -> bool:
        from pyad._sparsity_trace import detect

        first, rest = inputs()[0], inputs()[1:]
        detect(lambda x: call(pyad, x, *rest), first)
        return True

    return OpCoverage(
        name,
        kind,
        cpu=True,
        cuda=True,
        vjp=_works(vjp),
        jvp=_works(jvp),
        double_backward=_works(double),
        batched=_works(lambda: jvp(2)),
        sparsity=_works(sparsity),
        vmap_rule=_vmap_kind(name, kind),
    )


def _vmap_kind(name: str, kind: str) -> str:
    """vmap's rule kind for the op, read defensively (the table's shape is vmap's to change)."""
    try:
        from pyad.func import vmap_rules

        table = vmap_rules()
    except (ImportError, AttributeError, TypeError):
        return "-"
    got = table.get(name) if isinstance(table, dict) else None
    if got is None:
        return "composite" if kind == "composite" else "-"
    return str(got)


@functools.lru_cache(maxsize=1)
def _table() -> tuple[OpCoverage, ...]:
    return tuple(_probe(n) for n in op_names())


def coverage() -> list[OpCoverage]:
    """The coverage table: one OpCoverage per exported op, sorted by name (probed once per process)."""
    return list(_table())


def format_table(rows: list[OpCoverage] | None = None, tested: dict[str, str] | None = None) -> str:
    """The table as Markdown; `tested` (op -> how its tests run it) adds a column."""
    rows = coverage() if rows is None else rows
    head = ["op", "kind", "CPU", "CUDA", "VJP", "JVP", "double backward", "batched tangents", "sparsity rule", "vmap"]
    if tested is not None:
        head.append("tested by (tests/op_db.py modes)")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def mark(b: bool) -> str:
        return "yes" if b else "-"

    for r in rows:
        cells = [f"`{r.name}`", r.kind] + [mark(getattr(r, c)) for c in ("cpu", "cuda", *RULES, "sparsity")]
        cells.append(r.vmap_rule)
        if tested is not None:
            cells.append(tested.get(r.name, "**no row**"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
