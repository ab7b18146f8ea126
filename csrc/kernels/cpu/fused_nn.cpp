// Fused CPU kernels of the training loop: cross entropy over rows of logits (forward and backward, one pass
// over the logits each) and the multi-tensor optimizer steps (one pass over each parameter and its state).
#include <cmath>
#include <cstring>
#include "kernels/kernels.h"
#include "kernels/math.h"
#include "kernels/optim_math.h"

namespace pyad::kernels::cpu {

namespace {

// Note [A vectorisable exp]
// std::exp is a call per element, which keeps the loop scalar, and the exps are most of cross entropy's cost
// (one per logit forward, one backward). This float exp (Cephes' expf: a degree-6 polynomial on
// r = x - n ln2, |r| <= ln2/2, ln2 split in two for exactness, 2^n built in the exponent bits; within 2 ulp)
// has no branch and no float-to-int conversion, so the compiler vectorises the loops that call it. Below
// -87.33 it returns 0 (not the denormals std::exp would give: they change no sum of exps beyond float's
// precision), above 88.72 inf, and NaN stays NaN. float64 keeps std::exp, whose precision its tolerances need.
inline float exp_vec(float x) {
  const float hi = 88.7228f, lo = -87.3365f;
  float xc = x > hi ? hi : x;
  xc = xc < lo ? lo : xc;
  // n = round(x / ln2) read from the low mantissa bits of x / ln2 + 1.5 * 2^23
  const float magic = 12582912.0f;
  const float k = xc * 1.44269504088896341f + magic;
  int32_t kbits, mbits;
  std::memcpy(&kbits, &k, 4);
  std::memcpy(&mbits, &magic, 4);
  const float n = k - magic;
  float r = xc - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  const int32_t ebits = static_cast<int32_t>(static_cast<uint32_t>((kbits - mbits) + 127) << 23);
  float scale;
  std::memcpy(&scale, &ebits, 4);
  const float out = y * scale;
  return x < lo ? 0.0f : out;
}
inline double exp_vec(double x) { return std::exp(x); }

// Sum of exp(x[j] - shift) over a row, in 8 lanes so that the float loop vectorises without reassociation.
template <class T> double row_sum_exp(const T* x, int64_t n, T shift) {
  T lanes[8] = {};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) lanes[k] += exp_vec(static_cast<T>(x[j + k] - shift));
  double sum = 0;
  for (int k = 0; k < 8; ++k) sum += lanes[k];
  for (; j < n; ++j) sum += exp_vec(static_cast<T>(x[j] - shift));
  return sum;
}

template <class T> T row_max(const T* x, int64_t n) {
  T lanes[8];
  for (auto& l : lanes) l = -INFINITY;
  int64_t j = 0;
  // NaN must win, as in torch's max: (a > b || a != a) keeps a NaN once it is in a lane
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) lanes[k] = (x[j + k] > lanes[k] || x[j + k] != x[j + k]) ? x[j + k] : lanes[k];
  T m = -INFINITY;
  for (int k = 0; k < 8; ++k) m = (lanes[k] > m || lanes[k] != lanes[k]) ? lanes[k] : m;
  for (; j < n; ++j) m = (x[j] > m || x[j] != x[j]) ? x[j] : m;
  return m;
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
      const T shift = static_cast<T>(math::SoftmaxShift{}(static_cast<double>(row_max(row, c))));
      const T l = static_cast<T>(static_cast<double>(shift) + std::log(row_sum_exp(row, c, shift)));
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
      const T gi = gp[i * gs], l = sp[i];
      for (int64_t j = 0; j < c; ++j) orow[j] = gi * exp_vec(static_cast<T>(row[j] - l));
      orow[t] -= gi;
    }
  });
}

// The optimizer steps: each element goes through the very operations, in the very order and precision
// (scalars rounded to T first, as pyad's binary ops with a Python number do), of the per-tensor loop in
// pyad/optim, so that the fused and the unfused paths give the same bits.
void adam_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
               const std::vector<Tensor>& exp_avgs, const std::vector<Tensor>& exp_avg_sqs,
               const std::vector<Tensor>& max_exp_avg_sqs, const AdamScalars& s) {
  PYAD_DISPATCH_FLOAT(params[0].dtype(), "adam", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const math::AdamUpdate<T> up(s);
    for (size_t i = 0; i < params.size(); ++i) {
      T* p = static_cast<T*>(params[i].raw_data());
      const T* g = static_cast<const T*>(grads[i].raw_data());
      T* m = static_cast<T*>(exp_avgs[i].raw_data());
      T* v = static_cast<T*>(exp_avg_sqs[i].raw_data());
      T* vmax = s.amsgrad ? static_cast<T*>(max_exp_avg_sqs[i].raw_data()) : nullptr;
      const int64_t n = params[i].numel();
      if (vmax) {
        for (int64_t j = 0; j < n; ++j) up.template apply<true>(p[j], g[j], m[j], v[j], vmax + j);
      } else {
        for (int64_t j = 0; j < n; ++j) up.template apply<false>(p[j], g[j], m[j], v[j], nullptr);
      }
    }
  });
}

void sgd_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
              const std::vector<Tensor>& momentum_buffers, const SgdScalars& s) {
  PYAD_DISPATCH_FLOAT(params[0].dtype(), "sgd", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const math::SgdUpdate<T> up(s);
    for (size_t i = 0; i < params.size(); ++i) {
      T* p = static_cast<T*>(params[i].raw_data());
      const T* g = static_cast<const T*>(grads[i].raw_data());
      T* buf = momentum_buffers.empty() ? nullptr : static_cast<T*>(momentum_buffers[i].raw_data());
      const int64_t n = params[i].numel();
      if (buf) {
        for (int64_t j = 0; j < n; ++j) up.template apply<true>(p[j], g[j], buf + j);
      } else {
        for (int64_t j = 0; j < n; ++j) up.template apply<false>(p[j], g[j], nullptr);
      }
    }
  });
}

}  // namespace pyad::kernels::cpu
