"""Function transforms with torch.func's semantics: grad, grad_and_value, vjp, jvp, jacrev, jacfwd,
hessian, hvp, linearize, plus jacobian(mode="auto") that picks the cheaper mode.

jacfwd pushes all n input directions through f in one forward-mode pass (tangents carry a leading batch dim;
the identity seed is never multiplied out) and jacrev pulls all m output directions back in one batched
backward pass: neither loops over directions in Python, except in chunks when chunk_size is given.
"""
import functools

from . import _C
from ._grad_mode import enable_grad, is_grad_enabled
from .autograd import forward_ad

Tensor = _C.Tensor
_last_mode = [None]


# ---- argument plumbing ----
def _check_fn(f, name):
    if not callable(f):
        raise TypeError(f"[{name}] expected a function, got {type(f).__name__}")


def _tuple(x):
    return x if isinstance(x, tuple) else (x,)


def _check_tensors(xs, what, fn):
    for i, x in enumerate(xs):
        if not isinstance(x, Tensor):
            raise TypeError(f"[{fn}] expected {what} to be Tensors (or tuples of Tensors), got "
                            f"{type(x).__name__} at position {i}")
        if not x.dtype.is_floating_point:
            raise TypeError(f"[{fn}] {what} must be floating point, got {x.dtype} at position {i}")


def _argnums(argnums, nargs, fn):
    nums = _tuple(argnums)
    for a in nums:
        if not isinstance(a, int) or not -nargs <= a < nargs:
            raise ValueError(f"[{fn}] argnums {argnums!r} out of range for {nargs} positional arguments")
    return tuple(a % nargs for a in nums)


def _track(x):
    """A tensor to differentiate with respect to: x seen through a fresh alias, so that gradients stay
    connected to an enclosing transform's graph when x already requires grad, and x's tangent (inside
    jacfwd or jvp: forward-over-reverse) stays attached."""
    if x.requires_grad:
        return x.view_as(x)
    leaf = x.detach().requires_grad_(True)
    tangent = _C.unpack_dual(x)[1]
    return leaf if tangent is None else _C.make_dual(leaf, tangent)


def _outputs(out, fn):
    outs = _tuple(out)
    _check_tensors(outs, "outputs", fn)
    return outs


def _split_aux(out, has_aux, fn):
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise ValueError(f"[{fn}] with has_aux=True the function must return a (output, aux) tuple")
    return out


def _nested(tensors):
    """True when an enclosing transform (or the user) differentiates through these inputs."""
    return is_grad_enabled() and any(t.requires_grad for t in tensors)


def _zeros_for_none(grads, like):
    return tuple(g if g is not None else _C.zeros(list(x.shape), x.dtype, x.device) for g, x in zip(grads, like))


# ---- reverse mode ----
def vjp(f, *primals, has_aux=False):
    """(f(*primals), vjp_fn) where vjp_fn(cotangents) returns the tuple of vector-Jacobian products."""
    _check_fn(f, "vjp")
    _check_tensors(primals, "primals", "vjp")
    create = _nested(primals)
    with enable_grad():
        ins = [_track(p) for p in primals]
        out, aux = _split_aux(f(*ins), has_aux, "vjp")
    outs = _outputs(out, "vjp")

    def vjp_fn(*cotangents):
        cts = cotangents[0] if len(cotangents) == 1 and isinstance(cotangents[0], tuple) else cotangents
        cts = _tuple(cts)
        if len(cts) != len(outs):
            raise ValueError(f"[vjp] expected {len(outs)} cotangents, got {len(cts)}")
        for c, o in zip(cts, outs):
            if not isinstance(c, Tensor) or c.shape != o.shape:
                raise ValueError(f"[vjp] cotangent shape {getattr(c, 'shape', None)} does not match output shape "
                                 f"{o.shape}")
        grads = _C.grad(list(outs), ins, list(cts), True, create, True, 0)
        return _zeros_for_none(grads, ins)

    result = out if create else _detach(out)
    return (result, vjp_fn, aux) if has_aux else (result, vjp_fn)


def _record(f, args, kwargs, argnums, fn):
    """Call f with args[argnums] tracked (see _track) and the graph recorded: (tracked inputs, output,
    create_graph) where create_graph says whether an enclosing transform differentiates the result."""
    nums = _argnums(argnums, len(args), fn)
    diff = [args[i] for i in nums]
    _check_tensors(diff, "differentiated arguments", fn)
    create = _nested(diff)
    with enable_grad():
        ins = list(args)
        for i in nums:
            ins[i] = _track(args[i])
        out = f(*ins, **kwargs)
    return [ins[i] for i in nums], out, create


def _detach(x):
    """x (a tensor, or a tuple nesting tensors and other values) with every tensor detached."""
    if isinstance(x, Tensor):
        return x.detach()
    if isinstance(x, tuple):
        return tuple(_detach(v) for v in x)
    return x


