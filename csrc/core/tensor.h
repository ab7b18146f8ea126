#pragma once
// TensorImpl holds a strided view of a Storage plus the autograd metadata.
// Tensor is a cheap handle (a shared_ptr) used everywhere in C++; the Python
// object wraps the same TensorImpl, so identity is kept across the binding.
#include <functional>
#include <initializer_list>
#include <memory>
#include <vector>
#include "core/dtype.h"
#include "core/device.h"
#include "core/pool.h"
#include "core/shape.h"
#include "core/site.h"
#include "core/storage.h"

namespace pyad {

struct Node;
struct TensorImpl;

// Shared by a tensor and all views of its storage; bumped by every in-place write, which it remembers the
// user's line of (Note [Source sites], core/site.h).
struct VersionCounter {
  uint64_t version = 0;
  Site modified_at;
};

// A tensor's forward-mode tangents (autograd/forward_ad.h).
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

// A tensor's gradient hooks, each with the id its RemovableHandle removes it by.
struct TensorHook {
  uint64_t id;
  GradHook fn;
};

// Note [AutogradMeta]
// The autograd state of a tensor, kept apart from its data as torch's AutogradMeta and allocated the first
// time the tensor needs any of it (it requires grad, gets a history, a .grad, a hook or a tangent): most
// tensors (gradients, constants, results under no_grad) never do, and they stay small. Readers take
// TensorImpl::autograd_meta(), null meaning all defaults; writers take mutable_autograd_meta(). The version
// counter and the view fields stay on TensorImpl, as in torch: they describe the storage, which views and
// .data share whether or not autograd is involved.
struct AutogradMeta : pool::Pooled {
  // Note [Leaves and AccumulateGrad] in autograd/node.h.
  bool requires_grad = false;  // a leaf's flag; a non-leaf requires grad through its grad_fn
  std::shared_ptr<Node> grad_fn;
  uint32_t output_nr = 0;
  std::weak_ptr<Node> grad_accumulator;
  Tensor grad;
  bool retains_grad = false;
  bool retain_hook_installed = false;
  // A leaf's gradient hooks, run by its AccumulateGrad (which comes and goes with the graphs using the
  // leaf); a non-leaf's hooks live on its grad_fn as pre-hooks.
  std::vector<TensorHook> hooks;
  // A leaf's post-accumulate-grad hooks (torch's register_post_accumulate_grad_hook): run by its
  // AccumulateGrad with the leaf itself once .grad holds the new sum; what they return is ignored.
  std::vector<TensorHook> post_accumulate_hooks;
  // Forward mode: the tangents at the active dual levels (absent = symbolic zero). A tensor saved for
  // backward shares its original's slot, so a tangent attached after the save is seen by the saved copy
  // (forward-over-reverse needs it).
  std::shared_ptr<ForwardGrad> fw;

  ~AutogradMeta();  // lets grad_fn go through release_node (Note [Iterative graph destruction], autograd/node.h)
};

struct TensorImpl {
  TensorImpl() = default;
  // A tensor sharing the version counter of another (a view, a detached alias).
  explicit TensorImpl(std::shared_ptr<VersionCounter> shared) : version(std::move(shared)) {}

  StoragePtr storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  Shape strides;
  DType dtype = DType::Float32;
  std::shared_ptr<VersionCounter> version = pool::make_shared<VersionCounter>();
  bool is_view = false;  // shares storage with a tensor it was derived from
  // For views made by view ops: the tensor at the root of the chain, and a function that makes the same view
  // of any tensor shaped like it (in-place ops on views rebuild the base's history with it: CopySlices).
  Tensor view_base;
  std::shared_ptr<std::function<Tensor(const Tensor&)>> view_fn;

  // See Note [AutogradMeta].
  std::unique_ptr<AutogradMeta> autograd;
  AutogradMeta* autograd_meta() const { return autograd.get(); }
  AutogradMeta& mutable_autograd_meta() {
    if (!autograd) autograd = std::make_unique<AutogradMeta>();
    return *autograd;
  }

  Device device() const { return storage ? storage->device : Device{}; }
};

// Drop n; if it was the last reference, the node is freed from a loop rather than inside this call's caller
// (Note [Iterative graph destruction], autograd/node.h; defined in autograd/node.cpp).
void release_node(std::shared_ptr<Node>& n);

inline const Shape& Tensor::shape() const { return impl_->shape; }
inline const Shape& Tensor::strides() const { return impl_->strides; }
inline int64_t Tensor::ndim() const { return static_cast<int64_t>(impl_->shape.size()); }
inline int64_t Tensor::numel() const { return numel_of(impl_->shape); }
inline DType Tensor::dtype() const { return impl_->dtype; }
inline Device Tensor::device() const { return impl_->device(); }
inline void* Tensor::raw_data() const {
  return static_cast<char*>(impl_->storage->data) + impl_->offset * static_cast<int64_t>(itemsize(impl_->dtype));
}
inline bool Tensor::requires_grad() const {
  const AutogradMeta* m = impl_->autograd_meta();
  return m && (m->requires_grad || m->grad_fn != nullptr);
}
inline bool Tensor::is_leaf() const { return grad_fn() == nullptr; }
inline const std::shared_ptr<Node>& Tensor::grad_fn() const {
  static const std::shared_ptr<Node> none;
  const AutogradMeta* m = impl_->autograd_meta();
  return m ? m->grad_fn : none;
}
inline uint32_t Tensor::output_nr() const {
  const AutogradMeta* m = impl_->autograd_meta();
  return m ? m->output_nr : 0;
}

// Construction helpers (no autograd history).
Tensor empty(const Shape& shape, DType dtype, Device device = {});
Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset);
// An uninitialised elementwise result of `shape`, laid out in the memory order of the operands of that shape
// (Note [Results keep their operand's layout]); contiguous where the first of them is, or where none has it.
Tensor empty_in_layout_of(const Shape& shape, DType dtype, Device device,
                          std::initializer_list<const Tensor*> operands);
// A tensor sharing data and version counter with t but with no history.
Tensor detach(const Tensor& t);
void bump_version(const Tensor& t);

std::string describe(const Tensor& t);  // "float32 tensor of shape (2, 3)" for messages

}  // namespace pyad
