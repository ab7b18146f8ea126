#pragma once
// The per-element updates of the fused optimizer steps (kernels::adam_step, kernels::sgd_step), written once for
// the CPU loop and the CUDA kernel. Each mirrors, operation by operation, the per-tensor loop of pyad/optim (every
// Python number rounded to T before it meets a tensor, as pyad's binary ops do), so the fused step and the loop give
// the same bits; the loop follows torch's update order, which keeps both within rounding of torch.
#include <cmath>
#include <type_traits>
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

// NaN wins, as pyad.maximum.
template <class T> PYAD_HD T nan_max(T a, T b) { return (a != a || a > b) ? a : b; }

// The updates' options are template flags, so that the CPU loop over one tensor has no branch and vectorises
// (with_flags picks the instantiation). Options whose skipped operation is exact as a multiplication by 1 (AdamW's
// decay, SGD's dampening) or -1 (maximize) are multiplications instead, giving the loop's bits either way.
template <class F> void with_flag(bool b, F&& f) {
  if (b) f(std::true_type{});
  else f(std::false_type{});
}

template <class T> struct AdamUpdate {
  T decay, sign, wd, w, one_minus_w, b2, one_minus_b2, bc2, eps, neg_step;
  bool l2, small_weight;

  explicit AdamUpdate(const kernels::AdamScalars& s)
      : decay(s.weight_decay != 0 && s.decoupled ? static_cast<T>(1 - s.lr * s.weight_decay) : T(1)),
        sign(s.maximize ? T(-1) : T(1)),
        wd(static_cast<T>(s.weight_decay)),
        w(static_cast<T>(1 - s.beta1)),
        one_minus_w(static_cast<T>(1.0 - (1 - s.beta1))),
        b2(static_cast<T>(s.beta2)),
        one_minus_b2(static_cast<T>(1 - s.beta2)),
        bc2(static_cast<T>(s.bias_correction2_sqrt)),
        eps(static_cast<T>(s.eps)),
        neg_step(static_cast<T>(-s.step_size)),
        l2(s.weight_decay != 0 && !s.decoupled),
        small_weight((1 - s.beta1) < 0.5) {}

  // L2: weight decay added to the gradient; SmallWeight: which of torch's two lerp formulas (exact at either end).
  template <bool Amsgrad, bool L2, bool SmallWeight> PYAD_HD void apply(T& p, T g, T& m, T& v, T* vmax) const {
    p = mul_rn(p, decay);
    g = mul_rn(g, sign);
    if constexpr (L2) g = add_rn(g, mul_rn(p, wd));
    if constexpr (SmallWeight) m = add_rn(m, mul_rn(g - m, w));
    else m = g - mul_rn(g - m, one_minus_w);
    v = add_rn(mul_rn(v, b2), mul_rn(mul_rn(g, one_minus_b2), g));
    T second = v;
    if constexpr (Amsgrad) second = *vmax = nan_max(*vmax, v);
    const T denom = std::sqrt(second) / bc2 + eps;
    p = p + mul_rn(m, neg_step) / denom;
  }
};

template <class T> struct SgdUpdate {
  T sign, wd, momentum, one_minus_dampening, neg_lr;
  bool decay, nesterov, first;

  explicit SgdUpdate(const kernels::SgdScalars& s)
      : sign(s.maximize ? T(-1) : T(1)),
        wd(static_cast<T>(s.weight_decay)),
        momentum(static_cast<T>(s.momentum)),
        one_minus_dampening(s.dampening != 0 ? static_cast<T>(1 - s.dampening) : T(1)),
        neg_lr(static_cast<T>(-s.lr)),
        decay(s.weight_decay != 0),
        nesterov(s.nesterov),
        first(s.first) {}

  template <bool Momentum, bool First, bool Decay, bool Nesterov> PYAD_HD void apply(T& p, T g, T* buf) const {
    g = mul_rn(g, sign);
    if constexpr (Decay) g = add_rn(g, mul_rn(p, wd));
    if constexpr (Momentum) {
      T b;
      if constexpr (First) b = g;
      else b = add_rn(mul_rn(*buf, momentum), mul_rn(g, one_minus_dampening));
      *buf = b;
      if constexpr (Nesterov) g = add_rn(g, mul_rn(b, momentum));
      else g = b;
    }
    p = add_rn(p, mul_rn(g, neg_lr));
  }
};

}  // namespace pyad::math
