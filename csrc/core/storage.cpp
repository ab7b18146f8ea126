#include "core/storage.h"
#include <atomic>
#include <cstdlib>
#include <new>
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
}  // namespace

Storage::~Storage() {
  if (owned) {
    if (device.is_cpu()) pool::deallocate(data, nbytes);
    else gpu::release(data, device.index);
    count(device, -static_cast<int64_t>(nbytes));
  }
}

StoragePtr allocate(size_t nbytes, Device device) {
  auto s = pool::make_shared<Storage>();
  if (device.is_cpu()) {
    s->data = pool::allocate(nbytes);  // 64-byte aligned (AVX-512 loads, BLAS); Note [Small-block pool]
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
