// The ops autograd/ computes with (Note [The ops autograd computes with] in autograd/grad_ops.h).
#include "autograd/grad_ops.h"
#include "ops/ops.h"
#include "kernels/kernels.h"

namespace pyad::grad_ops {

Tensor sum_to(const Tensor& x, const Shape& shape, const char* op, int64_t batch_ndim) {
  return pyad::sum_to(x, shape, op, batch_ndim);
}
Tensor to_dtype(const Tensor& x, DType dtype) { return pyad::to_dtype(x, dtype); }
Tensor add(const Tensor& a, const Tensor& b) { return pyad::add(a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return pyad::mul(a, b); }
void add_(Tensor& x, const Tensor& other) { pyad::add_(x, other); }
Tensor clone(const Tensor& x) { return pyad::clone(x); }
Tensor view(const Tensor& x, const Shape& shape) { return pyad::view(x, shape); }
Tensor reshape(const Tensor& x, const Shape& shape) { return pyad::reshape(x, shape); }
Tensor expand(const Tensor& x, const Shape& shape) { return pyad::expand(x, shape); }
bool all_finite(const Tensor& t) { return kernels::all_finite(t); }
Tensor zeros(const Shape& shape, DType dtype, Device device) { return pyad::zeros(shape, dtype, device); }
Tensor ones(const Shape& shape, DType dtype, Device device) { return pyad::ones(shape, dtype, device); }
void fill(const Tensor& view, double value) { kernels::fill(view, value); }

}  // namespace pyad::grad_ops
