// Custom Functions written in Python (pyad.autograd.Function): the node that
// runs their backward, the saved-tensor handles their ctx uses, and the graph
// inspection and anomaly-mode hooks that pyad.viz and detect_anomaly build on.
#include "python/bind.h"
#include "autograd/forward_ad.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/recompute_frame.h"
#include "ops/ops.h"

namespace pyad::python {

namespace {

// The Python backward runs with the GIL taken here (the engine runs without it).
// release_saved drops every Python reference, so no cycle through ctx outlives
// the graph; a second backward then reports the freed graph.
struct PyFunctionNode : Node {
  std::string fn_name;
  py::object backward_fn;  // backward_fn(node, grads_tuple) -> list of grads, one per tensor input
  std::vector<std::shared_ptr<SavedTensor>> saved_list;
  uint32_t n_outputs = 1;

  std::string name() const override { return fn_name + "Backward"; }
  uint32_t num_outputs() const override { return n_outputs; }
  std::vector<SavedTensor*> saved() override {
    std::vector<SavedTensor*> out;
    for (auto& s : saved_list) out.push_back(s.get());
    return out;
  }
  TensorList apply(TensorList&& grads) override {
    py::gil_scoped_acquire gil;
    PYAD_CHECK(backward_fn && !backward_fn.is_none(), RuntimeError, "[", name(),
               "] Trying to backward through the "
               "graph a second time (or directly access saved tensors after they have already been freed). Specify "
               "retain_graph=True if you need to backward through the graph a second time.");
    py::tuple gs(grads.size());
    for (size_t i = 0; i < grads.size(); ++i) gs[i] = grads[i].defined() ? py::cast(grads[i]) : py::none();
    auto self = py::reinterpret_steal<py::object>(node_to_python(shared_from_this()));
    py::list result = backward_fn(self, gs);
    PYAD_CHECK(result.size() == next_edges.size(), RuntimeError, "[", fn_name, "] backward returned ", result.size(),
               " gradients for ", next_edges.size(), " tensor inputs");
    TensorList out;
    for (auto r : result) out.push_back(r.is_none() ? Tensor() : r.cast<Tensor>());
    return out;
  }
  void release_saved() override {
    Node::release_saved();
    py::gil_scoped_acquire gil;
    backward_fn = py::none();
  }
  ~PyFunctionNode() override {
    if (!Py_IsInitialized()) {
      backward_fn.release();  // the interpreter is gone: leak rather than touch it
      return;
    }
    py::gil_scoped_acquire gil;
    backward_fn = py::object();
  }
};

// A Python callable released under the GIL, wherever its last owner lets go of it.
struct PyCallable {
  py::object fn;
  ~PyCallable() {
    if (!Py_IsInitialized()) {
      fn.release();
      return;
    }
    py::gil_scoped_acquire gil;
    fn = py::object();
  }
};

}  // namespace

void init_function(py::module_& m) {
  py::class_<SavedTensor, std::shared_ptr<SavedTensor>>(m, "SavedTensor")
      .def(py::init([](py::object t, bool is_output) {
             // None saves an empty slot, which unpacks to None again.
             return std::make_shared<SavedTensor>(t.is_none() ? Tensor() : t.cast<Tensor>(), is_output);
           }),
           py::arg("tensor"), py::arg("is_output"));

  py::class_<PyFunctionNode, Node, std::shared_ptr<PyFunctionNode>>(
      m, "FunctionNode", py::custom_type_setup(&NodeWrapperType<PyFunctionNode>::setup))
      .def("unpack_saved", [](PyFunctionNode& n) {
        py::tuple out(n.saved_list.size());
        for (size_t i = 0; i < n.saved_list.size(); ++i) {
          Tensor t = n.saved_list[i]->unpack(n);
          out[i] = t.defined() ? py::cast(t) : py::none();
        }
        return out;
      });

  // Record `fn_name`'s node for the outputs computed from `inputs` (tensor arguments, in order), if any needs
  // grad. Every output has a slot (backward gets a gradient for each); only the differentiable ones get history.
  m.def("function_node",
        [](const std::string& fn_name, py::function backward_fn, const TensorList& inputs, const TensorList& outputs,
           const std::vector<bool>& differentiable) -> py::object {
          if (!any_requires_grad(inputs)) return py::none();
          auto node = std::make_shared<PyFunctionNode>();
          node->fn_name = fn_name;
          node->backward_fn = backward_fn;
          node->n_outputs = static_cast<uint32_t>(outputs.size());
          collect_edges(*node, inputs);
          for (size_t i = 0; i < outputs.size(); ++i)
            if (differentiable[i]) set_history(outputs[i], node, static_cast<uint32_t>(i));
          return py::reinterpret_steal<py::object>(node_to_python(node));
        });
  m.def("function_save",
        [](PyFunctionNode& node, const std::vector<std::shared_ptr<SavedTensor>>& saved) { node.saved_list = saved; });
  // A fresh view of t (same storage and version counter, no history), for outputs that are inputs. As in
  // torch, writing into it in place with autograd raises: its base is t, but how it was made is unknown.
  m.def("alias", [](const Tensor& t) {
    Tensor a = detach(t);
    a->is_view = true;
    a->view_base = t->view_base.defined() ? t->view_base : t;
    return a;
  });
  m.def("dual_level_active", [] { return forward_level() != 0; });

  m.def(
      "set_tangent",
      [](const Tensor& out, const Tensor& t, std::optional<uint64_t> level) {
        PYAD_CHECK(t.shape() == out.shape() || (t.ndim() > out.ndim()), RuntimeError, "[jvp] tangent of shape ",
                   shape_str(t.shape()), " does not match the output's shape ", shape_str(out.shape()));
        set_tangent(out, t, level ? *level : current_level());
      },
      py::arg("out"), py::arg("tangent"), py::arg("level") = py::none());
  // A JvpRuleGuard for `level` (None: the current one; 0: no tangents at all).
  struct PyJvpRuleGuard {
    std::optional<uint64_t> level;
    std::unique_ptr<JvpRuleGuard> guard;
  };
  py::class_<PyJvpRuleGuard>(m, "jvp_rule_guard")
      .def(py::init([](std::optional<uint64_t> level) { return PyJvpRuleGuard{level, nullptr}; }),
           py::arg("level") = py::none())
      .def("__enter__",
           [](PyJvpRuleGuard& g) {
             g.guard = g.level ? std::make_unique<JvpRuleGuard>(*g.level) : std::make_unique<JvpRuleGuard>();
           })
      .def("__exit__", [](PyJvpRuleGuard& g, py::args) { g.guard.reset(); });

  m.def("set_anomaly_enabled", [](bool on, py::object site_hook) {
    if (!on || site_hook.is_none()) {
      set_anomaly_enabled(on, nullptr);
      return;
    }
    auto holder = std::make_shared<py::object>(site_hook);
    set_anomaly_enabled(true, [holder]() {
      py::gil_scoped_acquire gil;
      return (*holder)().cast<std::string>();
    });
  });
  m.def("is_anomaly_enabled", &anomaly_enabled);

  // Checkpointing (Note [Recomputed saved tensors]).
  py::class_<RecomputeFrame, std::shared_ptr<RecomputeFrame>>(m, "RecomputeFrame")
      .def(py::init([](py::function recompute) {
        auto frame = std::make_shared<RecomputeFrame>();
        auto fn = std::make_shared<PyCallable>();
        fn->fn = recompute;
        frame->recompute = [fn]() {
          py::gil_scoped_acquire gil;
          fn->fn();
        };
        return frame;
      }))
      .def_readonly("packed", &RecomputeFrame::packed)
      .def_readwrite("eager", &RecomputeFrame::eager);
  struct PyFrameGuard {
    std::shared_ptr<RecomputeFrame> frame;
    bool harvest;
    std::unique_ptr<FrameGuard> guard;
  };
  py::class_<PyFrameGuard>(m, "frame_guard")
      .def(py::init([](std::shared_ptr<RecomputeFrame> f, bool harvest) { return PyFrameGuard{f, harvest, nullptr}; }))
      .def("__enter__", [](PyFrameGuard& g) { g.guard = std::make_unique<FrameGuard>(g.frame, g.harvest); })
      .def("__exit__", [](PyFrameGuard& g, py::args) { g.guard.reset(); });

  // Graph inspection (pyad.viz, pyad.autograd.graph_memory).
  auto node_cls = py::reinterpret_borrow<py::object>(m.attr("Node"));
  py::class_<Node, std::shared_ptr<Node>> cls(node_cls);
  cls.def_property_readonly("output_shape", [](const Node& n) { return py::tuple(py::cast(n.out_shape)); })
      .def_property_readonly("output_dtype", [](const Node& n) { return n.out_dtype; })
      .def_property_readonly("creation_site", [](const Node& n) { return n.creation_site; })
      // "file.py:LINE in function" where the op was called, always recorded (Note [Source sites]).
      .def_property_readonly("_site", [](const Node& n) { return n.site.str(); })
      // (storage id, storage bytes, tensor) for each tensor still saved; the id identifies shared storage.
      .def("_saved_storages", [](Node& n) {
        py::list out;
        for (auto* s : n.saved()) {
          const Tensor& t = s->peek();
          if (!t.defined()) continue;
          out.append(py::make_tuple(reinterpret_cast<uintptr_t>(t->storage.get()), t->storage->nbytes, t));
        }
        return out;
      });
}

}  // namespace pyad::python
