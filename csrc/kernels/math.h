#pragma once
// Elementwise math, written once. PYAD_HD marks it for host and device so the
// CUDA kernels instantiate the very functors the CPU tests already check.
#include <cmath>
#include <cstdint>
#include <type_traits>

#if defined(__CUDACC__)
#define PYAD_HD __host__ __device__ __forceinline__
#else
#define PYAD_HD inline
#endif

namespace pyad::math {

// Signed integer overflow is undefined behaviour in C++ (UBSan reports it); torch's int64 arithmetic wraps
// around, so integer +, -, * and negation compute in the unsigned type (modular) and convert back.
template <class T> constexpr bool kSignedInt = std::is_integral_v<T> && std::is_signed_v<T>;
template <class T> PYAD_HD T wrap_add(T a, T b) {
  if constexpr (kSignedInt<T>) {
    using U = std::make_unsigned_t<T>;
    return T(U(a) + U(b));
  } else {
    return a + b;
  }
}
template <class T> PYAD_HD T wrap_sub(T a, T b) {
  if constexpr (kSignedInt<T>) {
    using U = std::make_unsigned_t<T>;
    return T(U(a) - U(b));
  } else {
    return a - b;
  }
}
template <class T> PYAD_HD T wrap_mul(T a, T b) {
  if constexpr (kSignedInt<T>) {
    using U = std::make_unsigned_t<T>;
    return T(U(a) * U(b));
  } else {
    return a * b;
  }
}

// ---- unary ----
struct Neg {
  template <class T> PYAD_HD T operator()(T x) const { return wrap_sub(T(0), x); }
};
struct Exp {
  template <class T> PYAD_HD T operator()(T x) const { return std::exp(x); }
};
struct Log {
  template <class T> PYAD_HD T operator()(T x) const { return std::log(x); }
};
struct Log1p {
  template <class T> PYAD_HD T operator()(T x) const { return std::log1p(x); }
};
struct Sin {
  template <class T> PYAD_HD T operator()(T x) const { return std::sin(x); }
};
struct Cos {
  template <class T> PYAD_HD T operator()(T x) const { return std::cos(x); }
};
struct Tanh {
  template <class T> PYAD_HD T operator()(T x) const { return std::tanh(x); }
};
struct Sqrt {
  template <class T> PYAD_HD T operator()(T x) const { return std::sqrt(x); }
};
struct Expm1 {
  template <class T> PYAD_HD T operator()(T x) const { return std::expm1(x); }
};
struct Erf {
  template <class T> PYAD_HD T operator()(T x) const { return std::erf(x); }
};
struct Erfc {
  template <class T> PYAD_HD T operator()(T x) const { return std::erfc(x); }
};
struct Sinh {
  template <class T> PYAD_HD T operator()(T x) const { return std::sinh(x); }
};
struct Cosh {
  template <class T> PYAD_HD T operator()(T x) const { return std::cosh(x); }
};
struct Tan {
  template <class T> PYAD_HD T operator()(T x) const { return std::tan(x); }
};
struct Asin {
  template <class T> PYAD_HD T operator()(T x) const { return std::asin(x); }
};
struct Acos {
  template <class T> PYAD_HD T operator()(T x) const { return std::acos(x); }
};
struct Atan {
  template <class T> PYAD_HD T operator()(T x) const { return std::atan(x); }
};
struct Asinh {
  template <class T> PYAD_HD T operator()(T x) const { return std::asinh(x); }
};
struct Acosh {
  template <class T> PYAD_HD T operator()(T x) const { return std::acosh(x); }
};
struct Atanh {
  template <class T> PYAD_HD T operator()(T x) const { return std::atanh(x); }
};
struct Log2 {
  template <class T> PYAD_HD T operator()(T x) const { return std::log2(x); }
};
struct Log10 {
  template <class T> PYAD_HD T operator()(T x) const { return std::log10(x); }
};
struct Exp2 {
  template <class T> PYAD_HD T operator()(T x) const { return std::exp2(x); }
};
struct Rsqrt {
  template <class T> PYAD_HD T operator()(T x) const { return T(1) / std::sqrt(x); }
};
struct Reciprocal {
  template <class T> PYAD_HD T operator()(T x) const { return T(1) / x; }
};
struct Square {
  template <class T> PYAD_HD T operator()(T x) const { return wrap_mul(x, x); }
};
// Rounding keeps integers as they are; round() halves to even (nearbyint in the default rounding mode), as torch.
struct Floor {
  template <class T> PYAD_HD T operator()(T x) const {
    if constexpr (std::is_integral_v<T>) return x;
    else return std::floor(x);
  }
};
struct Ceil {
  template <class T> PYAD_HD T operator()(T x) const {
    if constexpr (std::is_integral_v<T>) return x;
    else return std::ceil(x);
  }
};
struct Round {
  template <class T> PYAD_HD T operator()(T x) const {
    if constexpr (std::is_integral_v<T>) return x;
    else return std::nearbyint(x);
  }
};
struct Trunc {
  template <class T> PYAD_HD T operator()(T x) const {
    if constexpr (std::is_integral_v<T>) return x;
    else return std::trunc(x);
  }
};
struct Abs {
  template <class T> PYAD_HD T operator()(T x) const { return x < T(0) ? wrap_sub(T(0), x) : x; }
};
// sign(NaN) is 0, as torch.
struct Sign {
  template <class T> PYAD_HD T operator()(T x) const { return T((T(0) < x) - (x < T(0))); }
};
// Both branches avoid exp overflow: for x >= 0 exp(-x) <= 1, for x < 0 exp(x) < 1.
struct Sigmoid {
  template <class T> PYAD_HD T operator()(T x) const {
    if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
    T e = std::exp(x);
    return e / (T(1) + e);
  }
};
// relu keeps NaN (x > 0 is false for NaN, so return x itself there), as torch.
struct Relu {
  template <class T> PYAD_HD T operator()(T x) const { return x > T(0) ? x : (x != x ? x : T(0)); }
};
// softplus(x) = max(x, 0) + log1p(exp(-|x|)): finite for every finite x.
struct Softplus {
  template <class T> PYAD_HD T operator()(T x) const {
    T ax = x < T(0) ? -x : x;
    return (x > T(0) ? x : T(0)) + std::log1p(std::exp(-ax));
  }
};

// ---- binary ----
struct Add {
  template <class T> PYAD_HD T operator()(T a, T b) const { return wrap_add(a, b); }
};
struct Sub {
  template <class T> PYAD_HD T operator()(T a, T b) const { return wrap_sub(a, b); }
};
struct Mul {
  template <class T> PYAD_HD T operator()(T a, T b) const { return wrap_mul(a, b); }
};
struct Div {
  template <class T> PYAD_HD T operator()(T a, T b) const { return a / b; }
};
struct Pow {
  template <class T> PYAD_HD T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>) {
      // By squaring; negative exponents give 0 except for bases +-1, as torch.
      if (b < 0) return a == 1 ? T(1) : (a == -1 ? (b % 2 ? T(-1) : T(1)) : T(0));
      T r = 1;
      for (T e = b, base = a; e; e >>= 1, base = wrap_mul(base, base))
        if (e & 1) r = wrap_mul(r, base);
      return r;
    } else {
      return std::pow(a, b);
    }
  }
};
struct Atan2 {
  template <class T> PYAD_HD T operator()(T a, T b) const { return std::atan2(a, b); }
};
struct Hypot {
  template <class T> PYAD_HD T operator()(T a, T b) const { return std::hypot(a, b); }
};
// log(exp(a) + exp(b)) = max + log1p(exp(-|a - b|)), finite for finite operands; two equal infinities give that
// infinity rather than inf - inf = NaN, as torch.
struct LogAddExp {
  template <class T> PYAD_HD T operator()(T a, T b) const {
    if (a == b && (a == T(INFINITY) || a == T(-INFINITY))) return a;
    const T d = a > b ? a - b : b - a;
    return (a > b ? a : b) + std::log1p(std::exp(-d));
  }
};
// fmod: the remainder with the dividend's sign (C's); remainder: with the divisor's (Python's), as torch. An
// integer divisor of 0 is refused by the op before the kernel runs; x % -1 is 0 (INT64_MIN % -1 would overflow).
struct Fmod {
  template <class T> PYAD_HD T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>) return b == T(-1) ? T(0) : a % b;
    else return std::fmod(a, b);
  }
};
struct Remainder {
  template <class T> PYAD_HD T operator()(T a, T b) const {
    T r = Fmod{}(a, b);
    return (r != T(0) && ((r < T(0)) != (b < T(0)))) ? r + b : r;
  }
};
// maximum/minimum propagate NaN from either side, as torch.
struct Maximum {
  template <class T> PYAD_HD T operator()(T a, T b) const { return (a != a) ? a : ((b != b) ? b : (a > b ? a : b)); }
};
struct Minimum {
  template <class T> PYAD_HD T operator()(T a, T b) const { return (a != a) ? a : ((b != b) ? b : (a < b ? a : b)); }
};

