// The backward pass: dependency counting, then Kahn's algorithm over a ready
// queue ordered by sequence number (later nodes first, as torch). A node runs
// once, after every consumer has delivered its gradient. No recursion: graph
// walks use explicit stacks, so a 100,000-op chain is fine.
#include "engine.h"
#include <queue>
#include <unordered_map>
#include <unordered_set>
#include "grad_mode.h"
#include "../kernels/kernels.h"
#include "../ops/ops.h"

namespace pyad {

namespace {

struct NodeState {
  int dependencies = 0;
  TensorList buffer;
  bool needed = true;
};

// Make a gradient fit the input it flows to. See Note [Edges and input metadata].
Tensor fit_to_input(Tensor g, const InputMeta& meta, const Node& node, int64_t nb) {
  if (!g.defined()) return g;
  PYAD_CHECK(g.device() == meta.device, RuntimeError, "[", node.name(), "] returned a gradient on ", g.device().str(),
             " for an input on ", meta.device.str());
  if (g.ndim() - nb != static_cast<int64_t>(meta.shape.size()) ||
      !std::equal(meta.shape.begin(), meta.shape.end(), g.shape().begin() + nb))
    g = sum_to(g, meta.shape, node.name().c_str(), nb);
  if (g.dtype() != meta.dtype && is_floating(meta.dtype)) g = to_dtype(g, meta.dtype);
  return g;
}

// Anomaly mode: a NaN or inf in a gradient names the node and where its op was called.
void check_finite(const Node& node, const TensorList& grads) {
  for (size_t i = 0; i < grads.size(); ++i) {
    const Tensor& g = grads[i];
    if (!g.defined() || !is_floating(g.dtype()) || kernels::all_finite(g)) continue;
    throw RuntimeError(cat_str("[anomaly] Function '", node.name(), "' returned nan or inf values in its ", i,
                               "th output (", describe(g), "); the op was called at ",
                               node.creation_site.empty() ? std::string("<unknown>") : node.creation_site));
  }
}

void accumulate(TensorList& buffer, uint32_t slot, Tensor g) {
  if (!g.defined()) return;
  if (buffer.size() <= slot) buffer.resize(slot + 1);
  buffer[slot] = buffer[slot].defined() ? add(buffer[slot], g) : std::move(g);
}

}  // namespace

TensorList run_backward(const TensorList& roots, const TensorList& grad_roots, bool retain_graph,
                        bool create_graph, const TensorList& inputs, bool allow_unused, int64_t batch_ndim) {
  GradModeGuard mode(create_graph);
  std::unordered_map<Node*, NodeState> state;

  // Root edges, checked before any work.
  std::vector<Edge> root_edges;
  for (size_t i = 0; i < roots.size(); ++i) {
    Edge e = gradient_edge(roots[i]);
    PYAD_CHECK(e.valid(), RuntimeError, "[backward] element ", i, " of tensors does not require grad and does not have "
               "a grad_fn");
    root_edges.push_back(e);
  }

  // Capture targets for autograd.grad: (node, output slot) -> index in inputs.
  const bool capture = !inputs.empty();
  std::unordered_map<Node*, std::vector<std::pair<uint32_t, size_t>>> targets;
  std::vector<Edge> input_edges(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    PYAD_CHECK(inputs[i].defined() && inputs[i].requires_grad(), RuntimeError, "[grad] input ", i,
               " does not require grad");
    input_edges[i] = gradient_edge(inputs[i]);
    targets[input_edges[i].fn.get()].push_back({input_edges[i].input_nr, i});
  }

  // Count dependencies (iterative DFS). Keep nodes alive in `order` for the pass.
  std::vector<std::shared_ptr<Node>> order;
  {
    std::vector<Node*> stack;
    for (auto& e : root_edges)
      if (state.emplace(e.fn.get(), NodeState{}).second) { stack.push_back(e.fn.get()); order.push_back(e.fn); }
    while (!stack.empty()) {
      Node* n = stack.back();
      stack.pop_back();
      for (auto& e : n->next_edges) {
        if (!e.valid()) continue;
        auto [it, fresh] = state.emplace(e.fn.get(), NodeState{});
        it->second.dependencies++;
        if (fresh) { stack.push_back(e.fn.get()); order.push_back(e.fn); }
      }
    }
  }

  // For autograd.grad, run only the nodes from which a target can be reached
  // (post-order over the graph, again with an explicit stack).
  if (capture) {
    std::unordered_set<Node*> done;
    std::vector<std::pair<Node*, size_t>> stack;
    for (auto& e : root_edges) stack.push_back({e.fn.get(), 0});
    while (!stack.empty()) {
      auto& [n, next] = stack.back();
      if (next < n->next_edges.size()) {
        Node* child = n->next_edges[next++].fn.get();
        if (child && !done.count(child)) stack.push_back({child, 0});
        continue;
      }
      bool needed = false;
      for (auto& e : n->next_edges)
        if (e.valid() && (targets.count(e.fn.get()) || state[e.fn.get()].needed)) needed = true;
      state[n].needed = needed;
      done.insert(n);
      stack.pop_back();
    }
  }

  // Seed the roots.
  for (size_t i = 0; i < root_edges.size(); ++i)
    accumulate(state[root_edges[i].fn.get()].buffer, root_edges[i].input_nr, grad_roots[i]);

  TensorList captured(inputs.size());
  auto later_first = [](const std::shared_ptr<Node>& a, const std::shared_ptr<Node>& b) {
    return a->sequence_nr < b->sequence_nr;
  };
  std::priority_queue<std::shared_ptr<Node>, std::vector<std::shared_ptr<Node>>, decltype(later_first)> ready(later_first);
  for (auto& n : order)
    if (state[n.get()].dependencies == 0) ready.push(n);

  while (!ready.empty()) {
    std::shared_ptr<Node> node = ready.top();
    ready.pop();
    NodeState& st = state[node.get()];
    TensorList grads = std::move(st.buffer);
    grads.resize(node->num_outputs());
    run_pre_hooks(*node, grads);

    if (capture) {
      auto t = targets.find(node.get());
      if (t != targets.end())
        for (auto& [slot, idx] : t->second) captured[idx] = grads[slot];
    }
    bool run = !capture || st.needed;
    bool any = false;
    for (auto& g : grads) any = any || g.defined();

    TensorList out;
    if (run && any) {
      out = node->apply(std::move(grads));
      if (anomaly_enabled()) check_finite(*node, out);
      PYAD_CHECK(out.size() == node->next_edges.size() || node->next_edges.empty(), RuntimeError, "[", node->name(),
                 "] returned ", out.size(), " gradients, expected ", node->next_edges.size());
    }
    if (!retain_graph && run) node->release_saved();

    for (size_t i = 0; i < node->next_edges.size(); ++i) {
      const Edge& e = node->next_edges[i];
      if (!e.valid()) continue;
      NodeState& child = state[e.fn.get()];
      if (i < out.size()) accumulate(child.buffer, e.input_nr, fit_to_input(out[i], node->input_meta[i], *node, batch_ndim));
      if (--child.dependencies == 0) ready.push(e.fn);
    }
  }

  if (capture && !allow_unused)
    for (size_t i = 0; i < inputs.size(); ++i)
      PYAD_CHECK(captured[i].defined(), RuntimeError, "[grad] One of the differentiated Tensors (input ", i,
                 ") appears to not have been used in the graph. Set allow_unused=True if this is the desired "
                 "behavior.");
  return captured;
}

}  // namespace pyad
