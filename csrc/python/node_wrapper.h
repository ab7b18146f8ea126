#pragma once
// Note [Python wrappers of nodes]
// A node has at most one Python wrapper, made the first time Python asks for it (grad_fn, next_functions,
// a custom Function's backward) and kept while the node lives. So `y.grad_fn is y.grad_fn`, next_functions
// returns the same objects, metadata written on a wrapper persists, and a graph walk that records id(fn)
// never meets an id that a dead wrapper of another node left behind. Ownership flips so that no reference
// cycle ever forms between the wrapper and the node:
// - while Python references the wrapper, the wrapper owns the node (its pybind11 holder is a strong
//   shared_ptr) and the node only points at the wrapper (py_wrapper, py_wrapper_owned = false);
// - when Python lets go of the wrapper while the node has other owners, the wrapper's dealloc resurrects
//   it: the node takes that last reference (py_wrapper_owned = true) and the holder becomes a non-owning
//   alias of the node;
// - node_to_python flips it back when Python asks again, and ~Node drops the node's reference, which frees
//   the wrapper (its holder owns nothing by then).
// A graph thus dies with its last tensor, whether or not Python ever looked at its nodes, and nodes Python
// never asks about cost one null pointer. Every conversion of a node to Python goes through node_to_python
// (bind.h routes std::shared_ptr<Node> there), so Python never holds a wrapper whose holder is the alias.
#include <pybind11/pybind11.h>
#include <memory>
#include "autograd/node.h"

namespace py = pybind11;

namespace pyad::python {

// A new reference to n's wrapper (None for a null node).
py::handle node_to_python(const std::shared_ptr<Node>& n);
// The persistent `metadata` dict of a wrapper.
py::dict node_metadata(PyObject* wrapper);

using RestoreHolder = void (*)(PyObject* wrapper, const std::shared_ptr<Node>& n);
void register_node_wrapper_type(PyTypeObject* type, RestoreHolder restore);
void forget_node_wrapper(PyObject* wrapper);

// Installs the dealloc of Note [Python wrappers of nodes] on the Python type of Node subclass T
// (py::class_<T, ...>(..., py::custom_type_setup(&NodeWrapperType<T>::setup))).
template <class T>
struct NodeWrapperType {
  static std::shared_ptr<T>& holder(PyObject* self) {
    auto v_h = reinterpret_cast<py::detail::instance*>(self)->get_value_and_holder();
    return v_h.template holder<std::shared_ptr<T>>();
  }
  static void dealloc(PyObject* self) {
    auto v_h = reinterpret_cast<py::detail::instance*>(self)->get_value_and_holder();
    if (v_h.holder_constructed()) {
      std::shared_ptr<T>& h = holder(self);
      // use_count() == 0: the non-owning alias; the node is being destroyed and must not be touched.
      if (h.use_count() > 0 && h->py_wrapper == self) {
        if (h.use_count() > 1) {
          // The node lives on: it keeps this wrapper, and the wrapper stops keeping the node.
          Py_SET_REFCNT(self, 1);
          h->py_wrapper_owned = true;
          std::shared_ptr<T> strong = std::move(h);
          h = std::shared_ptr<T>(std::shared_ptr<T>(), strong.get());
          return;  // `strong` goes here; if that was the last owner, ~Node frees this wrapper.
        }
        h->py_wrapper = nullptr;  // the node dies with this wrapper
      }
    }
    forget_node_wrapper(self);
    py::detail::pybind11_object_dealloc(self);
  }
  static void restore(PyObject* self, const std::shared_ptr<Node>& n) { holder(self) = std::static_pointer_cast<T>(n); }
  static void setup(PyHeapTypeObject* heap_type) {
    heap_type->ht_type.tp_dealloc = &dealloc;
    register_node_wrapper_type(&heap_type->ht_type, &restore);
  }
};

}  // namespace pyad::python
