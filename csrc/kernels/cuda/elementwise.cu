// CUDA elementwise kernels: the functors of kernels/math.h, the same ones the
// CPU loop runs, applied over a grid-stride loop with strided offsets.
#include <utility>
#include "kernels/cuda/common.cuh"
#include "kernels/gpu_generator.h"

namespace pyad::kernels::cuda {
using gpu::Offsets;
using gpu::ref;

namespace {

// out = f(in...) with operand 0 the output and operands 1..K the inputs.
template <class R, class F, class... In>
struct Map {
  static constexpr int N = 1 + sizeof...(In);
  template <size_t... I>
  __device__ __forceinline__ static void apply(char* const* p, const int64_t (&off)[N], F f,
                                               std::index_sequence<I...>) {
    ref<R>(p[0], off[0]) = f(ref<In>(p[I + 1], off[I + 1])...);
  }
};

template <class R, class F, class... In>
__global__ void map_kernel(int64_t n, Offsets<1 + sizeof...(In)> offs, gpu::Ptrs<1 + sizeof...(In)> p, F f) {
  constexpr int N = 1 + sizeof...(In);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[N];
    offs.at(i, off);
    Map<R, F, In...>::apply(p.p, off, f, std::index_sequence_for<In...>{});
  }
}

// Launches out = f(ins...) over out's shape, inputs broadcast to it.
template <class R, class... In, class F, class... Ts>
void launch_map(const char* op, F f, const Tensor& out, const Ts&... ins) {
  const int64_t n = out.numel();
  if (n == 0) return;
  constexpr int N = 1 + sizeof...(In);
  auto offs = gpu::offsets_for<N>(out.shape(), {&out, &ins...},
                                  {static_cast<int64_t>(sizeof(R)), static_cast<int64_t>(sizeof(In))...}, op);
  gpu::Ptrs<N> p{{static_cast<char*>(out.raw_data()), static_cast<char*>(ins.raw_data())...}};
  map_kernel<R, F, In...><<<gpu::grid_for(n), gpu::kThreads, 0, gpu::stream()>>>(n, offs, p, f);
  gpu::check_launch(op);
}

// One kernel per row of the op list (Note [The op list]), its dtypes chosen by the row's domain.
template <class F, math::Domain D>
void unary_kernel(const Tensor& in, const Tensor& out) {
  if constexpr (D == math::Domain::Signed) {
    if (out.dtype() == DType::Int64) return launch_map<int64_t, int64_t>("unary", F{}, out, in);
  }
  PYAD_DISPATCH_FLOAT(out.dtype(), "unary", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    launch_map<T, T>("unary", F{}, out, in);
  });
}

template <class F, math::Domain D>
void binary_kernel(const Tensor& a, const Tensor& b, const Tensor& out) {
  if constexpr (D == math::Domain::Compare) {
    PYAD_DISPATCH_ALL(a.dtype(), "compare", [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      launch_map<bool, T, T>("compare", F{}, out, a, b);
    });
  } else if constexpr (D == math::Domain::Float) {
    PYAD_DISPATCH_FLOAT(out.dtype(), "binary", [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      launch_map<T, T, T>("binary", F{}, out, a, b);
    });
  } else {
    PYAD_DISPATCH_ALL(out.dtype(), "binary", [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      if constexpr (std::is_same_v<T, bool>) {
        throw TypeError("[binary] arithmetic on bool tensors is not supported");
      } else {
        launch_map<T, T, T>("binary", F{}, out, a, b);
      }
    });
  }
}

struct Select {
  template <class T> __device__ T operator()(bool c, T a, T b) const { return c ? a : b; }
};
template <class D>
struct Cast {
  template <class S> __device__ D operator()(S x) const { return math::convert<D>(x); }
};
template <class T>
struct Constant {
  T v;
  __device__ T operator()() const { return v; }
};

}  // namespace

void unary(Unary op, const Tensor& in, const Tensor& out) {
  switch (op) {
#define PYAD_CASE(name, F, D) \
  case Unary::F: return unary_kernel<math::F, math::Domain::D>(in, out);
    PYAD_UNARY_OPS(PYAD_CASE)
#undef PYAD_CASE
  }
}

void binary(Binary op, const Tensor& a, const Tensor& b, const Tensor& out) {
  switch (op) {
#define PYAD_CASE(name, F, D) \
  case Binary::F: return binary_kernel<math::F, math::Domain::D>(a, b, out);
    PYAD_BINARY_OPS(PYAD_CASE) PYAD_COMPARE_OPS(PYAD_CASE)
#undef PYAD_CASE
  }
}

void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  PYAD_DISPATCH_ALL(out.dtype(), "where", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    launch_map<T, bool, T, T>("where", Select{}, out, cond, a, b);
  });
}

