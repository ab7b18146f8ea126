#pragma once
// The GPU as the core sees it: devices, the caching allocator and transfers.
// It sits in core/ because Storage allocates through it, and the kernels sit
// above the core. No CUDA types appear here, so everything that includes it
// compiles without the toolkit; cuda/device_runtime.cu and
// cuda/caching_allocator.cu implement it in a CUDA build, cuda/no_cuda.cpp
// without one (is_available() is false, the rest raises).
#include <cstddef>
#include <string>

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

}  // namespace pyad::gpu
