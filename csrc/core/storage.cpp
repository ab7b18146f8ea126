#include "core/storage.h"
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>
#include "core/device_runtime.h"
#include "core/pool.h"

namespace pyad {

namespace {
// Index 0: cpu, then one per CUDA device.
constexpr int kMaxDevices = 17;
std::atomic<int64_t> g_current[kMaxDevices];
std::atomic<int64_t> g_peak[kMaxDevices];

int slot(Device d) { return d.is_cpu() ? 0 : 1 + (d.index % (kMaxDevices - 1)); }

void count(Device d, int64_t delta) {
  int s = slot(d);
  int64_t now = g_current[s].fetch_add(delta) + delta;
  int64_t peak = g_peak[s].load();
  while (now > peak && !g_peak[s].compare_exchange_weak(peak, now)) {}
}

// Note [CPU block cache]
// A freed CPU block of 64 KiB .. 64 MiB is kept (a few, up to 128 MiB in all) and handed to the next
// allocation of exactly its size. Without it such blocks go back to the kernel (glibc returns large ones
// with munmap or trims them off the heap) and each reuse pays a page fault per 4 KiB, zero-filled: jacfwd at
// d = 250 allocates and frees the same (d, d) tangents on every call, and faulted ~60 pages a call for it.
// memory_allocated still counts live storages only. AddressSanitizer builds keep none, so that a use after
// free stays visible to it (as the small-block pool does).
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCacheBypass = true;
#else
constexpr bool kCacheBypass = false;
#endif
constexpr size_t kCacheMin = size_t(64) << 10, kCacheMax = size_t(64) << 20, kCacheBudget = size_t(128) << 20;
constexpr size_t kCacheSlots = 8;
struct BlockCache {
  std::mutex m;
  std::vector<std::pair<size_t, void*>> blocks;  // (rounded size, block)
  size_t bytes = 0;
};
BlockCache& block_cache() {
  static BlockCache* c = new BlockCache();  // never destroyed: storages may die during static destruction
  return *c;
}

void* take_cached(size_t rounded) {
  if (kCacheBypass || rounded < kCacheMin || rounded > kCacheMax) return nullptr;
  BlockCache& c = block_cache();
  std::lock_guard<std::mutex> lk(c.m);
  for (size_t i = 0; i < c.blocks.size(); ++i) {
    if (c.blocks[i].first != rounded) continue;
    void* p = c.blocks[i].second;
    c.blocks.erase(c.blocks.begin() + static_cast<std::ptrdiff_t>(i));
    c.bytes -= rounded;
    return p;
  }
  return nullptr;
}

void free_cpu(void* p, size_t rounded) {
  if (!kCacheBypass && rounded >= kCacheMin && rounded <= kCacheMax) {
    BlockCache& c = block_cache();
    std::lock_guard<std::mutex> lk(c.m);
    if (c.blocks.size() == kCacheSlots || c.bytes + rounded > kCacheBudget) {  // evict the oldest
      if (!c.blocks.empty()) {
        std::free(c.blocks.front().second);
        c.bytes -= c.blocks.front().first;
        c.blocks.erase(c.blocks.begin());
      }
    }
    if (c.blocks.size() < kCacheSlots && c.bytes + rounded <= kCacheBudget) {
      c.blocks.emplace_back(rounded, p);
      c.bytes += rounded;
      return;
    }
  }
  std::free(p);
}

size_t rounded_size(size_t nbytes) {
  // 64-byte alignment suits AVX-512 loads and BLAS; aligned_alloc needs a multiple of the alignment.
  const size_t rounded = ((nbytes + 63) / 64) * 64;
  return rounded == 0 ? 64 : rounded;
}
}  // namespace

Storage::~Storage() {
  if (owned) {
    // Note [Small-block pool] for the small CPU blocks, Note [CPU block cache] for the large ones
    if (!device.is_cpu()) gpu::release(data, device.index);
    else if (nbytes <= pool::kMaxBytes) pool::deallocate(data, nbytes);
    else free_cpu(data, rounded_size(nbytes));
    count(device, -static_cast<int64_t>(nbytes));
  }
}

StoragePtr allocate(size_t nbytes, Device device) {
  auto s = pool::make_shared<Storage>();
  if (device.is_cpu()) {
    if (nbytes <= pool::kMaxBytes) {
      s->data = pool::allocate(nbytes);  // 64-byte aligned (AVX-512 loads, BLAS); Note [Small-block pool]
    } else {
      const size_t rounded = rounded_size(nbytes);
      s->data = take_cached(rounded);
      if (!s->data) s->data = std::aligned_alloc(64, rounded);
      if (!s->data) throw std::bad_alloc();
    }
  } else {
    s->data = gpu::allocate(nbytes, device.index);  // the caching allocator (device_runtime.h)
  }
  s->nbytes = nbytes;
  s->device = device;
  s->owned = true;
  count(device, static_cast<int64_t>(nbytes));
  return s;
}

StoragePtr borrow(void* data, size_t nbytes, Device device, std::shared_ptr<void> owner) {
  auto s = pool::make_shared<Storage>();
  s->data = data;
  s->nbytes = nbytes;
  s->device = device;
  s->keepalive = std::move(owner);
  return s;
}

MemoryStats memory_stats(Device device) {
  int s = slot(device);
  return {g_current[s].load(), g_peak[s].load()};
}

void reset_peak_memory(Device device) {
  int s = slot(device);
  g_peak[s].store(g_current[s].load());
}

}  // namespace pyad
