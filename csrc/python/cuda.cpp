// pyad._C's CUDA runtime functions (pyad/cuda.py is their Python face).
#include "python/bind.h"
#include "core/device_runtime.h"
#include "kernels/gpu_generator.h"
#include "kernels/cuda/linalg_backend.h"
#include "kernels/cuda/matmul_backend.h"

namespace pyad::python {

void init_cuda(py::module_& m) {
  m.def("cuda_compiled", &gpu::compiled);
  m.def("cuda_is_available", &gpu::is_available);
  m.def("cuda_unavailable_reason", &gpu::unavailable_reason);
  m.def("cuda_device_count", &gpu::device_count);
  m.def("cuda_device_name", &gpu::device_name);
  m.def("cuda_synchronize", &gpu::synchronize, py::call_guard<py::gil_scoped_release>());
  m.def("cuda_empty_cache", &gpu::empty_cache);
  m.def("cuda_memory_reserved", &gpu::memory_reserved);
  m.def("cuda_manual_seed", &gpu::manual_seed);
  m.def("cuda_get_rng_state", &gpu::rng_state);
  m.def("cuda_set_rng_state", &gpu::set_rng_state);
  m.def("cuda_load_cublas", &gpu::load_cublas);
  m.def("cuda_cublas_error", &gpu::cublas_error);
  m.def("cuda_load_cusolver", &gpu::load_cusolver);
  m.def("cuda_cusolver_error", &gpu::cusolver_error);
  m.def("cuda_matmul_backend", &gpu::matmul_backend);
  m.def("cuda_set_matmul_backend", &gpu::set_matmul_backend);
  // How this module was built (CMakeLists.txt): cuda_compiled is what was linked, cuda_enabled what CMake was
  // asked for, so a CPU-only build tells a deliberate PYAD_ENABLE_CUDA=OFF from a CUDA compiler it missed.
  // A function, not a dict attribute, so that the type stub is the same for every build.
  m.def("_build_info", [] {
    return py::dict(py::arg("cuda_enabled") = bool(PYAD_CUDA_ENABLED), py::arg("cuda_compiled") = gpu::compiled());
  });
}

}  // namespace pyad::python
