#pragma once
// Nodes of the backward graph.
//
// Note [Edges and input metadata]
// A Node is created by an op for its result. next_edges[i] points at where the
// gradient of the op's i-th input goes: the input's grad_fn (with the output
// number of that input) or, for a leaf that requires grad, its AccumulateGrad.
// input_meta[i] remembers the input's shape and dtype, so the engine can
// reduce a broadcast gradient back to that shape and cast it, in one place,
// instead of every rule doing it by hand.
//
// Note [Leaves and AccumulateGrad]
// A leaf that requires grad is reached through an AccumulateGrad node that
// holds the leaf strongly; the leaf holds it weakly (grad_accumulator), so
// the node lives exactly as long as some graph uses it.
#include <memory>
#include <string>
#include <vector>
#include "../core/tensor.h"

namespace pyad {

struct Node;

struct Edge {
  std::shared_ptr<Node> fn;
  uint32_t input_nr = 0;
  bool valid() const { return fn != nullptr; }
};

struct InputMeta {
  Shape shape;
  DType dtype;
  Device device;
};

struct Node : std::enable_shared_from_this<Node> {
  std::vector<Edge> next_edges;
  std::vector<InputMeta> input_meta;
  uint64_t sequence_nr;
  // Rank of the (first) output; a gradient with more dims carries leading batch
  // dims (Note [Batched tangents and cotangents] in forward_ad.h).
  int64_t out_ndim = 0;
  // Hooks run on the gradient arriving for output `output_nr` before apply (retain_grad, register_hook).
  std::vector<std::pair<uint32_t, GradHook>> pre_hooks;

  Node();
  virtual ~Node() = default;
  virtual std::string name() const = 0;
  virtual uint32_t num_outputs() const { return 1; }
  // Gradients of the outputs (undefined = zero) -> gradients of the inputs, one per next edge.
  virtual TensorList apply(TensorList&& grads) = 0;
  // Drop saved tensors after a backward without retain_graph.
  virtual void release_saved() {}

  bool needs_input_grad(size_t i) const { return i < next_edges.size() && next_edges[i].valid(); }
  int64_t batch_dims(const Tensor& grad) const { return grad.ndim() - out_ndim; }
};

// Sink for a leaf's gradient: `.grad += g`.
struct AccumulateGrad : Node {
  Tensor variable;
  explicit AccumulateGrad(Tensor v) : variable(std::move(v)) {}
  std::string name() const override { return "AccumulateGrad"; }
  TensorList apply(TensorList&& grads) override;
};

// Where the gradient of t goes (its grad_fn, or its AccumulateGrad); invalid if t needs none.
Edge gradient_edge(const Tensor& t);

// Wire `node` to `inputs` (one edge per input) and make it the history of `output`.
void collect_edges(Node& node, const TensorList& inputs);
void set_history(const Tensor& output, const std::shared_ptr<Node>& node, uint32_t output_nr = 0);

// True when an op on these inputs should record a node.
bool any_requires_grad(const TensorList& inputs);

// A tensor saved for backward. Saving an op's own output keeps only its data
// (no grad_fn), otherwise the node would own itself; unpack() rebuilds the
// history from the node that unpacks it.
class SavedTensor {
 public:
  SavedTensor() = default;
  SavedTensor(const Tensor& t, bool is_output);
  Tensor unpack(const Node& owner) const;
  void reset() {
    released_ = released_ || data_.defined();
    data_ = Tensor();
  }
  bool defined() const { return data_.defined(); }

 private:
  Tensor data_;
  uint64_t version_ = 0;
  bool is_output_ = false;
  uint32_t output_nr_ = 0;
  bool released_ = false;
};

}  // namespace pyad
