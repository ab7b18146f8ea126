// The backward pass: dependency counting, then Kahn's algorithm over a ready
// queue ordered by sequence number (later nodes first, as torch). A node runs
// once, after every consumer has delivered its gradient. No recursion: graph
// walks use explicit stacks, so a 100,000-op chain is fine.
//
// run_backward is a sequence of named phases over one GraphTask (torch's name
// for a backward pass's state): collect the roots and the inputs to capture,
// count dependencies, (for autograd.grad) mark the nodes worth running, seed
// the roots, run the ready queue, and finish by handing back what was captured.
#include "autograd/engine.h"
#include <queue>
#include <unordered_map>
#include <unordered_set>
#include "autograd/grad_mode.h"
#include "autograd/grad_ops.h"
#include "core/pool.h"

namespace pyad {

namespace {

struct NodeState {
  int dependencies = 0;
  TensorList buffer;
  bool needed = true;
};

// Where the node's op was called: "file.py:LINE in function" (Note [Source sites]), else anomaly mode's site.
std::string site_of(const Node& node) {
  std::string s = node.site.str();
  if (s.empty()) s = node.creation_site;
  return s.empty() ? std::string("<unknown>") : s;
}

// Make a gradient fit the input it flows to. See Note [Edges and input metadata].
Tensor fit_to_input(Tensor g, const InputMeta& meta, const Node& node, int64_t nb) {
  if (!g.defined()) return g;
  PYAD_CHECK(g.device() == meta.device, RuntimeError, "[", node.name(), "] returned a gradient on ", g.device().str(),
             " for an input on ", meta.device.str(), " (the op was called at ", site_of(node), ")");
  if (g.ndim() - nb != static_cast<int64_t>(meta.shape.size()) ||
      !std::equal(meta.shape.begin(), meta.shape.end(), g.shape().begin() + nb))
    g = grad_ops::sum_to(g, meta.shape, node.name().c_str(), nb);
  if (g.dtype() != meta.dtype && is_floating(meta.dtype)) g = grad_ops::to_dtype(g, meta.dtype);
  return g;
}

// Anomaly mode: a NaN or inf in a gradient names the node and where its op was called.
void check_finite(const Node& node, const TensorList& grads) {
  for (size_t i = 0; i < grads.size(); ++i) {
    const Tensor& g = grads[i];
    if (!g.defined() || !is_floating(g.dtype()) || grad_ops::all_finite(g)) continue;
    throw RuntimeError(cat_str("[anomaly] Function '", node.name(), "' returned nan or inf values in its ", i,
                               "th output (", describe(g), "); the op was called at ", site_of(node)));
  }
}

void accumulate(TensorList& buffer, uint32_t slot, Tensor g) {
  if (!g.defined()) return;
  if (buffer.size() <= slot) buffer.resize(slot + 1);
  buffer[slot] = buffer[slot].defined() ? grad_ops::add(buffer[slot], g) : std::move(g);
}

// Later nodes first: a node created after another may consume its output, never the reverse.
struct LaterFirst {
  bool operator()(const std::shared_ptr<Node>& a, const std::shared_ptr<Node>& b) const {
    return a->sequence_nr < b->sequence_nr;
  }
};
using ReadyQueue = std::priority_queue<std::shared_ptr<Node>, std::vector<std::shared_ptr<Node>>, LaterFirst>;

class GraphTask {
 public:
  explicit GraphTask(const BackwardOptions& options) : opts_(options), captured_(options.inputs.size()) {}

  // The edges the roots' gradients enter, checked before any work.
  void collect_roots(const TensorList& roots);
  // For autograd.grad: the (node, output slot) each input's gradient arrives at.
  void collect_inputs();
  // How many consumers will deliver a gradient to each node reachable from the roots.
  void count_dependencies();
  // Whether count_dependencies met a node that asks for strong zeros (a safe where).
  bool strong_zeros() const { return strong_zeros_; }
  // For autograd.grad: only the nodes from which an input can be reached need to run.
  void mark_needed();
  void seed(const TensorList& grad_roots);
  // Kahn's algorithm: a node runs once its last consumer has delivered.
  void execute();
  // The gradients of the inputs (empty for Tensor.backward).
  TensorList finish() const;

  bool capturing() const { return !opts_.inputs.empty(); }

 private:
  TensorList evaluate(Node& node);
  void deliver(Node& node, const TensorList& out, ReadyQueue& ready);

