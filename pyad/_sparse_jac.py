"""Structure-aware Jacobians: a known sparsity pattern, a greedy distance-2 coloring, compressed JVPs or
VJPs, and decompression (Curtis, Powell and Reid; Gebremedhin, Manne and Pothen's survey).

Columns j and j' of J may share a JVP when no row has a nonzero in both: pushing the sum of their unit
directions through f gives, in each row, the one entry that is nonzero. Coloring the columns so that no two
of a color share a row (a distance-2 coloring of the bipartite row/column graph) makes one batched forward
pass of `colors` directions, T (colors, m), with J[i, j] = T[color[j], i] for (i, j) in the pattern; rows
sharing no column do the same for VJPs. A banded n x n pattern of bandwidth b needs 2b + 1 colors whatever
n, and the greedy coloring in natural order finds them.

The pattern and its colorings are computed once per pattern (when the transform is built, or cached by the
pattern's identity) in NumPy; each call is one batched pass plus a gather.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from . import _C
from ._C import Tensor

__all__ = ["COO", "CSR", "Pattern", "greedy_color"]


class COO(NamedTuple):
    """A sparse Jacobian as coordinates: indices (2, nnz) int64 rows over columns, row-major sorted;
    values (nnz,); shape (m, n) where m is the output's numel and n the input's."""

    indices: Tensor
    values: Tensor
    shape: tuple[int, int]

    def to_dense(self) -> Tensor:
        """The (m, n) dense matrix."""
        return _dense_from(self.indices[0], self.indices[1], self.values, self.shape)

    def to_scipy(self) -> Any:
        """A scipy.sparse.coo_matrix (scipy must be installed)."""
        sparse = importlib.import_module("scipy.sparse")  # optional: imported only here
        rows, cols = self.indices.numpy()
        return sparse.coo_matrix((self.values.numpy(), (rows, cols)), shape=self.shape)


class CSR(NamedTuple):
    """A sparse Jacobian in compressed rows: crow_indices (m + 1,), col_indices (nnz,), values (nnz,),
    shape (m, n), as torch's sparse_csr layout."""

    crow_indices: Tensor
    col_indices: Tensor
    values: Tensor
    shape: tuple[int, int]

    def to_dense(self) -> Tensor:
        """The (m, n) dense matrix."""
        counts = np.diff(self.crow_indices.numpy())
        rows = _C.from_numpy(np.repeat(np.arange(self.shape[0], dtype=np.int64), counts))
        return _dense_from(rows, self.col_indices, self.values, self.shape)

    def to_scipy(self) -> Any:
        """A scipy.sparse.csr_matrix (scipy must be installed)."""
        sparse = importlib.import_module("scipy.sparse")  # optional: imported only here
        return sparse.csr_matrix(
            (self.values.numpy(), self.col_indices.numpy(), self.crow_indices.numpy()), shape=self.shape
        )


def _dense_from(rows: Tensor, cols: Tensor, values: Tensor, shape: tuple[int, int]) -> Tensor:
    dense = np.zeros(shape, dtype=np.float64)
    dense[rows.numpy(), cols.numpy()] = np.asarray(values.detach().numpy(), dtype=np.float64)
    return _C.copy_to(_C.from_numpy(dense), values.dtype, values.device)


def greedy_color(groups: Sequence[np.ndarray], members: Sequence[np.ndarray], count: int) -> np.ndarray:
    """A distance-2 coloring of `count` items, in natural order, each taking the smallest color none of
    its distance-2 neighbours has: item k's neighbours are the items of every group in members[k] (for
    columns: the columns of every row the column has a nonzero in)."""
    color = np.full(count, -1, dtype=np.int64)
    group_lists = [g.tolist() for g in groups]
    for k in range(count):
        taken = {color[j] for g in members[k].tolist() for j in group_lists[g]}
        c = 0
        while c in taken:
            c += 1
        color[k] = c
    return color


