"""erfc by composition of pyad ops, for the exact GELU (pyad has no erf op yet).

The Chebyshev fit of Numerical Recipes (3rd ed., §6.2, `erfccheb`): for z >= 0,
erfc(z) = t exp(-z^2 + P(4t - 2)) with t = 2 / (2 + z), accurate to about 1.2e-16 relative; negative z uses
erfc(-z) = 2 - erfc(z). Being a composition, it is differentiable to any order; its derivative agrees
with -2/sqrt(pi) exp(-z^2) to about 1e-14, which the tests check.
"""

from __future__ import annotations

from .. import _C
from .._C import Tensor

_COF = (
    -1.3026537197817094,
    6.4196979235649026e-1,
    1.9476473204185836e-2,
    -9.561514786808631e-3,
    -9.46595344482036e-4,
    3.66839497852761e-4,
    4.2523324806907e-5,
    -2.0278578112534e-5,
    -1.624290004647e-6,
    1.303655835580e-6,
    1.5626441722e-8,
    -8.5238095915e-8,
    6.529054439e-9,
    5.059343495e-9,
    -9.91364156e-10,
    -2.27365122e-10,
    9.6467911e-11,
    2.394038e-12,
    -6.886027e-12,
    8.94487e-13,
    3.13092e-13,
    -1.12708e-13,
    3.81e-16,
    7.106e-15,
    -1.523e-15,
    -9.4e-17,
    1.21e-16,
    -2.8e-17,
)


def _erfc_nonneg(z: Tensor) -> Tensor:
    t = 2.0 / (z + 2.0)
    ty = t * 4.0 - 2.0
    d: Tensor | float = 0.0
    dd: Tensor | float = 0.0
    for c in reversed(_COF[1:]):  # Clenshaw's recurrence
        d, dd = ty * d - dd + c, d
    return t * _C.exp(-z * z + (ty * d + _COF[0]) * 0.5 - dd)


def erfc(x: Tensor) -> Tensor:
    nonneg = x >= 0
    # where, not abs: abs'(0) = 0 would lose erfc's slope at 0
    c = _erfc_nonneg(_C.where(nonneg, x, -x))
    return _C.where(nonneg, c, 2.0 - c)
