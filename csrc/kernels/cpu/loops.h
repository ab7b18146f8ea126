#pragma once
// The strided N-operand loop under every CPU elementwise kernel and reduction:
// it walks a Loop (../strided_loop.h) row by row, on one thread (run_loop) or
// split across the pool (run_loop_parallel, Note [CPU kernel threads]).
#include <algorithm>
#include <array>
#include <cstdlib>
#include <vector>
#include "kernels/strided_loop.h"
#include "kernels/cpu/parallel.h"

namespace pyad::kernels::cpu {

// Calls inner(ptrs, inner_strides, n) for outer rows [r0, r1) (the rows: every index of the dims but the last).
template <int N, class Inner>
void run_rows(const Loop<N>& l, std::array<char*, N> p, Inner&& inner, int64_t r0, int64_t r1) {
  const int64_t nd = static_cast<int64_t>(l.shape.size());
  const int64_t n = l.shape[nd - 1];
  const auto& inner_st = l.strides[nd - 1];
  std::vector<int64_t> idx(nd > 1 ? nd - 1 : 0, 0);
  for (int64_t d = nd - 2, rem = r0; d >= 0; --d) {
    idx[d] = rem % l.shape[d];
    rem /= l.shape[d];
    for (int k = 0; k < N; ++k) p[k] += idx[d] * l.strides[d][k];
  }
  for (int64_t r = r0; r < r1; ++r) {
    inner(p, inner_st, n);
    for (int64_t d = nd - 2; d >= 0; --d) {
      for (int k = 0; k < N; ++k) p[k] += l.strides[d][k];
      if (++idx[d] < l.shape[d]) break;
      for (int k = 0; k < N; ++k) p[k] -= l.strides[d][k] * l.shape[d];
      idx[d] = 0;
    }
  }
}

template <int N>
int64_t outer_rows(const Loop<N>& l) {
  int64_t rows = 1;
  for (size_t d = 0; d + 1 < l.shape.size(); ++d) rows *= l.shape[d];
  return rows;
}

template <int N>
bool empty_loop(const Loop<N>& l) {
  for (auto s : l.shape)
    if (s == 0) return true;
  return false;
}

// Calls inner(ptrs, inner_strides, n) once per inner row.
template <int N, class Inner>
void run_loop(const Loop<N>& l, std::array<char*, N> base, Inner&& inner) {
  if (empty_loop(l)) return;
  run_rows<N>(l, base, inner, 0, outer_rows(l));
}

// A 1-d loop is cut into pieces of this many elements (a multiple of every vector width).
constexpr int64_t kInnerPiece = 8192;

// run_loop across the pool when the loop touches enough memory (`bytes_per_element` summed over the
// operands). The caller promises that distinct elements of operand 0 never share memory (the rows write
// disjoint places), so the pieces may run in any order on any thread: an elementwise kernel's output.
template <int N, class Inner>
void run_loop_parallel(const Loop<N>& l, std::array<char*, N> base, int64_t bytes_per_element, Inner&& inner) {
  if (empty_loop(l)) return;
  const int64_t nd = static_cast<int64_t>(l.shape.size());
  const int64_t rows = outer_rows(l), n = l.shape[nd - 1];
  const int64_t bytes = rows * n * bytes_per_element;
  if (nd == 1) {
    const int64_t pieces = (n + kInnerPiece - 1) / kInnerPiece;
    const int nt = threads_for(bytes, pieces);
    if (nt <= 1) return inner(base, l.strides[0], n);
    parallel_pieces(nt, pieces, [&](int64_t b, int64_t e) {
      std::array<char*, N> p = base;
      for (int k = 0; k < N; ++k) p[k] += b * kInnerPiece * l.strides[0][k];
      inner(p, l.strides[0], std::min(n, e * kInnerPiece) - b * kInnerPiece);
    });
    return;
  }
  const int nt = threads_for(bytes, rows);
  if (nt <= 1) return run_rows<N>(l, base, inner, 0, rows);
  parallel_pieces(nt, rows, [&](int64_t b, int64_t e) { run_rows<N>(l, base, inner, b, e); });
}

// Whether operand k never revisits a memory place across the loop (no zero stride on a dim of extent > 1).
template <int N>
bool distinct_places(const Loop<N>& l, int k) {
  for (size_t d = 0; d < l.shape.size(); ++d)
    if (l.shape[d] > 1 && l.strides[d][k] == 0) return false;
  return true;
}

// Note [Tiled transposed operands]
// A 2-d elementwise loop in which an operand's inner stride is larger than its outer one (out = a.T * v, the
// tangent jacfwd gets from A @ x) reads that operand a column at a time: one cache line per element. Walked
// in kTile x kTile tiles instead, every line fetched is used kTile times before it leaves the cache.
constexpr int64_t kTile = 32;

template <int N>
bool has_transposed_operand(const Loop<N>& l) {
  if (l.shape.size() != 2 || l.shape[0] < kTile || l.shape[1] < 2 * kTile) return false;
  for (int k = 0; k < N; ++k) {
    const int64_t outer = std::abs(l.strides[0][k]), inner = std::abs(l.strides[1][k]);
    if (outer != 0 && inner >= 64 && inner > outer) return true;
  }
  return false;
}

template <int N, class Inner>
void run_tiled(const Loop<N>& l, std::array<char*, N> base, int64_t bytes_per_element, Inner&& inner) {
  const int64_t rows = l.shape[0], n = l.shape[1];
  const int64_t blocks = (rows + kTile - 1) / kTile;
  auto body = [&](int64_t b, int64_t e) {
    for (int64_t rb = b; rb < e; ++rb) {
      const int64_t r0 = rb * kTile, r1 = std::min(rows, r0 + kTile);
      for (int64_t j0 = 0; j0 < n; j0 += kTile) {
        for (int64_t r = r0; r < r1; ++r) {
          std::array<char*, N> p = base;
          for (int k = 0; k < N; ++k) p[k] += r * l.strides[0][k] + j0 * l.strides[1][k];
          inner(p, l.strides[1], std::min(kTile, n - j0));
        }
      }
    }
  };
  const int nt = threads_for(rows * n * bytes_per_element, blocks);
  if (nt <= 1) return body(0, blocks);
  parallel_pieces(nt, blocks, body);
}

// An elementwise kernel's loop: operand 0 is its output. Split across the pool (and tiled, Note [Tiled
// transposed operands]) when the output's elements are distinct places; an in-place op on a broadcast view
// keeps the one-thread order.
template <int N, class Inner>
void run_elementwise(const Loop<N>& l, std::array<char*, N> base, int64_t bytes_per_element, Inner&& inner) {
  if (empty_loop(l)) return;
  if (!distinct_places(l, 0)) return run_loop<N>(l, base, inner);
  if (has_transposed_operand(l)) return run_tiled<N>(l, base, bytes_per_element, inner);
  run_loop_parallel<N>(l, base, bytes_per_element, inner);
}

template <class T>
inline T* at(char* p, int64_t stride, int64_t i) {
  return reinterpret_cast<T*>(p + stride * i);
}

}  // namespace pyad::kernels::cpu
