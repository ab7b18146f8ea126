#pragma once
// The constructor every view op goes through (defined in shape_ops.cpp), for op
// files that add views of their own (diagonal in matrix_shape_ops.cpp).
#include <functional>
#include "ops/ops.h"

namespace pyad {

// A rule of a view op, applied to a gradient (VJP) or a tangent (JVP) that
// carries `nb` leading batch dims (Note [Batched tangents and cotangents]).
using ViewRule = std::function<Tensor(const Tensor& t, int64_t nb)>;

// The view of x with the given layout, sharing x's storage and version counter; `vjp` maps the view's
// gradient back to x's shape, `jvp` applies the same view to x's tangent (or to any tensor shaped like x).
Tensor as_view(const Tensor& x, const Shape& shape, const Shape& strides, int64_t offset, const char* node_name,
               ViewRule vjp, const ViewRule& jvp);

}  // namespace pyad
