#include "autograd/node.h"
#include <atomic>
#include "autograd/forward_ad.h"
#include "autograd/grad_mode.h"
#include "autograd/grad_ops.h"
#include "autograd/recompute_frame.h"

namespace pyad {

namespace {
std::atomic<uint64_t> g_sequence{0};
std::atomic<bool> g_anomaly{false};  // process-wide, as torch's; read by engines in any thread
std::function<std::string()> g_site_hook;
}  // namespace

bool anomaly_enabled() { return g_anomaly; }
void set_anomaly_enabled(bool on, std::function<std::string()> site_hook) {
  g_anomaly = on;
  g_site_hook = std::move(site_hook);
}

Node::Node() : sequence_nr(g_sequence++) {}

uint64_t next_hook_id() {
  static std::atomic<uint64_t> next{1};
  return next++;
}

void run_pre_hooks(const Node& node, TensorList& grads) {
  if (node.pre_hooks.empty()) return;
  // A copy: a hook may register hooks or remove them (its own handle's remove()) while they run.
  const std::vector<PreHook> hooks = node.pre_hooks;
  for (const auto& h : hooks) {
    if (h.all) h.all(grads);
    else if (h.output_nr < grads.size() && grads[h.output_nr].defined())
      if (Tensor r = h.fn(grads[h.output_nr]); r.defined()) grads[h.output_nr] = std::move(r);
  }
}

namespace {
void (*g_wrapper_release)(Node&) = nullptr;

// Note [Iterative graph destruction]: nodes whose last reference was let go while an outer release_node is
// freeing nodes; that outer call frees them in its loop.
thread_local std::vector<std::shared_ptr<Node>> t_dying;
thread_local bool t_freeing = false;
}  // namespace

void set_node_wrapper_release(void (*release)(Node&)) { g_wrapper_release = release; }

void release_node(std::shared_ptr<Node>& n) {
  if (!n) return;
  if (n.use_count() != 1) {
    n.reset();
    return;
  }
  t_dying.push_back(std::move(n));
  if (t_freeing) return;
  t_freeing = true;
  while (!t_dying.empty()) {
    std::shared_ptr<Node> last = std::move(t_dying.back());
    t_dying.pop_back();
    last.reset();  // its destructor may queue more nodes onto t_dying
  }
  t_freeing = false;
}

Node::~Node() {
  if (py_wrapper && g_wrapper_release) g_wrapper_release(*this);
  for (auto& e : next_edges) release_node(e.fn);
}

TensorList AccumulateGrad::apply(TensorList&& grads) {
  Tensor g = std::move(grads[0]);
  if (!g.defined()) return {};
  AutogradMeta& meta = variable->mutable_autograd_meta();
  if (!meta.hooks.empty()) {
    const std::vector<TensorHook> hooks = meta.hooks;  // a copy, as run_pre_hooks
    for (const auto& hook : hooks)
      if (Tensor r = hook.fn(g); r.defined()) g = r;
  }
  Tensor& acc = meta.grad;
  if (grad_enabled()) {
    // create_graph: the gradient keeps its history, and accumulation is out of place.
    acc = acc.defined() ? grad_ops::add(acc, g) : g;
  } else if (!acc.defined()) {
    // Steal the buffer when nothing else can see it; otherwise keep a private copy.
    bool private_buffer =
        g.impl().use_count() == 1 && g->storage.use_count() == 1 && g.is_contiguous() && g.grad_fn() == nullptr;
    acc = private_buffer ? g : grad_ops::clone(g);
  } else {
    grad_ops::add_(acc, g);
  }
  if (!meta.post_accumulate_hooks.empty()) {
    const std::vector<TensorHook> hooks = meta.post_accumulate_hooks;  // a hook may remove itself
    for (const auto& hook : hooks) hook.fn(variable);
  }
  return {};
}

Edge gradient_edge(const Tensor& t) {
  AutogradMeta* m = t.defined() ? t->autograd_meta() : nullptr;
  if (!m) return {};
  if (m->grad_fn) return {m->grad_fn, m->output_nr};
  if (!m->requires_grad) return {};
  auto acc = m->grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t);
    m->grad_accumulator = acc;
    acc->input_meta.push_back({t.shape(), t.dtype(), t.device()});
  }
  return {acc, 0};
}