// ---- comparisons (bool out) ----
struct Eq {
  template <class T> PYAD_HD bool operator()(T a, T b) const { return a == b; }
};
struct Ne {
  template <class T> PYAD_HD bool operator()(T a, T b) const { return a != b; }
};
struct Lt {
  template <class T> PYAD_HD bool operator()(T a, T b) const { return a < b; }
};
struct Le {
  template <class T> PYAD_HD bool operator()(T a, T b) const { return a <= b; }
};
struct Gt {
  template <class T> PYAD_HD bool operator()(T a, T b) const { return a > b; }
};
struct Ge {
  template <class T> PYAD_HD bool operator()(T a, T b) const { return a >= b; }
};

// Note [The op list]
// Every elementwise op is one row of these lists, next to its functor: X(name, Functor, Domain). Everything
// else that enumerates elementwise ops is expanded from them: the kernel enums (kernels.h), both backends'
// dispatch switches, the op declarations (ops/ops.h) and definitions (ops/unary.cpp, ops/binary.cpp, which
// hold each op's derivative rule, named <name>_rule), the _C functions, Tensor methods and _C.__all__
// (python/ops.cpp, python/tensor.cpp), hence the Python exports and the type stubs. Adding an elementwise
// op is: its functor and row here, its rule, its test row in tests/op_db.py (docs/design.md).
//
// The domain says which dtypes an op computes in, and so which kernels are instantiated:
//   Float   the result is floating: integer and bool operands are promoted first (exp, div, atan2 ...);
//   Signed  floating or int64, keeping the dtype; bool raises (neg, abs);
//   Arith   every numeric dtype, keeping the promoted dtype; bool raises (add, mul, pow ...);
//   Compare every dtype in, bool out.
enum class Domain { Float, Signed, Arith, Compare };

