"""Functional layers built from pyad ops."""
from .. import _C
from .._creation import rand_like


def dropout(input, p=0.5, training=True):
    """Zero each element with probability p and scale the rest by 1/(1-p); random numbers come from the
    global generator (pyad.manual_seed), so checkpointing replays them."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"[dropout] p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    keep = _C.to_dtype(rand_like(input) >= p, input.dtype)
    return input * keep / (1.0 - p)


def linear(input, weight, bias=None):
    """input @ weight.T + bias, as torch.nn.functional.linear."""
    out = input @ weight.T
    return out + bias if bias is not None else out


relu = _C.relu
sigmoid = _C.sigmoid
tanh = _C.tanh
softplus = _C.softplus
softmax = _C.softmax
log_softmax = _C.log_softmax
