// CPU scans (cumsum, cumprod). Running values accumulate in double for floats
// (int64 for integers), as torch's CPU kernel, so a float32 cumsum over a long
// dim stays within float32 tolerances of the float64 result.
#include <cstdlib>
#include "kernels/kernels.h"
#include "kernels/cpu/loops.h"

namespace pyad::kernels::cpu {

void cumulative(bool prod, const Tensor& in, int64_t dim, const Tensor& out) {
  if (out.numel() == 0) return;
  PYAD_DISPATCH_ALL(out.dtype(), "cumulative", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    if constexpr (std::is_same_v<T, bool>) {
      throw TypeError("[cumulative] bool tensors are scanned as int64 (the op converts them first)");
    } else {
      using A = math::ScanAccumulator<T>;
      const int64_t n = in.shape()[dim];
      const int64_t out_step = out.strides()[dim] * static_cast<int64_t>(sizeof(T));
      const int64_t in_step = in.strides()[dim] * static_cast<int64_t>(sizeof(T));
      // The loop walks every line along `dim` (dim itself set to size 1, so dropped) a row of lines at a
      // time. Where dim is the innermost of the two, each line is scanned in turn; otherwise the row's lines
      // advance together, step by step along dim: either way memory is read in order.
      Shape lines = in.shape();
      lines[dim] = 1;
      auto l = make_loop<2>(lines, {out.strides(), in.strides()}, {sizeof(T), sizeof(T)});
      std::vector<A> acc;
      run_loop<2>(l, {static_cast<char*>(out.raw_data()), static_cast<char*>(in.raw_data())},
                  [&](std::array<char*, 2> p, const std::array<int64_t, 2>& s, int64_t rows) {
                    if (rows == 1 || std::abs(in_step) < std::abs(s[1])) {
                      for (int64_t i = 0; i < rows; ++i) {
                        char* o = p[0] + s[0] * i;
                        const char* x = p[1] + s[1] * i;
                        A a = prod ? A(1) : A(0);
                        for (int64_t k = 0; k < n; ++k) {
                          const A v = static_cast<A>(*reinterpret_cast<const T*>(x + k * in_step));
                          a = prod ? a * v : a + v;
                          *reinterpret_cast<T*>(o + k * out_step) = static_cast<T>(a);
                        }
                      }
                      return;
                    }
                    acc.assign(rows, prod ? A(1) : A(0));
                    for (int64_t k = 0; k < n; ++k) {
                      char* o = p[0] + k * out_step;
                      const char* x = p[1] + k * in_step;
                      for (int64_t i = 0; i < rows; ++i) {
                        const A v = static_cast<A>(*reinterpret_cast<const T*>(x + s[1] * i));
                        acc[i] = prod ? acc[i] * v : acc[i] + v;
                        *reinterpret_cast<T*>(o + s[0] * i) = static_cast<T>(acc[i]);
                      }
                    }
                  });
    }
  });
}

}  // namespace pyad::kernels::cpu
