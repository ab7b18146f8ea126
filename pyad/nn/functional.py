"""pyad.nn.functional: layers and losses as functions, with torch.nn.functional's signatures, built from
pyad ops (so every one is differentiable to any order)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence

from .. import _C, _batched
from .._C import Tensor, erfc
from .._creation import rand_like
from .._functions import log_softmax, mean, softmax, sum as _sum, where
from . import _gather

__all__ = [
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "dropout",
    "embedding",
    "gelu",
    "l1_loss",
    "layer_norm",
    "linear",
    "log_softmax",
    "mse_loss",
    "nll_loss",
    "one_hot",
    "relu",
    "sigmoid",
    "softmax",
    "softplus",
    "tanh",
]

# The core's ops themselves (as torch.nn.functional.sigmoid and tanh are torch's).
sigmoid: Callable[[Tensor], Tensor] = _C.sigmoid
tanh: Callable[[Tensor], Tensor] = _C.tanh


def _write_back(input: Tensor, out: Tensor) -> Tensor:
    """The in-place form: out written into input (which takes out's history, as torch's in-place ops)."""
    return input.copy_(out)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(input, 0); inplace writes the result into input."""
    out = _C.relu(input)
    return _write_back(input, out) if inplace else out


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p); random numbers come from the
    global generator (pyad.manual_seed), so checkpointing replays them."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"[dropout] p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        out = input * 0.0
    else:
        keep = _C.to_dtype(rand_like(input) >= p, input.dtype)
        out = input * keep / (1.0 - p)
    return _write_back(input, out) if inplace else out


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight.T + bias, as torch.nn.functional.linear."""
    out = input @ weight.T
    return out + bias if bias is not None else out


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (torch's linear regime)."""
    if beta == 1.0:
        soft = _C.softplus(input)
        scaled = input
    else:
        scaled = input * beta
        soft = _C.softplus(scaled) / beta
    return where(scaled > threshold, input, soft)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x); approximate='tanh' uses torch's tanh formula."""
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2.0 / math.pi)
        return input * 0.5 * (_C.tanh(inner) + 1.0)
    if approximate != "none":
        raise ValueError(f"[gelu] approximate must be 'none' or 'tanh', got {approximate!r}")
    return input * 0.5 * erfc(input * (-1.0 / math.sqrt(2.0)))


def _normalized_dims(
    input: Tensor, normalized_shape: int | Sequence[int], op: str
) -> tuple[tuple[int, ...], list[int]]:
    if isinstance(normalized_shape, (int, numbers.Integral)):
        shape: tuple[int, ...] = (int(normalized_shape),)
    else:
        shape = tuple(int(s) for s in normalized_shape)
    k = len(shape)
    if k == 0 or tuple(input.shape[input.ndim - k :]) != shape or input.ndim < k:
        raise ValueError(f"[{op}] input of shape {tuple(input.shape)} does not end with normalized_shape {shape}")
    return shape, list(range(input.ndim - k, input.ndim))