// clang-format reads the rows as one expression and re-indents them (differently on each run): the lists keep
// the layout they are written in.
// clang-format off
#define PYAD_UNARY_OPS(X)                                                                                        \
  X(neg, Neg, Signed) X(abs, Abs, Signed) X(sign, Sign, Float) X(exp, Exp, Float) X(expm1, Expm1, Float)        \
  X(log, Log, Float) X(log1p, Log1p, Float) X(sqrt, Sqrt, Float) X(sin, Sin, Float) X(cos, Cos, Float)          \
  X(tanh, Tanh, Float) X(sigmoid, Sigmoid, Float) X(relu, Relu, Float) X(softplus, Softplus, Float)             \
  X(erf, Erf, Float) X(erfc, Erfc, Float) X(sinh, Sinh, Float) X(cosh, Cosh, Float) X(tan, Tan, Float)         \
  X(asin, Asin, Float) X(acos, Acos, Float) X(atan, Atan, Float) X(asinh, Asinh, Float) X(acosh, Acosh, Float)  \
  X(atanh, Atanh, Float) X(log2, Log2, Float) X(log10, Log10, Float) X(exp2, Exp2, Float)                       \
  X(rsqrt, Rsqrt, Float) X(reciprocal, Reciprocal, Float) X(square, Square, Signed) X(floor, Floor, Signed)     \
  X(ceil, Ceil, Signed) X(round, Round, Signed) X(trunc, Trunc, Signed)

