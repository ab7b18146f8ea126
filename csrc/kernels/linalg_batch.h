#pragma once
// The batch bookkeeping both linalg backends share (cpu/lapack.cpp, cuda/linalg.cu): matrices arrive as a
// contiguous row-major batch (B, m, n).
#include <algorithm>
#include "core/tensor.h"

namespace pyad::kernels::linalg {

inline int64_t rows(const Tensor& t) { return t.shape()[t.ndim() - 2]; }
inline int64_t cols(const Tensor& t) { return t.shape().back(); }
inline int64_t batch(const Tensor& t) {
  const int64_t per = rows(t) * cols(t);
  return per == 0 ? 0 : t.numel() / per;
}
// QR's batch, counted on its outputs: an empty A (m, 0) still has a Q (the identity in complete mode).
inline int64_t qr_batch(const Tensor& q, const Tensor& r) {
  if (r.numel() == 0 && q.numel() == 0) return 0;
  return batch(r.numel() > 0 ? r : q);
}

}  // namespace pyad::kernels::linalg
