#pragma once
// TensorImpl holds a strided view of a Storage plus the autograd metadata.
// Tensor is a cheap handle (a shared_ptr) used everywhere in C++; the Python
// object wraps the same TensorImpl, so identity is kept across the binding.
#include <functional>
#include <memory>
#include <vector>
#include "dtype.h"
#include "device.h"
#include "shape.h"
#include "storage.h"

namespace pyad {

struct Node;
struct TensorImpl;

// Shared by a tensor and all views of its storage; bumped by every in-place write.
struct VersionCounter { uint64_t version = 0; };

// A forward-mode tangent slot. A tensor saved for backward shares its
// original's slot, so a tangent attached after the save is seen by the saved
// copy (forward-over-reverse needs it).
struct ForwardGrad;

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return static_cast<bool>(impl_); }
  TensorImpl* get() const { return impl_.get(); }
  TensorImpl* operator->() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl() const { return impl_; }
  bool same(const Tensor& o) const { return impl_ == o.impl_; }

  // Metadata
  const Shape& shape() const;
  const Shape& strides() const;
  int64_t ndim() const;
  int64_t numel() const;
  int64_t size(int64_t dim) const;
  DType dtype() const;
  Device device() const;
  bool is_contiguous() const;
  void* raw_data() const;  // pointer to element 0 of this view
  template <class T> T* data() const { return static_cast<T*>(raw_data()); }

  // Autograd metadata
  bool requires_grad() const;  // a leaf that requires grad, or the result of a recorded op
  bool is_leaf() const;
  const std::shared_ptr<Node>& grad_fn() const;
  uint32_t output_nr() const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

using TensorList = std::vector<Tensor>;

// A hook maps a gradient to a gradient (or returns an undefined tensor to keep it).
using GradHook = std::function<Tensor(const Tensor&)>;

struct TensorImpl {
  StoragePtr storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  Shape strides;
  DType dtype = DType::Float32;
  std::shared_ptr<VersionCounter> version = std::make_shared<VersionCounter>();
  bool is_view = false;  // shares storage with a tensor it was derived from
  // For views made by view ops: the tensor at the root of the chain, and a function that makes the same view
  // of any tensor shaped like it (in-place ops on views rebuild the base's history with it: CopySlices).
  Tensor view_base;
  std::shared_ptr<std::function<Tensor(const Tensor&)>> view_fn;

  // Autograd. See Note [Leaves and AccumulateGrad] in autograd/node.h.
  bool requires_grad_leaf = false;
  std::shared_ptr<Node> grad_fn;
  uint32_t output_nr = 0;
  std::weak_ptr<Node> grad_accumulator;
  Tensor grad;
  bool retains_grad = false;
  bool retain_hook_installed = false;
  // A leaf's gradient hooks, run by its AccumulateGrad (which comes and goes with the graphs using the leaf).
  std::vector<GradHook> leaf_hooks;

  // Forward mode: the tangents at the active dual levels (absent or undefined = symbolic zero).
  std::shared_ptr<ForwardGrad> fw;
  // >= 0 marks a jacfwd seed of rows of the identity: batch row i is e_{offset + i}
  // over a 1-d primal (or a (k, 1) column). matmul's JVP reads A @ seed as a
  // transposed slice of A (a view) instead of multiplying it out.
  int64_t identity_seed_offset = -1;

  Device device() const { return storage ? storage->device : Device{}; }
  ~TensorImpl();  // lets grad_fn go through release_node (Note [Iterative graph destruction], autograd/node.h)
};

// Drop n; if it was the last reference, the node is freed from a loop rather than inside this call's caller
// (Note [Iterative graph destruction], autograd/node.h; defined in autograd/node.cpp).
void release_node(std::shared_ptr<Node>& n);

// One tangent per dual level (Note [Nested dual levels] in autograd/forward_ad.h), in the order they were set;
// rarely more than two entries.
struct ForwardGrad {
  std::vector<std::pair<uint64_t, Tensor>> tangents;
};

inline const Shape& Tensor::shape() const { return impl_->shape; }
inline const Shape& Tensor::strides() const { return impl_->strides; }
inline int64_t Tensor::ndim() const { return static_cast<int64_t>(impl_->shape.size()); }
inline int64_t Tensor::numel() const { return numel_of(impl_->shape); }
inline DType Tensor::dtype() const { return impl_->dtype; }
inline Device Tensor::device() const { return impl_->device(); }
inline void* Tensor::raw_data() const {
  return static_cast<char*>(impl_->storage->data) + impl_->offset * static_cast<int64_t>(itemsize(impl_->dtype));
}
inline bool Tensor::requires_grad() const { return impl_->requires_grad_leaf || impl_->grad_fn != nullptr; }
inline bool Tensor::is_leaf() const { return impl_->grad_fn == nullptr; }
inline const std::shared_ptr<Node>& Tensor::grad_fn() const { return impl_->grad_fn; }
inline uint32_t Tensor::output_nr() const { return impl_->output_nr; }

// Construction helpers (no autograd history).
Tensor empty(const Shape& shape, DType dtype, Device device = {});
Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset);
// A tensor sharing data and version counter with t but with no history.
Tensor detach(const Tensor& t);
void bump_version(const Tensor& t);

std::string describe(const Tensor& t);  // "float32 tensor of shape (2, 3)" for messages

}  // namespace pyad
