"""A graph you can see into: Graphviz DOT of the backward graph behind a tensor.

Each node shows its op, the shape and dtype of what it produced, and the bytes it holds for backward.
"""

from __future__ import annotations

import html
from typing import Any

from ._C import Tensor

__all__ = ["graph_memory", "render", "to_dot"]


def _walk(root_fn: Any) -> list[Any]:
    """Every node reachable from root_fn, each once, in discovery order (no recursion)."""
    seen, order, stack = set(), [], [root_fn]
    while stack:
        n = stack.pop()
        if n is None or id(n) in seen:
            continue
        seen.add(id(n))
        order.append(n)
        stack.extend(fn for fn, _ in reversed(n.next_functions))
    return order


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def graph_memory(t: Tensor) -> int:
    """Total bytes of the distinct storages that the graph behind t holds for backward (each counted once)."""
    if t.grad_fn is None:
        return 0
    storages = {}
    for n in _walk(t.grad_fn):
        for sid, nbytes, _ in n._saved_storages():
            storages[sid] = nbytes
    return sum(storages.values())


def to_dot(t: Tensor, show_saved: bool = True) -> str:
    """Graphviz DOT text of the graph behind t: one box per node (op, output shape and dtype, saved bytes)."""
    if t.grad_fn is None:
        raise ValueError("[to_dot] the tensor has no grad_fn: it was not produced by a recorded op")
    nodes = _walk(t.grad_fn)
    ids = {id(n): f"n{i}" for i, n in enumerate(nodes)}
    lines = ["digraph pyad {", '  rankdir="BT";', '  node [shape=box, fontname="Helvetica", fontsize=10];']
    lines.append(f'  out [label="output\\n{tuple(t.shape)} {t.dtype}", shape=ellipse];')
    lines.append(f"  {ids[id(t.grad_fn)]} -> out;")
    for n in nodes:
        label = [html.escape(n.name())]
        if n.name() == "AccumulateGrad":
            v = n.variable
            label.append(f"leaf {tuple(v.shape)} {v.dtype}")
        else:
            label.append(f"{n.output_shape} {n.output_dtype}")
            if show_saved:
                saved = n._saved_storages()
                if saved:
                    label.append(f"saved {_fmt_bytes(sum(nb for _, nb, _ in {s[0]: s for s in saved}.values()))}")
            if n.creation_site:
                label.append(html.escape(n.creation_site))
        text = "\\n".join(label)
        lines.append(f'  {ids[id(n)]} [label="{text}"];')
        for fn, _ in n.next_functions:
            if fn is not None:
                lines.append(f"  {ids[id(fn)]} -> {ids[id(n)]};")
    lines.append("}")
    return "\n".join(lines)


def render(t: Tensor, path: str, show_saved: bool = True) -> str:
    """Write the graph behind t as SVG or PNG (by path's extension) with the graphviz package and binary."""
    try:
        import graphviz
    except ImportError:
        raise RuntimeError(
            "[render] needs the graphviz Python package and the Graphviz binary "
            "(pip install graphviz; apt-get install graphviz)"
        ) from None
    fmt = path.rsplit(".", 1)[-1].lower()
    if fmt not in ("svg", "png", "pdf"):
        raise ValueError(f"[render] path must end in .svg, .png or .pdf, got {path!r}")
    src = graphviz.Source(to_dot(t, show_saved))
    data = src.pipe(format=fmt)
    with open(path, "wb") as fh:
        fh.write(data)
    return path