def layer_norm(
    input: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """(x - mean) / sqrt(var + eps) over the trailing normalized_shape dims (biased variance), then
    * weight + bias."""
    shape, dims = _normalized_dims(input, normalized_shape, "layer_norm")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise ValueError(f"[layer_norm] {name} of shape {tuple(t.shape)} does not match normalized_shape {shape}")
    centered = input - mean(input, dims, keepdim=True)
    var = mean(centered * centered, dims, keepdim=True)
    out = centered * (1.0 / _C.sqrt(var + eps))
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """weight[input]: the rows of weight (num_embeddings, dim) at the int64 indices in input. The row at
    padding_idx gets no gradient; a repeated index accumulates its gradients, as torch."""
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError("[embedding] max_norm, scale_grad_by_freq and sparse are not supported")
    if weight.ndim != 2:
        raise ValueError(
            f"[embedding] weight must be 2-d (num_embeddings, embedding_dim), got shape {tuple(weight.shape)}"
        )
    n = weight.shape[0]
    out = _C._embedding_rows(weight, input)  # Note [Fused embedding]
    if padding_idx is None:
        return out
    pad = _padding_index(padding_idx, n)
    is_pad = input == pad
    # The padding row's value, through no gradient path (where's gradient to `out` is 0 there), as torch.
    return where(is_pad[..., None], weight[pad].detach(), out)


def _padding_index(padding_idx: int, n: int) -> int:
    if not -n <= padding_idx < n:
        raise ValueError(f"[embedding] padding_idx {padding_idx} must be within num_embeddings ({n})")
    return padding_idx % n


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 (..., num_classes) with a 1 at each index; num_classes=-1 means max + 1."""
    if num_classes == -1:
        num_classes = tensor.amax().item() + 1 if tensor.numel() else 0
    _gather.check_range(tensor, num_classes, "one_hot")
    out = _C.zeros(list(tensor.shape) + [num_classes], _C.dtype.int64, tensor.device)
    return _C.scatter(out, -1, _C.unsqueeze(tensor, -1), 1)


# ---- losses ----
def _reduce(loss: Tensor, reduction: str, op: str) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "mean":
        return mean(loss)
    if reduction == "sum":
        return _sum(loss)
    raise ValueError(f"[{op}] {reduction!r} is not a valid value for reduction (expected 'none', 'mean' or 'sum')")


def _check_reduction(reduction: str, op: str) -> None:
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"[{op}] {reduction!r} is not a valid value for reduction (expected 'none', 'mean' or 'sum')")


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """(input - target)^2, reduced ('mean', 'sum' or 'none'), as torch.nn.functional.mse_loss."""
    diff = input - target
    return _reduce(diff * diff, reduction, "mse_loss")


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """|input - target|, reduced ('mean', 'sum' or 'none'), as torch.nn.functional.l1_loss."""
    return _reduce(_C.abs(input - target), reduction, "l1_loss")


def _classes_last(input: Tensor, target: Tensor, op: str) -> tuple[Tensor, int]:
    """input (N, C, d1, ...) or (C,) as (..., C) with the class dim last, and C; checks target's shape."""
    if input.ndim == 0:
        raise ValueError(f"[{op}] input must have a class dimension, got a 0-d tensor")
    if input.ndim == 1:
        expected = ()
    else:
        expected = (input.shape[0],) + tuple(input.shape[2:])
    if tuple(target.shape) != expected:
        raise ValueError(
            f"[{op}] expected target of shape {expected} for input of shape {tuple(input.shape)}, "
            f"got {tuple(target.shape)}"
        )
    if input.ndim <= 2:
        return input, input.shape[-1]
    return _C.permute(input, [0] + list(range(2, input.ndim)) + [1]), input.shape[1]


def _check_weight(weight: Tensor | None, c: int, op: str) -> None:
    if weight is not None and tuple(weight.shape) != (c,):
        raise ValueError(f"[{op}] weight must have shape ({c},) (one per class), got {tuple(weight.shape)}")


def nll_loss(
    input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100, reduction: str = "mean"
) -> Tensor:
    """-input[n, target[n]] * weight[target[n]]; targets equal to ignore_index count for nothing, and 'mean'
    divides by the summed weights of the rest."""
    _check_reduction(reduction, "nll_loss")
    x, c = _classes_last(input, target, "nll_loss")
    _check_weight(weight, c, "nll_loss")
    if not _gather.check_range(target, c, "nll_loss", ignore_index) and weight is None:
        # nothing ignored, no weights: the common case, in fewer ops
        loss = -_gather.take_along_last(x, target)
        return loss if reduction == "none" else _sum(loss) if reduction == "sum" else mean(loss)
    kept = target != ignore_index
    w = _C.to_dtype(kept, input.dtype)
    if weight is not None:
        w = _gather.take_along_last(weight, target) * w
    loss = -_gather.take_along_last(x, target) * w
    if reduction == "none":
        return loss
    if reduction == "sum":
        return _sum(loss)
    total = _sum(w)
    # Every target ignored: the loss is 0/0 = nan but, as torch, the gradient is 0 rather than nan.
    empty = total == 0
    return _sum(loss) / where(empty, 1.0, total) + where(empty, total + math.nan, 0.0)


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """log_softmax over the class dim (1, or 0 unbatched) then nll_loss for class indices, or
    -sum(target * logp) for class probabilities (a float target of input's shape); label_smoothing mixes
    in the uniform distribution, as torch."""
    _check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"[cross_entropy] label_smoothing must be in [0, 1], got {label_smoothing}")
    class_dim = 0 if input.ndim == 1 else 1
    if input.ndim == 0:
        raise ValueError("[cross_entropy] input must have a class dimension, got a 0-d tensor")
    c = input.shape[class_dim]
    _check_weight(weight, c, "cross_entropy")
    fusable = not target.dtype.is_floating_point and label_smoothing == 0 and input.dtype.is_floating_point
    if fusable and not _batched.in_vmap():  # under vmap the composed ops batch by their rules
        return _fused_cross_entropy(input, target, weight, ignore_index, reduction)
    logp = log_softmax(input, class_dim)
    wshape = [1] * input.ndim
    wshape[class_dim] = c
    if target.dtype.is_floating_point:
        if tuple(target.shape) != tuple(input.shape):
            raise ValueError(
                f"[cross_entropy] probability targets must have the input's shape "
                f"{tuple(input.shape)}, got {tuple(target.shape)}"
            )
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + label_smoothing / c
        prod = logp * target
        if weight is not None:
            prod = prod * weight.reshape(wshape)
        if reduction == "none":
            return -_sum(prod, class_dim)
        if reduction == "sum":
            return -_sum(prod)
        return -_sum(prod) / (input.numel() / c)
    nll = nll_loss(logp, target, weight, ignore_index, reduction)
    if label_smoothing == 0:
        return nll
    kept = target != ignore_index
    smooth = -_sum(logp if weight is None else logp * weight.reshape(wshape), class_dim)
    smooth = where(kept, smooth, 0.0)
    if reduction == "none":
        ret = smooth
    elif reduction == "sum":
        ret = _sum(smooth)
    elif weight is None:
        ret = _sum(smooth) / _sum(_C.to_dtype(kept, smooth.dtype))
    else:
        ret = _sum(smooth) / _sum(where(kept, _gather.take_along_last(weight, target), 0.0))
    return nll * (1 - label_smoothing) + ret * (label_smoothing / c)


