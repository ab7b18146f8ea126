#pragma once
// The iteration space of an N-operand strided loop, shared by both backends:
// the CPU loops walk it (cpu/loops.h), the CUDA kernels index into it
// (cuda/common.cuh), so CPU tests already check the GPU's iteration.
// Operand 0 is the output. Dims of size 1 are dropped and adjacent dims that
// are contiguous for every operand are merged, so a contiguous (or
// broadcast-scalar) operand ends in one long inner loop the compiler vectorises.
#include <array>
#include <algorithm>
#include <vector>
#include "core/tensor.h"

namespace pyad::kernels {

template <int N>
struct Loop {
  std::vector<int64_t> shape;                  // outer ... inner
  std::vector<std::array<int64_t, N>> strides; // bytes, per dim per operand
};

// t's strides (in elements) with dim's set to 0: the element a gather or scatter along dim reads (writes) sits
// at index * stride from there.
inline std::vector<int64_t> without_dim(const Tensor& t, int64_t dim) {
  std::vector<int64_t> st(t.strides().begin(), t.strides().end());
  st[dim] = 0;
  return st;
}

// Strides (in elements) of t broadcast to `shape` (right-aligned), with 0 on broadcast dims.
inline std::vector<int64_t> broadcast_strides(const Tensor& t, const Shape& shape) {
  std::vector<int64_t> st(shape.size(), 0);
  size_t off = shape.size() - t.shape().size();
  for (size_t i = 0; i < t.shape().size(); ++i) st[off + i] = t.shape()[i] == 1 ? 0 : t.strides()[i];
  return st;
}

// Which operand's memory order the loop walks: the dims as given, the output's (an elementwise op, whose result
// may be permuted: Note [Results keep their operand's layout]) or the last operand's (a reduction's input).
enum class Walk { AsGiven, Output, LastOperand };

template <int N>
Loop<N> make_loop(const Shape& shape, const std::array<std::vector<int64_t>, N>& elem_strides,
                  const std::array<int64_t, N>& itemsizes, Walk walk = Walk::AsGiven) {
  std::vector<int> order;
  for (size_t d = 0; d < shape.size(); ++d)
    if (shape[d] != 1) order.push_back(static_cast<int>(d));
  if (walk != Walk::AsGiven) {
    const auto& st = elem_strides[walk == Walk::Output ? 0 : N - 1];
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return std::abs(st[a]) > std::abs(st[b]); });
  }
  Loop<N> l;
  for (int d : order) {
    std::array<int64_t, N> st;
    for (int k = 0; k < N; ++k) st[k] = elem_strides[k][d] * itemsizes[k];
    if (!l.shape.empty()) {
      bool merge = true;
      for (int k = 0; k < N; ++k)
        if (l.strides.back()[k] != st[k] * shape[d]) {
          merge = false;
          break;
        }
      if (merge) {
        l.shape.back() *= shape[d];
        l.strides.back() = st;
        continue;
      }
    }
    l.shape.push_back(shape[d]);
    l.strides.push_back(st);
  }
  if (l.shape.empty()) {  // a single element
    l.shape.push_back(1);
    l.strides.push_back({});
  }
  return l;
}

}  // namespace pyad::kernels
