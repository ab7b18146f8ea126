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
  // Map our exception types onto Python's own, the message followed by the user's line that called the op
  // (Note [Source sites] in core/site.h).
  py::register_exception_translator([](std::exception_ptr p) {
    auto with_site = [](const std::exception& e) {
      const std::string site = pyad::python::current_site();
      return site.empty() ? std::string(e.what()) : std::string(e.what()) + " [at " + site + "]";
    };
    try {
      if (p) std::rethrow_exception(p);
    } catch (const pyad::ValueError& e) {
      PyErr_SetString(PyExc_ValueError, with_site(e).c_str());
    } catch (const pyad::TypeError& e) {
      PyErr_SetString(PyExc_TypeError, with_site(e).c_str());
    } catch (const pyad::IndexError& e) {
      PyErr_SetString(PyExc_IndexError, with_site(e).c_str());
    } catch (const pyad::RuntimeError& e) {
      PyErr_SetString(PyExc_RuntimeError, with_site(e).c_str());
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
  pyad::python::init_ops_index(m);
  pyad::python::init_autograd(m);
  pyad::python::init_interop(m);
  pyad::python::init_function(m);
  pyad::python::init_cuda(m);
  pyad::python::init_linalg(m);
  pyad::python::init_sites(m);
  pyad::python::init_ops_nn(m);
  m.attr("__all__") = py::cast(pyad::python::exported_ops());
  pyad::python::add_pyad_function_fallbacks(
      m);  // last: every function is defined (Note [The __pyad_function__ protocol])
}
