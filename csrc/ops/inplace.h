#pragma once
// The checks and the history rewrite every in-place op shares (inplace.cpp), for the in-place ops of other
// files (index_ops.cpp). See Note [In-place on views].
#include <memory>
#include "autograd/node.h"
#include "ops/ops.h"

namespace pyad::inplace_detail {

// A leaf that requires grad (or a view of one) cannot be written in place while grad mode is on.
void check_leaf(const char* op, const Tensor& x);
// No two elements of x share a memory location (an expanded tensor cannot be written).
void check_no_internal_overlap(const char* op, const Tensor& x);
// src, copied first when it overlaps x's memory in another layout.
Tensor unaliased(const Tensor& src, const Tensor& x);
// x was just overwritten; node (input 0: x) becomes its history (through CopySlices on the base for a view).
void rebase_history(const char* op, Tensor& x, const std::shared_ptr<Node>& node);
// Forward mode cannot write into a view of a dual tensor.
void check_no_view_tangent(const char* op, const Tensor& x);

}  // namespace pyad::inplace_detail
