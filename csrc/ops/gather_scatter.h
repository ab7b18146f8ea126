#pragma once
// The gather / scatter_add pair of sort.cpp, for the rules of other ops (index_ops.cpp): each records its
// node, so that the rule of one is differentiable through the other, to any order.
#include <memory>
#include "autograd/node.h"
#include "ops/ops.h"

namespace pyad::gather_detail {

// idx expanded over the leading batch dims that t has beyond idx's rank (Note [Batched tangents and cotangents]).
Tensor index_for(const Tensor& idx, const Tensor& t);
// x gathered along dim neg_dim (counted from the end) at indices known to be in range.
Tensor gather_unchecked(const Tensor& x, int64_t neg_dim, const Tensor& index, const char* name);
// base with src added at indices known to be in range, along dim neg_dim (counted from the end).
Tensor scatter_add_unchecked(const Tensor& base, int64_t neg_dim, const Tensor& index, const Tensor& src);
// scatter_add's node along neg_dim at index, its edges not yet collected (for scatter_add_ and index_add_).
std::shared_ptr<Node> scatter_add_node(const Tensor& index, int64_t neg_dim);
// Throws unless index is int64 on x's device, of x's rank, no larger than x off dim d, and in range.
void check_index(const char* op, const Tensor& x, int64_t d, const Tensor& index);

}  // namespace pyad::gather_detail