def grad_and_value(f, argnums=0, has_aux=False):
    """A function returning (gradient of the scalar f w.r.t. args[argnums], f's value)."""
    _check_fn(f, "grad_and_value")
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        tracked, out, create = _record(f, args, kwargs, argnums, "grad")
        out, aux = _split_aux(out, has_aux, "grad")
        if not isinstance(out, Tensor) or out.numel() != 1 or out.ndim != 0:
            raise RuntimeError(f"[grad] the function must return a scalar (0-d) tensor, got "
                               f"{getattr(out, 'shape', type(out).__name__)}")
        if out.requires_grad:
            grads = _C.grad([out], tracked, None, create, create, True, 0)
        else:
            grads = (None,) * len(tracked)
        grads = _zeros_for_none(grads, tracked)
        g = grads[0] if isinstance(argnums, int) else grads
        value = out if create else out.detach()
        return (g, (value, aux)) if has_aux else (g, value)
    return wrapper


def grad(f, argnums=0, has_aux=False):
    """The gradient function of a scalar f (torch.func.grad)."""
    _check_fn(f, "grad")
    gv = grad_and_value(f, argnums, has_aux)

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        g, value = gv(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return wrapper


def _chunks(n, chunk_size):
    if chunk_size is None or chunk_size >= n:
        return [(0, n)]
    if chunk_size < 1:
        raise ValueError(f"[jacobian] chunk_size must be a positive int, got {chunk_size}")
    return [(s, min(n, s + chunk_size)) for s in range(0, n, chunk_size)]


def _reverse_jacobian(outs, ins, create, chunk_size):
    """jac[i][j] of shape out_i.shape + in_j.shape from batched backward passes (one per chunk)."""
    jac = []
    for o in outs:
        m = o.numel()
        rows = [[] for _ in ins]
        for s, e in _chunks(m, chunk_size):
            seed = _C.reshape(_C.index(_C.eye(m, m, o.dtype, o.device), [(1, 0, s, e, 1)]), [e - s] + list(o.shape))
            if o.requires_grad:
                gs = _C.grad([o], ins, [seed], True, create, True, 1)
            else:
                gs = (None,) * len(ins)
            for j, (g, x) in enumerate(zip(gs, ins)):
                rows[j].append(g if g is not None else _C.zeros([e - s] + list(x.shape), x.dtype, x.device))
        jac.append(tuple(_C.reshape(r[0] if len(r) == 1 else _C.cat(r, 0), list(o.shape) + list(x.shape))
                         for r, x in zip(rows, ins)))
    return jac


def _structure(jac, outs_is_tuple, argnums):
    per_out = [j if isinstance(argnums, tuple) else j[0] for j in jac]
    return tuple(per_out) if outs_is_tuple else per_out[0]


def jacrev(f, argnums=0, has_aux=False, chunk_size=None):
    """The Jacobian by reverse mode: all output directions in one batched backward pass."""
    _check_fn(f, "jacrev")
    @functools.wraps(f)
    def wrapper(*args):
        tracked, out, create = _record(f, args, {}, argnums, "jacrev")
        out, aux = _split_aux(out, has_aux, "jacrev")
        outs = _outputs(out, "jacrev")
        jac = _structure(_reverse_jacobian(outs, tracked, create, chunk_size),
                         isinstance(out, tuple), argnums)
        return (jac, aux) if has_aux else jac
    return wrapper


# ---- forward mode ----
def jvp(f, primals, tangents, has_aux=False):
    """(f(*primals), J_f(primals) @ tangents), as torch.func.jvp."""
    _check_fn(f, "jvp")
    primals, tangents = _tuple(primals), _tuple(tangents)
    _check_tensors(primals, "primals", "jvp")
    _check_tensors(tangents, "tangents", "jvp")
    if len(primals) != len(tangents):
        raise ValueError(f"[jvp] got {len(primals)} primals and {len(tangents)} tangents")
    for p, t in zip(primals, tangents):
        if p.shape != t.shape:
            raise ValueError(f"[jvp] tangent shape {t.shape} does not match primal shape {p.shape}")
    with forward_ad.dual_level():
        duals = [_C.make_dual(p, t) for p, t in zip(primals, tangents)]
        out, aux = _split_aux(f(*duals), has_aux, "jvp")
        outs = _outputs(out, "jvp")
        res = [_C.unpack_dual(o) for o in outs]
    prim = tuple(p for p, _ in res)
    tang = tuple(t if t is not None else _C.zeros(list(o.shape), o.dtype, o.device) for (_, t), o in zip(res, outs))
    prim, tang = (prim, tang) if isinstance(out, tuple) else (prim[0], tang[0])
    return (prim, tang, aux) if has_aux else (prim, tang)


def _forward_jacobian(f, args, nums, chunk_size):
    """jac[i][j] by forward mode: each chunk of input directions in one pass with batched tangents."""
    per_arg = []
    out = None
    for j in nums:
        x = args[j]
        n = x.numel()
        pieces = []
        for s, e in _chunks(n, chunk_size):
            # Rows s..e of the identity, marked so matmul reads A @ seed as a slice of A^T.
            seed = _C.identity_seed(n, s, e - s, list(x.shape), x.dtype, x.device)
            with forward_ad.dual_level():
                ins = list(args)
                ins[j] = _C.make_dual(x, seed)
                out = f(*ins)
                outs = _outputs(out, "jacfwd")
                tans = [_C.unpack_dual(o)[1] for o in outs]
            pieces.append([t if t is not None else _C.zeros([e - s] + list(o.shape), o.dtype, o.device)
                           for t, o in zip(tans, outs)])
        per_out = []
        for i, o in enumerate(outs):
            t = pieces[0][i] if len(pieces) == 1 else _C.cat([p[i] for p in pieces], 0)
            # (n, *out) -> (*out, *x): direction index moves last.
            t = _C.reshape(t, [n, o.numel()])
            per_out.append(_C.reshape(_C.transpose(t, 0, 1), list(o.shape) + list(x.shape)))
        per_arg.append(per_out)
    jac = [tuple(per_arg[a][i] for a in range(len(nums))) for i in range(len(per_arg[0]))]
    return jac, out


def jacfwd(f, argnums=0, has_aux=False, chunk_size=None):
    """The Jacobian by forward mode: all input directions pushed through f in one pass."""
    _check_fn(f, "jacfwd")
    @functools.wraps(f)
    def wrapper(*args):
        nums = _argnums(argnums, len(args), "jacfwd")
        _check_tensors([args[i] for i in nums], "differentiated arguments", "jacfwd")
        aux_box = []

        def g(*a):
            out, aux = _split_aux(f(*a), has_aux, "jacfwd")
            aux_box.append(aux)
            return out
        jac, out = _forward_jacobian(g, args, nums, chunk_size)
        jac = _structure(jac, isinstance(out, tuple), argnums)
        if has_aux:
            aux = aux_box[-1]
            return jac, _detach(aux)
        return jac
    return wrapper


def hessian(f, argnums=0):
    """The Hessian of a scalar f by forward-over-reverse: jacfwd(jacrev(f))."""
    _check_fn(f, "hessian")
    return jacfwd(jacrev(f, argnums), argnums)


def hvp(f, primals, tangents):
    """(f(*primals), H @ tangents) by forward-over-reverse, as torch.autograd.functional.hvp returns."""
    _check_fn(f, "hvp")
    primals, tangents = _tuple(primals), _tuple(tangents)
    _check_tensors(primals, "primals", "hvp")
    _check_tensors(tangents, "tangents", "hvp")
    box = []

    def grad_f(*xs):
        g, v = grad_and_value(f, argnums=tuple(range(len(xs))))(*xs)
        box.append(v)
        return g
    _, h = jvp(grad_f, primals, tangents)
    value = _C.unpack_dual(box[-1])[0] if box else None
    out = value.detach() if value is not None else None
    return out, (h if len(primals) > 1 else h[0])


def linearize(f, *primals):
    """(f(*primals), jvp_fn) with jvp_fn(*tangents) = J_f(primals) @ tangents."""
    _check_fn(f, "linearize")
    _check_tensors(primals, "primals", "linearize")
    out = f(*[p.detach() for p in primals])

    def jvp_fn(*tangents):
        return jvp(f, primals, tangents)[1]
    return _detach(out), jvp_fn


def jacobian(f, argnums=0, mode="auto", chunk_size=None):
    """The Jacobian of f, by forward mode when the inputs are fewer than the outputs and by reverse mode
    otherwise (mode="auto": n JVP directions against m VJP directions), or as mode="forward"/"reverse" says.
    pyad.func.last_jacobian_mode() tells which mode the last call used."""
    _check_fn(f, "jacobian")
    if mode not in ("auto", "forward", "reverse"):
        raise ValueError(f"[jacobian] mode must be 'auto', 'forward' or 'reverse', got {mode!r}")

    @functools.wraps(f)
    def wrapper(*args):
        if mode == "forward":
            _check_tensors([args[i] for i in _argnums(argnums, len(args), "jacobian")],
                           "differentiated arguments", "jacobian")
            _last_mode[0] = "forward"
            return jacfwd(f, argnums, chunk_size=chunk_size)(*args)
        # Evaluate once with a graph: it tells m, and reverse mode reuses it.
        tracked, out, create = _record(f, args, {}, argnums, "jacobian")
        outs = _outputs(out, "jacobian")
        n = sum(x.numel() for x in tracked)
        m = sum(o.numel() for o in outs)
        if mode == "auto" and n < m:
            _last_mode[0] = "forward"
            del out, outs, tracked
            return jacfwd(f, argnums, chunk_size=chunk_size)(*args)
        _last_mode[0] = "reverse"
        return _structure(_reverse_jacobian(outs, tracked, create, chunk_size),
                          isinstance(out, tuple), argnums)
    return wrapper


def last_jacobian_mode():
    """"forward" or "reverse": the mode the last pyad.func.jacobian call used (None before any)."""
    return _last_mode[0]
