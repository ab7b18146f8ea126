#pragma once
// Elementwise math, written once. PYAD_HD marks it for host and device so the
// CUDA kernels instantiate the very functors the CPU tests already check.
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define PYAD_HD __host__ __device__ __forceinline__
#else
#define PYAD_HD inline
#endif

namespace pyad::math {

// ---- unary ----
struct Neg { template <class T> PYAD_HD T operator()(T x) const { return -x; } };
struct Exp { template <class T> PYAD_HD T operator()(T x) const { return std::exp(x); } };
struct Log { template <class T> PYAD_HD T operator()(T x) const { return std::log(x); } };
struct Log1p { template <class T> PYAD_HD T operator()(T x) const { return std::log1p(x); } };
struct Sin { template <class T> PYAD_HD T operator()(T x) const { return std::sin(x); } };
struct Cos { template <class T> PYAD_HD T operator()(T x) const { return std::cos(x); } };
struct Tanh { template <class T> PYAD_HD T operator()(T x) const { return std::tanh(x); } };
struct Sqrt { template <class T> PYAD_HD T operator()(T x) const { return std::sqrt(x); } };
struct Abs { template <class T> PYAD_HD T operator()(T x) const { return x < T(0) ? -x : x; } };
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
struct Relu { template <class T> PYAD_HD T operator()(T x) const { return x > T(0) ? x : (x != x ? x : T(0)); } };
// softplus(x) = max(x, 0) + log1p(exp(-|x|)): finite for every finite x.
struct Softplus {
  template <class T> PYAD_HD T operator()(T x) const {
    T ax = x < T(0) ? -x : x;
    return (x > T(0) ? x : T(0)) + std::log1p(std::exp(-ax));
  }
};

// ---- binary ----
struct Add { template <class T> PYAD_HD T operator()(T a, T b) const { return a + b; } };
struct Sub { template <class T> PYAD_HD T operator()(T a, T b) const { return a - b; } };
struct Mul { template <class T> PYAD_HD T operator()(T a, T b) const { return a * b; } };
struct Div { template <class T> PYAD_HD T operator()(T a, T b) const { return a / b; } };
struct Pow { template <class T> PYAD_HD T operator()(T a, T b) const { return std::pow(a, b); } };
// maximum/minimum propagate NaN from either side, as torch.
struct Maximum {
  template <class T> PYAD_HD T operator()(T a, T b) const { return (a != a) ? a : ((b != b) ? b : (a > b ? a : b)); }
};
struct Minimum {
  template <class T> PYAD_HD T operator()(T a, T b) const { return (a != a) ? a : ((b != b) ? b : (a < b ? a : b)); }
};

// ---- comparisons (bool out) ----
struct Eq { template <class T> PYAD_HD bool operator()(T a, T b) const { return a == b; } };
struct Ne { template <class T> PYAD_HD bool operator()(T a, T b) const { return a != b; } };
struct Lt { template <class T> PYAD_HD bool operator()(T a, T b) const { return a < b; } };
struct Le { template <class T> PYAD_HD bool operator()(T a, T b) const { return a <= b; } };
struct Gt { template <class T> PYAD_HD bool operator()(T a, T b) const { return a > b; } };
struct Ge { template <class T> PYAD_HD bool operator()(T a, T b) const { return a >= b; } };

// ---- reductions: NaN wins in max/min, as torch ----
struct MaxCombine {
  template <class T> PYAD_HD T operator()(T acc, T x) const { return (acc != acc) ? acc : ((x != x || x > acc) ? x : acc); }
};
struct MinCombine {
  template <class T> PYAD_HD T operator()(T acc, T x) const { return (acc != acc) ? acc : ((x != x || x < acc) ? x : acc); }
};

}  // namespace pyad::math
