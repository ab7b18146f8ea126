"""XOR with pyad.nn and pyad.optim: a 2-8-1 tanh network trained with Adam on the four points to 100 % accuracy.

XOR is not linearly separable, so a network without a hidden layer cannot fit it; one hidden layer can.
The loss is binary cross-entropy on the logit (nn.BCEWithLogitsLoss).

Usage: python examples/xor.py [--quick] [--steps 500]
"""

import argparse

import pyad
from pyad import nn

X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
Y = [[0.0], [1.0], [1.0], [0.0]]


def main(quick=False, steps=None, seed=0):
    steps = steps or (300 if quick else 1000)
    pyad.manual_seed(seed)
    x, y = pyad.tensor(X), pyad.tensor(Y)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    opt = pyad.optim.Adam(model.parameters(), lr=0.05)
    loss_fn = nn.BCEWithLogitsLoss()
    losses = []
    for step in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if step % max(1, steps // 5) == 0:
            print(f"step {step:5d}  loss {losses[-1]:.5f}")
    with pyad.no_grad():
        prob = pyad.sigmoid(model(x)).numpy().ravel()
    pred = (prob > 0.5).astype(float)
    accuracy = float((pred == [r[0] for r in Y]).mean())
    for (a, b), p, q in zip(X, prob, pred):
        print(f"  {a:.0f} xor {b:.0f}: p = {p:.4f} -> {q:.0f}")
    print(f"final loss {losses[-1]:.5f}, accuracy {accuracy:.0%}")
    return dict(losses=losses, probabilities=prob, predictions=pred, accuracy=accuracy)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer steps")
    ap.add_argument("--steps", type=int)
    a = ap.parse_args()
    main(quick=a.quick, steps=a.steps)
