// The persistent Python wrappers of nodes (Note [Python wrappers of nodes]).
#include "python/node_wrapper.h"
#include <unordered_map>
#include "python/bind.h"

namespace pyad::python {

namespace {

// Both tables are touched with the GIL held only.
std::unordered_map<PyTypeObject*, RestoreHolder>& restorers() {
  static auto* m = new std::unordered_map<PyTypeObject*, RestoreHolder>();
  return *m;
}
std::unordered_map<PyObject*, PyObject*>& metadata_dicts() {  // wrapper -> its metadata dict (owned)
  static auto* m = new std::unordered_map<PyObject*, PyObject*>();
  return *m;
}

// ~Node of a node with a wrapper: the node owns it (Python holding it would keep the node alive), so drop
// that reference; the wrapper's holder is the non-owning alias by now.
void release_wrapper(Node& n) {
  PyObject* w = static_cast<PyObject*>(n.py_wrapper);
  bool owned = n.py_wrapper_owned;
  n.py_wrapper = nullptr;
  n.py_wrapper_owned = false;
  if (!owned || !Py_IsInitialized()) return;  // after finalisation: leak rather than touch the interpreter
  py::gil_scoped_acquire gil;
  Py_DECREF(w);
}

struct InstallRelease {
  InstallRelease() { set_node_wrapper_release(&release_wrapper); }
} install_release;

}  // namespace

void register_node_wrapper_type(PyTypeObject* type, RestoreHolder restore) { restorers()[type] = restore; }

void forget_node_wrapper(PyObject* wrapper) {
  auto& dicts = metadata_dicts();
  auto it = dicts.find(wrapper);
  if (it == dicts.end()) return;
  PyObject* d = it->second;
  dicts.erase(it);
  Py_DECREF(d);
}

py::dict node_metadata(PyObject* wrapper) {
  auto& dicts = metadata_dicts();
  auto it = dicts.find(wrapper);
  if (it == dicts.end()) it = dicts.emplace(wrapper, py::dict().release().ptr()).first;
  return py::reinterpret_borrow<py::dict>(it->second);
}

py::handle node_to_python(const std::shared_ptr<Node>& n) {
  if (!n) return py::none().release();
  if (PyObject* w = static_cast<PyObject*>(n->py_wrapper)) {
    Py_INCREF(w);
    if (n->py_wrapper_owned) {
      // Python holds the wrapper again: it owns the node, and the node gives up its reference.
      auto it = restorers().find(Py_TYPE(w));
      PYAD_CHECK(it != restorers().end(), RuntimeError, "[grad_fn] internal error: the wrapper of ", n->name(),
                 " has an unregistered type");
      it->second(w, n);
      n->py_wrapper_owned = false;
      Py_DECREF(w);
    }
    return w;
  }
  py::handle h = py::detail::copyable_holder_caster<Node, std::shared_ptr<Node>>::cast(
      n, py::return_value_policy::take_ownership, py::handle());
  // A wrapper pybind11 made without this function (none should exist) is adopted the same way.
  if (h && restorers().count(Py_TYPE(h.ptr()))) n->py_wrapper = h.ptr();
  return h;
}

}  // namespace pyad::python
