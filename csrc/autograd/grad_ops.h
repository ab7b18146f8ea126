#pragma once
// Note [The ops autograd computes with]
// The engine, AccumulateGrad and forward mode compute with a few tensor ops:
// reducing a broadcast gradient (sum_to), casting it (to_dtype), summing
// gradients (add, add_, clone), fitting tangents (view, reshape, expand),
// building identity tangents (zeros, fill) and anomaly mode's NaN check (all_finite). Those ops live in ops/, which
// records Nodes and so sits above autograd/. This header is what autograd/ needs from that layer, declared here and
// defined in ops/grad_ops.cpp as the ops themselves, so autograd/ includes nothing from ops/ or kernels/ and the layers
// point one way (ops/ -> autograd/ -> core/). They are the real ops: under create_graph they record Nodes and at an
// outer dual level they carry tangents, as a rule needs them to.
#include "core/tensor.h"

namespace pyad::grad_ops {

// Sum a broadcast gradient down to `shape`, keeping its first `batch_ndim` dims; `op` names the
// node whose gradient it is in errors.
Tensor sum_to(const Tensor& x, const Shape& shape, const char* op, int64_t batch_ndim);
Tensor to_dtype(const Tensor& x, DType dtype);
Tensor add(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);  // a scaled tangent's dense form (Note [Scaled tangents])
void add_(Tensor& x, const Tensor& other);
Tensor clone(const Tensor& x);
Tensor view(const Tensor& x, const Shape& shape);
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor expand(const Tensor& x, const Shape& shape);
// No NaN and no inf in t (a floating tensor).
bool all_finite(const Tensor& t);
// Zeros, and writing a value through a view (the dense form of an identity tangent).
Tensor zeros(const Shape& shape, DType dtype, Device device);
Tensor ones(const Shape& shape, DType dtype, Device device);  // the seed of backward() on a scalar
void fill(const Tensor& view, double value);

}  // namespace pyad::grad_ops
