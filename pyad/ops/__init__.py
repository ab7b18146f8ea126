"""The op coverage table: for every public op, what pyad has for it, found by running it.

(`python -m pyad.ops` prints it: pyad/ops/__main__.py.)

coverage() lists every exported op (the op list: _C.__all__, which the kernels/math.h rows and def_op
fill, plus pyad._functions.__all__ and pyad._composite.__all__) with

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

    return sorted(set(pyad._C.__all__) | set(pyad._functions.__all__) | set(pyad._composite.__all__))


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
}


def _probe_of(name: str) -> tuple[Callable[..., Any], tuple[Any, ...]] | None:
    import pyad

    if name in _SPECIAL:
        return _SPECIAL[name]
    fn = getattr(pyad, name, None)
    if fn is None:
        return None
    for shapes in (_X, _XY):  # the elementwise ops and their aliases: f(x) or f(x, y)
        try:
            fn(*[_t(s) for s in shapes])
        except TypeError:
            continue
        return (lambda ns, *xs, _n=name: getattr(ns, _n)(*xs)), shapes
    return None


def _kind(name: str) -> str:
    import pyad

    if name in pyad._composite.__all__:
        return "composite"
    if name in pyad._C.__all__:
        return "kernel"
    return "wrapper"


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
