// Which x86 vector extensions this process may use: the run-time half of Note [Run-time ISA dispatch].
#pragma once
#include <cstdlib>
#include <cstring>

namespace pyad::kernels::cpu {

// Note [Run-time ISA dispatch]
// pyad builds for the baseline of its target (SSE2 on x86-64, no -march), so one build runs on every CPU of the
// architecture. A hot loop that gains from wider vectors is an always-inline template on its vector width, compiled
// into one function per width: the baseline's, one marked PYAD_TARGET_AVX2 and one PYAD_TARGET_AVX512 (AVX-512
// F/DQ/VL/BW, the set of Skylake-SP and later); the caller runs the widest that cpu_isa() allows. The CPU (and the
// OS's saving of the wider registers, which __builtin_cpu_supports checks too) is asked once per process.
// PYAD_CPU_ISA=baseline|avx2|avx512 caps the choice, so that the tests run every path the machine has
// (tests/test_fused_nn.py). Paths may differ in the last bits (lanes sum in another order, FMA contracts a
// multiply-add): a result is the same bit for bit across thread counts, not across CPUs.
enum class Isa { Baseline = 0, Avx2Fma = 1, Avx512 = 2 };
// Where the wider copies are compiled at all (GCC and Clang on x86-64).
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PYAD_X86_DISPATCH 1
#else
#define PYAD_X86_DISPATCH 0
#endif
#define PYAD_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define PYAD_TARGET_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")))
// The templates compiled into each width's function: inlined there, so they take its target.
#define PYAD_VEC_INLINE inline __attribute__((always_inline))

inline Isa detect_isa() {
  Isa best = Isa::Baseline;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    best = Isa::Avx2Fma;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw"))
      best = Isa::Avx512;
  }
#endif
  if (const char* cap = std::getenv("PYAD_CPU_ISA")) {
    const Isa want = std::strcmp(cap, "baseline") == 0 ? Isa::Baseline
                     : std::strcmp(cap, "avx2") == 0   ? Isa::Avx2Fma
                                                       : Isa::Avx512;
    if (want < best) best = want;
  }
  return best;
}

inline Isa cpu_isa() {
  static const Isa isa = detect_isa();
  return isa;
}
inline bool has_avx2_fma() { return cpu_isa() >= Isa::Avx2Fma; }
inline bool has_avx512f() { return cpu_isa() >= Isa::Avx512; }

}  // namespace pyad::kernels::cpu
