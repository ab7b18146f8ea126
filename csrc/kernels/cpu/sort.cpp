// CPU sort along a dim, and gather / scatter_add along a dim (the sort's
// gradient and pyad.gather). Lines along dim are sorted as index permutations
// with std::stable_sort, so stable=True and stable=False give the same order.
#include <algorithm>
#include <cmath>
#include <numeric>
#include "kernels/kernels.h"
#include "kernels/cpu/loops.h"

namespace pyad::kernels::cpu {

namespace {}  // namespace

void sort(const Tensor& in, int64_t dim, bool descending, int64_t k, const Tensor& values, const Tensor& indices) {
  if (values.numel() == 0) return;
  PYAD_DISPATCH_ALL(in.dtype(), "sort", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const int64_t n = in.shape()[dim];
    const int64_t in_step = in.strides()[dim] * static_cast<int64_t>(sizeof(T));
    const int64_t v_step = values.strides()[dim] * static_cast<int64_t>(sizeof(T));
    const int64_t i_step = indices.strides()[dim] * static_cast<int64_t>(sizeof(int64_t));
    Shape lines = in.shape();
    lines[dim] = 1;
    auto l = make_loop<3>(lines, {values.strides(), indices.strides(), in.strides()},
                          {sizeof(T), sizeof(int64_t), sizeof(T)});
    std::vector<int64_t> perm(static_cast<size_t>(n));
    run_loop<3>(
        l,
        {static_cast<char*>(values.raw_data()), static_cast<char*>(indices.raw_data()),
         static_cast<char*>(in.raw_data())},
        [&](std::array<char*, 3> p, const std::array<int64_t, 3>& s, int64_t rows) {
          for (int64_t r = 0; r < rows; ++r) {
            const char* x = p[2] + s[2] * r;
            auto val = [&](int64_t j) { return *reinterpret_cast<const T*>(x + j * in_step); };
            std::iota(perm.begin(), perm.end(), int64_t(0));
            if (k == n) {
              std::stable_sort(perm.begin(), perm.end(),
                               [&](int64_t a, int64_t b) { return math::sorts_before(val(a), val(b), descending); });
            } else {  // topk: ties broken by position, which is the stable sort's order
              std::partial_sort(perm.begin(), perm.begin() + k, perm.end(), [&](int64_t a, int64_t b) {
                const T va = val(a), vb = val(b);
                return math::sorts_before(va, vb, descending) || (!math::sorts_before(vb, va, descending) && a < b);
              });
            }
            char* v = p[0] + s[0] * r;
            char* ix = p[1] + s[1] * r;
            for (int64_t j = 0; j < k; ++j) {
              *reinterpret_cast<T*>(v + j * v_step) = val(perm[j]);
              *reinterpret_cast<int64_t*>(ix + j * i_step) = perm[j];
            }
          }
        });
  });
}

void gather(const Tensor& in, int64_t dim, const Tensor& index, const Tensor& out) {
  if (out.numel() == 0) return;
  PYAD_DISPATCH_ALL(in.dtype(), "gather", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const int64_t step = in.strides()[dim] * static_cast<int64_t>(sizeof(T));
    const Shape& sh = index.shape();
    auto l = make_loop<3>(sh, {out.strides(), index.strides(), without_dim(in, dim)},
                          {sizeof(T), sizeof(int64_t), sizeof(T)});
    run_loop<3>(
        l,
        {static_cast<char*>(out.raw_data()), static_cast<char*>(index.raw_data()), static_cast<char*>(in.raw_data())},
        [&](std::array<char*, 3> p, const std::array<int64_t, 3>& s, int64_t n) {
          for (int64_t i = 0; i < n; ++i)
            *at<T>(p[0], s[0], i) = *reinterpret_cast<const T*>(p[2] + s[2] * i + *at<int64_t>(p[1], s[1], i) * step);
        });
  });
}

void scatter(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src, bool accumulate) {
  if (index.numel() == 0) return;
  PYAD_DISPATCH_ALL(out.dtype(), "scatter", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    if constexpr (std::is_same_v<T, bool>) {
      if (accumulate) throw TypeError("[scatter_add] bool tensors cannot be summed");
    }
    const int64_t step = out.strides()[dim] * static_cast<int64_t>(sizeof(T));
    const Shape& sh = index.shape();
    auto l = make_loop<3>(sh, {without_dim(out, dim), index.strides(), src.strides()},
                          {sizeof(T), sizeof(int64_t), sizeof(T)});
    run_loop<3>(
        l,
        {static_cast<char*>(out.raw_data()), static_cast<char*>(index.raw_data()), static_cast<char*>(src.raw_data())},
        [&](std::array<char*, 3> p, const std::array<int64_t, 3>& s, int64_t n) {
          for (int64_t i = 0; i < n; ++i) {
            T& dst = *reinterpret_cast<T*>(p[0] + s[0] * i + *at<int64_t>(p[1], s[1], i) * step);
            const T v = *at<T>(p[2], s[2], i);
            if constexpr (std::is_same_v<T, bool>) {
              dst = v;
            } else {
              dst = accumulate ? T(dst + v) : v;
            }
          }
        });
  });
}

}  // namespace pyad::kernels::cpu
