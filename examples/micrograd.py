"""micrograd-style scalar autodiff next to pyad: z = xy + x^2, f = (x1 + x2)(x1 x2) and a ReLU neuron.

Value is a scalar that records how it was made; backward() orders the graph topologically (depth first)
and applies the chain rule from the output back, adding into .grad where a value is used twice (x in
xy + x^2). pyad does the same on tensors. The hand-derived gradients are dz/dx = y + 2x, dz/dy = x;
df/dx1 = x1 x2 + (x1 + x2) x2, df/dx2 = x1 x2 + (x1 + x2) x1; for relu(w·x + b), d/dw = x, d/dx = w,
d/db = 1 where w·x + b > 0 and all zero where it is negative.

Usage: python examples/micrograd.py [--quick]
"""

import argparse

import pyad


class Value:
    def __init__(self, data, parents=()):
        self.data, self.grad, self._parents, self._backward = data, 0.0, parents, lambda: None

    def __add__(self, o):
        o = o if isinstance(o, Value) else Value(o)
        out = Value(self.data + o.data, (self, o))

        def backward():
            self.grad += out.grad
            o.grad += out.grad

        out._backward = backward
        return out

    __radd__ = __add__

    def __mul__(self, o):
        o = o if isinstance(o, Value) else Value(o)
        out = Value(self.data * o.data, (self, o))

        def backward():
            self.grad += o.data * out.grad
            o.grad += self.data * out.grad

        out._backward = backward
        return out

    __rmul__ = __mul__

    def relu(self):
        out = Value(max(self.data, 0.0), (self,))

        def backward():
            self.grad += (out.data > 0) * out.grad

        out._backward = backward
        return out

    def backward(self):
        order, seen = [], set()

        def visit(v):  # post-order: a value comes after everything it was made from
            if id(v) not in seen:
                seen.add(id(v))
                for p in v._parents:
                    visit(p)
                order.append(v)

        visit(self)
        self.grad = 1.0
        for v in reversed(order):
            v._backward()


def z_of(x, y):
    return x * y + x * x


def f_of(x1, x2):
    return (x1 + x2) * (x1 * x2)


def neuron(w, x, b, relu):
    return relu(sum((wi * xi for wi, xi in zip(w, x)), b))


def with_values(fn, *args, relu=None):
    vs = [Value(a) for a in args]
    out = fn(*vs) if relu is None else fn(vs[:2], vs[2:4], vs[4], relu)
    out.backward()
    return out.data, [v.grad for v in vs]


def with_pyad(fn, *args, relu=None):
    ts = [pyad.tensor(a, dtype=pyad.float64, requires_grad=True) for a in args]
    out = fn(*ts) if relu is None else fn(ts[:2], ts[2:4], ts[4], relu)
    out.backward()
    return out.item(), [t.grad.item() if t.grad is not None else 0.0 for t in ts]


def main(quick=False):
    cases = {
        "z = xy + x^2 at (x, y) = (2, 3)": (z_of, (2.0, 3.0), None, None),
        "f = (x1 + x2)(x1 x2) at (2, 3)": (f_of, (2.0, 3.0), None, None),
        # w = (-3, 1), x = (2, 0): w·x = -6, so b = 6.7 puts the neuron on, b = 5 off.
        "relu(w·x + b), b = 6.7 (active)": (neuron, (-3.0, 1.0, 2.0, 0.0, 6.7), Value.relu, pyad.relu),
        "relu(w·x + b), b = 5 (inactive)": (neuron, (-3.0, 1.0, 2.0, 0.0, 5.0), Value.relu, pyad.relu),
    }
    results = {}
    for name, (fn, args, vrelu, prelu) in cases.items():
        mv, mg = with_values(fn, *args, relu=vrelu)
        pv, pg = with_pyad(fn, *args, relu=prelu)
        results[name] = dict(inputs=args, micrograd=(mv, mg), pyad=(pv, pg))
        print(name)
        print(f"  micrograd: value {mv:.6g}, grads {[round(g, 12) for g in mg]}")
        print(f"  pyad     : value {pv:.6g}, grads {[round(g, 12) for g in pg]}")
    return results


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="(the example is already quick)")
    main(quick=ap.parse_args().quick)
