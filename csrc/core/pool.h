#pragma once
// Note [Small-block pool]
// A 16-element op allocates a handful of small blocks (its result's TensorImpl, Storage, version counter and
// data, its Node, its AutogradMeta), and a backward pass frees thousands of them at once. glibc's per-thread
// cache holds only 7 blocks of a size, so the rest of such a burst goes through its slow, consolidating paths,
// which cost more than the op's arithmetic. pool:: keeps blocks of up to kMaxBytes in per-thread free lists,
// one per 64-byte size class, carved from 256 KB slabs that are never returned to the system: the pool holds
// at most the peak of small blocks live at once (as CPython's object allocator), and in a training loop the
// next step reuses them. A block freed on another thread joins that thread's lists; an exiting thread hands
// its lists to a shared one that others adopt. Pooled data blocks count in memory_allocated only while a
// Storage holds them, as before. Sanitizer builds bypass the pool, so that ASan still sees every use after
// free.
#include <cstddef>
#include <memory>
#include <new>
#include <utility>

namespace pyad::pool {

constexpr size_t kAlign = 64;      // what a CPU Storage promises its data (AVX-512 loads, BLAS)
constexpr size_t kMaxBytes = 1024;  // larger blocks go straight to malloc: their cost is small next to their use

// A block of at least `bytes` bytes aligned to kAlign; bytes may be any size (large ones are not pooled).
void* allocate(size_t bytes);
// Returns a block from allocate(bytes), with the same `bytes`.
void deallocate(void* p, size_t bytes) noexcept;

// A standard allocator over the pool, for std::allocate_shared and containers.
template <class T>
struct Allocator {
  using value_type = T;
  Allocator() = default;
  template <class U>
  Allocator(const Allocator<U>&) noexcept {}  // NOLINT: converting, as the allocator requirements ask
  T* allocate(size_t n) { return static_cast<T*>(pool::allocate(n * sizeof(T))); }
  void deallocate(T* p, size_t n) noexcept { pool::deallocate(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const Allocator<U>&) const noexcept {
    return true;
  }
  template <class U>
  bool operator!=(const Allocator<U>&) const noexcept {
    return false;
  }
};

// std::make_shared with the object and its control block in one pooled block.
template <class T, class... Args>
std::shared_ptr<T> make_shared(Args&&... args) {
  return std::allocate_shared<T>(Allocator<T>{}, std::forward<Args>(args)...);
}

// Class-specific operator new/delete through the pool, for objects owned by unique_ptr.
struct Pooled {
  static void* operator new(size_t bytes) { return pool::allocate(bytes); }
  static void operator delete(void* p, size_t bytes) noexcept { pool::deallocate(p, bytes); }
};

}  // namespace pyad::pool
