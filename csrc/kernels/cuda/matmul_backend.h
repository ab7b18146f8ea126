#pragma once
// Which kernel CUDA matrix products run: cuBLAS, loaded at run time (never
// linked), or our own tiled kernel. matmul.cu implements this; no_cuda.cpp
// in a build without CUDA. No CUDA types, so the bindings include it freely.
#include <string>

namespace pyad::gpu {

// `path` is a library file, or "" to try the loader's search path. Returns whether cuBLAS is now loaded.
bool load_cublas(const std::string& path);
std::string cublas_error();       // why the last load failed
std::string matmul_backend();     // "cublas" or "pyad" (our tiled kernel)
void set_matmul_backend(const std::string& name);

}  // namespace pyad::gpu
