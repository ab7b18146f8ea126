// CPU reductions. Partial results accumulate in double (int64 for integers)
// so float32 sums stay within torch's tolerances over long reductions.
#include <algorithm>
#include <cmath>
#include <limits>
#include "kernels/kernels.h"
#include "kernels/math.h"
#include "kernels/cpu/loops.h"

namespace pyad::kernels::cpu {

namespace {

template <class T> using acc_t = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
// The starts of a max and a min: +-inf for floats (an all -inf slice has max -inf, not -DBL_MAX).
template <class A> A lowest() {
  if constexpr (std::is_floating_point_v<A>) return -INFINITY;
  else return std::numeric_limits<A>::lowest();
}
template <class A> A highest() {
  if constexpr (std::is_floating_point_v<A>) return INFINITY;
  else return std::numeric_limits<A>::max();
}

// comb over x[0, n) from init (the combine's identity), in kLanes interleaved partials then combined in
// lane order: independent chains the compiler turns into vector code where a single running value would
// serialise every add on the one before.
constexpr int64_t kLanes = 8;
template <class T, class A, class Combine>
A reduce_contiguous(const T* __restrict x, int64_t n, A init, Combine comb) {
  A lane[kLanes];
  for (int64_t k = 0; k < kLanes; ++k) lane[k] = init;
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int64_t k = 0; k < kLanes; ++k) lane[k] = comb(lane[k], static_cast<A>(x[i + k]));
  A r = init;
  for (int64_t k = 0; k < kLanes; ++k) r = comb(r, lane[k]);
  for (; i < n; ++i) r = comb(r, static_cast<A>(x[i]));
  return r;
}

// One long contiguous row: fixed pieces of kInnerPiece elements, each reduced on its own (on any thread),
// then combined in order, so the result is the same for every thread count (Note [CPU kernel threads]).
template <class T, class A, class Combine>
A reduce_long_row(const T* x, int64_t n, A init, Combine comb) {
  const int64_t pieces = (n + kInnerPiece - 1) / kInnerPiece;
  if (pieces <= 1) return reduce_contiguous(x, n, init, comb);
  std::vector<A> part(pieces);
  auto body = [&](int64_t b, int64_t e) {
    for (int64_t q = b; q < e; ++q)
      part[q] = reduce_contiguous(x + q * kInnerPiece, std::min(kInnerPiece, n - q * kInnerPiece), init, comb);
  };
  const int nt = threads_for(n * static_cast<int64_t>(sizeof(T)), pieces);
  if (nt <= 1) body(0, pieces);
  else parallel_pieces(nt, pieces, body);
  A r = init;
  for (A v : part) r = comb(r, v);
  return r;
}

template <class A, class T, class Combine>
void accumulate_contiguous(A* __restrict acc, const T* __restrict x, int64_t n, Combine comb) {
  for (int64_t i = 0; i < n; ++i) acc[i] = comb(acc[i], static_cast<A>(x[i]));
}

// Reduces `in` into an accumulator tensor shaped like `out` (double, or int64 for integers).
template <class T, class Combine>
Tensor reduce_acc(const Tensor& in, const Shape& out_shape, acc_t<T> init, Combine comb) {
  using A = acc_t<T>;
  // Accumulator laid out like `out`; broadcast to `in`'s shape with stride 0 on reduced dims.
  Tensor acc = empty(out_shape, std::is_floating_point_v<A> ? DType::Float64 : DType::Int64);
  A* accp = static_cast<A*>(acc.raw_data());
  std::fill_n(accp, acc.numel(), init);
  const Shape& sh = in.shape();
  auto l = make_loop<2>(sh, {broadcast_strides(acc, sh), broadcast_strides(in, sh)}, {sizeof(A), sizeof(T)},
                        Walk::LastOperand);
  if (empty_loop(l)) return acc;
  auto inner = [&](std::array<char*, 2> p, const std::array<int64_t, 2>& s, int64_t n) {
    if (s[0] == 0) {  // reducing along the inner row
      A* r = reinterpret_cast<A*>(p[0]);
      if (s[1] == sizeof(T)) {
        *r = comb(*r, reduce_long_row(reinterpret_cast<const T*>(p[1]), n, init, comb));
      } else {
        A v = *r;
        for (int64_t i = 0; i < n; ++i) v = comb(v, static_cast<A>(*at<T>(p[1], s[1], i)));
        *r = v;
      }
    } else if (s[0] == sizeof(A) && s[1] == sizeof(T)) {
      accumulate_contiguous(reinterpret_cast<A*>(p[0]), reinterpret_cast<const T*>(p[1]), n, comb);
    } else {
      for (int64_t i = 0; i < n; ++i) {
        A* a = at<A>(p[0], s[0], i);
        *a = comb(*a, static_cast<A>(*at<T>(p[1], s[1], i)));
      }
    }
  };
  std::array<char*, 2> base{reinterpret_cast<char*>(accp), static_cast<char*>(in.raw_data())};
  const int64_t nd = static_cast<int64_t>(l.shape.size());
  const int64_t bytes = in.numel() * static_cast<int64_t>(sizeof(T));
  bool outer_kept = true;  // no outer dim is reduced: each row has its own accumulators
  for (int64_t d = 0; d + 1 < nd; ++d) outer_kept = outer_kept && l.strides[d][0] != 0;
  const int64_t rows = outer_rows(l), n = l.shape[nd - 1];
  if (nd > 1 && outer_kept && threads_for(bytes, rows) > 1) {
    // Rows on different threads: each element's accumulator sees its values in the same order as on one.
    parallel_pieces(threads_for(bytes, rows), rows, [&](int64_t b, int64_t e) { run_rows<2>(l, base, inner, b, e); });
  } else if (nd == 2 && l.strides[0][0] == 0 && l.strides[1][0] != 0 && threads_for(bytes, n / kTile) > 1) {
    // Reducing the outer dim into a kept inner one (sum over dim 0): threads take column ranges.
    const int64_t pieces = (n + kTile - 1) / kTile;
    parallel_pieces(threads_for(bytes, pieces), pieces, [&](int64_t b, int64_t e) {
      const int64_t c0 = b * kTile, c1 = std::min(n, e * kTile);
      std::array<char*, 2> p{base[0] + c0 * l.strides[1][0], base[1] + c0 * l.strides[1][1]};
      for (int64_t r = 0; r < l.shape[0]; ++r, p[1] += l.strides[0][1]) inner(p, l.strides[1], c1 - c0);
    });
  } else {
    run_loop<2>(l, base, inner);
  }
  return acc;
}

Tensor zeros_like_acc(const Tensor& m) {
  Tensor acc = empty(m.shape(), DType::Float64);
  fill(acc, 0.0);
  return acc;
}

}  // namespace

