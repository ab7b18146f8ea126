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
// Note [Iterative graph destruction]
// A graph is a chain of shared_ptrs (Node -> next_edges -> Node, and
// Tensor -> grad_fn -> Node), so freeing the last handle of a long chain
// would run one destructor inside the next, a million deep for a
// 1,000,000-op chain: a stack overflow. Every shared_ptr<Node> that a Node or
// a TensorImpl owns is therefore let go through release_node(): the last
// reference is moved to a per-thread list and the outermost release frees the
// list in a loop (torch's deleteNode/gatherFunctions), so the stack depth
// stays constant whatever the graph's length.
//
// Note [Leaves and AccumulateGrad]
// A leaf that requires grad is reached through an AccumulateGrad node that
// holds the leaf strongly; the leaf holds it weakly (grad_accumulator), so
// the node lives exactly as long as some graph uses it.
#include <memory>
#include <string>
#include <vector>
#include "core/tensor.h"

namespace pyad {

struct Node;
class SavedTensor;
struct RecomputeFrame;  // recompute_frame.h

struct Edge {
  std::shared_ptr<Node> fn;
  uint32_t input_nr = 0;
  bool valid() const { return fn != nullptr; }
};

// A tensor saved for backward. Saving an op's own output keeps only its data
// (no grad_fn), otherwise the node would own itself; unpack() rebuilds the
// history from the node that unpacks it.
class SavedTensor {
 public:
  SavedTensor() = default;
  SavedTensor(const Tensor& t, bool is_output);
  Tensor unpack(const Node& owner) const;
  // The same for a built-in rule: a saved output gets its history back only when the rule is recorded
  // (create_graph); otherwise the data alone serves, and no alias is made.
  Tensor unpack_for_rule(const Node& owner) const;
  // The saved data, without checks or history (graph inspection only).
  const Tensor& peek() const { return data_; }
  void reset() {
    released_ = released_ || data_.defined() || frame_;
    data_ = Tensor();
    frame_ = nullptr;
  }
  bool defined() const { return data_.defined() || frame_; }

 private:
  Tensor data_;
  std::shared_ptr<RecomputeFrame> frame_;  // Note [Recomputed saved tensors] in recompute_frame.h
  size_t index_ = 0;
  uint64_t version_ = 0;
  bool is_output_ = false;
  uint32_t output_nr_ = 0;
  bool released_ = false;
};

// A hook on the gradient arriving for output `output_nr` of a node (fn), or on the gradients of all its
// outputs at once (all: torch's Node.register_prehook, which may replace any of them); `id` is what its
// handle removes it by.
struct PreHook {
  uint64_t id;
  uint32_t output_nr;
  GradHook fn;
  std::function<void(TensorList&)> all;
};
// A fresh id for a hook (never 0).
uint64_t next_hook_id();

struct InputMeta {
  Shape shape;
  DType dtype;
  Device device;
};

struct Node : std::enable_shared_from_this<Node> {
  std::vector<Edge> next_edges;
  std::vector<InputMeta> input_meta;
  uint64_t sequence_nr;
  // Shape and dtype of the (first) output. A gradient with more dims than the
  // output carries leading batch dims (Note [Batched tangents and cotangents]).
  int64_t out_ndim = 0;
  Shape out_shape;
  DType out_dtype = DType::Float32;
  // Where the op was called from ("file.py:LINE"), recorded in anomaly mode only.
  std::string creation_site;
  // The same, always recorded, cheaply (Note [Source sites] in core/site.h).
  Site site;
  // Hooks run on the gradient arriving for one output before apply (retain_grad, register_hook).
  std::vector<PreHook> pre_hooks;
  // The node's Python wrapper, if Python ever asked for it, and whether the node owns a reference to it
  // (Note [Python wrappers of nodes] in csrc/python/node_wrapper.h). The core never looks inside.
  void* py_wrapper = nullptr;
  bool py_wrapper_owned = false;

  Node();
  virtual ~Node();  // Note [Iterative graph destruction]
  virtual std::string name() const = 0;
  virtual uint32_t num_outputs() const { return 1; }
  // Gradients of the outputs (undefined = zero) -> gradients of the inputs, one per next edge.
  virtual TensorList apply(TensorList&& grads) = 0;
  // The tensors this node saved for backward; freed after a backward without retain_graph.
  virtual std::vector<SavedTensor*> saved() { return {}; }
  virtual void release_saved() {
    for (auto* s : saved()) s->reset();
  }
  // Whether a backward pass through this node runs with strong zeros (see StrongZerosGuard).
  virtual bool strong_zeros() const { return false; }

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

// Runs node's pre-hooks on the gradients arriving for its outputs; a hook's non-undefined result replaces
// the gradient it was given.
void run_pre_hooks(const Node& node, TensorList& grads);

// Called by ~Node for a node that has a Python wrapper (set by the Python bindings).
void set_node_wrapper_release(void (*release)(Node&));

// Where the gradient of t goes (its grad_fn, or its AccumulateGrad); invalid if t needs none.
Edge gradient_edge(const Tensor& t);

// Wire `node` to `inputs` (one edge per input) and make it the history of `output`.
void collect_edges(Node& node, const TensorList& inputs);
void set_history(const Tensor& output, const std::shared_ptr<Node>& node, uint32_t output_nr = 0);

// True when an op on these inputs should record a node.
bool any_requires_grad(const TensorList& inputs);

// Anomaly mode: nodes remember where they were created, and the engine checks
// every gradient a node returns for NaN and inf.
bool anomaly_enabled();
void set_anomaly_enabled(bool on, std::function<std::string()> site_hook);

}  // namespace pyad