class Pattern:
    """A boolean (m, n) Jacobian pattern with its row-major coordinates and both colorings.

    forward: colors of the n columns (one JVP per color); reverse: colors of the m rows (one VJP each)."""

    def __init__(self, mask: np.ndarray) -> None:
        self.mask = np.asarray(mask, dtype=bool)
        self.m, self.n = self.mask.shape
        self.rows, self.cols = np.nonzero(self.mask)  # row-major: np.nonzero's order
        by_row = np.split(self.cols, np.cumsum(np.bincount(self.rows, minlength=self.m))[:-1])
        order = np.argsort(self.cols, kind="stable")
        by_col = np.split(self.rows[order], np.cumsum(np.bincount(self.cols, minlength=self.n))[:-1])
        self.col_color = greedy_color(by_row, by_col, self.n)
        self.row_color = greedy_color(by_col, by_row, self.m)
        self.crow = np.concatenate([[0], np.cumsum(np.bincount(self.rows, minlength=self.m))]).astype(np.int64)
        self._dev: dict[Any, dict[str, Tensor]] = {}

    @property
    def nnz(self) -> int:
        return int(self.rows.size)

    def colors(self, mode: str) -> int:
        c = self.col_color if mode == "forward" else self.row_color
        return int(c.max()) + 1 if c.size else 0

    def best_mode(self) -> str:
        """The mode with fewer passes (forward on a tie: no graph to keep)."""
        return "forward" if self.colors("forward") <= self.colors("reverse") else "reverse"

    def tensors(self, like: Tensor) -> dict[str, Tensor]:
        """The pattern's index tensors and seeds on like's device in like's dtype (made once per device)."""
        key = (str(like.device), str(like.dtype))
        if key not in self._dev:
            dev, dt = like.device, like.dtype

            def put(a: np.ndarray, dtype: Any = None) -> Tensor:
                t = _C.from_numpy(np.ascontiguousarray(a))
                return _C.copy_to(t, dtype if dtype is not None else t.dtype, dev)

            fc, rc = self.colors("forward"), self.colors("reverse")
            fseed = np.zeros((fc, self.n))
            fseed[self.col_color, np.arange(self.n)] = 1.0
            rseed = np.zeros((rc, self.m))
            rseed[self.row_color, np.arange(self.m)] = 1.0
            self._dev[key] = {
                "fseed": put(fseed, dt),
                "rseed": put(rseed, dt),
                # Where each pattern entry sits in the compressed result (colors, m) or (colors, n), flat.
                "fpick": put(self.col_color[self.cols] * self.m + self.rows),
                "rpick": put(self.row_color[self.rows] * self.n + self.cols),
                "rows": put(self.rows.astype(np.int64)),
                "cols": put(self.cols.astype(np.int64)),
                "crow": put(self.crow),
                "mask": put(self.mask),
            }
        return self._dev[key]


def as_mask(sparsity: Any, m: int, n: int, out_shape: Sequence[int], in_shape: Sequence[int], fn: str) -> np.ndarray:
    """The user's pattern as an (m, n) bool array: a bool Tensor or array of shape (m, n) or
    out_shape + in_shape, a scipy.sparse matrix, a COO/CSR, or a (rows, cols) pair of index arrays."""
    if isinstance(sparsity, (COO, CSR)):
        sparsity = sparsity.to_dense() != 0 if isinstance(sparsity, CSR) else sparsity.indices.numpy()
        if isinstance(sparsity, Tensor):
            sparsity = sparsity.numpy()
    if hasattr(sparsity, "tocoo"):  # scipy.sparse
        c = sparsity.tocoo()
        sparsity = (np.asarray(c.row), np.asarray(c.col))
    if isinstance(sparsity, tuple) and len(sparsity) == 2 and not isinstance(sparsity[0], int):
        rows, cols = (np.asarray(a.numpy() if isinstance(a, Tensor) else a, dtype=np.int64) for a in sparsity)
        if rows.shape != cols.shape or rows.ndim != 1:
            raise ValueError(f"[{fn}] a (rows, cols) sparsity needs two 1-d index arrays of one length")
        if rows.size and (rows.min() < 0 or rows.max() >= m or cols.min() < 0 or cols.max() >= n):
            raise ValueError(f"[{fn}] sparsity indices out of range for a ({m}, {n}) Jacobian")
        mask = np.zeros((m, n), dtype=bool)
        mask[rows, cols] = True
        return mask
    if isinstance(sparsity, np.ndarray) and sparsity.ndim == 2 and sparsity.shape[0] == 2 and (m, n) != (2, 2):
        return as_mask((sparsity[0], sparsity[1]), m, n, out_shape, in_shape, fn)
    arr = sparsity.numpy() if isinstance(sparsity, Tensor) else np.asarray(sparsity)
    if arr.dtype != bool:
        raise TypeError(f"[{fn}] a dense sparsity pattern must be boolean, got {arr.dtype}")
    if arr.shape == tuple(out_shape) + tuple(in_shape) or arr.shape == (m, n):
        return arr.reshape(m, n)
    raise ValueError(
        f"[{fn}] sparsity of shape {arr.shape} does not fit a Jacobian of output shape {tuple(out_shape)} and "
        f"input shape {tuple(in_shape)}: expected ({m}, {n}) or {tuple(out_shape) + tuple(in_shape)}"
    )