  const BackwardOptions& opts_;
  // One entry per node of the pass, from the pool: Note [Small-block pool] (core/pool.h).
  std::unordered_map<Node*, NodeState, std::hash<Node*>, std::equal_to<Node*>,
                     pool::Allocator<std::pair<Node* const, NodeState>>>
      state_;
  std::vector<Edge> root_edges_;
  std::unordered_map<Node*, std::vector<std::pair<uint32_t, size_t>>> targets_;  // node -> (slot, input index)
  std::vector<std::shared_ptr<Node>> order_;  // every node of the pass, kept alive until it ends
  TensorList captured_;
  bool strong_zeros_ = false;
};

void GraphTask::collect_roots(const TensorList& roots) {
  for (size_t i = 0; i < roots.size(); ++i) {
    Edge e = gradient_edge(roots[i]);
    PYAD_CHECK(e.valid(), RuntimeError, "[backward] element ", i,
               " of tensors does not require grad and does not have "
               "a grad_fn");
    root_edges_.push_back(e);
  }
}

void GraphTask::collect_inputs() {
  const TensorList& inputs = opts_.inputs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    PYAD_CHECK(inputs[i].defined() && inputs[i].requires_grad(), RuntimeError, "[grad] input ", i,
               " does not require grad");
    Edge e = gradient_edge(inputs[i]);
    targets_[e.fn.get()].push_back({e.input_nr, i});
  }
}

void GraphTask::count_dependencies() {
  std::vector<Node*> stack;
  for (auto& e : root_edges_)
    if (state_.emplace(e.fn.get(), NodeState{}).second) {
      stack.push_back(e.fn.get());
      order_.push_back(e.fn);
    }
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    strong_zeros_ = strong_zeros_ || n->strong_zeros();
    for (auto& e : n->next_edges) {
      if (!e.valid()) continue;
      auto [it, fresh] = state_.emplace(e.fn.get(), NodeState{});
      it->second.dependencies++;
      if (fresh) {
        stack.push_back(e.fn.get());
        order_.push_back(e.fn);
      }
    }
  }
}

void GraphTask::mark_needed() {
  // Post-order over the graph, with an explicit stack.
  std::unordered_set<Node*> done;
  std::vector<std::pair<Node*, size_t>> stack;
  for (auto& e : root_edges_) stack.push_back({e.fn.get(), 0});
  while (!stack.empty()) {
    auto& [n, next] = stack.back();
    if (next < n->next_edges.size()) {
      Node* child = n->next_edges[next++].fn.get();
      if (child && !done.count(child)) stack.push_back({child, 0});
      continue;
    }
    bool needed = false;
    for (auto& e : n->next_edges)
      if (e.valid() && (targets_.count(e.fn.get()) || state_[e.fn.get()].needed)) needed = true;
    state_[n].needed = needed;
    done.insert(n);
    stack.pop_back();
  }
}

void GraphTask::seed(const TensorList& grad_roots) {
  for (size_t i = 0; i < root_edges_.size(); ++i)
    accumulate(state_[root_edges_[i].fn.get()].buffer, root_edges_[i].input_nr, grad_roots[i]);
}

void GraphTask::execute() {
  ReadyQueue ready;
  for (auto& n : order_)
    if (state_[n.get()].dependencies == 0) ready.push(n);
  while (!ready.empty()) {
    std::shared_ptr<Node> node = ready.top();
    ready.pop();
    TensorList out = evaluate(*node);
    deliver(*node, out, ready);
  }
}

// Runs one node on the gradients its consumers delivered (after its pre-hooks), capturing those an
// input asked for; returns the gradients of its inputs (empty when it did not run).
TensorList GraphTask::evaluate(Node& node) {
  NodeState& st = state_[&node];
  TensorList grads = std::move(st.buffer);
  grads.resize(node.num_outputs());
  run_pre_hooks(node, grads);

  if (capturing()) {
    auto t = targets_.find(&node);
    if (t != targets_.end())
      for (auto& [slot, idx] : t->second) captured_[idx] = grads[slot];
  }
  bool run = !capturing() || st.needed;
  bool any = false;
  for (auto& g : grads) any = any || g.defined();

  TensorList out;
  if (run && any) {
    out = node.apply(std::move(grads));
    if (anomaly_enabled()) check_finite(node, out);
    PYAD_CHECK(out.size() == node.next_edges.size() || node.next_edges.empty(), RuntimeError, "[", node.name(),
               "] returned ", out.size(), " gradients, expected ", node.next_edges.size(), " (the op was called at ",
               site_of(node), ")");
  }
  if (!opts_.retain_graph && run) node.release_saved();
  return out;
}

// Hands each input's gradient, fitted to the input, to the node it flows into; a node whose last
// consumer this was is ready.
void GraphTask::deliver(Node& node, const TensorList& out, ReadyQueue& ready) {
  for (size_t i = 0; i < node.next_edges.size(); ++i) {
    const Edge& e = node.next_edges[i];
    if (!e.valid()) continue;
    NodeState& child = state_[e.fn.get()];
    if (i < out.size())
      accumulate(child.buffer, e.input_nr, fit_to_input(out[i], node.input_meta[i], node, opts_.batch_ndim));
    if (--child.dependencies == 0) ready.push(e.fn);
  }
}

TensorList GraphTask::finish() const {
  if (capturing() && !opts_.allow_unused)
    for (size_t i = 0; i < captured_.size(); ++i)
      PYAD_CHECK(captured_[i].defined(), RuntimeError, "[grad] One of the differentiated Tensors (input ", i,
                 ") appears to not have been used in the graph. Set allow_unused=True if this is the desired "
                 "behavior.");
  return captured_;
}

}  // namespace

TensorList run_backward(const TensorList& roots, const TensorList& grad_roots, const BackwardOptions& options) {
  PYAD_CHECK(grad_roots.size() == roots.size(), RuntimeError, "[backward] got ", grad_roots.size(), " gradients for ",
             roots.size(), " tensors");
  GradModeGuard mode(options.create_graph);
  GraphTask task(options);
  task.collect_roots(roots);
  task.collect_inputs();
  task.count_dependencies();
  if (task.capturing()) task.mark_needed();
  task.seed(grad_roots);
  StrongZerosGuard strong(strong_zeros() || task.strong_zeros());
  task.execute();
  return task.finish();
}

}  // namespace pyad
