#include "core/shape.h"

namespace pyad {

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    PYAD_CHECK(da == db || da == 1 || db == 1, ValueError, "[", op, "] shapes ", shape_str(a), " and ", shape_str(b),
               " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t lim = ndim == 0 ? 1 : ndim;  // a 0-d tensor accepts dim 0 and -1, as torch
  PYAD_CHECK(dim >= -lim && dim < lim, IndexError, "[", op, "] dim ", dim, " is out of range for a tensor with ", ndim,
             " dimension", ndim == 1 ? "" : "s", " (expected a dim in [", -lim, ", ", lim - 1, "])");
  return dim < 0 ? dim + lim : dim;
}

std::vector<bool> reduce_mask(const std::vector<int64_t>& dims, int64_t ndim, const char* op) {
  std::vector<bool> mask(ndim, dims.empty());
  for (auto d : dims) {
    int64_t w = wrap_dim(d, ndim, op);
    if (ndim == 0) continue;
    PYAD_CHECK(!mask[w], ValueError, "[", op, "] dim ", d, " appears more than once in the list of dims");
    mask[w] = true;
  }
  return mask;
}

}  // namespace pyad
