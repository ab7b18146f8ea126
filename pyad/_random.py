"""Random sampling with torch's signatures, built on pyad's uniform and normal generators (pyad.rand, pyad.randn):
seeded by pyad.manual_seed, on the CPU and the GPU alike. Samples carry no gradient, as torch's."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import _C
from ._C import Tensor
from ._creation import _finish, _shape, rand, randn
from ._dtypes import as_device, as_dtype, float64, get_default_dtype, int64

if TYPE_CHECKING:
    from ._typing import DeviceLike, DTypeLike, Number

__all__ = ["bernoulli", "multinomial", "normal", "randint", "randint_like", "randperm"]

# Draws below are made in float64: its 53-bit mantissa keeps floor(u * n) uniform for every n < 2**53.
_MAX_RANGE = 2**53


def _int(v: Any, what: str, op: str) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"[{op}] {what} must be an int, got {type(v).__name__}")
    return int(v)


def randint(
    *args: Any,
    size: Sequence[int] | None = None,
    dtype: DTypeLike | None = None,
    device: DeviceLike | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """randint(high, size) or randint(low, high, size): integers drawn uniformly from [low, high), int64 unless
    dtype says otherwise, as torch.randint."""
    if size is None:
        if not args:
            raise TypeError("[randint] missing the size argument")
        *bounds, size = args
    else:
        bounds = list(args)
    if len(bounds) == 1:
        low, high = 0, _int(bounds[0], "high", "randint")
    elif len(bounds) == 2:
        low, high = _int(bounds[0], "low", "randint"), _int(bounds[1], "high", "randint")
    else:
        raise TypeError(
            f"[randint] expected randint(high, size) or randint(low, high, size), got {len(args)} arguments"
        )
    if high <= low:
        raise ValueError(f"[randint] random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    if high - low > _MAX_RANGE:
        raise ValueError(f"[randint] the range [{low}, {high}) is wider than 2**53")
    shape = _shape(tuple(size) if not isinstance(size, numbers.Integral) else (size,), "randint")
    u = rand(shape, dtype=float64, device=device)
    out = _C.floor(u * float(high - low)) + float(low)
    dt = as_dtype(dtype) if dtype is not None else int64
    return _finish(out.to(dtype=dt), requires_grad)


def randint_like(
    input: Tensor,
    low: int = 0,
    high: int | None = None,
    *,
    dtype: DTypeLike | None = None,
    device: DeviceLike | None = None,
) -> Tensor:
    """randint_like(input, high) or randint_like(input, low, high): randint with input's shape, dtype and
    device unless given, as torch.randint_like."""
    if high is None:
        low, high = 0, low
    return randint(
        low,
        high,
        tuple(input.shape),
        dtype=dtype if dtype is not None else input.dtype,
        device=device if device is not None else input.device,
    )


def randperm(
    n: int, *, dtype: DTypeLike | None = None, device: DeviceLike | None = None, requires_grad: bool = False
) -> Tensor:
    """A random permutation of 0 .. n-1 (int64 unless dtype says otherwise), as torch.randperm: the order that
    sorts n uniform draws (ties, of probability about n**2 / 2**54, keep their order)."""
    n = _int(n, "n", "randperm")
    if n < 0:
        raise ValueError(f"[randperm] n must be non-negative, got {n}")
    perm = _C.argsort(rand([n], dtype=float64, device=device), -1, False, True)
    dt = as_dtype(dtype) if dtype is not None else int64
    return _finish(perm if dt == int64 else perm.to(dtype=dt), requires_grad)


def normal(
    mean: Tensor | Number = 0.0,
    std: Tensor | Number = 1.0,
    size: Sequence[int] | None = None,
    *,
    dtype: DTypeLike | None = None,
    device: DeviceLike | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """Samples of N(mean, std**2), as torch.normal: mean and std are tensors (broadcast together) or numbers
    (then size gives the shape); std must be non-negative. The samples do not depend on mean and std for
    autograd (torch.normal's samples carry no gradient either)."""
    tensors = [t for t in (mean, std) if isinstance(t, Tensor)]
    if tensors:
        if size is not None:
            raise TypeError("[normal] size is only for a number mean and std")
        like = tensors[0]
        m = mean.detach() if isinstance(mean, Tensor) else mean
        s = std.detach() if isinstance(std, Tensor) else std
        shape = list((tensors[0].detach() * 0 + tensors[-1].detach() * 0).shape)  # the two broadcast together
        dt = as_dtype(dtype) if dtype is not None else like.dtype
        if not dt.is_floating_point:
            raise TypeError(f"[normal] expected a floating-point mean or std, got {dt}")
        dev: Any = device if device is not None else like.device
    else:
        if size is None:
            raise TypeError("[normal] give size when mean and std are numbers")
        m, s = float(mean), float(std)
        shape = _shape(tuple(size), "normal")
        dt = as_dtype(dtype) if dtype is not None else get_default_dtype()
        dev = device
    low = s if isinstance(s, (int, float)) else _C.amin(s, None, False).item() if s.numel() else 0.0
    if low < 0:
        raise ValueError(f"[normal] std must be non-negative, got a minimum of {low}")
    z = randn(shape, dtype=dt, device=as_device(dev) if dev is not None else None)
    return _finish(z * s + m, requires_grad)


def bernoulli(input: Tensor, p: float | None = None) -> Tensor:
    """1 with probability input (or p) and 0 otherwise, elementwise, in input's dtype, as torch.bernoulli;
    probabilities outside [0, 1] raise."""
    probs = input.detach() if p is None else _C.full(list(input.shape), float(p), input.dtype, input.device)
    if not probs.dtype.is_floating_point:
        raise TypeError(f"[bernoulli] expected floating-point probabilities, got {probs.dtype}")
    if probs.numel():
        lo, hi = _C.amin(probs, None, False).item(), _C.amax(probs, None, False).item()
        if not (0.0 <= lo and hi <= 1.0):
            raise ValueError(f"[bernoulli] expected 0 <= p <= 1, got values in [{lo}, {hi}]")
    u = rand(list(probs.shape), dtype=probs.dtype, device=probs.device)
    return (u < probs).to(dtype=probs.dtype)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False) -> Tensor:
    """Indices drawn from the rows of input (non-negative weights, 1-d or 2-d), int64, as torch.multinomial:
    with replacement by inverting each row's cumulative distribution; without, by the Gumbel top-k trick (the k
    largest of log w + Gumbel noise are a draw without replacement in proportion to w)."""
    num_samples = _int(num_samples, "num_samples", "multinomial")
    if input.ndim not in (1, 2):
        raise RuntimeError(f"[multinomial] prob_dist must be 1 or 2 dim, got shape {tuple(input.shape)}")
    if not input.dtype.is_floating_point:
        raise TypeError(f"[multinomial] expected floating-point weights, got {input.dtype}")
    w = input.detach().to(dtype=float64)
    rows = w if w.ndim == 2 else w.unsqueeze(0)
    n = rows.shape[1]
    if num_samples <= 0:
        raise RuntimeError(f"[multinomial] cannot sample num_samples={num_samples} <= 0 samples")
    if w.numel():
        finite = (w - w) == 0.0  # False at inf and nan
        if _C.amin(w, None, False).item() < 0 or finite.to(dtype=int64).sum().item() < w.numel():
            raise RuntimeError("[multinomial] probability tensor contains either inf, nan or element < 0")
    totals = rows.sum(-1)
    if rows.shape[0] and _C.amin(totals, None, False).item() <= 0:
        raise RuntimeError("[multinomial] invalid multinomial distribution (sum of probabilities <= 0)")
    if not replacement and num_samples > n:
        raise RuntimeError(
            f"[multinomial] cannot sample n_sample={num_samples} > prob_dist.size(-1)={n} without replacement"
        )
    if replacement:
        c = _C.cumsum(rows, -1)
        cdf = c / c[:, n - 1 :]  # the last entry exactly 1 (x / x), so no u in [0, 1) passes the end
        u = rand([rows.shape[0], num_samples], dtype=float64, device=w.device)
        # the number of cdf entries <= u is the index drawn; a zero weight's flat step is never landed on
        out = (u.unsqueeze(-1) >= cdf.unsqueeze(-2)).to(dtype=int64).sum(-1)
    else:
        positive = (rows > 0.0).to(dtype=int64).sum(-1)
        if rows.shape[0] and _C.amin(positive, None, False).item() < num_samples:
            raise RuntimeError(
                "[multinomial] invalid multinomial distribution (with replacement=False, not enough non-negative "
                f"category to sample {num_samples})"
            )
        u = rand(list(rows.shape), dtype=float64, device=w.device)
        gumbel = -_C.log(-_C.log(u.clamp(min=1e-300)))
        keys = _C.where(rows > 0, _C.log(rows) + gumbel, _C.full([], float("-inf"), float64, w.device))
        out = _C.topk(keys, num_samples, -1, True, True)[1]
    return out if w.ndim == 2 else out.squeeze(0)
