"""torch's shape helpers composed of views, cat and index arithmetic: their gradients (both modes) are those of
the ops they are made of."""

from __future__ import annotations

import builtins
import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import _C, _batched, _functions as F
from ._creation import _promote
from ._dtypes import as_device, int64

if TYPE_CHECKING:
    from ._typing import DeviceLike

Tensor = _C.Tensor
_TENSORLIKE = _batched.TENSORLIKE  # a Tensor, or vmap's BatchedTensor standing for one

__all__ = [
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "block_diag",
    "broadcast_shapes",
    "broadcast_tensors",
    "broadcast_to",
    "cartesian_prod",
    "column_stack",
    "diag",
    "diag_embed",
    "dstack",
    "fliplr",
    "flipud",
    "meshgrid",
    "rot90",
    "row_stack",
    "swapdims",
    "tensor_split",
    "tril_indices",
    "triu_indices",
]


def _int(v: Any, what: str, op: str) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"[{op}] {what} must be an int, got {type(v).__name__}")
    return int(v)


def broadcast_shapes(*shapes: Sequence[int]) -> tuple[int, ...]:
    """The shape that tensors of these shapes broadcast to (NumPy's rule), as torch.broadcast_shapes."""
    ndim = builtins.max((len(s) for s in shapes), default=0)
    out = [1] * ndim
    for s in shapes:
        for i, n in enumerate(s):
            j = ndim - len(s) + i
            if n != 1:
                if out[j] not in (1, n):
                    raise RuntimeError(
                        f"[broadcast_shapes] shape mismatch: shapes {[tuple(x) for x in shapes]} cannot be broadcast "
                        f"(size {out[j]} against {n} at dim {j})"
                    )
                out[j] = n
    return tuple(out)


def broadcast_to(input: Tensor, size: Sequence[int]) -> Tensor:
    """A view of input expanded to size (-1 keeps a dim), as torch.broadcast_to."""
    return F._tensor_arg(input, "broadcast_to").expand(*size)


def broadcast_tensors(*tensors: Tensor) -> tuple[Tensor, ...]:
    """Views of the tensors expanded to their common shape, as torch.broadcast_tensors."""
    ts = [F._tensor_arg(t, "broadcast_tensors") for t in tensors]
    shape = broadcast_shapes(*[tuple(t.shape) for t in ts])
    return tuple(t.expand(*shape) for t in ts)


