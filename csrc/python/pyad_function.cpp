// The __pyad_function__ protocol (Note [The __pyad_function__ protocol] in python/bind.h): the fallback
// overload every _C function gets, and the test the self-converting bindings use.
#include <Python.h>
#include "python/bind.h"

namespace pyad::python {

namespace {

PyObject* hook_name() {
  static PyObject* name = PyUnicode_InternFromString("__pyad_function__");
  return name;
}

// The hook's owner types among the arguments (one level into lists and tuples, for cat and stack), in
// torch's order: first appearance, but a subclass before its base.
void collect(py::handle obj, std::vector<py::handle>& types, bool nested) {
  if (!nested && (PyList_Check(obj.ptr()) || PyTuple_Check(obj.ptr()))) {
    for (auto v : obj) collect(v, types, true);
    return;
  }
  if (!has_pyad_function(obj)) return;
  py::handle t = py::type::handle_of(obj);
  for (auto it = types.begin(); it != types.end(); ++it) {
    if (it->is(t)) return;
    if (PyType_IsSubtype(reinterpret_cast<PyTypeObject*>(t.ptr()), reinterpret_cast<PyTypeObject*>(it->ptr()))) {
      types.insert(it, t);
      return;
    }
  }
  types.push_back(t);
}

}  // namespace

bool has_pyad_function(py::handle obj) {
  PyObject* o = obj.ptr();
  // The common non-tensor arguments first: numbers and None never have the hook.
  if (o == Py_None || PyFloat_CheckExact(o) || PyLong_CheckExact(o) || PyBool_Check(o)) return false;
  return _PyType_Lookup(Py_TYPE(o), hook_name()) != nullptr;
}

void add_pyad_function_fallbacks(py::module_& m) {
  py::handle module = m;  // the module outlives its functions
  std::vector<std::string> names;  // first, as defining overloads changes the module's dict
  for (auto item : m.attr("__dict__").cast<py::dict>()) {
    if (PyCFunction_Check(item.second.ptr())) names.push_back(item.first.cast<std::string>());
  }
  for (const std::string& name : names) {
    m.def(
        name.c_str(),
        [module, name](py::args args, py::kwargs kwargs) -> py::object {
          std::vector<py::handle> types;
          for (auto a : args) collect(a, types, false);
          for (auto kv : kwargs) collect(kv.second, types, false);
          // No hook: let pybind11 try the typed overloads with conversions, then raise its usual TypeError.
          if (types.empty()) throw py::reference_cast_error();
          py::object func = module.attr(name.c_str());
          py::tuple type_tuple(types.size());
          for (size_t i = 0; i < types.size(); ++i) type_tuple[i] = py::reinterpret_borrow<py::object>(types[i]);
          for (auto t : types) {
            py::object r = t.attr("__pyad_function__")(func, type_tuple, args, kwargs);
            if (!r.is(py::handle(Py_NotImplemented))) return r;
          }
          std::string names;
          for (auto t : types) names += (names.empty() ? "" : ", ") + t.attr("__name__").cast<std::string>();
          PYAD_CHECK(false, TypeError, "[", name, "] every __pyad_function__ returned NotImplemented (types: ", names,
                     ")");
          return py::none();
        },
        py::sibling(m.attr(name.c_str())));
  }
}

}  // namespace pyad::python
