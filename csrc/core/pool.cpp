// See Note [Small-block pool] in core/pool.h.
#include "core/pool.h"
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <mutex>

namespace pyad::pool {

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kBypass = true;
#else
constexpr bool kBypass = false;
#endif

constexpr size_t kClasses = kMaxBytes / kAlign;
constexpr size_t kSlabBytes = size_t(256) << 10;

size_t class_of(size_t bytes) { return bytes == 0 ? 0 : (bytes - 1) / kAlign; }
size_t class_size(size_t c) { return (c + 1) * kAlign; }

void* system_allocate(size_t bytes) {
  const size_t rounded = bytes == 0 ? kAlign : (bytes + kAlign - 1) / kAlign * kAlign;
  void* p = std::aligned_alloc(kAlign, rounded);
  if (!p) throw std::bad_alloc();
  return p;
}

struct FreeBlock { FreeBlock* next; };

// Blocks are carved from slabs, which are never returned to the system: the pool holds at most the peak of
// small blocks that were live at once (as CPython's own object allocator does), and a block may be kept by
// whichever thread frees it.
struct Carver {
  char* next = nullptr;
  char* end = nullptr;
  void* carve(size_t bytes) {
    if (static_cast<size_t>(end - next) < bytes) {
      next = static_cast<char*>(system_allocate(kSlabBytes));
      end = next + kSlabBytes;
    }
    void* p = next;
    next += bytes;
    return p;
  }
};

// Lists of exited threads, adopted by threads that run out; also what a thread uses once its own lists are
// gone (the destructors that run after its Drain).
struct Orphans {
  std::atomic<bool> any{false};  // read without the lock, so a thread that finds none pays no lock
  std::mutex mu;
  FreeBlock* head[kClasses] = {};
  Carver carver;
};
Orphans& orphans() {
  static Orphans* o = new Orphans;  // never destroyed: blocks may be freed during static destruction
  return *o;
}

// One thread's free lists: plain data, valid for the whole life of the thread. The Drain, constructed the
// first time the thread needs a block, hands them to the orphans at thread exit.
struct Lists {
  FreeBlock* head[kClasses];
  Carver carver;
  bool registered, drained;
};
thread_local Lists t_lists;

struct Drain {
  Drain() { t_lists.registered = true; }
  ~Drain() {
    Orphans& o = orphans();
    std::lock_guard<std::mutex> lock(o.mu);
    for (size_t c = 0; c < kClasses; ++c)
      while (FreeBlock* b = t_lists.head[c]) {
        t_lists.head[c] = b->next;
        b->next = o.head[c];
        o.head[c] = b;
        o.any = true;
      }
    t_lists.drained = true;  // the rest of this slab is left unused
  }
};
thread_local Drain t_drain;

void* allocate_shared_lists(size_t k) {
  Orphans& o = orphans();
  std::lock_guard<std::mutex> lock(o.mu);
  if (FreeBlock* b = o.head[k]) {
    o.head[k] = b->next;
    return b;
  }
  return o.carver.carve(class_size(k));
}

void* refill(Lists& l, size_t k) {
  if (l.drained) return allocate_shared_lists(k);
  if (!l.registered) {
    Drain* volatile drain = &t_drain;  // constructs it: the lists are handed on at thread exit
    (void)drain;
  }
  if (orphans().any.load(std::memory_order_relaxed)) {
    // An exited thread's list of this class, whole.
    Orphans& o = orphans();
    std::lock_guard<std::mutex> lock(o.mu);
    if (FreeBlock* b = o.head[k]) {
      o.head[k] = nullptr;
      l.head[k] = b->next;
      return b;
    }
  }
  return l.carver.carve(class_size(k));
}

}  // namespace

void* allocate(size_t bytes) {
  if (kBypass || bytes > kMaxBytes) return system_allocate(bytes);
  Lists& l = t_lists;
  const size_t k = class_of(bytes);
  if (FreeBlock* b = l.head[k]) {
    l.head[k] = b->next;
    return b;
  }
  return refill(l, k);
}

void deallocate(void* p, size_t bytes) noexcept {
  if (!p) return;
  if (kBypass || bytes > kMaxBytes) return std::free(p);
  Lists& l = t_lists;
  const size_t k = class_of(bytes);
  auto* b = static_cast<FreeBlock*>(p);
  if (l.drained) {
    Orphans& o = orphans();
    std::lock_guard<std::mutex> lock(o.mu);
    b->next = o.head[k];
    o.head[k] = b;
    o.any = true;
    return;
  }
  b->next = l.head[k];
  l.head[k] = b;
}

}  // namespace pyad::pool