def meshgrid(*tensors: Any, indexing: str = "ij") -> tuple[Tensor, ...]:
    """Coordinate grids from 1-d tensors, as torch.meshgrid (indexing "ij", torch's default, or "xy")."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    ts = [F._tensor_arg(t, "meshgrid") for t in tensors]
    if indexing not in ("ij", "xy"):
        raise ValueError(f'[meshgrid] indexing must be "ij" or "xy", got "{indexing}"')
    for t in ts:
        if t.ndim > 1:
            raise RuntimeError(f"[meshgrid] expects 0-d or 1-d tensors, got shape {tuple(t.shape)}")
    ts = [t.reshape(-1) for t in ts]
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = [t.shape[0] for t in ts]
    grids = []
    for i, t in enumerate(ts):
        view = [1] * len(ts)
        view[i] = shape[i]
        grids.append(t.reshape(view).expand(*shape))
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def _atleast(op: str, n: int, tensors: tuple[Any, ...]) -> Any:
    single = len(tensors) == 1 and isinstance(tensors[0], _TENSORLIKE)
    items = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors
    out = []
    for t in items:
        t = F._tensor_arg(t, op)
        if t.ndim >= n:
            out.append(t)
        elif n == 3 and t.ndim == 2:
            out.append(t.unsqueeze(-1))
        elif n == 3 and t.ndim == 1:
            out.append(t.reshape(1, t.shape[0], 1))
        else:
            out.append(t.reshape([1] * (n - t.ndim) + list(t.shape)))
    return out[0] if single else tuple(out)


def atleast_1d(*tensors: Any) -> Any:
    """Each tensor with at least 1 dim (a 0-d one becomes shape (1,)), as torch.atleast_1d."""
    return _atleast("atleast_1d", 1, tensors)


def atleast_2d(*tensors: Any) -> Any:
    """Each tensor with at least 2 dims (new dims in front), as torch.atleast_2d."""
    return _atleast("atleast_2d", 2, tensors)


def atleast_3d(*tensors: Any) -> Any:
    """Each tensor with at least 3 dims (torch's placement: (n,) -> (1, n, 1), (m, n) -> (m, n, 1))."""
    return _atleast("atleast_3d", 3, tensors)


def column_stack(tensors: Sequence[Tensor]) -> Tensor:
    """1-d tensors as columns (others as they are) joined along dim 1, as torch.column_stack."""
    ts = [F._tensor_arg(t, "column_stack") for t in tensors]
    return F.cat([t.reshape(t.numel(), 1) if t.ndim <= 1 else t for t in ts], 1)


def row_stack(tensors: Sequence[Tensor]) -> Tensor:
    """torch.row_stack, the same as vstack."""
    return F.cat(list(atleast_2d(*[F._tensor_arg(t, "row_stack") for t in tensors]) or ()), 0)


def dstack(tensors: Sequence[Tensor]) -> Tensor:
    """The tensors (made at least 3-d) joined along dim 2, as torch.dstack."""
    ts = atleast_3d(*[F._tensor_arg(t, "dstack") for t in tensors])
    return F.cat(list(ts) if isinstance(ts, tuple) else [ts], 2)


def flipud(input: Tensor) -> Tensor:
    """input reversed along dim 0, as torch.flipud."""
    x = F._tensor_arg(input, "flipud")
    if x.ndim < 1:
        raise RuntimeError("[flipud] input must be >= 1-d")
    return _C.flip(x, [0])


def fliplr(input: Tensor) -> Tensor:
    """input reversed along dim 1, as torch.fliplr."""
    x = F._tensor_arg(input, "fliplr")
    if x.ndim < 2:
        raise RuntimeError(f"[fliplr] input must be >= 2-d, got shape {tuple(x.shape)}")
    return _C.flip(x, [1])


def rot90(input: Tensor, k: int = 1, dims: Sequence[int] = (0, 1)) -> Tensor:
    """input rotated by 90° k times in the plane of dims (from the first towards the second), as torch.rot90."""
    x = F._tensor_arg(input, "rot90")
    k = _int(k, "k", "rot90")
    if len(dims) != 2:
        raise RuntimeError(f"[rot90] expected total rotation dims == 2, got {len(dims)}")
    d0, d1 = (F._wrap_dim(_int(d, "dim", "rot90"), x.ndim, "rot90") for d in dims)
    if d0 == d1:
        raise RuntimeError(f"[rot90] rotation dims must differ, got dims = {list(dims)}")
    k %= 4
    if k == 1:
        return F.transpose(_C.flip(x, [d1]), d0, d1)
    if k == 2:
        return _C.flip(x, [d0, d1])
    if k == 3:
        return _C.flip(F.transpose(x, d0, d1), [d1])
    return x.clone()


def swapdims(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """torch.swapdims, the same as transpose."""
    return F.transpose(input, dim0, dim1)


def tensor_split(input: Tensor, indices_or_sections: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
    """input cut along dim into n nearly equal parts (the first size % n one longer), or at the given indices,
    as torch.tensor_split; the parts are views."""
    x = F._tensor_arg(input, "tensor_split")
    d = F._wrap_dim(_int(dim, "dim", "tensor_split"), x.ndim, "tensor_split")
    size = x.shape[d]
    if isinstance(indices_or_sections, numbers.Integral) and not isinstance(indices_or_sections, bool):
        n = int(indices_or_sections)
        if n <= 0:
            raise RuntimeError(f"[tensor_split] number of sections must be larger than 0, got {n}")
        q, r = divmod(size, n)
        bounds = [i * q + builtins.min(i, r) for i in range(n + 1)]
    else:
        seq: Sequence[int] = indices_or_sections  # type: ignore[assignment]
        cuts = [_int(i, "index", "tensor_split") for i in seq]
        bounds = [0] + cuts + [size]
    parts = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        lo, hi = builtins.max(0, builtins.min(lo, size)), builtins.max(0, builtins.min(hi, size))
        parts.append(x.narrow(d, lo, builtins.max(0, hi - lo)))
    return tuple(parts)


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """1-d input: the square matrix with it on the given diagonal; 2-d input: that diagonal, as torch.diag."""
    x = F._tensor_arg(input, "diag")
    k = _int(diagonal, "diagonal", "diag")
    if x.ndim == 2:
        return _C.diagonal(x, k, 0, 1).clone()
    if x.ndim != 1:
        raise RuntimeError(f"[diag] expected a 1-d or 2-d tensor, got shape {tuple(x.shape)}")
    return diag_embed(x, k)


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Matrices whose diagonal (offset) in dims (dim1, dim2) holds input's last dim, zeros elsewhere, as
    torch.diag_embed: computed as input times an identity pattern, so both modes differentiate it."""
    x = F._tensor_arg(input, "diag_embed")
    k = _int(offset, "offset", "diag_embed")
    n = x.shape[-1] if x.ndim else 1
    m = n + builtins.abs(k)
    rows = _C.arange(0.0, float(m), 1.0, int64, x.device)
    # pattern[i, j, t] = 1 where (i, j) is the t-th entry of the diagonal
    t = _C.arange(0.0, float(n), 1.0, int64, x.device)
    r = t + builtins.max(-k, 0)
    c = t + builtins.max(k, 0)
    pat = (rows.reshape(m, 1, 1) == r.reshape(1, 1, n)).to(dtype=x.dtype) * (
        rows.reshape(1, m, 1) == c.reshape(1, 1, n)
    ).to(dtype=x.dtype)
    col = x.unsqueeze(-1).unsqueeze(-3) if x.ndim else x.reshape(1, 1)  # (..., 1, n, 1)
    out = F.matmul(pat, col).squeeze(-1)  # (..., m, m)
    nd = out.ndim
    a, b = F._wrap_dim(dim1, nd, "diag_embed"), F._wrap_dim(dim2, nd, "diag_embed")
    if a == b:
        raise RuntimeError(f"[diag_embed] diagonal dimensions cannot be identical {dim1}, {dim2}")
    if (a, b) != (nd - 2, nd - 1):
        perm = [0] * nd
        src = iter(range(nd - 2))
        for d in range(nd):
            perm[d] = nd - 2 if d == a else nd - 1 if d == b else next(src)
        out = F.permute(out, perm)
    return out


def block_diag(*tensors: Tensor) -> Tensor:
    """The tensors (0-d, 1-d as a row, or 2-d) along the diagonal of one matrix, zeros elsewhere, as
    torch.block_diag."""
    ts = []
    for t in tensors:
        t = F._tensor_arg(t, "block_diag")
        if t.ndim > 2:
            raise RuntimeError(
                f"[block_diag] input tensors must have 2 or fewer dimensions, got shape {tuple(t.shape)}"
            )
        ts.append(t.reshape(1, -1) if t.ndim < 2 else t)
    if not ts:
        return _C.zeros([1, 0], _C.dtype.float32, _C.device("cpu"))
    dt = ts[0].dtype
    for t in ts[1:]:
        dt = _promote(dt, t.dtype)
    ts = [t if t.dtype == dt else t.to(dtype=dt) for t in ts]
    width = builtins.sum(t.shape[1] for t in ts)
    rows, col = [], 0
    for t in ts:
        left = _C.zeros([t.shape[0], col], t.dtype, t.device)
        right = _C.zeros([t.shape[0], width - col - t.shape[1]], t.dtype, t.device)
        rows.append(F.cat([left, t, right], 1))
        col += t.shape[1]
    return F.cat(rows, 0)


def cartesian_prod(*tensors: Tensor) -> Tensor:
    """Every combination of the 1-d tensors' elements, one per row (itertools.product order), as
    torch.cartesian_prod (a single tensor gives itself)."""
    ts = [F._tensor_arg(t, "cartesian_prod") for t in tensors]
    if len(ts) == 1:
        return ts[0]
    grids = meshgrid(*ts, indexing="ij")
    return F.stack([g.reshape(-1) for g in grids], 1)


def _tri_indices(op: str, row: int, col: int, offset: int, upper: bool, device: DeviceLike | None) -> Tensor:
    row, col, offset = _int(row, "row", op), _int(col, "col", op), _int(offset, "offset", op)
    if row < 0 or col < 0:
        raise RuntimeError(f"[{op}] row and col must be non-negative, got {row} and {col}")
    dev = as_device(device) if device is not None else _C.device("cpu")
    i = _C.arange(0.0, float(row), 1.0, int64, dev).reshape(row, 1).expand(row, col)
    j = _C.arange(0.0, float(col), 1.0, int64, dev).reshape(1, col).expand(row, col)
    keep = (j - i >= offset) if upper else (j - i <= offset)
    n = int(keep.to(dtype=int64).sum().item())
    if n == 0:
        return _C.zeros([2, 0], int64, dev)
    # row-major order of the kept entries: sort their flat positions, kept ones first
    flat = i * col + j
    key = F.where(keep, flat, row * col + flat)
    order = _C.sort(key.reshape(-1), -1, False, True)[0][:n]
    j_of = _C.remainder(order, col)
    i_of = ((order - j_of).to(dtype=_C.dtype.float64) / float(col)).to(dtype=int64)  # exact: a multiple of col
    return F.stack([i_of, j_of], 0)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None, device: DeviceLike | None = None) -> Tensor:
    """The (2, N) int64 coordinates of the lower triangle (j - i <= offset) in row-major order, as
    torch.tril_indices."""
    return _tri_indices("tril_indices", row, col, offset, False, device)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None, device: DeviceLike | None = None) -> Tensor:
    """The (2, N) int64 coordinates of the upper triangle (j - i >= offset) in row-major order, as
    torch.triu_indices."""
    return _tri_indices("triu_indices", row, col, offset, True, device)