#define PYAD_BINARY_OPS(X)                                                                                       \
  X(add, Add, Arith) X(sub, Sub, Arith) X(mul, Mul, Arith) X(div, Div, Float) X(pow, Pow, Arith)                \
  X(maximum, Maximum, Arith) X(minimum, Minimum, Arith) X(atan2, Atan2, Float) X(hypot, Hypot, Float)           \
  X(logaddexp, LogAddExp, Float) X(fmod, Fmod, Arith) X(remainder, Remainder, Arith)

#define PYAD_COMPARE_OPS(X) \
  X(eq, Eq, Compare) X(ne, Ne, Compare) X(lt, Lt, Compare) X(le, Le, Compare) X(gt, Gt, Compare) X(ge, Ge, Compare)
// clang-format on

// ---- scans: a running sum or product accumulates in double for floats (as torch's CPU kernel), in int64 else ----
template <class T>
using ScanAccumulator = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

// ---- sorting: NaN sorts as the largest value, as torch's (last ascending, first descending) ----
template <class T>
PYAD_HD bool sorts_before(T a, T b, bool descending) {
  const bool a_nan = a != a, b_nan = b != b;
  if (descending) return !b_nan && (a_nan || a > b);
  return !a_nan && (b_nan || a < b);
}

// ---- reductions: NaN wins in max/min, as torch ----
struct MaxCombine {
  template <class T> PYAD_HD T operator()(T acc, T x) const {
    return (acc != acc) ? acc : ((x != x || x > acc) ? x : acc);
  }
};
struct MinCombine {
  template <class T> PYAD_HD T operator()(T acc, T x) const {
    return (acc != acc) ? acc : ((x != x || x < acc) ? x : acc);
  }
};

// ---- the max shifts of logsumexp and softmax ----
// An all -inf slice must not give -inf - -inf = NaN, so its shift is 0; logsumexp also shifts a +inf max by 0
// (its result is then +inf), as torch.
struct LseShift {
  PYAD_HD double operator()(double m) const { return (m == INFINITY || m == -INFINITY) ? 0.0 : m; }
};
struct SoftmaxShift {
  PYAD_HD double operator()(double m) const { return m == -INFINITY ? 0.0 : m; }
};
struct SoftmaxOut {
  PYAD_HD double operator()(double x, double shift, double sum, bool log) const {
    return log ? (x - shift) - std::log(sum) : std::exp(x - shift) / sum;
  }
};

// ---- conversions ----
// C++ leaves float -> int64 undefined for NaN, +-inf and values outside [-2^63, 2^63), and the hardware differs
// (x86 gives INT64_MIN, a GPU saturates and maps NaN to 0). Both backends follow torch on x86 CPUs: such a value
// becomes INT64_MIN; every other one is truncated toward zero.
template <class D, class S>
PYAD_HD D convert(S x) {
  if constexpr (std::is_same_v<D, int64_t> && std::is_floating_point_v<S>) {
    const S lim = S(9223372036854775808.0);  // 2^63, exact in float and double
    return (x >= -lim && x < lim) ? static_cast<int64_t>(x) : INT64_MIN;
  } else {
    return static_cast<D>(x);
  }
}

// ---- random numbers ----
// A uniform in [0, 1) from 64 random bits: the top 53 for a double, the top 24 for a float. Every value is then
// exact in T and the largest is 1 - 2^-53 (1 - 2^-24): a 53-bit double rounded to float could be 1.
template <class T>
PYAD_HD T uniform01_from_bits(uint64_t bits) {
  if constexpr (std::is_same_v<T, float>) return static_cast<float>(bits >> 40) * 0x1.0p-24f;
  else return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

// ---- g * f'(x) from the result y in one pass, for a backward that records nothing (kernels::unary_grad) ----
// Each computes exactly what its op's rule composes (ops/unary.cpp): the same operations in the same order.
struct TanhGrad {
  template <class T> PYAD_HD T operator()(T g, T y) const { return g * (T(1) - y * y); }
};
struct SigmoidGrad {
  template <class T> PYAD_HD T operator()(T g, T y) const { return g * (y * (T(1) - y)); }
};

}  // namespace pyad::math
