// kernels:: entry points: each runs the backend of its output's device.
// Moving data between devices happens here too (copy), so nothing above the
// kernels needs to know where memory lives.
#include "kernels/kernels.h"
#include "core/device_runtime.h"

namespace pyad::kernels {

namespace {
// Makes t's GPU current (kernels launch on the current device); false for the CPU.
bool on_gpu(const Tensor& t) {
  if (t.device().is_cpu()) return false;
  gpu::set_device(t.device().index);
  return true;
}

gpu::CopyKind kind_of(Device from, Device to) {
  if (from.is_cpu()) return gpu::CopyKind::HostToDevice;
  return to.is_cpu() ? gpu::CopyKind::DeviceToHost : gpu::CopyKind::DeviceToDevice;
}

// Copy between devices: the source's bytes travel as they are (contiguous, its own dtype); the
// destination's device then converts, broadcasts and scatters them into dst's strides.
void copy_across(const Tensor& src, const Tensor& dst) {
  Tensor s = src;
  if (!src.is_contiguous()) {
    s = empty(src.shape(), src.dtype(), src.device());
    copy(src, s);
  }
  const bool direct = dst.is_contiguous() && dst.dtype() == src.dtype() && dst.shape() == src.shape();
  Tensor staged = direct ? dst : empty(src.shape(), src.dtype(), dst.device());
  // Each GPU has its own stream: a copy queued on the destination's would not wait for the source's kernels.
  if (!src.device().is_cpu() && !dst.device().is_cpu()) gpu::synchronize(src.device().index);
  gpu::set_device(dst.device().is_cpu() ? src.device().index : dst.device().index);
  gpu::memcpy(staged.raw_data(), s.raw_data(), static_cast<size_t>(s.numel()) * itemsize(s.dtype()),
              kind_of(src.device(), dst.device()));
  if (!direct) copy(staged, dst);
}
}  // namespace

#define PYAD_ON_DEVICE(t, call) (on_gpu(t) ? cuda::call : cpu::call)

void unary(Unary op, const Tensor& in, const Tensor& out) { PYAD_ON_DEVICE(out, unary(op, in, out)); }
void binary(Binary op, const Tensor& a, const Tensor& b, const Tensor& out) {
  PYAD_ON_DEVICE(out, binary(op, a, b, out));
}
void binary_scalar(Binary op, const Tensor& a, double s, bool scalar_first, const Tensor& out) {
  if (out.device().is_cpu()) return cpu::binary_scalar(op, a, s, scalar_first, out);
  Tensor number = empty({}, a.dtype(), Device{});
  cpu::fill(number, s);
  Tensor there = empty({}, a.dtype(), out.device());
  copy(number, there);
  if (scalar_first) binary(op, there, a, out);
  else binary(op, a, there, out);
}
// Only the flat case: contiguous floating operands of one shape and dtype on the CPU (the rule composes the rest).
Tensor unary_grad(UnaryGrad op, const Tensor& g, const Tensor& y) {
  if (op == UnaryGrad::None || !y.device().is_cpu() || !g.device().is_cpu() || g.dtype() != y.dtype() ||
      !is_floating(y.dtype()) || g.shape() != y.shape() || !g.is_contiguous() || !y.is_contiguous())
    return Tensor();
  Tensor out = empty(y.shape(), y.dtype(), y.device());
  cpu::unary_grad(op, g, y, out);
  return out;
}
void where(const Tensor& c, const Tensor& a, const Tensor& b, const Tensor& out) {
  PYAD_ON_DEVICE(out, where(c, a, b, out));
}
void copy(const Tensor& src, const Tensor& dst) {
  if (src.device() != dst.device()) return copy_across(src, dst);
  PYAD_ON_DEVICE(dst, copy(src, dst));
}
void fill(const Tensor& dst, double value) { PYAD_ON_DEVICE(dst, fill(dst, value)); }
bool all_finite(const Tensor& t) { return PYAD_ON_DEVICE(t, all_finite(t)); }
void arange(const Tensor& out, double start, double step) { PYAD_ON_DEVICE(out, arange(out, start, step)); }
void reduce(Reduce op, const Tensor& in, const Tensor& out) { PYAD_ON_DEVICE(out, reduce(op, in, out)); }
void logsumexp(const Tensor& in, const Tensor& out) { PYAD_ON_DEVICE(out, logsumexp(in, out)); }
void softmax(const Tensor& in, int64_t dim, const Tensor& out, bool log) {
  PYAD_ON_DEVICE(out, softmax(in, dim, out, log));
}
void arg_reduce(bool is_max, const Tensor& in, int64_t dim, const Tensor& values, const Tensor& indices) {
  PYAD_ON_DEVICE(values, arg_reduce(is_max, in, dim, values, indices));
}
void matmul(const Tensor& a, const Tensor& b, const Tensor& out) { PYAD_ON_DEVICE(out, matmul(a, b, out)); }
void uniform(const Tensor& out, double low, double high) { PYAD_ON_DEVICE(out, uniform(out, low, high)); }
void normal(const Tensor& out, double mean, double std) { PYAD_ON_DEVICE(out, normal(out, mean, std)); }
void cumulative(bool prod, const Tensor& in, int64_t dim, const Tensor& out) {
  PYAD_ON_DEVICE(out, cumulative(prod, in, dim, out));
}

void sort(const Tensor& in, int64_t dim, bool descending, int64_t k, const Tensor& values, const Tensor& indices) {
  PYAD_ON_DEVICE(values, sort(in, dim, descending, k, values, indices));
}
void gather(const Tensor& in, int64_t dim, const Tensor& index, const Tensor& out) {
  PYAD_ON_DEVICE(out, gather(in, dim, index, out));
}
void scatter(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src, bool accumulate) {
  PYAD_ON_DEVICE(out, scatter(out, dim, index, src, accumulate));
}
// linalg
void lu_factor(const Tensor& a, const Tensor& pivots, const Tensor& info) {
  PYAD_ON_DEVICE(a, lu_factor(a, pivots, info));
}
void lu_solve(const Tensor& lu, const Tensor& pivots, const Tensor& b, bool adjoint) {
  PYAD_ON_DEVICE(b, lu_solve(lu, pivots, b, adjoint));
}
void lu_inverse(const Tensor& lu, const Tensor& pivots, const Tensor& info) {
  PYAD_ON_DEVICE(lu, lu_inverse(lu, pivots, info));
}
void cholesky(const Tensor& a, const Tensor& info) { PYAD_ON_DEVICE(a, cholesky(a, info)); }
void triangular_solve(const Tensor& a, const Tensor& b, bool upper, bool transpose, bool unit, bool left) {
  PYAD_ON_DEVICE(b, triangular_solve(a, b, upper, transpose, unit, left));
}
void qr(const Tensor& a, const Tensor& q, const Tensor& r) { PYAD_ON_DEVICE(a, qr(a, q, r)); }
void eigh(const Tensor& a, const Tensor& w, bool upper, bool vectors, const Tensor& info) {
  PYAD_ON_DEVICE(a, eigh(a, w, upper, vectors, info));
}
void svd(const Tensor& a, const Tensor& u, const Tensor& s, const Tensor& vh, bool full, const Tensor& info) {
  PYAD_ON_DEVICE(a, svd(a, u, s, vh, full, info));
}

// ---- fused kernels of the training loop (nnperf) ----
void cross_entropy_rows(const Tensor& x, const Tensor& target, int64_t ignore_index, const Tensor& loss,
                        const Tensor& lse) {
  PYAD_ON_DEVICE(loss, cross_entropy_rows(x, target, ignore_index, loss, lse));
}
void cross_entropy_rows_backward(const Tensor& x, const Tensor& target, int64_t ignore_index, const Tensor& lse,
                                 const Tensor& g, const Tensor& grad_x) {
  PYAD_ON_DEVICE(grad_x, cross_entropy_rows_backward(x, target, ignore_index, lse, g, grad_x));
}
void adam_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const std::vector<Tensor>& exp_avgs,
               const std::vector<Tensor>& exp_avg_sqs, const std::vector<Tensor>& max_exp_avg_sqs,
               const AdamScalars& s) {
  PYAD_ON_DEVICE(params[0], adam_step(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, s));
}
void sgd_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
              const std::vector<Tensor>& momentum_buffers, const SgdScalars& s) {
  PYAD_ON_DEVICE(params[0], sgd_step(params, grads, momentum_buffers, s));
}

void embedding_rows(const Tensor& weight, const Tensor& index, const Tensor& out) {
  PYAD_ON_DEVICE(out, embedding_rows(weight, index, out));
}
void embedding_rows_backward(const Tensor& grad_weight, const Tensor& index, const Tensor& g) {
  PYAD_ON_DEVICE(grad_weight, embedding_rows_backward(grad_weight, index, g));
}

}  // namespace pyad::kernels