def compressed(
    f: Callable[[Tensor], Tensor], x: Tensor, pattern: Pattern, mode: str, record: Callable[..., Any]
) -> tuple[Tensor, Tensor]:
    """(the compressed Jacobian (colors, m) in forward mode or (colors, n) in reverse, f(x)): one batched
    pass with one direction per color."""
    from .autograd import forward_ad

    t = pattern.tensors(x)
    colors = pattern.colors(mode)
    if mode == "forward":
        seed = _C.reshape(t["fseed"], [colors] + list(x.shape))
        with forward_ad.dual_level():
            out = f(_C.make_dual(x.detach(), seed))
            prim, tan = _C.unpack_dual(out)
        if tan is None:
            tan = _C.zeros([colors] + list(out.shape), out.dtype, out.device)
        return _C.reshape(tan, [colors, pattern.m]), prim
    diff, tracked, out, _ = record(f, (x,), {}, 0, "sparse_jacobian")
    seed = _C.reshape(t["rseed"], [colors] + list(out.shape))
    g = _C.grad([out], tracked, [seed], True, False, True, 1)[0] if out.requires_grad else None
    if g is None:
        g = _C.zeros([colors] + list(x.shape), x.dtype, x.device)
    return _C.reshape(g, [colors, pattern.n]), out.detach()


def decompress(comp: Tensor, pattern: Pattern, mode: str, layout: str) -> Any:
    """The Jacobian from its compressed form: a dense (m, n) tensor, a COO or a CSR."""
    t = pattern.tensors(comp)
    pick = t["fpick" if mode == "forward" else "rpick"]
    if layout == "dense" and not comp.is_cuda:
        # On the host a scatter of the nnz values into zeros is the cheapest (no m x n arithmetic).
        values = _C.gather(_C.reshape(comp, [-1]), 0, pick)
        dense = np.zeros((pattern.m, pattern.n), dtype=np.asarray(values.numpy()).dtype)
        dense[pattern.rows, pattern.cols] = values.numpy()
        return _C.from_numpy(dense)
    if layout == "dense":
        # One small matmul spreads each color's entries to its columns (rows); the mask keeps the pattern.
        if mode == "forward":
            spread = _C.matmul(_C.transpose(comp, 0, 1), t["fseed"])
        else:
            spread = _C.matmul(_C.transpose(t["rseed"], 0, 1), comp)
        return _C.where(t["mask"], spread, _C.zeros([], comp.dtype, comp.device))
    values = _C.gather(_C.reshape(comp, [-1]), 0, pick)
    shape = (pattern.m, pattern.n)
    if layout == "coo":
        return COO(_C.stack([t["rows"], t["cols"]], 0), values, shape)
    return CSR(t["crow"], t["cols"], values, shape)


def numel(shape: Sequence[int]) -> int:
    return int(math.prod(shape))
