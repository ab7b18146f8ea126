// W-lane float vectors (GCC/Clang vector extensions) and the exp on them that the fused cross entropy's row loops
// use. Every function is always-inline: it is compiled into its caller, with the caller's target (Note [Run-time
// ISA dispatch]), so W = 4 gives SSE2 code in a baseline function and W = 8 / 16 AVX2 / AVX-512 code in a function
// marked for those, from this one source. (GCC's -Wpsabi would warn that such a function has another ABI in a
// baseline translation unit; none is ever called, so CMakeLists.txt turns it off for the files including this.)
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include "kernels/cpu/isa.h"

namespace pyad::kernels::cpu::vec {

template <int W> struct Lanes {
  typedef float f __attribute__((vector_size(4 * W), aligned(4)));
  typedef int32_t i __attribute__((vector_size(4 * W), aligned(4)));
};
template <int W> using VF = typename Lanes<W>::f;
template <int W> using VI = typename Lanes<W>::i;

template <int W> PYAD_VEC_INLINE VF<W> splat(float v) { return VF<W>{} + v; }
template <int W> PYAD_VEC_INLINE VF<W> load(const float* p) {
  VF<W> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <int W> PYAD_VEC_INLINE void store(float* p, VF<W> v) { std::memcpy(p, &v, sizeof v); }
// The last n < W elements, the other lanes `fill`.
template <int W> PYAD_VEC_INLINE VF<W> load_tail(const float* p, int64_t n, float fill) {
  float buf[W];
  for (int k = 0; k < W; ++k) buf[k] = fill;
  std::memcpy(buf, p, static_cast<size_t>(n) * sizeof(float));
  return load<W>(buf);
}
template <int W> PYAD_VEC_INLINE void store_tail(float* p, VF<W> v, int64_t n) {
  float buf[W];
  store<W>(buf, v);
  std::memcpy(p, buf, static_cast<size_t>(n) * sizeof(float));
}

template <class To, class From> PYAD_VEC_INLINE To bits(const From& v) {
  static_assert(sizeof(To) == sizeof(From));
  To out;
  std::memcpy(&out, &v, sizeof out);
  return out;
}

// Note [A vectorisable exp]
// std::exp is a call per element, which keeps a loop scalar, and the exps are most of cross entropy's cost (one
// per logit forward, one backward). This float exp (Cephes' expf: a degree-6 polynomial on r = x - n ln2,
// |r| <= ln2/2, ln2 split in two for exactness, 2^n built in the exponent bits; within 1 ulp) is written on
// W-lane vectors: 4 (SSE2, the baseline of x86-64; other targets split or widen them), 8 or 16 where the CPU has
// AVX2 + FMA or AVX-512 (Note [Run-time ISA dispatch]; there the multiply-adds contract to FMAs, a last-bit
// difference). No branch and no float-to-int conversion. Below -87.34 it gives 0 (not the denormals std::exp
// would: they change no sum of exps beyond float's precision), above 88.72 inf, and NaN stays NaN. float64 keeps
// std::exp, whose precision its tolerances need.
template <int W> PYAD_VEC_INLINE VF<W> exp(VF<W> x) {
  const VF<W> hi = splat<W>(88.7228f), lo = splat<W>(-87.3365f);
  VF<W> xc = x > hi ? hi : x;
  xc = xc < lo ? lo : xc;
  // n = round(x / ln2), read from the low mantissa bits of x / ln2 + 1.5 * 2^23
  const VF<W> magic = splat<W>(12582912.0f);
  const VF<W> k = xc * 1.44269504088896341f + magic;
  const VF<W> n = k - magic;
  VF<W> r = xc - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  VF<W> p = splat<W>(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const VF<W> y = p * r * r + r + 1.0f;
  const VI<W> e = ((bits<VI<W>>(k) - bits<VI<W>>(magic)) + 127) << 23;
  const VF<W> out = y * bits<VF<W>>(e);
  return x < lo ? VF<W>{} : out;
}

// The lane-wise max. A NaN x is passed over (x > m is false); callers that must see it let it reach a sum.
template <int W> PYAD_VEC_INLINE VF<W> max(VF<W> m, VF<W> x) { return x > m ? x : m; }

}  // namespace pyad::kernels::cpu::vec
