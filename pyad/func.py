"""Function transforms with torch.func's semantics: grad, grad_and_value, vjp, jvp, jacrev, jacfwd,
hessian, hvp, linearize, plus jacobian(mode="auto") that picks the cheaper mode, and functional_call.

Arguments, outputs, tangents and cotangents are pytrees (nested tuples, lists, dicts and namedtuples of
tensors, flattened by optree), laid out as torch.func lays them out: a Jacobian of a pytree output with a
tuple argnums is the output's tree of tuples of the arguments' trees. So a loss written as a function of
a module's parameter dict (functional_call) is differentiated like any other function, MAML's inner step
included (grad nested in grad).

jacfwd pushes all n input directions through f in one forward-mode pass (tangents carry a leading batch dim;
the identity seed is never multiplied out) and jacrev pulls all m output directions back in one batched
backward pass: neither loops over directions in Python, except in chunks when chunk_size is given.
Transforms compose in any order, forward over forward included (jacfwd(jacfwd(f)), jvp of jvp): each
forward-mode transform has its own dual level (Note [Nested dual levels] in csrc/autograd/forward_ad.h).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

import optree

from . import _C, _jac_budget
from ._batched import BatchedTensor, batch_at_open_levels
from ._batching_rules import vmap_rules
from ._C import Tensor
from ._grad_mode import enable_grad, is_grad_enabled, no_grad
from .autograd import forward_ad

if TYPE_CHECKING:
    from ._typing import Argnums, PyTree

__all__ = [
    "functional_call",
    "grad",
    "grad_and_value",
    "hessian",
    "hvp",
    "implicit_root",
    "jacfwd",
    "jacobian",
    "jacrev",
    "jvp",
    "linearize",
    "sparse_hessian",
    "sparse_jacobian",
    "vjp",
    "vmap",
    "vmap_rules",
]

# Inside vmap, a leaf may be a BatchedTensor: one sample's view of the batch (pyad/_batched.py).
_TENSORS = (Tensor, BatchedTensor)


# ---- pytree plumbing ----
# Arguments, outputs, cotangents and tangents are pytrees (nested tuples, lists, dicts, namedtuples) flattened by
# optree; every leaf in a differentiated position is a tensor. None is a leaf, as in torch's pytrees (torch's
# optree-based ones flatten with none_is_leaf=True too), so a None where a tensor is expected is refused.
_NONE_IS_LEAF = True
_LEAF = optree.tree_structure(cast(Any, None), none_is_leaf=_NONE_IS_LEAF)  # one leaf: None is one here


def _check_fn(f: object, name: str) -> None:
    if not callable(f):
        raise TypeError(f"[{name}] expected a function, got {type(f).__name__}")


def _tuple(x: Any) -> tuple[Any, ...]:
    return x if isinstance(x, tuple) else (x,)


def _check_leaves(tree: PyTree, fn: str, where: str, floating: bool = True) -> tuple[list[Any], Any]:
    """tree's leaves and treespec, each leaf checked to be a tensor (a floating one where `floating`); the
    error names the leaf by its path from `where` (e.g. "args[0]['w']")."""
    if type(tree) is Tensor and (not floating or tree.dtype.is_floating_point):
        return [tree], _LEAF  # the common case, without a flatten: a transform's fixed cost is mostly this plumbing
    leaves, spec = optree.tree_flatten(tree, none_is_leaf=_NONE_IS_LEAF)
    if all(isinstance(x, _TENSORS) and (not floating or x.dtype.is_floating_point) for x in leaves):
        return leaves, spec
    # Only on error: paths cost a second, slower flatten.
    accessors, leaves, spec = optree.tree_flatten_with_accessor(tree, none_is_leaf=_NONE_IS_LEAF)
    for acc, x in zip(accessors, leaves):
        if not isinstance(x, _TENSORS):
            raise TypeError(
                f"[{fn}] expected every leaf of {where} to be a Tensor, got {type(x).__name__} at {acc.codify(where)}"
            )
        if floating and not x.dtype.is_floating_point:
            raise TypeError(
                f"[{fn}] differentiated tensors must be floating point, got {x.dtype} at {acc.codify(where)}"
            )
    return leaves, spec


def _argnums(argnums: Argnums, nargs: int, fn: str) -> tuple[int, ...]:
    nums = _tuple(argnums)
    if not nums:
        raise ValueError(f"[{fn}] argnums must be a non-empty int or tuple of ints, got {argnums!r}")
    for a in nums:
        if not isinstance(a, int) or isinstance(a, bool) or not -nargs <= a < nargs:
            raise ValueError(f"[{fn}] argnums {argnums!r} out of range for {nargs} positional arguments")
    nums = tuple(a % nargs for a in nums)
    if len(set(nums)) != len(nums):
        raise ValueError(f"[{fn}] argnums {argnums!r} must not repeat an argument")
    return nums


class _Diff:
    """The differentiated arguments args[nums], flattened: leaves (one flat list across the arguments),
    one treespec per argument, and how to rebuild args with new leaves or regroup per-leaf results."""

    def __init__(self, args: Sequence[Any], argnums: Argnums, fn: str, name: str = "args") -> None:
        self.args = args
        self.argnums = argnums
        self.nums = _argnums(argnums, len(args), fn)
        self.leaves: list[Tensor] = []
        self.specs: list[Any] = []
        for i in self.nums:
            leaves, spec = _check_leaves(args[i], fn, f"{name}[{i}]")
            self.leaves += leaves
            self.specs.append(spec)

    def _split(self, flat: Sequence[Any]) -> list[Any]:
        out, k = [], 0
        for spec in self.specs:
            out.append(spec.unflatten(list(flat[k : k + spec.num_leaves])))
            k += spec.num_leaves
        return out

    def rebuild(self, leaves: Sequence[Tensor]) -> list[Any]:
        """args with args[nums] made of `leaves`."""
        ins = list(self.args)
        for i, tree in zip(self.nums, self._split(leaves)):
            ins[i] = tree
        return ins

    def group(self, flat: Sequence[Any]) -> Any:
        """Per-leaf results as the argnums structure: one tree for an int argnums, a tuple of trees for a tuple."""
        trees = self._split(flat)
        return trees[0] if isinstance(self.argnums, int) else tuple(trees)


def _track(x: Tensor) -> Tensor:
    """A tensor to differentiate with respect to: x seen through a fresh alias, so that gradients stay
    connected to an enclosing transform's graph when x already requires grad, and x's tangent (inside
    jacfwd or jvp: forward-over-reverse) stays attached. Inside vmap, x is first batched at every open level
    (a broadcast), so that each sample's gradient stays its own."""
    x = batch_at_open_levels(x)
    if x.requires_grad:
        return x.view_as(x)
    leaf = x.detach().requires_grad_(True)
    # Outer levels first, so each make_dual's view carries the tangents already attached.
    for level in _C.tangent_levels([x]):
        leaf = _C.make_dual(leaf, _C.unpack_dual(x, level)[1], level)
    return leaf


