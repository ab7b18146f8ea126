// CPU kernels without the strided loop's setup. A binary op whose one operand is a number passed by value
// (`x * 2.0`, `1.0 - x`): no 0-d tensor is made for the number, and a contiguous operand runs one flat loop.
// The math is the op list's functors (Note [The op list], kernels/math.h), so these compute exactly what the
// tensor kernels compute with the number as a 0-d tensor of the operand's dtype. Also the one-pass derivatives
// of unary ops (kernels::unary_grad), on flat operands.
#include "kernels/kernels.h"
#include "kernels/math.h"
#include "kernels/cpu/loops.h"

namespace pyad::kernels::cpu {

namespace {

template <class T, bool ScalarFirst, class F>
void scalar_loop(const Tensor& a, T s, const Tensor& out, F f) {
  T* o = out.data<T>();
  const T* x = a.data<T>();
  if (a.is_contiguous()) {
    const int64_t n = a.numel();
    for (int64_t i = 0; i < n; ++i) o[i] = ScalarFirst ? f(s, x[i]) : f(x[i], s);
    return;
  }
  const Shape& sh = out.shape();
  auto l =
      make_loop<2>(sh, {broadcast_strides(out, sh), broadcast_strides(a, sh)}, {sizeof(T), sizeof(T)}, Walk::Output);
  run_loop<2>(l, {reinterpret_cast<char*>(o), reinterpret_cast<char*>(const_cast<T*>(x))},
              [&](std::array<char*, 2> p, const std::array<int64_t, 2>& st, int64_t n) {
                for (int64_t i = 0; i < n; ++i) {
                  const T v = *at<T>(p[1], st[1], i);
                  *at<T>(p[0], st[0], i) = ScalarFirst ? f(s, v) : f(v, s);
                }
              });
}

template <class F>
void scalar_kernel(const Tensor& a, double s, bool scalar_first, const Tensor& out) {
  PYAD_DISPATCH_FLOAT(out.dtype(), "binary_scalar", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    if (scalar_first) scalar_loop<T, true>(a, static_cast<T>(s), out, F{});
    else scalar_loop<T, false>(a, static_cast<T>(s), out, F{});
  });
}

}  // namespace

void binary_scalar(Binary op, const Tensor& a, double s, bool scalar_first, const Tensor& out) {
  switch (op) {
#define PYAD_CASE(name, F, D) \
  case Binary::F: return scalar_kernel<math::F>(a, s, scalar_first, out);
    PYAD_BINARY_OPS(PYAD_CASE)
#undef PYAD_CASE
    default: throw RuntimeError("[binary_scalar] not an arithmetic op");
  }
}

namespace {

template <class F>
void unary_grad_flat(const Tensor& g, const Tensor& y, const Tensor& out) {
  PYAD_DISPATCH_FLOAT(y.dtype(), "unary_grad", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const T* gp = g.data<T>();
    const T* yp = y.data<T>();
    T* o = out.data<T>();
    const int64_t n = y.numel();
    for (int64_t i = 0; i < n; ++i) o[i] = F{}(gp[i], yp[i]);
  });
}

}  // namespace

void unary_grad(UnaryGrad op, const Tensor& g, const Tensor& y, const Tensor& out) {
  switch (op) {
    case UnaryGrad::Tanh: return unary_grad_flat<math::TanhGrad>(g, y, out);
    case UnaryGrad::Sigmoid: return unary_grad_flat<math::SigmoidGrad>(g, y, out);
    case UnaryGrad::None: break;
  }
  throw RuntimeError("[unary_grad] no fused derivative for this op");
}

}  // namespace pyad::kernels::cpu
