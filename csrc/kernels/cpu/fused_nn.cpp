// Fused CPU kernels of the training loop: cross entropy over rows of logits (forward and backward, one pass
// over the logits each) and the multi-tensor optimizer steps (one pass over each parameter and its state).
#include <cmath>
#include <cstring>
#include <utility>
#include "kernels/kernels.h"
#include "kernels/math.h"
#include "kernels/optim_math.h"

namespace pyad::kernels::cpu {

namespace {

// Note [A vectorisable exp]
// std::exp is a call per element, which keeps a loop scalar, and the exps are most of cross entropy's cost (one
// per logit forward, one backward). This float exp (Cephes' expf: a degree-6 polynomial on r = x - n ln2,
// |r| <= ln2/2, ln2 split in two for exactness, 2^n built in the exponent bits; within 1 ulp) is written on
// GCC/Clang vectors of 4 floats (SSE2, the baseline of x86-64; other targets split or widen them), with no
// branch and no float-to-int conversion. Below -87.34 it gives 0 (not the denormals std::exp would: they change
// no sum of exps beyond float's precision), above 88.72 inf, and NaN stays NaN. float64 keeps std::exp, whose
// precision its tolerances need.
typedef float vf __attribute__((vector_size(16), aligned(4)));
typedef int32_t vi __attribute__((vector_size(16), aligned(4)));
constexpr int kLanes = 4;

inline vf splat(float v) { return vf{} + v; }
inline vf load(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, vf v) { std::memcpy(p, &v, sizeof v); }
// The last n < kLanes elements, the other lanes `fill`.
inline vf load_tail(const float* p, int64_t n, float fill) {
  float buf[kLanes] = {fill, fill, fill, fill};
  std::memcpy(buf, p, static_cast<size_t>(n) * sizeof(float));
  return load(buf);
}
inline void store_tail(float* p, vf v, int64_t n) {
  float buf[kLanes];
  store(buf, v);
  std::memcpy(p, buf, static_cast<size_t>(n) * sizeof(float));
}

template <class To, class From> inline To bits(const From& v) {
  static_assert(sizeof(To) == sizeof(From));
  To out;
  std::memcpy(&out, &v, sizeof out);
  return out;
}

inline vf exp_vec(vf x) {
  const vf hi = splat(88.7228f), lo = splat(-87.3365f);
  vf xc = x > hi ? hi : x;
  xc = xc < lo ? lo : xc;
  // n = round(x / ln2), read from the low mantissa bits of x / ln2 + 1.5 * 2^23
  const vf magic = splat(12582912.0f);
  const vf k = xc * 1.44269504088896341f + magic;
  const vf n = k - magic;
  vf r = xc - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  vf p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const vf y = p * r * r + r + 1.0f;
  const vi e = ((bits<vi>(k) - bits<vi>(magic)) + 127) << 23;
  const vf out = y * bits<vf>(e);
  return x < lo ? vf{} : out;
}

// NaN wins, as torch's max: a lane keeps a NaN once it has one.
inline vf max_vec(vf m, vf x) { return (x > m || x != x) ? x : m; }
inline float max_nan(float m, float x) { return (x > m || x != x) ? x : m; }

// The row's max and its sum of exp(x - shift), shift the max made safe (math::SoftmaxShift).
std::pair<float, double> row_shift_and_sum(const float* x, int64_t n) {
  const int64_t body = n / kLanes * kLanes;
  vf mv = splat(-INFINITY);
  for (int64_t j = 0; j < body; j += kLanes) mv = max_vec(mv, load(x + j));
  if (body < n) mv = max_vec(mv, load_tail(x + body, n - body, -INFINITY));
  float mx = -INFINITY;
  for (int k = 0; k < kLanes; ++k) mx = max_nan(mx, mv[k]);
  const float shift = static_cast<float>(math::SoftmaxShift{}(mx));
  vf acc = vf{};
  for (int64_t j = 0; j < body; j += kLanes) acc += exp_vec(load(x + j) - shift);
  if (body < n) acc += exp_vec(load_tail(x + body, n - body, -INFINITY) - shift);
  double sum = 0;
  for (int k = 0; k < kLanes; ++k) sum += acc[k];
  return {shift, sum};
}
std::pair<double, double> row_shift_and_sum(const double* x, int64_t n) {
  double mx = -INFINITY;
  for (int64_t j = 0; j < n; ++j) mx = math::MaxCombine{}(mx, x[j]);
  const double shift = math::SoftmaxShift{}(mx);
  double sum = 0;
  for (int64_t j = 0; j < n; ++j) sum += std::exp(x[j] - shift);
  return {shift, sum};
}

// out[j] = g * exp(x[j] - l)
void scaled_exp_row(const float* x, float l, float g, float* out, int64_t n) {
  const int64_t body = n / kLanes * kLanes;
  for (int64_t j = 0; j < body; j += kLanes) store(out + j, exp_vec(load(x + j) - l) * g);
  if (body < n) store_tail(out + body, exp_vec(load_tail(x + body, n - body, 0.0f) - l) * g, n - body);
}
void scaled_exp_row(const double* x, double l, double g, double* out, int64_t n) {
  for (int64_t j = 0; j < n; ++j) out[j] = g * std::exp(x[j] - l);
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
    for (int64_t i = 0; i < m; ++i) {
      const T* row = xp + i * c;
      const auto [shift, sum] = row_shift_and_sum(row, c);
      const T l = static_cast<T>(static_cast<double>(shift) + std::log(sum));
      sp[i] = l;
      const int64_t t = tp[i * ts];
      lp[i] = t == ignore_index ? T(0) : static_cast<T>(l - row[t]);
    }
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
    for (int64_t i = 0; i < m; ++i) {
      const T* row = xp + i * c;
      T* orow = out + i * c;
      const int64_t t = tp[i * ts];
      if (t == ignore_index) {
        std::fill(orow, orow + c, T(0));
        continue;
      }
      const T gi = gp[i * gs];
      scaled_exp_row(row, sp[i], gi, orow, c);
      orow[t] -= gi;
    }
  });
}

