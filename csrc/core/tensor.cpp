#include <algorithm>
#include "core/tensor.h"

namespace pyad {

int64_t Tensor::size(int64_t dim) const { return impl_->shape[wrap_dim(dim, ndim(), "size")]; }

AutogradMeta::~AutogradMeta() { release_node(grad_fn); }

bool Tensor::is_contiguous() const {
  // An empty tensor has no element out of place, whatever its strides say (torch: contiguous too).
  if (numel() == 0) return true;
  int64_t expected = 1;
  for (int64_t i = ndim() - 1; i >= 0; --i) {
    if (impl_->shape[i] == 1) continue;
    if (impl_->strides[i] != expected) return false;
    expected *= impl_->shape[i];
  }
  return true;
}

// Note [Results keep their operand's layout]
// An elementwise result is laid out in the memory order of its operands of the result's shape, as torch's
// TensorIterator lays it out: x.T * v is then read and written in memory order (the loops walk the output's
// order, kernels::Walk::Output) rather than transposed on the way, and a matmul of the result reads it through a
// BLAS transpose flag. jacfwd's first tangent, a transpose of A (Note [Identity tangents]), times sigmoid's
// derivative is the case that made this pay: 0.29 -> 0.18 ms of a 1.1 ms Jacobian at d = 250, 3.0 -> 1.4 ms at
// d = 1000. Where the first such operand is contiguous, or none has the result's shape, the result is contiguous.
namespace {
// The order is torch's (an insertion sort, innermost dim first): a dim moves inward past one that the first
// operand deciding it gives a larger stride, or an equal stride and a larger size; a zero stride decides nothing.
Shape strides_in_order_of(const Shape& sh, const std::vector<const Tensor*>& ops) {
  const int nd = static_cast<int>(sh.size());
  std::vector<int> perm(nd);  // innermost first
  for (int i = 0; i < nd; ++i) perm[i] = nd - 1 - i;
  auto should_swap = [&](int inner, int outer) {
    for (const Tensor* t : ops) {
      const int64_t a = t->strides()[inner], b = t->strides()[outer];
      if (a == 0 || b == 0) continue;
      if (a != b) return a > b ? 1 : -1;
      if (sh[inner] > sh[outer]) return 1;
    }
    return 0;
  };
  for (int i = 1; i < nd; ++i) {
    for (int j = i, k = i - 1; k >= 0; --k) {
      const int c = should_swap(perm[k], perm[j]);
      if (c > 0) {
        std::swap(perm[k], perm[j]);
        j = k;
      } else if (c < 0) {
        break;
      }
    }
  }
  Shape out(nd);
  int64_t step = 1;
  for (int d : perm) {
    out[d] = step;
    step *= sh[d];
  }
  return out;
}
}  // namespace

Tensor empty_in_layout_of(const Shape& shape, DType dtype, Device device,
                          std::initializer_list<const Tensor*> operands) {
  Tensor out = empty(shape, dtype, device);
  if (shape.size() < 2 || out.numel() == 0) return out;
  std::vector<const Tensor*> full;
  for (const Tensor* t : operands) {
    if (t->shape() != shape) continue;
    if (full.empty() && t->is_contiguous()) return out;
    full.push_back(t);
  }
  if (!full.empty()) out.impl()->strides = strides_in_order_of(shape, full);
  return out;
}

Tensor empty(const Shape& shape, DType dtype, Device device) {
  // Sizes whose byte count would overflow are refused before any allocation.
  const int64_t limit = (int64_t(1) << 62) / static_cast<int64_t>(itemsize(dtype));
  int64_t n = 1;
  for (auto d : shape) {
    PYAD_CHECK(d >= 0, ValueError, "[empty] negative dimension in shape ", shape_str(shape));
    PYAD_CHECK(d == 0 || n <= limit / d, RuntimeError, "[empty] shape ", shape_str(shape),
               " is too large: its byte count overflows");
    n *= d;
  }
  auto impl = pool::make_shared<TensorImpl>();
  impl->storage = allocate(static_cast<size_t>(numel_of(shape)) * itemsize(dtype), device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset) {
  auto impl = pool::make_shared<TensorImpl>(base->version);
  impl->storage = base->storage;
  impl->offset = offset;
  impl->shape = shape;
  impl->strides = strides;
  impl->dtype = base.dtype();
  impl->is_view = true;
  return Tensor(std::move(impl));
}

Tensor detach(const Tensor& t) {
  Tensor d = make_view(t, t.shape(), t.strides(), t->offset);
  d->is_view = t->is_view;
  return d;
}

void bump_version(const Tensor& t) {
  ++t->version->version;
  t->version->modified_at.capture();
}

std::string describe(const Tensor& t) {
  return cat_str(dtype_name(t.dtype()), " tensor of shape ", shape_str(t.shape()));
}

}  // namespace pyad
