"""Kahn's algorithm on pyad's backward graph: the order in which backward may run the nodes.

A node may run only once every node that consumes its output has passed its gradient on (a = xy below feeds
three nodes, and its gradient is the sum of theirs). Kahn's algorithm gives such an order: count each
node's consumers (its in-degree, an edge running from a node to each of its next_functions), start from the
output, and release a node when its count reaches zero. The graph is read with pyad's inspection API
(grad_fn, next_functions, name); pyad's own engine, observed through node prehooks, also runs in a
topological order (docs/design.md: run_backward uses Kahn's algorithm too), though it may break ties
differently.

    a = x * y,  b = sin(a),  c = a + x,  d = b * c,  e = exp(a),  out = d + e

Usage: python examples/topological_order.py [--quick]
"""

import argparse
from collections import deque

import pyad


def build(x0=0.5, y0=-1.5):
    x = pyad.tensor(x0, dtype=pyad.float64, requires_grad=True)
    y = pyad.tensor(y0, dtype=pyad.float64, requires_grad=True)
    a = x * y
    out = pyad.sin(a) * (a + x) + pyad.exp(a)
    return x, y, out


def edges_of(root):
    """Every node reachable from root and every (consumer, producer) edge, found depth first."""
    nodes, edges, stack = [], [], [root]
    seen = {root}
    while stack:
        n = stack.pop()
        nodes.append(n)
        for child, _ in n.next_functions:
            if child is None:
                continue
            edges.append((n, child))
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return nodes, edges


def kahn(root):
    nodes, edges = edges_of(root)
    indegree = {n: 0 for n in nodes}
    for _, child in edges:
        indegree[child] += 1
    queue, order = deque(n for n in nodes if indegree[n] == 0), []
    while queue:
        n = queue.popleft()
        order.append(n)
        for child, _ in n.next_functions:
            if child is not None:
                indegree[child] -= 1
                if indegree[child] == 0:
                    queue.append(child)
    if len(order) != len(nodes):
        raise RuntimeError("the graph has a cycle")  # cannot happen for a graph autograd recorded
    return order, edges, indegree


def is_topological(order, edges):
    pos = {n: i for i, n in enumerate(order)}
    return all(pos[u] < pos[v] for u, v in edges if u in pos and v in pos)


def engine_order(root, nodes):
    """The order in which pyad's backward actually ran the (non-leaf) nodes, seen by prehooks."""
    ran, handles = [], []
    for n in nodes:
        if n.name() != "AccumulateGrad":
            handles.append(n.register_prehook(lambda grads, n=n: ran.append(n)))
    return ran, handles


def main(quick=False):
    x, y, out = build()
    root = out.grad_fn
    order, edges, _ = kahn(root)
    nodes, _ = edges_of(root)
    consumers = {n: sum(1 for _, c in edges if c == n) for n in nodes}
    print("Kahn's order (consumers before producers):")
    for i, n in enumerate(order):
        leaf = f" ({'x' if n.variable is x else 'y'})" if n.name() == "AccumulateGrad" else ""
        print(f"  {i:2d}. {n.name():<16}{leaf:<5} consumers: {consumers[n]}")
    ran, handles = engine_order(root, nodes)
    out.backward()
    for h in handles:
        h.remove()
    names_kahn = [n.name() for n in order]
    names_engine = [n.name() for n in ran]
    print("pyad's engine ran:", " -> ".join(names_engine))
    ok_kahn, ok_engine = is_topological(order, edges), is_topological(ran, edges)
    print(f"Kahn's order is topological: {ok_kahn}; the engine's: {ok_engine}")
    return dict(
        order=names_kahn,
        engine_order=names_engine,
        n_nodes=len(nodes),
        n_edges=len(edges),
        kahn_is_topological=ok_kahn,
        engine_is_topological=ok_engine,
        engine_ran_every_node=set(ran) == {n for n in nodes if n.name() != "AccumulateGrad"},
        grads=(x.grad.item(), y.grad.item()),
        inputs=(x.item(), y.item()),
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="(the example is already quick)")
    main(quick=ap.parse_args().quick)