void reduce(Reduce op, const Tensor& in, const Tensor& out) {
  PYAD_DISPATCH_ALL(in.dtype(), "reduce", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    using A = acc_t<T>;
    switch (op) {
      case Reduce::Sum: return copy(reduce_acc<T>(in, out.shape(), A(0), math::Add{}), out);
      case Reduce::Max: return copy(reduce_acc<T>(in, out.shape(), lowest<A>(), math::MaxCombine{}), out);
      case Reduce::Min: return copy(reduce_acc<T>(in, out.shape(), highest<A>(), math::MinCombine{}), out);
    }
  });
}

void arg_reduce(bool is_max, const Tensor& in, int64_t dim, const Tensor& values, const Tensor& indices) {
  PYAD_DISPATCH_ALL(in.dtype(), "max", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const int64_t len = in.shape()[dim];
    const int64_t st = in.strides()[dim] * static_cast<int64_t>(sizeof(T));
    const Shape& osh = values.shape();
    auto l =
        make_loop<3>(osh, {broadcast_strides(values, osh), broadcast_strides(indices, osh), broadcast_strides(in, osh)},
                     {sizeof(T), sizeof(int64_t), sizeof(T)});
    run_loop<3>(l,
                {static_cast<char*>(values.raw_data()), static_cast<char*>(indices.raw_data()),
                 static_cast<char*>(in.raw_data())},
                [&](std::array<char*, 3> p, const std::array<int64_t, 3>& s, int64_t n) {
                  for (int64_t i = 0; i < n; ++i) {
                    char* base = p[2] + s[2] * i;
                    T best = *reinterpret_cast<T*>(base);
                    int64_t bi = 0;
                    for (int64_t j = 1; j < len; ++j) {
                      T v = *reinterpret_cast<T*>(base + st * j);
                      if (best != best) break;  // NaN wins and keeps its first index
                      if (v != v || (is_max ? v > best : v < best)) {
                        best = v;
                        bi = j;
                      }
                    }
                    *at<T>(p[0], s[0], i) = best;
                    *at<int64_t>(p[1], s[1], i) = bi;
                  }
                });
  });
}

