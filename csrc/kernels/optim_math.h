#pragma once
// The per-element updates of the fused optimizer steps (kernels::adam_step, kernels::sgd_step), written once for
// the CPU loop and the CUDA kernel. Each mirrors, operation by operation, the per-tensor loop of pyad/optim (every
// Python number rounded to T before it meets a tensor, as pyad's binary ops do), so the fused step and the loop give
// the same bits; the loop follows torch's update order, which keeps both within rounding of torch.
#include <cmath>
#include "kernels/math.h"
#include "kernels/optim_scalars.h"

namespace pyad::math {

// Products and sums rounded one by one: nvcc would otherwise fuse a * b + c into one fma, whose single rounding
// the unfused loop (one kernel per op) never has.
template <class T> PYAD_HD T mul_rn(T a, T b) {
#ifdef __CUDA_ARCH__
  if constexpr (sizeof(T) == 4) return __fmul_rn(a, b);
  else return __dmul_rn(a, b);
#else
  return a * b;
#endif
}
template <class T> PYAD_HD T add_rn(T a, T b) {
#ifdef __CUDA_ARCH__
  if constexpr (sizeof(T) == 4) return __fadd_rn(a, b);
  else return __dadd_rn(a, b);
#else
  return a + b;
#endif
}

// torch's lerp_(end, w) for a scalar weight: exact at both ends (w = 0 gives x, w = 1 gives end).
template <class T> struct Lerp {
  T w, one_minus_w;
  bool small;
  PYAD_HD T operator()(T x, T end) const {
    return small ? add_rn(x, mul_rn(end - x, w)) : end - mul_rn(end - x, one_minus_w);
  }
};

// NaN wins, as pyad.maximum.
template <class T> PYAD_HD T nan_max(T a, T b) { return (a != a || a > b) ? a : b; }

template <class T> struct AdamUpdate {
  T decay, wd, b2, one_minus_b2, bc2, eps, neg_step;
  Lerp<T> lerp;
  bool l2, decoupled, maximize;

  explicit AdamUpdate(const kernels::AdamScalars& s)
      : decay(static_cast<T>(1 - s.lr * s.weight_decay)),
        wd(static_cast<T>(s.weight_decay)),
        b2(static_cast<T>(s.beta2)),
        one_minus_b2(static_cast<T>(1 - s.beta2)),
        bc2(static_cast<T>(s.bias_correction2_sqrt)),
        eps(static_cast<T>(s.eps)),
        neg_step(static_cast<T>(-s.step_size)),
        lerp{static_cast<T>(1 - s.beta1), static_cast<T>(1.0 - (1 - s.beta1)), (1 - s.beta1) < 0.5},
        l2(s.weight_decay != 0 && !s.decoupled),
        decoupled(s.weight_decay != 0 && s.decoupled),
        maximize(s.maximize) {}

  template <bool Amsgrad> PYAD_HD void apply(T& p, T g, T& m, T& v, T* vmax) const {
    if (decoupled) p = p * decay;
    if (maximize) g = -g;
    if (l2) g = add_rn(g, mul_rn(p, wd));
    m = lerp(m, g);
    v = add_rn(mul_rn(v, b2), mul_rn(mul_rn(g, one_minus_b2), g));
    T second = v;
    if constexpr (Amsgrad) second = *vmax = nan_max(*vmax, v);
    const T denom = std::sqrt(second) / bc2 + eps;
    p = p + mul_rn(m, neg_step) / denom;
  }
};

template <class T> struct SgdUpdate {
  T wd, momentum, one_minus_dampening, neg_lr;
  bool decay, dampen, nesterov, maximize, first;

  explicit SgdUpdate(const kernels::SgdScalars& s)
      : wd(static_cast<T>(s.weight_decay)),
        momentum(static_cast<T>(s.momentum)),
        one_minus_dampening(static_cast<T>(1 - s.dampening)),
        neg_lr(static_cast<T>(-s.lr)),
        decay(s.weight_decay != 0),
        dampen(s.dampening != 0),
        nesterov(s.nesterov),
        maximize(s.maximize),
        first(s.first) {}

  template <bool Momentum> PYAD_HD void apply(T& p, T g, T* buf) const {
    if (maximize) g = -g;
    if (decay) g = add_rn(g, mul_rn(p, wd));
    if constexpr (Momentum) {
      T b = first ? g : add_rn(mul_rn(*buf, momentum), dampen ? mul_rn(g, one_minus_dampening) : g);
      *buf = b;
      g = nesterov ? add_rn(g, mul_rn(b, momentum)) : b;
    }
    p = add_rn(p, mul_rn(g, neg_lr));
  }
};

}  // namespace pyad::math
