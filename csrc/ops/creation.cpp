// Factories: fresh tensors without history.
#include <cmath>
#include "ops/record.h"
#include "kernels/kernels.h"

namespace pyad {

Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  kernels::fill(t, value);
  return t;
}
Tensor zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }
Tensor ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }
Tensor scalar_tensor(double value, DType dtype, Device device) { return full({}, value, dtype, device); }

DType scalar_dtype(const Tensor& t, bool scalar_is_float) {
  if (scalar_is_float && !is_floating(t.dtype())) return default_float();
  if (!scalar_is_float && t.dtype() == DType::Bool) return DType::Int64;
  return t.dtype();
}

Tensor eye(int64_t n, int64_t m, DType dtype, Device device) {
  PYAD_CHECK(n >= 0 && m >= 0, ValueError, "[eye] n and m must be non-negative, got ", n, " and ", m);
  Tensor t = zeros({n, m}, dtype, device);
  Tensor diag = make_view(t, {std::min(n, m)}, {m + 1}, 0);
  kernels::fill(diag, 1.0);
  return t;
}

Tensor arange(double start, double end, double step, DType dtype, Device device) {
  PYAD_CHECK(step != 0, ValueError, "[arange] step must be nonzero");
  PYAD_CHECK(std::isfinite(start) && std::isfinite(end), ValueError, "[arange] start and end must be finite");
  PYAD_CHECK((step > 0 && end >= start) || (step < 0 && end <= start), ValueError,
             "[arange] upper bound and larger bound inconsistent with step sign (start=", start, ", end=", end,
             ", step=", step, ")");
  int64_t n = static_cast<int64_t>(std::ceil((end - start) / step));
  Tensor t = empty({n}, dtype, device);
  kernels::arange(t, start, step);
  return t;
}

Tensor rand(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  kernels::uniform(t, 0.0, 1.0);
  return t;
}

Tensor randn(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  kernels::normal(t, 0.0, 1.0);
  return t;
}

}  // namespace pyad