void logsumexp(const Tensor& in, const Tensor& out) {
  PYAD_DISPATCH_FLOAT(in.dtype(), "logsumexp", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    Tensor m = reduce_acc<T>(in, out.shape(), -INFINITY, math::MaxCombine{});
    double* mp = m.data<double>();
    for (int64_t i = 0; i < m.numel(); ++i) mp[i] = math::LseShift{}(mp[i]);
    Tensor acc = zeros_like_acc(m);
    const Shape& sh = in.shape();
    auto l = make_loop<3>(sh, {broadcast_strides(acc, sh), broadcast_strides(m, sh), broadcast_strides(in, sh)},
                          {8, 8, sizeof(T)}, Walk::LastOperand);
    run_loop<3>(
        l, {static_cast<char*>(acc.raw_data()), static_cast<char*>(m.raw_data()), static_cast<char*>(in.raw_data())},
        [&](std::array<char*, 3> p, const std::array<int64_t, 3>& s, int64_t n) {
          for (int64_t i = 0; i < n; ++i)
            *at<double>(p[0], s[0], i) +=
                std::exp(static_cast<double>(*at<T>(p[2], s[2], i)) - *at<double>(p[1], s[1], i));
        });
    double* ap = acc.data<double>();
    for (int64_t i = 0; i < acc.numel(); ++i) ap[i] = std::log(ap[i]) + mp[i];
    copy(acc, out);
  });
}

void softmax(const Tensor& in, int64_t dim, const Tensor& out, bool log) {
  PYAD_DISPATCH_FLOAT(in.dtype(), "softmax", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const int64_t len = in.shape()[dim];
    const int64_t si = in.strides()[dim], so = out.strides()[dim];
    Shape rows = in.shape();
    rows[dim] = 1;
    auto l = make_loop<2>(rows, {broadcast_strides(out, rows), broadcast_strides(in, rows)}, {sizeof(T), sizeof(T)});
    run_loop<2>(l, {static_cast<char*>(out.raw_data()), static_cast<char*>(in.raw_data())},
                [&](std::array<char*, 2> p, const std::array<int64_t, 2>& s, int64_t n) {
                  for (int64_t r = 0; r < n; ++r) {
                    const T* x = at<T>(p[1], s[1], r);
                    T* y = at<T>(p[0], s[0], r);
                    double mx = -INFINITY;
                    for (int64_t j = 0; j < len; ++j) mx = math::MaxCombine{}(mx, static_cast<double>(x[j * si]));
                    const double shift = math::SoftmaxShift{}(mx);
                    double sum = 0;
                    for (int64_t j = 0; j < len; ++j) sum += std::exp(static_cast<double>(x[j * si]) - shift);
                    for (int64_t j = 0; j < len; ++j)
                      y[j * so] = static_cast<T>(math::SoftmaxOut{}(static_cast<double>(x[j * si]), shift, sum, log));
                  }
                });
  });
}

}  // namespace pyad::kernels::cpu