void collect_edges(Node& node, const TensorList& inputs) {
  node.next_edges.reserve(inputs.size());
  node.input_meta.reserve(inputs.size());
  for (const auto& t : inputs) {
    node.next_edges.push_back(gradient_edge(t));
    if (t.defined()) node.input_meta.push_back({t.shape(), t.dtype(), t.device()});
    else node.input_meta.push_back({});
  }
}

void set_history(const Tensor& output, const std::shared_ptr<Node>& node, uint32_t output_nr) {
  AutogradMeta& m = output->mutable_autograd_meta();
  m.grad_fn = node;
  m.output_nr = output_nr;
  if (output_nr == 0) {
    node->out_ndim = output.ndim();
    node->out_shape = output.shape();
    node->out_dtype = output.dtype();
    if (g_anomaly && g_site_hook) node->creation_site = g_site_hook();
  }
}

bool any_requires_grad(const TensorList& inputs) {
  if (!grad_enabled()) return false;
  for (const auto& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

namespace {
// A saved output keeps only its data, but shares the output's tangent slot, so a tangent set on the output
// after the save (forward_rule runs after record) reaches backward.
Tensor saved_output(const Tensor& t) {
  Tensor d = detach(t);
  if (forward_level() != 0) {
    auto& fw = t->mutable_autograd_meta().fw;
    if (!fw) fw = std::make_shared<ForwardGrad>();
    d->mutable_autograd_meta().fw = fw;
  }
  return d;
}

// A saved output, unpacked: its data and tangent slot, with the unpacking node as its history.
Tensor with_history(const Tensor& data, const Node& owner, uint32_t output_nr) {
  Tensor t = detach(data);
  AutogradMeta& m = t->mutable_autograd_meta();
  if (const AutogradMeta* dm = data->autograd_meta()) m.fw = dm->fw;
  m.grad_fn = std::const_pointer_cast<Node>(owner.shared_from_this());
  m.output_nr = output_nr;
  return t;
}
}  // namespace

SavedTensor::SavedTensor(const Tensor& t, bool is_output) {
  if (!t.defined()) return;
  if (const ActiveFrame* active = active_frame()) {
    if (active->harvest) {
      active->frame->harvested.push_back(is_output ? saved_output(t) : without_hidden_tangents(t));
    } else {
      frame_ = active->frame;
      index_ = frame_->packed++;
      is_output_ = is_output;
      output_nr_ = t.output_nr();
      return;
    }
  }
  data_ = is_output ? saved_output(t) : t;
  version_ = t->version->version;
  is_output_ = is_output;
  output_nr_ = t.output_nr();
}

Tensor SavedTensor::unpack(const Node& owner) const {
  PYAD_CHECK(!released_, RuntimeError, "[", owner.name(),
             "] Trying to backward through the graph a second time (or directly access saved tensors after they "
             "have already been freed). Saved intermediate values of the graph are freed when you call "
             ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the graph "
             "a second time.");
  if (frame_) {
    // Recomputed: fresh data, so no version to check (the checkpoint's inputs carry that check).
    Tensor d = frame_->get(index_, owner.name());
    if (!is_output_) return d;
    return with_history(d, owner, output_nr_);
  }
  if (!data_.defined()) return {};
  PYAD_CHECK(data_->version->version == version_, RuntimeError, "[", owner.name(),
             "] one of the variables needed for gradient computation has been modified by an "
             "inplace operation: the ",
             describe(data_), " saved by ", owner.name(), " is at version ", data_->version->version,
             "; expected version ", version_, " instead.");
  if (!is_output_) return data_;
  return with_history(data_, owner, output_nr_);
}

}  // namespace pyad
