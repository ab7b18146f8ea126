// Autograd from Python: backward, grad, grad mode, graph inspection, hooks.
#include "bind.h"
#include "../autograd/engine.h"
#include "../autograd/forward_ad.h"
#include "../autograd/grad_mode.h"
#include "../autograd/node.h"
#include "../core/storage.h"
#include "../kernels/kernels.h"
#include "../ops/ops.h"

namespace pyad::python {

namespace {

// Seeds for the roots: ones for scalars, else the user's gradient with a checked shape.
TensorList make_seeds(const TensorList& roots, const std::vector<py::object>& grads, const char* op,
                      int64_t batch_ndim = 0) {
  TensorList seeds;
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& r = roots[i];
    PYAD_CHECK(r.defined(), TypeError, "[", op, "] expected Tensors, got None at position ", i);
    Tensor g;
    if (i < grads.size() && !grads[i].is_none()) {
      g = grads[i].cast<Tensor>();
      PYAD_CHECK(g.ndim() == r.ndim() + batch_ndim &&
                     std::equal(r.shape().begin(), r.shape().end(), g.shape().begin() + batch_ndim),
                 RuntimeError, "[", op, "] Mismatch in shape: grad_output[", i,
                 "] has a shape of ", shape_str(g.shape()), " and output[", i, "] has a shape of ", shape_str(r.shape()));
      PYAD_CHECK(is_floating(g.dtype()), TypeError, "[", op, "] grad_output[", i, "] must be floating, got ",
                 dtype_name(g.dtype()));
    } else {
      PYAD_CHECK(r.requires_grad(), RuntimeError, "[", op, "] element ", i, " of tensors does not require grad and "
                 "does not have a grad_fn");
      PYAD_CHECK(r.numel() == 1, RuntimeError, "[", op, "] grad can be implicitly created only for scalar outputs (output ",
                 i, " has shape ", shape_str(r.shape()), "); pass gradient=");
      g = ones(r.shape(), r.dtype(), r.device());
    }
    seeds.push_back(g);
  }
  return seeds;
}

TensorList to_tensors(py::handle obj, const char* op) {
  TensorList out;
  if (py::isinstance<py::list>(obj) || py::isinstance<py::tuple>(obj)) {
    for (auto v : obj) out.push_back(v.cast<Tensor>());
  } else {
    py::detail::make_caster<Tensor> c;
    PYAD_CHECK(!obj.is_none() && c.load(obj, false), TypeError, "[", op, "] expected a Tensor or a sequence of Tensors");
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

void retain_grad(const Tensor& t) {
  PYAD_CHECK(t.requires_grad(), RuntimeError, "[retain_grad] can't retain_grad on Tensor that has requires_grad=False");
  if (t.is_leaf() || t->retain_hook_installed) { t->retains_grad = true; return; }
  std::weak_ptr<TensorImpl> weak = t.impl();
  t.grad_fn()->pre_hooks.push_back({t.output_nr(), [weak](const Tensor& g) -> Tensor {
    auto impl = weak.lock();
    if (impl && impl->retains_grad) {
      Tensor& acc = impl->grad;
      acc = acc.defined() ? add(acc, g) : (grad_enabled() ? g : clone(g));
    }
    return Tensor();
  }});
  t->retains_grad = true;
  t->retain_hook_installed = true;
}

}  // namespace

void init_autograd(py::module_& m) {
  py::class_<Node, std::shared_ptr<Node>>(m, "Node", py::custom_type_setup(&NodeWrapperType<Node>::setup))
      .def("name", &Node::name)
      .def("__repr__", [](const Node& n) { return "<" + n.name() + ">"; })
      // One wrapper per node (Note [Python wrappers of nodes]), so these agree with `is`.
      .def("__eq__", [](const Node& a, py::object b) -> py::object {
        if (!py::isinstance<Node>(b)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
        return py::bool_(&a == &b.cast<const Node&>());
      })
      .def("__hash__", [](const Node& n) { return py::hash(py::int_(reinterpret_cast<uintptr_t>(&n))); })
      .def_property_readonly("next_functions", [](const Node& n) {
        py::tuple out(n.next_edges.size());
        for (size_t i = 0; i < n.next_edges.size(); ++i) {
          const Edge& e = n.next_edges[i];
          out[i] = py::make_tuple(py::reinterpret_steal<py::object>(node_to_python(e.fn)), e.input_nr);
        }
        return out;
      })
      .def_property_readonly("variable", [](const Node& n) -> py::object {
        if (auto acc = dynamic_cast<const AccumulateGrad*>(&n)) return py::cast(acc->variable);
        throw py::attribute_error("'" + n.name() + "' object has no attribute 'variable'");
      })
      .def_property_readonly("metadata", [](py::handle self) { return node_metadata(self.ptr()); })
      .def("register_prehook", [](Node& n, py::function fn) { n.pre_hooks.push_back({0, python_hook(fn)}); });

  m.def("is_grad_enabled", &grad_enabled);
  m.def("set_grad_enabled", &set_grad_enabled);

  m.def("backward", [](py::handle tensors, py::handle grad_tensors, std::optional<bool> retain_graph, bool create_graph,
                       py::handle inputs) {
    TensorList roots = to_tensors(tensors, "backward");
    TensorList seeds = make_seeds(roots, to_objects(grad_tensors, roots.size()), "backward");
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
    PYAD_CHECK(!ins.empty(), RuntimeError, "[backward] `inputs` argument to `backward()` cannot be empty.");
    for (size_t i = 0; i < ins.size(); ++i)
      PYAD_CHECK(ins[i].requires_grad(), RuntimeError, "[backward] inputs[", i, "] (", describe(ins[i]),
                 ") does not require grad");
    TensorList res;
    {
      py::gil_scoped_release nogil;
      options.inputs = ins;
      options.allow_unused = true;  // an input no gradient reaches keeps its .grad, as torch
      res = run_backward(roots, seeds, options);
    }
    GradModeGuard mode(create_graph);
    for (size_t i = 0; i < ins.size(); ++i) {
      if (!res[i].defined()) continue;
      const Tensor& t = ins[i];
      if (t.is_leaf()) {
        gradient_edge(t).fn->apply({res[i]});  // the leaf's AccumulateGrad: its hooks, then .grad +=
      } else if (!t->retains_grad) {  // (a retained non-leaf got its share from its hook during the pass)
        Tensor& acc = t->grad;
        acc = acc.defined() ? add(acc, res[i]) : (create_graph ? res[i] : clone(res[i]));
      }
    }
  }, py::arg("tensors"), py::arg("grad_tensors") = py::none(), py::arg("retain_graph") = py::none(),
     py::arg("create_graph") = false, py::arg("inputs") = py::none());

  m.def("grad", [](py::handle outputs, py::handle inputs, py::handle grad_outputs, std::optional<bool> retain_graph,
                   bool create_graph, bool allow_unused, int64_t batch_ndim) {
    TensorList roots = to_tensors(outputs, "grad");
    TensorList ins = to_tensors(inputs, "grad");
    TensorList seeds = make_seeds(roots, to_objects(grad_outputs, roots.size()), "grad", batch_ndim);
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
  }, py::arg("outputs"), py::arg("inputs"), py::arg("grad_outputs") = py::none(), py::arg("retain_graph") = py::none(),
     py::arg("create_graph") = false, py::arg("allow_unused") = false, py::arg("batch_ndim") = 0);

  // Forward mode (Note [Batched tangents and cotangents]).
  // Levels are ids (Note [Nested dual levels]); None means the current (innermost) one.
  m.def("enter_dual_level", &enter_dual_level);
  m.def("exit_dual_level", [](std::optional<uint64_t> level) { exit_dual_level(level.value_or(0)); },
        py::arg("level") = py::none());
  m.def("dual_levels", &dual_levels);
  m.def("make_dual", [](const Tensor& primal, const Tensor& tangent, std::optional<uint64_t> level) {
    return make_dual(primal, tangent, level.value_or(0));
  }, py::arg("primal"), py::arg("tangent"), py::arg("level") = py::none());
  m.def("unpack_dual", [](const Tensor& t, std::optional<uint64_t> level) {
    const uint64_t l = level ? *level : current_level();
    Tensor tangent = tangent_at(t, l);
    // An alias that keeps t's history and its tangents at the other levels, but not this one.
    Tensor primal = view(t, t.shape());
    clear_tangent(primal, l);
    return std::make_pair(primal, tangent);
  }, py::arg("tensor"), py::arg("level") = py::none());
  // The levels at which some of `ts` carries a tangent that ops compute now, outermost first.
  m.def("tangent_levels", [](const TensorList& ts) {
    std::vector<uint64_t> out;
    for (uint64_t l = next_tangent_level(ts, 0); l != 0; l = next_tangent_level(ts, l)) out.push_back(l);
    return out;
  });
  // t without history but with its tangents at every level (checkpoint_revolve's stored activations).
  m.def("detach_dual", [](const Tensor& t) {
    Tensor d = detach(t);
    if (t->fw)
      for (const auto& [l, tangent] : t->fw->tangents) set_tangent(d, tangent, l);
    return d;
  });
  // Rows [start, start + count) of the n x n identity, shaped (count, *shape), marked as a jacfwd seed.
  m.def("identity_seed", [](int64_t n, int64_t start, int64_t count, const Shape& shape, DType dt, Device dev) {
    Tensor e = zeros({count, n}, dt, dev);
    Tensor diag = make_view(e, {count}, {n + 1}, start);
    kernels::fill(diag, 1.0);
    Tensor seed = make_view(e, concat({count}, shape), contiguous_strides(concat({count}, shape)), 0);
    seed->identity_seed_offset = start;
    return seed;
  });

  m.def("retain_grad", &retain_grad);
  m.def("register_hook", [](const Tensor& t, py::function fn) {
    PYAD_CHECK(t.requires_grad(), RuntimeError, "[register_hook] cannot register a hook on a tensor that doesn't "
               "require gradient");
    if (t.is_leaf()) {
      t->leaf_hooks.push_back(python_hook(fn));
    } else {
      t.grad_fn()->pre_hooks.push_back({t.output_nr(), python_hook(fn)});
    }
  });

  m.def("memory_allocated", [](const Device& d) { return memory_stats(d).current; });
  m.def("max_memory_allocated", [](const Device& d) { return memory_stats(d).peak; });
  m.def("reset_peak_memory_stats", [](const Device& d) { reset_peak_memory(d); });
}

}  // namespace pyad::python
