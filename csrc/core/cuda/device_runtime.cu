// Devices and transfers (the caching allocator is in caching_allocator.cu).
#include "core/cuda/cuda_check.cuh"
#include "core/device_runtime.h"

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

namespace {
void check_device(int device) {
  PYAD_CHECK(is_available(), RuntimeError, "[cuda] CUDA is not available: ", unavailable_reason());
  PYAD_CHECK(device >= 0 && device < device_count(), RuntimeError, "[cuda] device cuda:", device,
             " does not exist (this machine has ", device_count(), " CUDA device(s))");
}
}  // namespace

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

}  // namespace pyad::gpu
