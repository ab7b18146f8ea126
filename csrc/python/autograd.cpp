// Autograd from Python: backward, grad, grad mode, graph inspection, hooks.
#include "python/bind.h"
#include "autograd/engine.h"
#include "autograd/forward_ad.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/variable.h"
#include "core/storage.h"
#include "ops/ops.h"

namespace pyad::python {

namespace {

// A gradient argument: None stays undefined (a seed made by make_seeds).
TensorList to_grads(const std::vector<py::object>& objs) {
  TensorList out;
  for (const auto& o : objs) out.push_back(o.is_none() ? Tensor() : o.cast<Tensor>());
  return out;
}

TensorList to_tensors(py::handle obj, const char* op) {
  TensorList out;
  if (py::isinstance<py::list>(obj) || py::isinstance<py::tuple>(obj)) {
    for (auto v : obj) {
      if (has_pyad_function(v)) throw py::reference_cast_error();  // Note [The __pyad_function__ protocol]
      out.push_back(v.cast<Tensor>());
    }
  } else {
    py::detail::make_caster<Tensor> c;
    if (has_pyad_function(obj)) throw py::reference_cast_error();
    PYAD_CHECK(!obj.is_none() && c.load(obj, false), TypeError, "[", op,
               "] expected a Tensor or a sequence of Tensors");
    out.push_back(py::detail::cast_op<Tensor>(c));
  }
  return out;
}

std::vector<py::object> to_objects(py::handle obj, size_t n) {
  std::vector<py::object> out;
  if (obj.is_none()) return std::vector<py::object>(n, py::none());
  if (py::isinstance<py::list>(obj) || py::isinstance<py::tuple>(obj)) {
    for (auto v : obj) out.push_back(py::reinterpret_borrow<py::object>(v));
  } else {
    out.push_back(py::reinterpret_borrow<py::object>(obj));
  }
  PYAD_CHECK(out.size() == n, RuntimeError, "[backward] got ", out.size(), " gradients for ", n, " outputs");
  return out;
}

// Python hooks are called with the GIL held (the engine runs without it), and
// the Python function is released under the GIL too.
struct PyCallable {
  py::object fn;
  ~PyCallable() {
    py::gil_scoped_acquire gil;
    fn = py::object();
  }
};

GradHook python_hook(py::function fn) {
  auto holder = std::make_shared<PyCallable>();
  holder->fn = std::move(fn);
  return [holder](const Tensor& g) -> Tensor {
    py::gil_scoped_acquire gil;
    py::object r = holder->fn(g);
    if (r.is_none()) return Tensor();
    Tensor t = r.cast<Tensor>();
    PYAD_CHECK(t.shape() == g.shape(), RuntimeError, "[hook] the hook returned a gradient of shape ",
               shape_str(t.shape()), " for a gradient of shape ", shape_str(g.shape()));
    return t;
  };
}

// Node.register_prehook's hook, as torch's: hook(grad_outputs: tuple) -> tuple of the same length or None,
// None entries standing for zero (an entry returned as None drops that gradient).
std::function<void(TensorList&)> python_prehook(py::function fn, std::string node) {
  auto holder = std::make_shared<PyCallable>();
  holder->fn = std::move(fn);
  return [holder, node = std::move(node)](TensorList& grads) {
    py::gil_scoped_acquire gil;
    py::object r = holder->fn(py::tuple(py::cast(grads)));
    if (r.is_none()) return;
    PYAD_CHECK(py::isinstance<py::tuple>(r) || py::isinstance<py::list>(r), TypeError, "[", node,
               "] a pre-hook "
               "must return None or a tuple of gradients, got ",
               py::str(py::type::handle_of(r).attr("__name__")).cast<std::string>());
    py::sequence seq = r;
    PYAD_CHECK(seq.size() == grads.size(), RuntimeError, "[", node, "] a pre-hook returned ", seq.size(),
               " gradients for ", grads.size(), " outputs");
    for (size_t i = 0; i < grads.size(); ++i) {
      Tensor t = seq[i].is_none() ? Tensor() : seq[i].cast<Tensor>();
      if (t.defined() && grads[i].defined())
        PYAD_CHECK(t.shape() == grads[i].shape(), RuntimeError, "[", node,
                   "] a pre-hook returned a gradient of "
                   "shape ",
                   shape_str(t.shape()), " for a gradient of shape ", shape_str(grads[i].shape()));
      grads[i] = t;
    }
  };
}

}  // namespace

void init_autograd(py::module_& m) {
  // torch.utils.hooks.RemovableHandle: remove() takes the hook out of the C++ list it is in. Registered first,
  // so that the signatures that return one can name it.
  py::class_<HookHandle>(m, "RemovableHandle")
      .def_readonly("id", &HookHandle::id)
      .def("remove", &HookHandle::remove)
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](HookHandle& h, py::args) { h.remove(); });

  py::class_<Node, std::shared_ptr<Node>>(m, "Node", py::custom_type_setup(&NodeWrapperType<Node>::setup))
      .def("name", &Node::name)
      .def("__repr__", [](const Node& n) { return "<" + n.name() + ">"; })
      // One wrapper per node (Note [Python wrappers of nodes]), so these agree with `is`.
      .def("__eq__",
           [](const Node& a, py::object b) -> py::object {
             if (!py::isinstance<Node>(b)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
             return py::bool_(&a == &b.cast<const Node&>());
           })
      .def("__hash__", [](const Node& n) { return py::hash(py::int_(reinterpret_cast<uintptr_t>(&n))); })
      .def_property_readonly("next_functions",
                             [](const Node& n) {
                               py::tuple out(n.next_edges.size());
                               for (size_t i = 0; i < n.next_edges.size(); ++i) {
                                 const Edge& e = n.next_edges[i];
                                 out[i] = py::make_tuple(py::reinterpret_steal<py::object>(node_to_python(e.fn)),
                                                         e.input_nr);
                               }
                               return out;
                             })
      .def_property_readonly("variable",
                             [](const Node& n) -> py::object {
                               if (auto acc = dynamic_cast<const AccumulateGrad*>(&n)) return py::cast(acc->variable);
                               throw py::attribute_error("'" + n.name() + "' object has no attribute 'variable'");
                             })
      .def_property_readonly("metadata", [](py::handle self) { return node_metadata(self.ptr()); })
      .def(
          "register_prehook",
          [](const std::shared_ptr<Node>& n, py::function hook) {
            return register_prehook(n, python_prehook(hook, n->name()));
          },
          py::arg("hook"))
      .def_property_readonly("_hook_count", [](const Node& n) { return n.pre_hooks.size(); });

  m.def("is_grad_enabled", &grad_enabled);
  m.def("set_grad_enabled", &set_grad_enabled);

  m.def(
      "backward",
      [](py::handle tensors, py::handle grad_tensors, std::optional<bool> retain_graph, bool create_graph,
         py::handle inputs) {
        TensorList roots = to_tensors(tensors, "backward");
        TensorList seeds = make_seeds(roots, to_grads(to_objects(grad_tensors, roots.size())), "backward");
        BackwardOptions options;
        options.retain_graph = retain_graph.value_or(create_graph);
        options.create_graph = create_graph;
        if (inputs.is_none()) {
          py::gil_scoped_release nogil;
          run_backward(roots, seeds, options);
          return;
        }
        // backward(inputs=...): the gradients reach only these tensors' .grad (leaves and non-leaves, as torch).
        TensorList ins = to_tensors(inputs, "backward");
        check_backward_inputs(ins);
        TensorList res;
        {
          py::gil_scoped_release nogil;
          options.inputs = ins;
          options.allow_unused = true;  // an input no gradient reaches keeps its .grad, as torch
          res = run_backward(roots, seeds, options);
        }
        accumulate_into_inputs(ins, res, create_graph);
      },
      py::arg("tensors"), py::arg("grad_tensors") = py::none(), py::arg("retain_graph") = py::none(),
      py::arg("create_graph") = false, py::arg("inputs") = py::none());

  m.def(
      "grad",
      [](py::handle outputs, py::handle inputs, py::handle grad_outputs, std::optional<bool> retain_graph,
         bool create_graph, bool allow_unused, int64_t batch_ndim) {
        TensorList roots = to_tensors(outputs, "grad");
        TensorList ins = to_tensors(inputs, "grad");
        TensorList seeds = make_seeds(roots, to_grads(to_objects(grad_outputs, roots.size())), "grad", batch_ndim);
        PYAD_CHECK(!ins.empty(), RuntimeError, "[grad] grad requires at least one input");
        TensorList res;
        {
          py::gil_scoped_release nogil;
          BackwardOptions options;
          options.retain_graph = retain_graph.value_or(create_graph);
          options.create_graph = create_graph;
          options.inputs = ins;
          options.allow_unused = allow_unused;
          options.batch_ndim = batch_ndim;
          res = run_backward(roots, seeds, options);
        }
        return py::tuple(py::cast(res));
      },
      py::arg("outputs"), py::arg("inputs"), py::arg("grad_outputs") = py::none(), py::arg("retain_graph") = py::none(),
      py::arg("create_graph") = false, py::arg("allow_unused") = false, py::arg("batch_ndim") = 0);

  // Forward mode (Note [Batched tangents and cotangents]).
  // Levels are ids (Note [Nested dual levels]); None means the current (innermost) one.
  m.def("enter_dual_level", &enter_dual_level);
  m.def(
      "exit_dual_level", [](std::optional<uint64_t> level) { exit_dual_level(level.value_or(0)); },
      py::arg("level") = py::none());
  m.def("dual_levels", &dual_levels);
  m.def(
      "make_dual",
      [](const Tensor& primal, const Tensor& tangent, std::optional<uint64_t> level) {
        return make_dual(primal, tangent, level.value_or(0));
      },
      py::arg("primal"), py::arg("tangent"), py::arg("level") = py::none());
  m.def(
      "unpack_dual",
      [](const Tensor& t, std::optional<uint64_t> level) { return unpack_dual(t, level ? *level : current_level()); },
      py::arg("tensor"), py::arg("level") = py::none());
  m.def("tangent_levels", &tangent_levels);
  m.def("detach_dual", &detach_dual);
  // Note [Identity tangents]: x's dual whose tangent is rows [start, start + count) of the identity.
  m.def(
      "make_identity_dual",
      [](const Tensor& primal, int64_t start, int64_t count, std::optional<uint64_t> level) {
        return make_identity_dual(primal, start, count, level.value_or(0));
      },
      py::arg("primal"), py::arg("start"), py::arg("count"), py::arg("level") = py::none());

  m.def("retain_grad", &retain_grad);
  m.def("register_hook", [](const Tensor& t, py::function fn) { return register_hook(t, python_hook(fn)); });
  m.def("_hook_count", &hook_count);
  m.def("register_post_accumulate_grad_hook", [](const Tensor& t, py::function fn) {
    auto holder = std::make_shared<PyCallable>();
    holder->fn = std::move(fn);
    return register_post_accumulate_grad_hook(t, [holder](const Tensor& leaf) -> Tensor {
      py::gil_scoped_acquire gil;
      holder->fn(leaf);
      return Tensor();
    });
  });

  m.def("memory_allocated", [](const Device& d) { return memory_stats(d).current; });
  m.def("max_memory_allocated", [](const Device& d) { return memory_stats(d).peak; });
  m.def("reset_peak_memory_stats", [](const Device& d) { reset_peak_memory(d); });
}

}  // namespace pyad::python
