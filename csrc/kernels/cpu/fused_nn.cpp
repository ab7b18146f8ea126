// Fused CPU kernels of the training loop: cross entropy over rows of logits (forward and backward, one pass
// over the logits each) and Embedding's row gather and scatter-add. The optimizer steps are in optim_step.cpp.
#include <cmath>
#include <cstring>
#include <type_traits>
#include <utility>
#include "kernels/kernels.h"
#include "kernels/math.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/vec_exp.h"

namespace pyad::kernels::cpu {

namespace {

// The row loops of the float cross entropy, on W-lane vectors (vec_exp.h), compiled once per width below.

// The row's max and its sum of exp(x - shift), shift the max made safe (math::SoftmaxShift). The max passes over
// NaNs (vec::max), whose exps then make the sum NaN: the loss and the gradient's row are NaN, as torch's.
template <int W> PYAD_VEC_INLINE std::pair<float, double> row_shift_and_sum(const float* x, int64_t n) {
  using V = vec::VF<W>;
  const int64_t body = n / W * W;
  // Two running maxima halve the chain of dependent compares; max is associative, so the result is the same.
  V m0 = vec::splat<W>(-INFINITY), m1 = m0;
  int64_t j = 0;
  for (; j + 2 * W <= body; j += 2 * W) {
    m0 = vec::max<W>(m0, vec::load<W>(x + j));
    m1 = vec::max<W>(m1, vec::load<W>(x + j + W));
  }
  if (j < body) m0 = vec::max<W>(m0, vec::load<W>(x + j));
  if (body < n) m1 = vec::max<W>(m1, vec::load_tail<W>(x + body, n - body, -INFINITY));
  m0 = vec::max<W>(m0, m1);
  float mx = -INFINITY;
  for (int k = 0; k < W; ++k) mx = m0[k] > mx ? m0[k] : mx;
  const float shift = static_cast<float>(math::SoftmaxShift{}(mx));
  V acc = V{};
  for (j = 0; j < body; j += W) acc += vec::exp<W>(vec::load<W>(x + j) - shift);
  if (body < n) acc += vec::exp<W>(vec::load_tail<W>(x + body, n - body, -INFINITY) - shift);
  double sum = 0;
  for (int k = 0; k < W; ++k) sum += acc[k];
  return {shift, sum};
}

struct CrossEntropyArgs {
  const float* x;
  int64_t m, c;
  const int64_t* target;
  int64_t ts, ignore_index;
};

template <int W> PYAD_VEC_INLINE void cross_entropy_f32(const CrossEntropyArgs& a, float* loss, float* lse) {
  for (int64_t i = 0; i < a.m; ++i) {
    const float* row = a.x + i * a.c;
    const auto [shift, sum] = row_shift_and_sum<W>(row, a.c);
    const float l = static_cast<float>(static_cast<double>(shift) + std::log(sum));
    lse[i] = l;
    const int64_t t = a.target[i * a.ts];
    loss[i] = t == a.ignore_index ? 0.0f : l - row[t];
  }
}

// grad[i, j] = g[i] * (exp(x[i, j] - lse[i]) - (j == target[i]))
template <int W>
PYAD_VEC_INLINE void cross_entropy_backward_f32(const CrossEntropyArgs& a, const float* lse, const float* g, int64_t gs,
                                                float* grad) {
  const int64_t body = a.c / W * W;
  for (int64_t i = 0; i < a.m; ++i) {
    const float* row = a.x + i * a.c;
    float* out = grad + i * a.c;
    const int64_t t = a.target[i * a.ts];
    if (t == a.ignore_index) {
      std::fill(out, out + a.c, 0.0f);
      continue;
    }
    const float gi = g[i * gs], l = lse[i];
    for (int64_t j = 0; j < body; j += W) vec::store<W>(out + j, vec::exp<W>(vec::load<W>(row + j) - l) * gi);
    if (body < a.c)
      vec::store_tail<W>(out + body, vec::exp<W>(vec::load_tail<W>(row + body, a.c - body, 0.0f) - l) * gi, a.c - body);
    out[t] -= gi;
  }
}

// One entry point per width; the callers pick one by cpu_isa().
void cross_entropy_f32_base(const CrossEntropyArgs& a, float* loss, float* lse) { cross_entropy_f32<4>(a, loss, lse); }
void cross_entropy_backward_f32_base(const CrossEntropyArgs& a, const float* lse, const float* g, int64_t gs,
                                     float* grad) {
  cross_entropy_backward_f32<4>(a, lse, g, gs, grad);
}
#if PYAD_X86_DISPATCH
PYAD_TARGET_AVX2 void cross_entropy_f32_avx2(const CrossEntropyArgs& a, float* loss, float* lse) {
  cross_entropy_f32<8>(a, loss, lse);
}
PYAD_TARGET_AVX2 void cross_entropy_backward_f32_avx2(const CrossEntropyArgs& a, const float* lse, const float* g,
                                                      int64_t gs, float* grad) {
  cross_entropy_backward_f32<8>(a, lse, g, gs, grad);
}
PYAD_TARGET_AVX512 void cross_entropy_f32_avx512(const CrossEntropyArgs& a, float* loss, float* lse) {
  cross_entropy_f32<16>(a, loss, lse);
}
PYAD_TARGET_AVX512 void cross_entropy_backward_f32_avx512(const CrossEntropyArgs& a, const float* lse, const float* g,
                                                          int64_t gs, float* grad) {
  cross_entropy_backward_f32<16>(a, lse, g, gs, grad);
}
#endif

void cross_entropy_f32_any(const CrossEntropyArgs& a, float* loss, float* lse) {
#if PYAD_X86_DISPATCH
  if (has_avx512f()) return cross_entropy_f32_avx512(a, loss, lse);
  if (has_avx2_fma()) return cross_entropy_f32_avx2(a, loss, lse);
#endif
  cross_entropy_f32_base(a, loss, lse);
}
void cross_entropy_backward_f32_any(const CrossEntropyArgs& a, const float* lse, const float* g, int64_t gs,
                                    float* grad) {
#if PYAD_X86_DISPATCH
  if (has_avx512f()) return cross_entropy_backward_f32_avx512(a, lse, g, gs, grad);
  if (has_avx2_fma()) return cross_entropy_backward_f32_avx2(a, lse, g, gs, grad);
#endif
  cross_entropy_backward_f32_base(a, lse, g, gs, grad);
}

// float64 keeps std::exp (Note [A vectorisable exp]).
void cross_entropy_f64(const double* xp, int64_t m, int64_t c, const int64_t* tp, int64_t ts, int64_t ignore_index,
                       double* lp, double* sp) {
  for (int64_t i = 0; i < m; ++i) {
    const double* row = xp + i * c;
    double mx = -INFINITY;
    for (int64_t j = 0; j < c; ++j) mx = math::MaxCombine{}(mx, row[j]);
    const double shift = math::SoftmaxShift{}(mx);
    double sum = 0;
    for (int64_t j = 0; j < c; ++j) sum += std::exp(row[j] - shift);
    const double l = shift + std::log(sum);
    sp[i] = l;
    const int64_t t = tp[i * ts];
    lp[i] = t == ignore_index ? 0.0 : l - row[t];
  }
}
void cross_entropy_backward_f64(const double* xp, int64_t m, int64_t c, const int64_t* tp, int64_t ts,
                                int64_t ignore_index, const double* sp, const double* gp, int64_t gs, double* out) {
  for (int64_t i = 0; i < m; ++i) {
    const double* row = xp + i * c;
    double* orow = out + i * c;
    const int64_t t = tp[i * ts];
    if (t == ignore_index) {
      std::fill(orow, orow + c, 0.0);
      continue;
    }
    const double gi = gp[i * gs], l = sp[i];
    for (int64_t j = 0; j < c; ++j) orow[j] = gi * std::exp(row[j] - l);
    orow[t] -= gi;
  }
}

}  // namespace

void cross_entropy_rows(const Tensor& x, const Tensor& target, int64_t ignore_index, const Tensor& loss,
                        const Tensor& lse) {
  PYAD_DISPATCH_FLOAT(x.dtype(), "cross_entropy", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const int64_t m = x.shape()[0], c = x.shape()[1];
    const T* xp = static_cast<const T*>(x.raw_data());
    const int64_t* tp = static_cast<const int64_t*>(target.raw_data());
    const int64_t ts = target.strides()[0];
    T* lp = static_cast<T*>(loss.raw_data());
    T* sp = static_cast<T*>(lse.raw_data());
    if constexpr (std::is_same_v<T, float>) cross_entropy_f32_any({xp, m, c, tp, ts, ignore_index}, lp, sp);
    else cross_entropy_f64(xp, m, c, tp, ts, ignore_index, lp, sp);
  });
}

