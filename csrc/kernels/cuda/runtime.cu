// Devices, the caching allocator, transfers and the generator state.
#include <map>
#include <mutex>
#include <sstream>
#include <vector>
#include "common.cuh"

namespace pyad::gpu {

void check(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return;
  cudaGetLastError();  // clear a sticky-free error so the next call starts clean
  throw RuntimeError(cat_str("[cuda] ", cudaGetErrorString(err), " (", cudaGetErrorName(err), ") in ", what));
}

bool compiled() { return true; }

namespace {
struct Probe {
  int count = 0;
  std::string reason;
};
// The driver is asked once; a machine without a driver or a GPU gives an error
// code here (35: driver too old or absent, 100: no device), never a crash.
const Probe& probe() {
  static Probe p = [] {
    Probe r;
    cudaError_t e = cudaGetDeviceCount(&r.count);
    if (e != cudaSuccess) {
      r.reason = cat_str(cudaGetErrorString(e), " (", cudaGetErrorName(e), ")");
      r.count = 0;
      cudaGetLastError();
    } else if (r.count == 0) {
      r.reason = "no CUDA device was found";
    }
    return r;
  }();
  return p;
}
}  // namespace

bool is_available() { return probe().count > 0; }
int device_count() { return probe().count; }
std::string unavailable_reason() { return probe().reason; }

void check_device(int device) {
  PYAD_CHECK(is_available(), RuntimeError, "[cuda] CUDA is not available: ", unavailable_reason());
  PYAD_CHECK(device >= 0 && device < device_count(), RuntimeError, "[cuda] device cuda:", device,
             " does not exist (this machine has ", device_count(), " CUDA device(s))");
}

std::string device_name(int device) {
  check_device(device);
  cudaDeviceProp prop;
  PYAD_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  return prop.name;
}

void set_device(int device) {
  check_device(device);
  int cur = -1;
  PYAD_CUDA_CHECK(cudaGetDevice(&cur));
  if (cur != device) PYAD_CUDA_CHECK(cudaSetDevice(device));
}

void synchronize(int device) {
  set_device(device);
  PYAD_CUDA_CHECK(cudaDeviceSynchronize());
}

int sm_count() {
  static int counts[64] = {0};
  int dev = 0;
  PYAD_CUDA_CHECK(cudaGetDevice(&dev));
  if (dev < 64 && counts[dev]) return counts[dev];
  int n = 0;
  PYAD_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev));
  if (dev < 64) counts[dev] = n;
  return n;
}

// ---- caching allocator ----
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

void memcpy(void* dst, const void* src, size_t nbytes, CopyKind kind) {
  if (nbytes == 0) return;
  cudaMemcpyKind k = kind == CopyKind::HostToDevice   ? cudaMemcpyHostToDevice
                     : kind == CopyKind::DeviceToHost ? cudaMemcpyDeviceToHost
                                                      : cudaMemcpyDeviceToDevice;
  if (kind == CopyKind::DeviceToDevice) {
    PYAD_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, k, stream()));
  } else {
    PYAD_CUDA_CHECK(cudaMemcpy(dst, src, nbytes, k));
  }
}

// ---- generator ----
namespace {
uint64_t g_seed = 5489u, g_offset = 0;
std::mutex g_rng_mutex;
}  // namespace

void manual_seed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(g_rng_mutex);
  g_seed = seed;
  g_offset = 0;
}

std::string rng_state() {
  std::lock_guard<std::mutex> lock(g_rng_mutex);
  return cat_str(g_seed, " ", g_offset);
}

void set_rng_state(const std::string& state) {
  std::istringstream is(state);
  uint64_t s = 0, o = 0;
  is >> s >> o;
  PYAD_CHECK(!is.fail(), ValueError, "[cuda.set_rng_state] the state is not one that cuda.get_rng_state returned");
  std::lock_guard<std::mutex> lock(g_rng_mutex);
  g_seed = s;
  g_offset = o;
}

std::pair<uint64_t, uint64_t> rng_reserve(uint64_t count) {
  std::lock_guard<std::mutex> lock(g_rng_mutex);
  uint64_t first = g_offset;
  g_offset += count;
  return {g_seed, first};
}

}  // namespace pyad::gpu
