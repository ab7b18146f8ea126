"""einsum as a sequence of existing ops: diagonal for a letter repeated in one operand, sum for a letter no one
else needs, and for each pair of operands one batched matmul (batch letters, free letters of each side, the
contracted ones), so that its VJP and JVP are those ops'."""

from __future__ import annotations

import math
from typing import Any

from . import _C, _functions as F

Tensor = _C.Tensor


def _fail(eq: str, why: str) -> ValueError:
    return ValueError(f"[einsum] equation {eq!r}: {why}")


def _parse(eq: str, ops: list[Tensor]) -> tuple[list[list[str]], list[str]]:
    """The letters of each operand and of the output; '...' becomes placeholder letters (the broadcast dims,
    aligned from the right as in torch)."""
    src = eq.replace(" ", "")
    lhs, arrow, rhs = src.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ops):
        raise _fail(eq, f"{len(terms)} operand terms for {len(ops)} operands")
    ell = 0
    for t, x in zip(terms, ops):
        if "..." in t:
            ell = max(ell, x.ndim - (len(t) - 3))
    placeholders = [chr(0x2460 + i) for i in range(ell)]  # (never a letter of the equation)
    letters = []
    for t, x in zip(terms, ops):
        core = t.replace("...", "")
        if not all(c.isalpha() and c.isascii() for c in core) or t.count("...") > 1 or "." in core:
            raise _fail(eq, f"term {t!r} may hold only letters and one '...'")
        if "..." in t:
            n = x.ndim - len(core)
            if n < 0:
                raise _fail(eq, f"term {t!r} has more letters than its operand has dims (shape {x.shape})")
            i = t.index("...")
            letters.append(list(t[:i]) + placeholders[ell - n :] + list(t[i + 3 :]))
        else:
            if len(t) != x.ndim:
                raise _fail(eq, f"term {t!r} has {len(t)} letters for an operand of shape {x.shape}")
            letters.append(list(t))
    if arrow:
        if not all((c.isalpha() and c.isascii()) for c in rhs.replace("...", "")) or rhs.count("...") > 1:
            raise _fail(eq, f"output {rhs!r} may hold only letters and one '...'")
        i = rhs.find("...")
        out = list(rhs) if i < 0 else list(rhs[:i]) + placeholders + list(rhs[i + 3 :])
        seen = {c for ls in letters for c in ls}
        for c in out:
            if out.count(c) > 1:
                raise _fail(eq, f"output letter {c!r} appears more than once")
            if c not in seen:
                raise _fail(eq, f"output letter {c!r} is in no operand")
    else:
        counts: dict[str, int] = {}
        for ls in letters:
            for c in ls:
                counts[c] = counts.get(c, 0) + 1
        out = placeholders + sorted(c for c, k in counts.items() if k == 1 and c not in placeholders)
    return letters, out


def _own(x: Tensor, ls: list[str], keep: set[str], eq: str) -> tuple[Tensor, list[str]]:
    """x with its repeated letters taken along their diagonal and the letters not in keep summed out."""
    ls = list(ls)
    while True:
        rep = next((c for c in ls if ls.count(c) > 1), None)
        if rep is None:
            break
        i = ls.index(rep)
        j = ls.index(rep, i + 1)
        if x.shape[i] != x.shape[j]:
            raise _fail(eq, f"letter {rep!r} has sizes {x.shape[i]} and {x.shape[j]} in one operand")
        x = _C.diagonal(x, 0, i, j)
        ls = [c for k, c in enumerate(ls) if k not in (i, j)] + [rep]
    gone = [k for k, c in enumerate(ls) if c not in keep]
    if gone:
        x = F.sum(x, gone)
        ls = [c for c in ls if c in keep]
    return x, ls


def _align(a: Tensor, la: list[str], b: Tensor, lb: list[str], eq: str) -> tuple[Tensor, Tensor]:
    """Size-1 dims of a shared letter expanded to the other operand's size (torch broadcasts them)."""
    sa, sb = list(a.shape), list(b.shape)
    for i, c in enumerate(la):
        if c in lb:
            j = lb.index(c)
            if sa[i] != sb[j]:
                if sa[i] == 1:
                    sa[i] = sb[j]
                elif sb[j] == 1:
                    sb[j] = sa[i]
                else:
                    raise _fail(eq, f"letter {c!r} has sizes {a.shape[i]} and {b.shape[j]} in two operands")
    return _C.expand(a, sa), _C.expand(b, sb)


def _pair(a: Tensor, la: list[str], b: Tensor, lb: list[str], keep: set[str], eq: str) -> tuple[Tensor, list[str]]:
    a, b = _align(a, la, b, lb, eq)
    batch = [c for c in la if c in lb and c in keep]
    summed = [c for c in la if c in lb and c not in keep]
    fa = [c for c in la if c not in lb]
    fb = [c for c in lb if c not in la]
    size = {**dict(zip(lb, b.shape)), **dict(zip(la, a.shape))}

    def n(cs: list[str]) -> int:
        return math.prod(size[c] for c in cs)

    am = F.reshape(F.permute(a, [la.index(c) for c in batch + fa + summed]), [n(batch), n(fa), n(summed)])
    bm = F.reshape(F.permute(b, [lb.index(c) for c in batch + summed + fb]), [n(batch), n(summed), n(fb)])
    out = F.reshape(F.matmul(am, bm), [size[c] for c in batch + fa + fb])
    return out, batch + fa + fb


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation, as torch.einsum: 'ij,jk->ik', traces and diagonals ('ii->', 'ii->i'), permutations
    ('ijk->kji'), sums over a letter, batch letters, '...' broadcast dims, implicit outputs, any number of
    operands (contracted left to right) and operands given as one list."""
    if not isinstance(equation, str):
        raise TypeError(f"[einsum] the equation must be a str, got {type(equation).__name__}")
    ops = list(operands[0]) if len(operands) == 1 and isinstance(operands[0], (list, tuple)) else list(operands)
    ops = F._tensors(ops, "einsum")
    if not ops:
        raise _fail(equation, "einsum needs at least one operand")
    letters, out = _parse(equation, ops)
    # each operand alone first: what only it holds (and the output does not) is summed before any product
    later = [set().union(*letters[i + 1 :]) for i in range(len(ops))]
    acc, la = _own(ops[0], letters[0], set(out) | later[0], equation)
    for i in range(1, len(ops)):
        keep = set(out) | later[i]
        x, lx = _own(ops[i], letters[i], keep | set(la), equation)
        acc, la = _own(acc, la, keep | set(lx), equation)
        acc, la = _pair(acc, la, x, lx, keep, equation)
    acc, la = _own(acc, la, set(out), equation)
    return F.permute(acc, [la.index(c) for c in out]) if la != out else acc
