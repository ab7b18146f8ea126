// The caching allocator (see device_runtime.h): blocks freed by tensors are
// kept per device and rounded size, and handed out again before cudaMalloc is asked.
#include <algorithm>
#include <map>
#include <mutex>
#include "core/cuda/cuda_check.cuh"
#include "core/device_runtime.h"

namespace pyad::gpu {

namespace {
struct DeviceCache {
  std::multimap<size_t, void*> free_blocks;   // size -> block
  std::map<void*, size_t> sizes;              // every block we hold, live or free
  size_t reserved = 0;
};
// Leaked on purpose: tensors may be freed during interpreter shutdown, after static destructors ran.
std::mutex& g_mutex = *new std::mutex;
std::map<int, DeviceCache>& g_cache = *new std::map<int, DeviceCache>;

// Sizes are rounded so blocks are reusable across slightly different requests:
// to 512 bytes below 1 MiB, to 2 MiB above.
size_t round_size(size_t n) {
  if (n < (1u << 20)) return std::max<size_t>(512, (n + 511) / 512 * 512);
  return (n + (2u << 20) - 1) / (2u << 20) * (2u << 20);
}

void free_cached(DeviceCache& c, int device) {
  set_device(device);
  for (auto& [size, ptr] : c.free_blocks) {
    cudaFree(ptr);
    c.sizes.erase(ptr);
    c.reserved -= size;
  }
  c.free_blocks.clear();
}
}  // namespace

void* allocate(size_t nbytes, int device) {
  set_device(device);
  const size_t size = round_size(nbytes);
  std::lock_guard<std::mutex> lock(g_mutex);
  DeviceCache& c = g_cache[device];
  // A cached block up to twice the request (or 2 MiB more for big ones) is reused rather than wasted.
  auto it = c.free_blocks.lower_bound(size);
  if (it != c.free_blocks.end() && it->first <= std::max(2 * size, size + (2u << 20))) {
    void* p = it->second;
    c.free_blocks.erase(it);
    return p;
  }
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, size);
  if (e == cudaErrorMemoryAllocation) {  // give the cache back and try once more
    cudaGetLastError();
    // Queued kernels may still use the cached blocks: wait for them rather than rely on cudaFree syncing.
    PYAD_CUDA_CHECK(cudaDeviceSynchronize());
    free_cached(c, device);
    e = cudaMalloc(&p, size);
  }
  if (e != cudaSuccess) {
    cudaGetLastError();
    throw RuntimeError(cat_str("[cuda] out of memory: tried to allocate ", nbytes, " bytes on cuda:", device, " (",
                               c.reserved, " bytes reserved by pyad): ", cudaGetErrorString(e)));
  }
  c.sizes[p] = size;
  c.reserved += size;
  return p;
}

void release(void* ptr, int device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  DeviceCache& c = g_cache[device];
  auto it = c.sizes.find(ptr);
  if (it != c.sizes.end()) c.free_blocks.emplace(it->second, ptr);
}

void empty_cache() {
  if (!is_available()) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  for (auto& [device, c] : g_cache) {
    synchronize(device);  // a freed block may still be read by queued kernels
    free_cached(c, device);
  }
}

size_t memory_reserved(int device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_cache.find(device);
  return it == g_cache.end() ? 0 : it->second.reserved;
}

}  // namespace pyad::gpu
