// The extension module pyad._C: one init function per area.
#include "bind.h"
#include "../core/error.h"

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
    }
  });
  pyad::python::init_tensor(m);
  pyad::python::init_ops(m);
  pyad::python::init_autograd(m);
  pyad::python::init_interop(m);
  pyad::python::init_function(m);
  pyad::python::init_cuda(m);
}
