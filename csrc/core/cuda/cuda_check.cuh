#pragma once
// CUDA-typed helpers shared by the device runtime (core/cuda) and the CUDA
// kernels above it: error checks, the stream all work runs on, the device's size.
#include <cuda_runtime.h>
#include "core/error.h"

namespace pyad::gpu {

void check(cudaError_t err, const char* what);
#define PYAD_CUDA_CHECK(expr) ::pyad::gpu::check((expr), #expr)
// Raises if the last launch failed (bad configuration, no kernel image for this GPU).
inline void check_launch(const char* op) { check(cudaGetLastError(), op); }

// The legacy default stream: CuPy's and torch's default too, so memory shared
// through DLPack is ordered without extra synchronisation.
inline cudaStream_t stream() { return 0; }

int sm_count();  // of the current device

}  // namespace pyad::gpu