// The optimizer steps: each element goes through the very operations, in the very order and precision
// (scalars rounded to T first, as pyad's binary ops with a Python number do), of the per-tensor loop in
// pyad/optim, so that the fused and the unfused paths give the same bits.
namespace {

// restrict: the arrays are distinct tensors, which lets the loop vectorise without alias checks.
template <bool Amsgrad, bool L2, bool SmallWeight, class T>
void adam_loop(const math::AdamUpdate<T>& up, T* __restrict__ p, const T* __restrict__ g, T* __restrict__ m,
               T* __restrict__ v, T* __restrict__ vmax, int64_t n) {
  for (int64_t j = 0; j < n; ++j)
    up.template apply<Amsgrad, L2, SmallWeight>(p[j], g[j], m[j], v[j], Amsgrad ? vmax + j : nullptr);
}

template <bool Momentum, bool First, bool Decay, bool Nesterov, class T>
void sgd_loop(const math::SgdUpdate<T>& up, T* __restrict__ p, const T* __restrict__ g, T* __restrict__ buf,
              int64_t n) {
  for (int64_t j = 0; j < n; ++j)
    up.template apply<Momentum, First, Decay, Nesterov>(p[j], g[j], Momentum ? buf + j : nullptr);
}

template <class T> T* data_of(const std::vector<Tensor>& ts, size_t i) {
  return ts.empty() ? nullptr : static_cast<T*>(ts[i].raw_data());
}

}  // namespace

void adam_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const std::vector<Tensor>& exp_avgs,
               const std::vector<Tensor>& exp_avg_sqs, const std::vector<Tensor>& max_exp_avg_sqs,
               const AdamScalars& s) {
  PYAD_DISPATCH_FLOAT(params[0].dtype(), "adam", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const math::AdamUpdate<T> up(s);
    math::with_flag(s.amsgrad, [&](auto ams) {
      math::with_flag(up.l2, [&](auto l2) {
        math::with_flag(up.small_weight, [&](auto small) {
          for (size_t i = 0; i < params.size(); ++i)
            adam_loop<decltype(ams)::value, decltype(l2)::value, decltype(small)::value, T>(
                up, data_of<T>(params, i), data_of<T>(grads, i), data_of<T>(exp_avgs, i), data_of<T>(exp_avg_sqs, i),
                data_of<T>(max_exp_avg_sqs, i), params[i].numel());
        });
      });
    });
  });
}

void sgd_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
              const std::vector<Tensor>& momentum_buffers, const SgdScalars& s) {
  PYAD_DISPATCH_FLOAT(params[0].dtype(), "sgd", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const math::SgdUpdate<T> up(s);
    math::with_flag(!momentum_buffers.empty(), [&](auto mom) {
      math::with_flag(up.first, [&](auto first) {
        math::with_flag(up.decay, [&](auto decay) {
          math::with_flag(up.nesterov, [&](auto nesterov) {
            for (size_t i = 0; i < params.size(); ++i)
              sgd_loop<decltype(mom)::value, decltype(first)::value, decltype(decay)::value, decltype(nesterov)::value,
                       T>(up, data_of<T>(params, i), data_of<T>(grads, i), data_of<T>(momentum_buffers, i),
                          params[i].numel());
          });
        });
      });
    });
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
