// CPU elementwise kernels: the functors of kernels/math.h over the strided loop.
#include "kernels/kernels.h"
#include "kernels/math.h"
#include "kernels/cpu/loops.h"

namespace pyad::kernels::cpu {

namespace {

// The contiguous inner loops, written so the compiler sees a plain loop over restrict pointers and vectorises
// it (checked with -fopt-info-vec; in-place ops pass o == a, which the element-by-element order keeps exact).
template <class T, class R = T, class F>
void map_contiguous(R* __restrict o, const T* __restrict a, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) o[i] = f(a[i]);
}
template <class T, class R, class F>
void zip_contiguous(R* __restrict o, const T* __restrict a, const T* __restrict b, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], b[i]);
}
template <class T, class R, class F>
void zip_scalar_right(R* __restrict o, const T* __restrict a, T b, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], b);
}
template <class T, class R, class F>
void zip_scalar_left(R* __restrict o, T a, const T* __restrict b, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) o[i] = f(a, b[i]);
}

template <class T, class F>
void unary_loop(const Tensor& in, const Tensor& out, F f) {
  auto l = make_loop<2>(out.shape(), {broadcast_strides(out, out.shape()), broadcast_strides(in, out.shape())},
                        {sizeof(T), sizeof(T)}, Walk::Output);
  run_elementwise<2>(l, {static_cast<char*>(out.raw_data()), static_cast<char*>(in.raw_data())}, 2 * sizeof(T),
                     [&](std::array<char*, 2> p, const std::array<int64_t, 2>& s, int64_t n) {
                       if (s[0] == sizeof(T) && s[1] == sizeof(T)) {
                         map_contiguous<T>(reinterpret_cast<T*>(p[0]), reinterpret_cast<const T*>(p[1]), n, f);
                       } else {
                         for (int64_t i = 0; i < n; ++i) *at<T>(p[0], s[0], i) = f(*at<T>(p[1], s[1], i));
                       }
                     });
}

template <class T, class R, class F>
void binary_loop(const Tensor& a, const Tensor& b, const Tensor& out, F f) {
  const Shape& sh = out.shape();
  auto l = make_loop<3>(sh, {broadcast_strides(out, sh), broadcast_strides(a, sh), broadcast_strides(b, sh)},
                        {sizeof(R), sizeof(T), sizeof(T)}, Walk::Output);
  run_elementwise<3>(
      l, {static_cast<char*>(out.raw_data()), static_cast<char*>(a.raw_data()), static_cast<char*>(b.raw_data())},
      sizeof(R) + 2 * sizeof(T), [&](std::array<char*, 3> p, const std::array<int64_t, 3>& s, int64_t n) {
        R* o = reinterpret_cast<R*>(p[0]);
        const T* x = reinterpret_cast<const T*>(p[1]);
        const T* y = reinterpret_cast<const T*>(p[2]);
        if (s[0] == sizeof(R) && s[1] == sizeof(T) && s[2] == sizeof(T)) {
          zip_contiguous<T, R>(o, x, y, n, f);
        } else if (s[0] == sizeof(R) && s[1] == sizeof(T) && s[2] == 0) {
          zip_scalar_right<T, R>(o, x, *y, n, f);
        } else if (s[0] == sizeof(R) && s[1] == 0 && s[2] == sizeof(T)) {
          zip_scalar_left<T, R>(o, *x, y, n, f);
        } else {
          for (int64_t i = 0; i < n; ++i) *at<R>(p[0], s[0], i) = f(*at<T>(p[1], s[1], i), *at<T>(p[2], s[2], i));
        }
      });
}

// One kernel per row of the op list (Note [The op list]), its dtypes chosen by the row's domain.
template <class F, math::Domain D>
void unary_kernel(const Tensor& in, const Tensor& out) {
  if constexpr (D == math::Domain::Signed) {
    if (out.dtype() == DType::Int64) return unary_loop<int64_t>(in, out, F{});
  }
  PYAD_DISPATCH_FLOAT(out.dtype(), "unary", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    unary_loop<T>(in, out, F{});
  });
}

template <class F, math::Domain D>
void binary_kernel(const Tensor& a, const Tensor& b, const Tensor& out) {
  if constexpr (D == math::Domain::Compare) {
    PYAD_DISPATCH_ALL(a.dtype(), "compare", [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      binary_loop<T, bool>(a, b, out, F{});
    });
  } else if constexpr (D == math::Domain::Float) {
    PYAD_DISPATCH_FLOAT(out.dtype(), "binary", [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      binary_loop<T, T>(a, b, out, F{});
    });
  } else {
    PYAD_DISPATCH_ALL(out.dtype(), "binary", [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      if constexpr (std::is_same_v<T, bool>) {
        throw TypeError("[binary] arithmetic on bool tensors is not supported");
      } else {
        binary_loop<T, T>(a, b, out, F{});
      }
    });
  }
}

}  // namespace

