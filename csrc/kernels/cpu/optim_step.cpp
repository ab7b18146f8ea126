// The fused optimizer steps on the CPU (Note [Fused optimizer steps]): one pass over each parameter and its state.
// Each element goes through the very operations, in the very order and precision (scalars rounded to T first, as
// pyad's binary ops with a Python number do), of the per-tensor loop in pyad/optim, so that the fused and the
// unfused paths give the same bits.
//
// The loops are compiled once per vector width (Note [Run-time ISA dispatch]). Adam's square root and division
// made them compute-bound on SSE2 (8 GB/s where torch streams at 14), so the wider copies pay. This file is built
// with -fno-math-errno (a sqrt that need not set errno vectorises; its value is the same) and -ffp-contract=off (an
// AVX2 copy must not fuse a * b + c into one fma, whose single rounding the per-tensor loop never has), so every
// width gives the same bits (CMakeLists.txt; tests/test_optim.py runs each width against the loop).
#include <type_traits>
#include "kernels/kernels.h"
#include "kernels/optim_math.h"
#include "kernels/cpu/isa.h"

namespace pyad::kernels::cpu {

namespace {

// restrict: the arrays are distinct tensors, which lets the loop vectorise without alias checks.
template <bool Amsgrad, bool L2, bool SmallWeight, class T>
PYAD_VEC_INLINE void adam_loop(const math::AdamUpdate<T>& up, T* __restrict__ p, const T* __restrict__ g,
                               T* __restrict__ m, T* __restrict__ v, T* __restrict__ vmax, int64_t n) {
  for (int64_t j = 0; j < n; ++j)
    up.template apply<Amsgrad, L2, SmallWeight>(p[j], g[j], m[j], v[j], Amsgrad ? vmax + j : nullptr);
}

template <bool Momentum, bool First, bool Decay, bool Nesterov, class T>
PYAD_VEC_INLINE void sgd_loop(const math::SgdUpdate<T>& up, T* __restrict__ p, const T* __restrict__ g,
                              T* __restrict__ buf, int64_t n) {
  for (int64_t j = 0; j < n; ++j)
    up.template apply<Momentum, First, Decay, Nesterov>(p[j], g[j], Momentum ? buf + j : nullptr);
}

// One function per width for each instantiation; the _any functions run the widest the CPU allows.
template <bool A, bool L, bool S, class T>
void adam_base(const math::AdamUpdate<T>& up, T* p, const T* g, T* m, T* v, T* vmax, int64_t n) {
  adam_loop<A, L, S, T>(up, p, g, m, v, vmax, n);
}
template <bool M, bool F, bool D, bool N, class T>
void sgd_base(const math::SgdUpdate<T>& up, T* p, const T* g, T* buf, int64_t n) {
  sgd_loop<M, F, D, N, T>(up, p, g, buf, n);
}
#if PYAD_X86_DISPATCH
template <bool A, bool L, bool S, class T>
PYAD_TARGET_AVX2 void adam_avx2(const math::AdamUpdate<T>& up, T* p, const T* g, T* m, T* v, T* vmax, int64_t n) {
  adam_loop<A, L, S, T>(up, p, g, m, v, vmax, n);
}
template <bool A, bool L, bool S, class T>
PYAD_TARGET_AVX512 void adam_avx512(const math::AdamUpdate<T>& up, T* p, const T* g, T* m, T* v, T* vmax, int64_t n) {
  adam_loop<A, L, S, T>(up, p, g, m, v, vmax, n);
}
template <bool M, bool F, bool D, bool N, class T>
PYAD_TARGET_AVX2 void sgd_avx2(const math::SgdUpdate<T>& up, T* p, const T* g, T* buf, int64_t n) {
  sgd_loop<M, F, D, N, T>(up, p, g, buf, n);
}
template <bool M, bool F, bool D, bool N, class T>
PYAD_TARGET_AVX512 void sgd_avx512(const math::SgdUpdate<T>& up, T* p, const T* g, T* buf, int64_t n) {
  sgd_loop<M, F, D, N, T>(up, p, g, buf, n);
}
#endif

template <bool A, bool L, bool S, class T>
void adam_any(const math::AdamUpdate<T>& up, T* p, const T* g, T* m, T* v, T* vmax, int64_t n) {
#if PYAD_X86_DISPATCH
  if (has_avx512f()) return adam_avx512<A, L, S, T>(up, p, g, m, v, vmax, n);
  if (has_avx2_fma()) return adam_avx2<A, L, S, T>(up, p, g, m, v, vmax, n);
#endif
  adam_base<A, L, S, T>(up, p, g, m, v, vmax, n);
}
template <bool M, bool F, bool D, bool N, class T>
void sgd_any(const math::SgdUpdate<T>& up, T* p, const T* g, T* buf, int64_t n) {
#if PYAD_X86_DISPATCH
  if (has_avx512f()) return sgd_avx512<M, F, D, N, T>(up, p, g, buf, n);
  if (has_avx2_fma()) return sgd_avx2<M, F, D, N, T>(up, p, g, buf, n);
#endif
  sgd_base<M, F, D, N, T>(up, p, g, buf, n);
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
            adam_any<decltype(ams)::value, decltype(l2)::value, decltype(small)::value, T>(
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
              sgd_any<decltype(mom)::value, decltype(first)::value, decltype(decay)::value, decltype(nesterov)::value,
                      T>(up, data_of<T>(params, i), data_of<T>(grads, i), data_of<T>(momentum_buffers, i),
                         params[i].numel());
          });
        });
      });
    });
  });
}

}  // namespace pyad::kernels::cpu