def _outputs(out: PyTree, fn: str) -> tuple[list[Any], Any]:
    """The flat output leaves (each a Tensor) and the output's treespec."""
    return _check_leaves(out, fn, "outputs", floating=False)


def _split_aux(out: Any, has_aux: bool, fn: str) -> tuple[Any, Any]:
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise ValueError(f"[{fn}] with has_aux=True the function must return a (output, aux) tuple")
    return out


def _nested(tensors: Sequence[Tensor]) -> bool:
    """True when an enclosing transform (or the user) differentiates through these inputs."""
    return is_grad_enabled() and any(t.requires_grad for t in tensors)


def _zeros_for_none(grads: Sequence[Tensor | None], like: Sequence[Tensor]) -> tuple[Tensor, ...]:
    return tuple(g if g is not None else _C.zeros(list(x.shape), x.dtype, x.device) for g, x in zip(grads, like))


def _detach(x: PyTree) -> PyTree:
    """x (any pytree) with every tensor leaf detached."""
    return optree.tree_map(lambda v: v.detach() if isinstance(v, _TENSORS) else v, x, none_is_leaf=_NONE_IS_LEAF)


def _match(tree: PyTree, spec: Any, fn: str, what: str, like: Sequence[Tensor]) -> list[Any]:
    """tree's leaves, after checking tree has `spec`'s structure and each leaf `like`'s leaf shapes."""
    leaves, got = optree.tree_flatten(tree, none_is_leaf=_NONE_IS_LEAF)
    if got != spec:
        raise ValueError(f"[{fn}] expected {what} with the structure {spec}, got {got}")
    for k, (c, o) in enumerate(zip(leaves, like)):
        if not isinstance(c, _TENSORS) or c.shape != o.shape:
            raise ValueError(
                f"[{fn}] {what} shape {getattr(c, 'shape', type(c).__name__)} does not match shape {o.shape} (leaf {k})"
            )
    return leaves


