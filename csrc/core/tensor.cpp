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
