#pragma once
// The CUDA runtime as the rest of pyad sees it: devices, the caching
// allocator, transfers, the generators and the matmul backend. No CUDA types
// appear here, so the core compiles without the toolkit; in a build without
// CUDA, no_cuda.cpp implements all of it (is_available() is false, the rest raises).
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

namespace pyad::gpu {

bool compiled();      // pyad was built with CUDA
bool is_available();  // compiled, a driver, and at least one device
int device_count();
std::string device_name(int device);
// Why is_available() is false ("" when it is true).
std::string unavailable_reason();
// Makes `device` current for the calling thread (kernels launch on the current device).
void set_device(int device);
void synchronize(int device);

// The caching allocator: freed blocks are kept per device and size for reuse,
// so a training loop stops calling cudaMalloc after its first step. All work
// runs on one stream per device, so a block freed by one kernel may be handed
// to the next without an event.
void* allocate(size_t nbytes, int device);
void release(void* ptr, int device);
void empty_cache();               // returns the cached, unused blocks to the driver
size_t memory_reserved(int device);  // bytes held from the driver: live plus cached

enum class CopyKind { HostToDevice, DeviceToHost, DeviceToDevice };
// Waits for the stream when the host is involved (pageable host memory), so
// item(), numpy() and tolist() see finished results.
void memcpy(void* dst, const void* src, size_t nbytes, CopyKind kind);

// One counter-based generator per process for all devices: a seed and an offset
// that every random kernel advances, so replaying needs only those two numbers.
void manual_seed(uint64_t seed);
std::string rng_state();
void set_rng_state(const std::string& state);
// Reserves `count` numbers of the stream; returns (seed, first offset).
std::pair<uint64_t, uint64_t> rng_reserve(uint64_t count);

// cuBLAS, loaded at run time (never linked): `path` is a library file, or ""
// to try the loader's search path. Returns whether it is now loaded.
bool load_cublas(const std::string& path);
std::string cublas_error();       // why the last load failed
std::string matmul_backend();     // "cublas" or "pyad" (our tiled kernel)
void set_matmul_backend(const std::string& name);

}  // namespace pyad::gpu
