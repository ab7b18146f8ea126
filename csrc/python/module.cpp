// The extension module pyad._C: one init function per area.
#include "python/bind.h"
#include "core/error.h"

namespace pyad::python {
std::vector<std::string>& exported_ops() {
  static std::vector<std::string> names;
  return names;
}
}  // namespace pyad::python

PYBIND11_MODULE(_C, m) {
  m.doc() = "pyad's C++ core";
  // Map our exception types onto Python's own, with the message unchanged.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const pyad::ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const pyad::TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const pyad::IndexError& e) {
      PyErr_SetString(PyExc_IndexError, e.what());
    } catch (const pyad::RuntimeError& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    } catch (const std::bad_alloc&) {
      PyErr_SetString(PyExc_MemoryError, "[allocate] out of memory: the tensor does not fit in the memory available");
    } catch (const py::cast_error& e) {
      // An argument of the wrong Python type met a conversion inside a binding: a TypeError, as torch's
      // (pybind11 would say RuntimeError).
      PyErr_SetString(PyExc_TypeError, (std::string("[pyad] argument of the wrong type: ") + e.what()).c_str());
    }
  });
  pyad::python::init_tensor(m);
  pyad::python::init_ops(m);
  pyad::python::init_ops_more(m);
  pyad::python::init_ops_sort(m);
  pyad::python::init_autograd(m);
  pyad::python::init_interop(m);
  pyad::python::init_function(m);
  pyad::python::init_cuda(m);
  pyad::python::init_ops_nn(m);
  m.attr("__all__") = py::cast(pyad::python::exported_ops());
}
