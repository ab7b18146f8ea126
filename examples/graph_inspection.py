"""Look inside the backward graph of f(x) = log(x^2 + e^x): each node's op, output shape and dtype, the
tensors it saved for backward, then the gradient and the graph as Graphviz DOT.

Usage: python examples/graph_inspection.py [--quick] [--render graph.svg]
"""

import argparse

import numpy as np

import pyad


def nodes_of(t):
    """The graph's nodes from the output back to the leaves, each once (breadth first)."""
    order, seen, queue = [], set(), [t.grad_fn]
    while queue:
        n = queue.pop(0)
        if n is None or id(n) in seen:
            continue
        seen.add(id(n))
        order.append(n)
        queue.extend(fn for fn, _ in n.next_functions)
    return order


def describe(node):
    if node.name() == "AccumulateGrad":
        v = node.variable
        return f"leaf {tuple(v.shape)} {v.dtype}"
    text = f"-> {node.output_shape} {node.output_dtype}"
    saved = node._saved_storages()  # (storage id, storage bytes, tensor) per saved tensor
    if saved:
        parts = [f"{tuple(s.shape)} {np.array2string(s.detach().numpy(), precision=4)}" for _, _, s in saved]
        text += "; saved " + ", ".join(parts)
    return text


def main(quick=False, render=None):
    values = [0.5, -1.0] if quick else [0.5, -1.0, 2.0, -3.0]
    x = pyad.tensor(values, dtype=pyad.float64, requires_grad=True)
    y = pyad.log(x * x + pyad.exp(x))
    out = y.sum()

    print("f(x) = log(x^2 + e^x), x =", values)
    for i, n in enumerate(nodes_of(out)):
        inputs = [fn.name() if fn is not None else "-" for fn, _ in n.next_functions]
        print(f"  [{i}] {n.name():<16} {describe(n)}" + (f"  <- {', '.join(inputs)}" if inputs else ""))
    print(f"bytes held for backward (distinct storages): {pyad.autograd.graph_memory(out)}")

    out.backward()
    xs = np.array(values)
    expected = (2 * xs + np.exp(xs)) / (xs * xs + np.exp(xs))
    print("gradient      :", np.array2string(x.grad.numpy(), precision=6))
    print("(2x+e^x)/(x^2+e^x):", np.array2string(expected, precision=6))
    assert np.allclose(x.grad.numpy(), expected, rtol=1e-12)

    y2 = pyad.log(x * x + pyad.exp(x)).sum()  # a fresh graph for the picture (the first one was freed)
    dot = pyad.viz.to_dot(y2)
    print(dot)
    if render:
        try:
            print("wrote", pyad.viz.render(y2, render))
        except RuntimeError as e:
            print("render skipped:", e)
    return dict(gradient=x.grad.numpy(), expected=expected, dot=dot)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a shorter x")
    ap.add_argument("--render", metavar="PATH", help="also write the graph as .svg/.png/.pdf (needs graphviz)")
    a = ap.parse_args()
    main(quick=a.quick, render=a.render)