void unary(Unary op, const Tensor& in, const Tensor& out) {
  switch (op) {
#define PYAD_CASE(name, F, D) \
  case Unary::F: return unary_kernel<math::F, math::Domain::D>(in, out);
    PYAD_UNARY_OPS(PYAD_CASE)
#undef PYAD_CASE
  }
}

void binary(Binary op, const Tensor& a, const Tensor& b, const Tensor& out) {
  switch (op) {
#define PYAD_CASE(name, F, D) \
  case Binary::F: return binary_kernel<math::F, math::Domain::D>(a, b, out);
    PYAD_BINARY_OPS(PYAD_CASE) PYAD_COMPARE_OPS(PYAD_CASE)
#undef PYAD_CASE
  }
}

void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  const Shape& sh = out.shape();
  PYAD_DISPATCH_ALL(out.dtype(), "where", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    auto l = make_loop<4>(
        sh,
        {broadcast_strides(out, sh), broadcast_strides(cond, sh), broadcast_strides(a, sh), broadcast_strides(b, sh)},
        {sizeof(T), 1, sizeof(T), sizeof(T)}, Walk::Output);
    run_elementwise<4>(l,
                       {static_cast<char*>(out.raw_data()), static_cast<char*>(cond.raw_data()),
                        static_cast<char*>(a.raw_data()), static_cast<char*>(b.raw_data())},
                       3 * sizeof(T) + 1, [&](std::array<char*, 4> p, const std::array<int64_t, 4>& s, int64_t n) {
                         for (int64_t i = 0; i < n; ++i)
                           *at<T>(p[0], s[0], i) =
                               *at<bool>(p[1], s[1], i) ? *at<T>(p[2], s[2], i) : *at<T>(p[3], s[3], i);
                       });
  });
}

void copy(const Tensor& src, const Tensor& dst) {
  const Shape& sh = dst.shape();
  PYAD_DISPATCH_ALL(dst.dtype(), "copy", [&](auto* dtag) {
    using D = std::remove_pointer_t<decltype(dtag)>;
    PYAD_DISPATCH_ALL(src.dtype(), "copy", [&](auto* stag) {
      using S = std::remove_pointer_t<decltype(stag)>;
      auto l = make_loop<2>(sh, {broadcast_strides(dst, sh), broadcast_strides(src, sh)}, {sizeof(D), sizeof(S)},
                            Walk::Output);
      run_elementwise<2>(l, {static_cast<char*>(dst.raw_data()), static_cast<char*>(src.raw_data())},
                         sizeof(D) + sizeof(S),
                         [&](std::array<char*, 2> p, const std::array<int64_t, 2>& s, int64_t n) {
                           if (s[0] == sizeof(D) && s[1] == sizeof(S)) {
                             map_contiguous<S, D>(reinterpret_cast<D*>(p[0]), reinterpret_cast<const S*>(p[1]), n,
                                                  [](S x) { return math::convert<D>(x); });
                           } else {
                             for (int64_t i = 0; i < n; ++i)
                               *at<D>(p[0], s[0], i) = math::convert<D>(*at<S>(p[1], s[1], i));
                           }
                         });
    });
  });
}

void fill(const Tensor& dst, double value) {
  PYAD_DISPATCH_ALL(dst.dtype(), "fill", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const T v = math::convert<T>(value);
    auto l = make_loop<1>(dst.shape(), {broadcast_strides(dst, dst.shape())}, {sizeof(T)});
    run_elementwise<1>(l, {static_cast<char*>(dst.raw_data())}, sizeof(T),
                       [&](std::array<char*, 1> p, const std::array<int64_t, 1>& s, int64_t n) {
                         if (s[0] == sizeof(T)) std::fill_n(reinterpret_cast<T*>(p[0]), n, v);
                         else
                           for (int64_t i = 0; i < n; ++i) *at<T>(p[0], s[0], i) = v;
                       });
  });
}

bool all_finite(const Tensor& t) {
  bool ok = true;
  PYAD_DISPATCH_FLOAT(t.dtype(), "all_finite", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    auto l = make_loop<1>(t.shape(), {broadcast_strides(t, t.shape())}, {sizeof(T)});
    run_loop<1>(l, {static_cast<char*>(t.raw_data())},
                [&](std::array<char*, 1> p, const std::array<int64_t, 1>& s, int64_t n) {
                  for (int64_t i = 0; i < n; ++i) ok = ok && std::isfinite(*at<T>(p[0], s[0], i));
                });
  });
  return ok;
}

void arange(const Tensor& out, double start, double step) {
  PYAD_DISPATCH_ALL(out.dtype(), "arange", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    T* o = out.data<T>();
    for (int64_t i = 0; i < out.numel(); ++i) o[i] = static_cast<T>(start + step * static_cast<double>(i));
  });
}

}  // namespace pyad::kernels::cpu