# ---- reverse mode ----
def vjp(f: Callable[..., Any], *primals: PyTree, has_aux: bool = False) -> tuple[Any, ...]:
    """(f(*primals), vjp_fn) where vjp_fn(cotangents), cotangents shaped as f's output, returns a tuple
    with one vector-Jacobian product per primal, each shaped as that primal (torch.func.vjp); with has_aux, f
    returns (output, aux) and vjp returns (output, vjp_fn, aux)."""
    _check_fn(f, "vjp")
    diff = _Diff(primals, tuple(range(len(primals))), "vjp", "primals") if primals else None
    leaves = diff.leaves if diff else []
    create = _nested(leaves)
    with enable_grad():
        ins = [_track(p) for p in leaves]
        out, aux = _split_aux(f(*(diff.rebuild(ins) if diff else ())), has_aux, "vjp")
    outs, out_spec = _outputs(out, "vjp")

    def vjp_fn(*cotangents: PyTree) -> tuple[Any, ...]:
        # vjp_fn(ct) as torch; vjp_fn(ct_1, ct_2, ...) also takes a tuple output's cotangents spread out.
        spread: Any = cotangents
        given: Any = cotangents[0] if len(cotangents) == 1 else spread
        if (
            optree.tree_structure(given, none_is_leaf=_NONE_IS_LEAF) != out_spec
            and optree.tree_structure(spread, none_is_leaf=_NONE_IS_LEAF) == out_spec
        ):
            given = spread
        cts = _match(given, out_spec, "vjp", "cotangents", outs)
        grads = _C.grad(list(outs), ins, list(cts), True, create, True, 0) if ins else ()
        return tuple(diff.group(_zeros_for_none(grads, ins))) if diff else ()

    result = out if create else _detach(out)
    if has_aux:
        return result, vjp_fn, (aux if create else _detach(aux))
    return result, vjp_fn


def _record(
    f: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any], argnums: Argnums, fn: str
) -> tuple[_Diff, list[Tensor], Any, bool]:
    """Call f with the leaves of args[argnums] tracked (see _track) and the graph recorded: (the _Diff,
    tracked leaves, output, create_graph) where create_graph says whether an enclosing transform
    differentiates the result."""
    diff = _Diff(args, argnums, fn)
    create = _nested(diff.leaves)
    with enable_grad():
        tracked = [_track(x) for x in diff.leaves]
        out = f(*diff.rebuild(tracked), **kwargs)
    return diff, tracked, out, create


def grad_and_value(f: Callable[..., Any], argnums: Argnums = 0, has_aux: bool = False) -> Callable[..., Any]:
    """A function returning (gradient of the scalar f w.r.t. args[argnums], f's value); each gradient has
    its argument's pytree structure, and a tuple argnums gives a tuple of them (torch.func.grad_and_value).
    With has_aux, f returns (output, aux) and the value is (output, aux)."""
    _check_fn(f, "grad_and_value")

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        diff, tracked, out, create = _record(f, args, kwargs, argnums, "grad")
        out, aux = _split_aux(out, has_aux, "grad")
        if not isinstance(out, _TENSORS) or out.numel() != 1 or out.ndim != 0:
            raise RuntimeError(
                f"[grad] the function must return a scalar (0-d) tensor, got "
                f"{getattr(out, 'shape', type(out).__name__)}"
            )
        if out.requires_grad:
            grads = _C.grad([out], tracked, None, create, create, True, 0)
        else:
            grads = (None,) * len(tracked)
        g = diff.group(_zeros_for_none(grads, tracked))
        value = out if create else out.detach()
        if has_aux:
            return g, (value, aux if create else _detach(aux))
        return g, value

    return wrapper


