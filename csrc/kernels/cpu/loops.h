#pragma once
// The strided N-operand loop under every CPU elementwise kernel and reduction:
// it walks a Loop (../strided_loop.h) row by row.
#include <array>
#include <vector>
#include "kernels/strided_loop.h"

namespace pyad::kernels::cpu {

// Calls inner(ptrs, inner_strides, n) once per inner row.
template <int N, class Inner>
void run_loop(const Loop<N>& l, std::array<char*, N> base, Inner&& inner) {
  int64_t nd = static_cast<int64_t>(l.shape.size());
  for (auto s : l.shape)
    if (s == 0) return;
  const int64_t n = l.shape[nd - 1];
  const auto& inner_st = l.strides[nd - 1];
  if (nd == 1) {
    inner(base, inner_st, n);
    return;
  }
  std::vector<int64_t> idx(nd - 1, 0);
  std::array<char*, N> p = base;
  while (true) {
    inner(p, inner_st, n);
    int64_t d = nd - 2;
    for (; d >= 0; --d) {
      for (int k = 0; k < N; ++k) p[k] += l.strides[d][k];
      if (++idx[d] < l.shape[d]) break;
      for (int k = 0; k < N; ++k) p[k] -= l.strides[d][k] * l.shape[d];
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

template <class T>
inline T* at(char* p, int64_t stride, int64_t i) {
  return reinterpret_cast<T*>(p + stride * i);
}

}  // namespace pyad::kernels::cpu