def _fused_cross_entropy(
    input: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int, reduction: str
) -> Tensor:
    """cross_entropy for class indices without label smoothing: the per-row losses from one fused op
    (Note [Fused cross entropy]), weighted and reduced here on (N,)-sized tensors."""
    x, _ = _classes_last(input, target, "cross_entropy")
    rows_shape = tuple(target.shape)
    c = x.shape[-1]
    if x.ndim != 2:
        x = _C.reshape(x, [-1, c])
    flat_target = _C.reshape(target, [-1]) if target.ndim != 1 else target
    loss, n_kept = _C._cross_entropy_rows(x, flat_target, ignore_index)
    if weight is not None:
        # take_along_last gives 0 for an ignored target (outside [0, C) after the op's check), else weight[t]
        w = _gather.take_along_last(weight, flat_target)
        if 0 <= ignore_index < c:
            w = where(flat_target == ignore_index, 0.0, w)
        loss = loss * w
    if reduction == "none":
        return _C.reshape(loss, list(rows_shape)) if loss.shape != rows_shape else loss
    if reduction == "sum":
        return _sum(loss)
    if weight is not None:
        total = _sum(w)
        empty = total == 0
        # Every target ignored: the loss is 0/0 = nan but, as torch, the gradient is 0 rather than nan.
        return _sum(loss) / where(empty, 1.0, total) + where(empty, total + math.nan, 0.0)
    if n_kept == 0:
        return _sum(loss) * math.nan  # torch's nan, with a gradient of 0 (the op's rows are all ignored)
    return _sum(loss) / float(n_kept)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """(1 - t) x - w_pos(t) log sigmoid(x), with log sigmoid(x) = -softplus(-x) (stable for any x)."""
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"[binary_cross_entropy_with_logits] target size {tuple(target.shape)} must be the same "
            f"as input size {tuple(input.shape)}"
        )
    neg_log_sigmoid = _C.softplus(-input)
    if pos_weight is not None:
        log_weight = (pos_weight - 1) * target + 1
        loss = (1 - target) * input + log_weight * neg_log_sigmoid
    else:
        loss = (1 - target) * input + neg_log_sigmoid
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")