def grad(f: Callable[..., Any], argnums: Argnums = 0, has_aux: bool = False) -> Callable[..., Any]:
    """The gradient function of a scalar f (torch.func.grad): gradients shaped as args[argnums]; with has_aux,
    f returns (output, aux) and the function returns (gradients, aux)."""
    _check_fn(f, "grad")
    gv = grad_and_value(f, argnums, has_aux)

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g, value = gv(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapper


def _chunks(n: int, chunk_size: int | None) -> list[tuple[int, int]]:
    if chunk_size is None or chunk_size >= n:
        return [(0, n)]
    if chunk_size < 1:
        raise ValueError(f"[jacobian] chunk_size must be a positive int, got {chunk_size}")
    return [(s, min(n, s + chunk_size)) for s in range(0, n, chunk_size)]


def _reverse_jacobian(
    outs: Sequence[Tensor], ins: Sequence[Tensor], create: bool, chunk_size: int | None
) -> list[tuple[Tensor, ...]]:
    """jac[i][j] of shape out_i.shape + in_j.shape from batched backward passes (one per chunk)."""
    jac = []
    for o in outs:
        m = o.numel()
        rows: list[list[Tensor]] = [[] for _ in ins]
        for s, e in _chunks(m, chunk_size):
            seed = _C.reshape(_C.index(_C.eye(m, m, o.dtype, o.device), [(1, 0, s, e, 1)]), [e - s] + list(o.shape))
            if o.requires_grad:
                gs = _C.grad([o], ins, [seed], True, create, True, 1)
            else:
                gs = (None,) * len(ins)
            for j, (g, x) in enumerate(zip(gs, ins)):
                rows[j].append(g if g is not None else _C.zeros([e - s] + list(x.shape), x.dtype, x.device))
        jac.append(
            tuple(
                _C.reshape(r[0] if len(r) == 1 else _C.cat(r, 0), list(o.shape) + list(x.shape))
                for r, x in zip(rows, ins)
            )
        )
    return jac


def _structure(jac: Sequence[Sequence[Tensor]], out_spec: Any, diff: _Diff) -> Any:
    """jac[i][k] (output leaf i, input leaf k) as torch.func lays it out: the output's tree, each leaf of
    which is the argnums structure (see _Diff.group) of blocks out_i.shape + in_k.shape."""
    return out_spec.unflatten([diff.group(row) for row in jac])


def _budget_args(chunk_size: int | None, max_memory: int | str | None, fn: str) -> None:
    if chunk_size is not None and max_memory is not None:
        raise ValueError(f"[{fn}] give chunk_size or max_memory, not both: max_memory chooses the chunk size")
    if max_memory is not None:
        _jac_budget.parse_bytes(max_memory, fn)  # a bad value fails where it is given


def _budget(args: Sequence[Any], argnums: Argnums, max_memory: int | str | None, fn: str) -> Any:
    """The call's _jac_budget.Budget on its inputs' device, or None without max_memory (or with nothing to
    chunk). Taken before f runs, so that everything the call allocates counts."""
    if max_memory is None:
        return None
    leaves = _Diff(args, argnums, fn).leaves
    if not any(x.numel() for x in leaves):
        return None
    if _nested(leaves) or _C.tangent_levels(leaves):
        raise ValueError(
            f"[{fn}] max_memory budgets the outermost transform only: here an enclosing transform differentiates "
            "the Jacobian, which the budgeted path writes in place; give the budget to the outer transform"
        )
    return _jac_budget.Budget(_jac_budget.parse_bytes(max_memory, fn), leaves[0].device, fn)


def jacrev(
    f: Callable[..., Any],
    argnums: Argnums = 0,
    has_aux: bool = False,
    chunk_size: int | None = None,
    max_memory: int | str | None = None,
) -> Callable[..., Any]:
    """The Jacobian function of f by reverse mode (torch.func.jacrev): all output directions in one batched
    backward pass, or chunk_size of them per pass. With max_memory (bytes, or a string such as "512MB") the
    chunk size is chosen so that the allocator's peak above what was live before the call, result and
    recorded graph included, stays within it (pyad/_jac_budget.py)."""
    _check_fn(f, "jacrev")
    _budget_args(chunk_size, max_memory, "jacrev")

    @functools.wraps(f)
    def wrapper(*args: Any) -> Any:
        budget = _budget(args, argnums, max_memory, "jacrev")
        diff, tracked, out, create = _record(f, args, {}, argnums, "jacrev")
        out, aux = _split_aux(out, has_aux, "jacrev")
        outs, out_spec = _outputs(out, "jacrev")
        if budget is not None:
            jac = _structure(_jac_budget.reverse_jacobian(outs, tracked, budget), out_spec, diff)
        else:
            jac = _structure(_reverse_jacobian(outs, tracked, create, chunk_size), out_spec, diff)
        return (jac, aux if create else _detach(aux)) if has_aux else jac

    return wrapper


# ---- forward mode ----
def _primal_of(v: Any) -> Any:
    return _C.unpack_dual(v)[0] if isinstance(v, _TENSORS) else v  # type: ignore[arg-type]


def jvp(f: Callable[..., Any], primals: PyTree, tangents: PyTree, has_aux: bool = False) -> tuple[Any, ...]:
    """(f(*primals), J_f(primals) @ tangents), as torch.func.jvp: primals a tuple of pytrees, tangents the
    same structure; the output and its tangent share f's output structure."""
    _check_fn(f, "jvp")
    primals, tangents = _tuple(primals), _tuple(tangents)
    leaves, spec = _check_leaves(primals, "jvp", "primals")
    tans, tan_spec = _check_leaves(tangents, "jvp", "tangents")
    if tan_spec != spec:
        raise ValueError(f"[jvp] expected tangents with the primals' structure {spec}, got {tan_spec}")
    for p, t in zip(leaves, tans):
        if p.shape != t.shape:
            raise ValueError(f"[jvp] tangent shape {t.shape} does not match primal shape {p.shape}")
    with forward_ad.dual_level():
        duals = spec.unflatten([_C.make_dual(p, t) for p, t in zip(leaves, tans)])
        out, aux = _split_aux(f(*duals), has_aux, "jvp")
        outs, out_spec = _outputs(out, "jvp")
        res = [_C.unpack_dual(o) for o in outs]
        if has_aux:
            aux = optree.tree_map(_primal_of, aux, none_is_leaf=_NONE_IS_LEAF)
    prim = out_spec.unflatten([p for p, _ in res])
    tang = out_spec.unflatten(
        [t if t is not None else _C.zeros(list(o.shape), o.dtype, o.device) for (_, t), o in zip(res, outs)]
    )
    return (prim, tang, aux) if has_aux else (prim, tang)


def _directions_last(t: Tensor, o: Tensor, x: Tensor) -> Tensor:
    """A tangent with all of x's directions, (n, *o.shape), as the Jacobian block (*o.shape, *x.shape)."""
    shape = list(o.shape) + list(x.shape)
    if o.numel() == 1:  # a scalar's gradient: nothing to move
        return t if list(t.shape) == shape else _C.reshape(t, shape)
    t = _C.reshape(t, [x.numel(), o.numel()])
    return _C.reshape(_C.transpose(t, 0, 1), shape)


def _jacfwd_lone(f: Callable[..., Any], args: tuple[Any, ...], i: int, x: Tensor) -> Any:
    """jacfwd(f, argnums=i) for a lone Tensor argument, all directions in one pass, without the pytree plumbing:
    run with cold caches (as a program runs it once) that plumbing cost 15 % of the call at d = 250."""
    ins = list(args)
    with forward_ad.dual_level():
        ins[i] = _C.make_identity_dual(x, 0, x.numel())
        out = f(*ins)
        outs, out_spec = ([out], None) if type(out) is Tensor else _outputs(out, "jacfwd")
        tans = [_C.unpack_dual(o)[1] for o in outs]
    jac = [
        _directions_last(t if t is not None else _C.zeros([x.numel()] + list(o.shape), o.dtype, o.device), o, x)
        for t, o in zip(tans, outs)
    ]
    return jac[0] if out_spec is None else out_spec.unflatten(jac)


def _forward_jacobian(f: Callable[..., Any], diff: _Diff, chunk_size: int | None) -> tuple[list[Any], Any, Any]:
    """(jac[i][k], out, out_spec) by forward mode: each chunk of input leaf k's directions in one pass with
    batched tangents."""
    per_leaf = []
    out = out_spec = None
    for k, x in enumerate(diff.leaves):
        n = x.numel()
        pieces: list[list[Tensor]] = []
        for s, e in _chunks(n, chunk_size):
            with forward_ad.dual_level():
                leaves = list(diff.leaves)
                # Rows s..e of the identity as a structured tangent: matmul reads A @ seed as a slice of A^T,
                # and other ops get it dense (Note [Identity tangents] in csrc/autograd/forward_ad.h).
                leaves[k] = _C.make_identity_dual(x, s, e - s)
                out = f(*diff.rebuild(leaves))
                outs, out_spec = _outputs(out, "jacfwd")
                tans = [_C.unpack_dual(o)[1] for o in outs]
            pieces.append(
                [
                    t if t is not None else _C.zeros([e - s] + list(o.shape), o.dtype, o.device)
                    for t, o in zip(tans, outs)
                ]
            )
        per_out = []
        for i, o in enumerate(outs):
            t = pieces[0][i] if len(pieces) == 1 else _C.cat([p[i] for p in pieces], 0)
            per_out.append(_directions_last(t, o, x))
        per_leaf.append(per_out)
    if not per_leaf:  # no input leaves: f still runs once, for the output's structure
        out = f(*diff.args)
        outs, out_spec = _outputs(out, "jacfwd")
        return [() for _ in outs], out, out_spec
    jac = [tuple(per_leaf[k][i] for k in range(len(per_leaf))) for i in range(len(per_leaf[0]))]
    return jac, out, out_spec


def _budgeted_forward_jacobian(f: Callable[..., Any], diff: _Diff, budget: Any) -> tuple[list[Any], Any, Any]:
    """_forward_jacobian's result with chunks sized to the budget (see _jac_budget.forward_jacobian)."""
    with no_grad():  # the outputs' shapes, so that the result is allocated before the first pass
        out = f(*diff.rebuild([x.detach() for x in diff.leaves]))
    outs, out_spec = _outputs(out, "jacfwd")

    def run(k: int, s: int, e: int) -> list[Tensor | None]:
        with forward_ad.dual_level():
            leaves = list(diff.leaves)
            leaves[k] = _C.make_identity_dual(leaves[k], s, e - s)
            return [_C.unpack_dual(o)[1] for o in _outputs(f(*diff.rebuild(leaves)), "jacfwd")[0]]

    return _jac_budget.forward_jacobian(run, outs, diff.leaves, budget), out, out_spec


def jacfwd(
    f: Callable[..., Any],
    argnums: Argnums = 0,
    has_aux: bool = False,
    chunk_size: int | None = None,
    max_memory: int | str | None = None,
) -> Callable[..., Any]:
    """The Jacobian function of f by forward mode (torch.func.jacfwd): all input directions pushed through f
    in one pass, or chunk_size of them per pass. With max_memory (bytes, or a string such as "512MB") the
    chunk size is chosen so that the allocator's peak above what was live before the call, result included,
    stays within it (pyad/_jac_budget.py)."""
    _check_fn(f, "jacfwd")
    _budget_args(chunk_size, max_memory, "jacfwd")
    # The argument index where a lone Tensor argument may take the short path (_jacfwd_lone).
    lone = argnums if type(argnums) is int and max_memory is None and chunk_size is None and not has_aux else None

    @functools.wraps(f)
    def wrapper(*args: Any) -> Any:
        if lone is not None and -len(args) <= lone < len(args):
            x = args[lone]
            if type(x) is Tensor and x.dtype.is_floating_point:
                return _jacfwd_lone(f, args, lone, x)
        budget = _budget(args, argnums, max_memory, "jacfwd")
        diff = _Diff(args, argnums, "jacfwd")
        aux_box: list[Any] = []

        def g(*a: Any) -> Any:
            out, aux = _split_aux(f(*a), has_aux, "jacfwd")
            aux_box.append(aux)
            return out

        if budget is not None:
            jac, out, out_spec = _budgeted_forward_jacobian(g, diff, budget)
        else:
            jac, out, out_spec = _forward_jacobian(g, diff, chunk_size)
        jac = _structure(jac, out_spec, diff)
        if has_aux:
            aux = aux_box[-1]
            return jac, _detach(aux)
        return jac

    return wrapper


def hessian(f: Callable[..., Any], argnums: Argnums = 0, max_memory: int | str | None = None) -> Callable[..., Any]:
    """The Hessian of a scalar f by forward-over-reverse: jacfwd(jacrev(f)), so for pytree arguments the
    nesting is argnums structure x argnums structure, as torch.func.hessian. max_memory budgets the outer
    forward pass (chunks of Hessian columns), as jacfwd's."""
    _check_fn(f, "hessian")
    h = jacfwd(jacrev(f, argnums), argnums, max_memory=max_memory)

    @functools.wraps(f)
    def wrapper(*args: Any) -> Any:
        _Diff(args, argnums, "hessian")  # errors name hessian, not the jacfwd inside
        return h(*args)

    return wrapper


def hvp(f: Callable[..., Any], primals: PyTree, tangents: PyTree) -> tuple[Tensor | None, Any]:
    """(f(*primals), H @ tangents) by forward-over-reverse, as torch.autograd.functional.hvp returns;
    primals and tangents may be pytrees."""
    _check_fn(f, "hvp")
    primals, tangents = _tuple(primals), _tuple(tangents)
    _check_leaves(primals, "hvp", "primals")
    _check_leaves(tangents, "hvp", "tangents")
    box: list[Tensor] = []

    def grad_f(*xs: Tensor) -> Any:
        g, v = grad_and_value(f, argnums=tuple(range(len(xs))))(*xs)
        box.append(v)
        return g

    _, h = jvp(grad_f, primals, tangents)
    value = _C.unpack_dual(box[-1])[0] if box else None
    out = value.detach() if value is not None else None
    return out, (h if len(primals) > 1 else h[0])


def linearize(f: Callable[..., Any], *primals: PyTree) -> tuple[Any, Callable[..., Any]]:
    """(f(*primals), jvp_fn) with jvp_fn(*tangents) = J_f(primals) @ tangents, tangents shaped as primals
    (torch.func.linearize; each jvp_fn call runs f again in forward mode)."""
    _check_fn(f, "linearize")
    _check_leaves(primals, "linearize", "primals")
    out = f(*_detach(primals))

    def jvp_fn(*tangents: PyTree) -> Any:
        return jvp(f, primals, tangents)[1]

    return _detach(out), jvp_fn


def jacobian(
    f: Callable[..., Any],
    argnums: Argnums = 0,
    mode: Literal["auto", "forward", "reverse"] = "auto",
    chunk_size: int | None = None,
    return_mode: bool = False,
    max_memory: int | str | None = None,
) -> Callable[..., Any]:
    """The Jacobian function of f, by forward mode when the inputs are fewer than the outputs and by reverse
    mode otherwise (mode="auto": n JVP directions against m VJP directions, counted over all leaves), or as
    mode="forward"/"reverse" says. With return_mode=True the function returns (jacobian, mode used); the
    returned function's `last_mode` attribute also tells the mode of its last call (None before any).

    max_memory (bytes, or a string such as "512MB") bounds the allocator's peak above what was live before
    the call, as jacrev's and jacfwd's. Under a budget, mode="auto" also weighs what each mode must hold:
    reverse mode keeps f's recorded graph alive for all its passes, forward mode keeps none, so auto picks
    forward mode when the graph and the result together leave no room for a reverse pass."""
    _check_fn(f, "jacobian")
    if mode not in ("auto", "forward", "reverse"):
        raise ValueError(f"[jacobian] mode must be 'auto', 'forward' or 'reverse', got {mode!r}")
    _budget_args(chunk_size, max_memory, "jacobian")

    def done(jac: Any, used: str) -> Any:
        wrapper.last_mode = used  # type: ignore[attr-defined]
        return (jac, used) if return_mode else jac

    @functools.wraps(f)
    def wrapper(*args: Any) -> Any:
        if mode == "forward":
            _Diff(args, argnums, "jacobian")
            return done(jacfwd(f, argnums, chunk_size=chunk_size, max_memory=max_memory)(*args), "forward")
        budget = _budget(args, argnums, max_memory, "jacobian")
        # Evaluate once with a graph: it tells m, and reverse mode reuses it.
        diff, tracked, out, create = _record(f, args, {}, argnums, "jacobian")
        outs, out_spec = _outputs(out, "jacobian")
        n = sum(x.numel() for x in tracked)
        m = sum(o.numel() for o in outs)
        forward = n < m
        if budget is not None and mode == "auto" and not forward:
            # The graph is live now; reverse mode also needs the result and at least one row's pass
            # (a cotangent row and a gradient row, each at least n elements).
            item = tracked[0].element_size() if tracked else 8
            forward = budget.used() + (m * n + 2 * n + m) * item > budget.budget
        if mode == "auto" and forward:
            del out, outs, tracked
            return done(jacfwd(f, argnums, chunk_size=chunk_size, max_memory=max_memory)(*args), "forward")
        if budget is not None:
            return done(_structure(_jac_budget.reverse_jacobian(outs, tracked, budget), out_spec, diff), "reverse")
        return done(_structure(_reverse_jacobian(outs, tracked, create, chunk_size), out_spec, diff), "reverse")

    wrapper.last_mode = None  # type: ignore[attr-defined]
    return wrapper


# ---- structure-aware Jacobians (pyad/_sparse_jac.py) ----
def sparse_jacobian(
    f: Callable[..., Any],
    sparsity: Any = "auto",
    mode: Literal["auto", "forward", "reverse"] = "auto",
    layout: Literal["dense", "coo", "csr"] = "dense",
    return_passes: bool = False,
) -> Callable[..., Any]:
    """The Jacobian function of f(x) (one tensor in, one tensor out) that exploits a sparsity pattern:
    columns (mode="forward") or rows (mode="reverse") that share no nonzero are colored together by a greedy
    distance-2 coloring and computed in one batched JVP (VJP) per color, then decompressed. mode="auto" takes
    the mode with fewer colors.

    sparsity: the pattern of J viewed as an (f(x).numel(), x.numel()) matrix: a bool Tensor or array of that
    shape (or out.shape + x.shape), a scipy.sparse matrix, a COO/CSR, or a (rows, cols) pair of index
    arrays; or None / "auto" (the default): detected by running f once on a tracer that propagates a boolean
    dependency pattern through every op (pyad/_sparsity_trace.py), at the first call for each input shape.
    A given pattern is colored once, when sparse_jacobian is called. Entries outside the pattern are taken
    to be zero: a wrong pattern gives a wrong Jacobian, as in every coloring scheme.

    layout: "dense" (out.shape + x.shape, as jacfwd), "coo" (a COO of indices (2, nnz), values, shape) or
    "csr" (a CSR of crow_indices, col_indices, values, shape); both have to_dense() and to_scipy(). With
    return_passes=True the function returns (jacobian, number of directions pushed)."""
    from . import _sparse_jac as sj

    _check_fn(f, "sparse_jacobian")
    if mode not in ("auto", "forward", "reverse"):
        raise ValueError(f"[sparse_jacobian] mode must be 'auto', 'forward' or 'reverse', got {mode!r}")
    if layout not in ("dense", "coo", "csr"):
        raise ValueError(f"[sparse_jacobian] layout must be 'dense', 'coo' or 'csr', got {layout!r}")
    detect = sparsity is None or (isinstance(sparsity, str) and sparsity == "auto")
    # A 2-d pattern (or a scipy matrix) is colored now, so that calls only push directions; other forms
    # are read at the first call for an input shape, when the output's shape is known.
    is_bool = str(getattr(sparsity, "dtype", "")) in ("bool", "pyad.bool")
    given = (
        tuple(sparsity.shape) if hasattr(sparsity, "tocoo") or (getattr(sparsity, "ndim", 0) == 2 and is_bool) else None
    )
    colored = None
    if given is not None:
        m0, n0 = int(given[0]), int(given[1])
        colored = sj.Pattern(sj.as_mask(sparsity, m0, n0, (m0,), (n0,), "sparse_jacobian"))
    shapes: dict[tuple[int, ...], tuple[int, ...]] = {}  # input shape -> output shape
    patterns: dict[tuple[int, ...], Any] = {}

    @functools.wraps(f)
    def wrapper(x: Tensor) -> Any:
        if not isinstance(x, Tensor):
            raise TypeError(f"[sparse_jacobian] expects one tensor argument, got {type(x).__name__}")
        _check_leaves(x, "sparse_jacobian", "x")
        key = tuple(x.shape)
        if key not in shapes and detect:
            from ._sparsity_trace import detect as trace

            mask, shapes[key] = trace(f, x)
            patterns[key] = sj.Pattern(mask)
        if key not in shapes:
            from ._grad_mode import no_grad

            with no_grad():
                probe = f(x.detach())
            if not isinstance(probe, Tensor):
                raise TypeError(f"[sparse_jacobian] the function must return one tensor, got {type(probe).__name__}")
            m, n = probe.numel(), x.numel()
            if colored is not None and (colored.m, colored.n) != (m, n):
                raise ValueError(
                    f"[sparse_jacobian] sparsity of shape ({colored.m}, {colored.n}) does not fit a Jacobian of "
                    f"output shape {tuple(probe.shape)} and input shape {key}: expected ({m}, {n})"
                )
            patterns[key] = colored or sj.Pattern(sj.as_mask(sparsity, m, n, probe.shape, key, "sparse_jacobian"))
            shapes[key] = tuple(probe.shape)
        pat, out_shape = patterns[key], shapes[key]
        used = pat.best_mode() if mode == "auto" else mode
        comp, out = sj.compressed(f, x, pat, used, _record)
        if tuple(out.shape) != out_shape:
            raise ValueError(f"[sparse_jacobian] f's output shape changed from {out_shape} to {tuple(out.shape)}")
        jac = sj.decompress(comp, pat, used, layout)
        if layout == "dense":
            jac = _C.reshape(jac, list(out_shape) + list(x.shape))
        return (jac, pat.colors(used)) if return_passes else jac

    return wrapper


def sparse_hessian(
    f: Callable[..., Any], sparsity: Any, layout: Literal["dense", "coo", "csr"] = "dense", return_passes: bool = False
) -> Callable[..., Any]:
    """The Hessian of a scalar f(x) with a known pattern (x.numel() x x.numel()): sparse_jacobian of grad(f)
    in forward mode (forward-over-reverse), one pass per color of the pattern's columns. The pattern is
    required: detection traces ops forward, and a Hessian's pattern is that of grad(f), a backward pass."""
    if sparsity is None or isinstance(sparsity, str):
        raise ValueError("[sparse_hessian] give the Hessian's sparsity pattern (it is not detected)")
    _check_fn(f, "sparse_hessian")
    return sparse_jacobian(grad(f), sparsity, mode="forward", layout=layout, return_passes=return_passes)


# implicit differentiation (pyad/_implicit.py)
from ._implicit import implicit_root  # noqa: E402
from ._vmap import vmap  # noqa: E402
from .nn.module import functional_call  # noqa: E402,F401  (torch.func.functional_call; nn imports after func)
