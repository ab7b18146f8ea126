"""An MNIST-like classifier: scikit-learn's 8x8 handwritten digits (1797 images, shipped with the package, no
download), a 64-128-10 ReLU network trained with pyad.nn and pyad.optim (Adam, mini-batches, cross-entropy)
to at least 95 % accuracy on a held-out quarter of the images. The loss curve goes to digits_loss.png in --out.

It runs on one thread by default: on products this small (64 x 128 per mini-batch) a second thread saves
nothing, and on a busy machine waiting for it costs ten times the work.

Usage: python examples/digits.py [--quick] [--epochs 30] [--out DIR]   (needs scikit-learn and matplotlib)
"""

import argparse
import os

import numpy as np

import pyad
from pyad import nn


def load(seed):
    from sklearn.datasets import load_digits

    digits = load_digits()
    x, y = digits.data.astype(np.float32) / 16.0, digits.target.astype(np.int64)  # pixels are 0..16
    perm = np.random.default_rng(seed).permutation(len(y))
    n_test = len(y) // 4
    test, train = perm[:n_test], perm[n_test:]
    return x[train], y[train], x[test], y[test]


def accuracy(model, x, y):
    with pyad.no_grad():
        logits = model(pyad.tensor(x)).numpy()
    return float((logits.argmax(1) == y).mean())


def plot(path, losses, steps_per_epoch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    steps = np.arange(1, len(losses) + 1) / steps_per_epoch
    ax.plot(steps, losses, lw=0.8, alpha=0.5, label="mini-batch")
    per_epoch = np.array(losses[: len(losses) // steps_per_epoch * steps_per_epoch]).reshape(-1, steps_per_epoch)
    ax.plot(np.arange(1, len(per_epoch) + 1), per_epoch.mean(1), "o-", ms=3, label="epoch mean")
    ax.set(xlabel="epoch", ylabel="cross-entropy", yscale="log", title="8x8 digits: training loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(quick=False, epochs=None, batch=64, seed=0, threads=1, out="."):
    before = pyad.get_num_threads()
    pyad.set_num_threads(threads)
    try:
        return train(epochs or (12 if quick else 40), batch, seed, out)
    finally:
        pyad.set_num_threads(before)


def train(epochs, batch, seed, out):
    pyad.manual_seed(seed)
    x_tr, y_tr, x_te, y_te = load(seed)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = pyad.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    losses = []
    steps_per_epoch = -(-len(y_tr) // batch)
    print(f"digits: {len(y_tr)} train, {len(y_te)} test images of 8x8 pixels, 10 classes")
    for epoch in range(epochs):
        perm = rng.permutation(len(y_tr))
        for i in range(0, len(perm), batch):
            idx = perm[i : i + batch]
            opt.zero_grad()
            loss = loss_fn(model(pyad.tensor(x_tr[idx])), pyad.tensor(y_tr[idx]))
            loss.backward()
            opt.step()
            losses.append(loss.item())
        if epoch % max(1, epochs // 6) == 0 or epoch == epochs - 1:
            mean = np.mean(losses[-steps_per_epoch:])
            print(f"epoch {epoch + 1:3d}  loss {mean:.4f}  test accuracy {accuracy(model, x_te, y_te):.2%}")
    train_acc, test_acc = accuracy(model, x_tr, y_tr), accuracy(model, x_te, y_te)
    print(f"train accuracy {train_acc:.2%}, test accuracy {test_acc:.2%}")
    png = None
    if out:
        png = os.path.join(out, "digits_loss.png")
        plot(png, losses, steps_per_epoch)
        print("wrote", png)
    return dict(
        losses=losses,
        steps_per_epoch=steps_per_epoch,
        train_accuracy=train_acc,
        test_accuracy=test_acc,
        n_test=len(y_te),
        plot=png,
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer epochs")
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=".", help="folder for the loss curve ('' for none)")
    a = ap.parse_args()
    main(quick=a.quick, epochs=a.epochs, threads=a.threads, out=a.out)