void copy(const Tensor& src, const Tensor& dst) {
  PYAD_DISPATCH_ALL(dst.dtype(), "copy", [&](auto* dtag) {
    using D = std::remove_pointer_t<decltype(dtag)>;
    PYAD_DISPATCH_ALL(src.dtype(), "copy", [&](auto* stag) {
      using S = std::remove_pointer_t<decltype(stag)>;
      launch_map<D, S>("copy", Cast<D>{}, dst, src);
    });
  });
}

void fill(const Tensor& dst, double value) {
  PYAD_DISPATCH_ALL(dst.dtype(), "fill", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    launch_map<T>("fill", Constant<T>{math::convert<T>(value)}, dst);
  });
}

namespace {
template <class T>
__global__ void arange_kernel(T* out, int64_t n, double start, double step) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = static_cast<T>(start + step * static_cast<double>(i));
}

template <class T>
__global__ void nonfinite_kernel(int64_t n, Offsets<1> offs, char* p, int* flag) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[1];
    offs.at(i, off);
    if (!isfinite(ref<T>(p, off[0]))) *flag = 1;
  }
}
}  // namespace

void arange(const Tensor& out, double start, double step) {
  const int64_t n = out.numel();
  if (n == 0) return;
  PYAD_DISPATCH_ALL(out.dtype(), "arange", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    arange_kernel<T><<<gpu::grid_for(n), gpu::kThreads, 0, gpu::stream()>>>(out.data<T>(), n, start, step);
    gpu::check_launch("arange");
  });
}

bool all_finite(const Tensor& t) {
  const int64_t n = t.numel();
  if (n == 0) return true;
  Tensor flag = empty({}, DType::Int64, t.device());  // an int at its start is enough; 8 bytes keep it aligned
  PYAD_CUDA_CHECK(cudaMemsetAsync(flag.raw_data(), 0, sizeof(int), gpu::stream()));
  PYAD_DISPATCH_FLOAT(t.dtype(), "all_finite", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    auto offs = gpu::offsets_for<1>(t.shape(), {&t}, {sizeof(T)}, "all_finite");
    nonfinite_kernel<T><<<gpu::grid_for(n), gpu::kThreads, 0, gpu::stream()>>>(
        n, offs, static_cast<char*>(t.raw_data()), static_cast<int*>(flag.raw_data()));
    gpu::check_launch("all_finite");
  });
  int host = 0;
  gpu::memcpy(&host, flag.raw_data(), sizeof(int), gpu::CopyKind::DeviceToHost);
  return host == 0;
}

// ---- random numbers: a counter-based generator (each element hashes its own counter) ----
namespace {
__device__ __forceinline__ uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
// A T in [0, 1) from the counter c of the stream `seed`.
template <class T = double>
__device__ __forceinline__ T uniform01(uint64_t seed, uint64_t c) {
  return math::uniform01_from_bits<T>(splitmix64(splitmix64(seed) ^ c));
}

template <class T>
__global__ void random_kernel(T* out, int64_t n, uint64_t seed, uint64_t first, double a, double b, bool gaussian) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const uint64_t c = first + 2 * static_cast<uint64_t>(i);
    if (gaussian) {  // Box-Muller from two uniforms; a is the mean, b the std
      double u1 = 1.0 - uniform01(seed, c), u2 = uniform01(seed, c + 1);
      out[i] = static_cast<T>(a + b * sqrt(-2.0 * log(u1)) * cospi(2.0 * u2));
    } else {  // [a, b)
      out[i] = static_cast<T>(a + (b - a) * static_cast<double>(uniform01<T>(seed, c)));
    }
  }
}

void random_fill(const Tensor& out, double a, double b, bool gaussian, const char* op) {
  PYAD_CHECK(out.is_contiguous(), RuntimeError, "[", op, "] expects a contiguous output");
  const int64_t n = out.numel();
  if (n == 0) return;
  const auto reserved = gpu::rng_reserve(2 * static_cast<uint64_t>(n));
  const uint64_t seed = reserved.first, first = reserved.second;
  PYAD_DISPATCH_FLOAT(out.dtype(), op, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    random_kernel<T>
        <<<gpu::grid_for(n), gpu::kThreads, 0, gpu::stream()>>>(out.data<T>(), n, seed, first, a, b, gaussian);
    gpu::check_launch(op);
  });
}
}  // namespace

void uniform(const Tensor& out, double low, double high) { random_fill(out, low, high, false, "rand"); }
void normal(const Tensor& out, double mean, double std) { random_fill(out, mean, std, true, "randn"); }

}  // namespace pyad::kernels::cuda