void cross_entropy_rows_backward(const Tensor& x, const Tensor& target, int64_t ignore_index, const Tensor& lse,
                                 const Tensor& g, const Tensor& grad_x) {
  PYAD_DISPATCH_FLOAT(x.dtype(), "cross_entropy", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const int64_t m = x.shape()[0], c = x.shape()[1];
    const T* xp = static_cast<const T*>(x.raw_data());
    const int64_t* tp = static_cast<const int64_t*>(target.raw_data());
    const int64_t ts = target.strides()[0], gs = g.strides()[0];
    const T* sp = static_cast<const T*>(lse.raw_data());
    const T* gp = static_cast<const T*>(g.raw_data());
    T* out = static_cast<T*>(grad_x.raw_data());
    if constexpr (std::is_same_v<T, float>)
      cross_entropy_backward_f32_any({xp, m, c, tp, ts, ignore_index}, sp, gp, gs, out);
    else cross_entropy_backward_f64(xp, m, c, tp, ts, ignore_index, sp, gp, gs, out);
  });
}

void embedding_rows(const Tensor& weight, const Tensor& index, const Tensor& out) {
  const int64_t n = index.numel(), d = weight.shape()[1];
  const size_t row = static_cast<size_t>(d) * itemsize(weight.dtype());
  const char* w = static_cast<const char*>(weight.raw_data());
  const int64_t* idx = static_cast<const int64_t*>(index.raw_data());
  char* o = static_cast<char*>(out.raw_data());
  for (int64_t i = 0; i < n; ++i) std::memcpy(o + i * row, w + idx[i] * row, row);
}

void embedding_rows_backward(const Tensor& grad_weight, const Tensor& index, const Tensor& g) {
  PYAD_DISPATCH_FLOAT(g.dtype(), "embedding", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const int64_t n = index.numel(), d = grad_weight.shape()[1];
    const int64_t* idx = static_cast<const int64_t*>(index.raw_data());
    const T* gp = static_cast<const T*>(g.raw_data());
    T* out = static_cast<T*>(grad_weight.raw_data());
    for (int64_t i = 0; i < n; ++i) {
      T* __restrict__ dst = out + idx[i] * d;
      const T* __restrict__ src = gp + i * d;
      for (int64_t j = 0; j < d; ++j) dst[j] += src[j];
    }
  });
}

}  // namespace pyad::kernels::cpu
