#pragma once
// cuSOLVER, which pyad.linalg's GPU kernels call, loaded at run time (never linked) as cuBLAS is
// (matmul_backend.h). linalg.cu implements this; no_cuda.cpp in a build without CUDA. No CUDA types, so the
// bindings include it freely.
#include <string>

namespace pyad::gpu {

// `path` is a library file, or "" to try the loader's search path. Returns whether cuSOLVER is now loaded.
bool load_cusolver(const std::string& path);
std::string cusolver_error();  // why it is not loaded ("" once it is)

}  // namespace pyad::gpu
