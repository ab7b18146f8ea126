// The Python side of Note [Source sites] (core/site.h): capturing the innermost frame outside pyad (its code
// object and instruction offset), releasing it, and formatting it as "file.py:LINE in function" on error.
#include "python/bind.h"
#include <frameobject.h>  // after Python.h (through bind.h)
#include <atomic>
#include <cstring>
#include <mutex>
#include "core/site.h"

namespace pyad::python {

namespace {

// pyad's package directory ("/.../pyad/"), found on the first capture after pyad's import.
std::string g_pkg_dir;

bool find_pkg_dir() {
  if (!g_pkg_dir.empty()) return true;
  PyObject* mod = PyImport_GetModule(py::str("pyad").ptr());  // new reference or null, no import
  if (!mod) {
    PyErr_Clear();
    return false;
  }
  py::object m = py::reinterpret_steal<py::object>(mod);
  if (!py::hasattr(m, "__file__")) return false;
  std::string file = py::str(m.attr("__file__"));
  const size_t slash = file.rfind('/');
  if (slash == std::string::npos) return false;
  g_pkg_dir = file.substr(0, slash + 1);
  return true;
}

// Whether code belongs to pyad, remembered for the last code object seen (a loop calls from one place).
PyObject* g_last_code = nullptr;  // a strong reference, so its address cannot be reused meanwhile
bool g_last_inside = false;

bool inside_pyad(PyCodeObject* code) {
  if (reinterpret_cast<PyObject*>(code) == g_last_code) return g_last_inside;
  py::object filename =
      py::reinterpret_steal<py::object>(PyObject_GetAttrString(reinterpret_cast<PyObject*>(code), "co_filename"));
  const char* s = filename ? PyUnicode_AsUTF8(filename.ptr()) : nullptr;
  if (!s) PyErr_Clear();
  const bool inside = s && std::strncmp(s, g_pkg_dir.c_str(), g_pkg_dir.size()) == 0;
  Py_XDECREF(g_last_code);
  g_last_code = reinterpret_cast<PyObject*>(code);
  Py_INCREF(g_last_code);
  g_last_inside = inside;
  return inside;
}

// Code objects let go of where the GIL was not held (a graph freed by the engine), released at the next capture.
std::mutex g_pending_mu;
std::vector<PyObject*> g_pending;
std::atomic<bool> g_any_pending{false};

void drain_pending() {
  if (!g_any_pending.load(std::memory_order_relaxed)) return;
  std::vector<PyObject*> todo;
  {
    std::lock_guard<std::mutex> lock(g_pending_mu);
    todo.swap(g_pending);
    g_any_pending = false;
  }
  for (PyObject* c : todo) Py_DECREF(c);
}

void capture(void*& code, int& offset) {
  if (!Py_IsInitialized() || !PyGILState_Check() || !find_pkg_dir()) return;
  drain_pending();
  PyFrameObject* f = PyEval_GetFrame();  // borrowed
  Py_XINCREF(f);
  while (f) {
    PyCodeObject* c = PyFrame_GetCode(f);  // new reference
    if (!inside_pyad(c)) {
      code = c;
#if PY_VERSION_HEX >= 0x030B0000
      offset = PyFrame_GetLasti(f);
#else
      offset = -1 - PyFrame_GetLineNumber(f);  // before 3.11: the line itself, stored negative
#endif
      Py_DECREF(f);
      return;
    }
    Py_DECREF(c);
    PyFrameObject* back = PyFrame_GetBack(f);  // new reference
    Py_DECREF(f);
    f = back;
  }
}

void release(void* code) {
  if (!Py_IsInitialized()) return;  // the interpreter is gone: leak rather than touch it
  if (PyGILState_Check()) {
    Py_DECREF(static_cast<PyObject*>(code));
    return;
  }
  std::lock_guard<std::mutex> lock(g_pending_mu);
  g_pending.push_back(static_cast<PyObject*>(code));
  g_any_pending = true;
}

std::string format(void* code, int offset) {
  if (!Py_IsInitialized()) return std::string();
  py::gil_scoped_acquire gil;
  auto* c = static_cast<PyCodeObject*>(code);
  const int line = offset < 0 ? -1 - offset : PyCode_Addr2Line(c, offset);
  py::handle h(reinterpret_cast<PyObject*>(c));
  return py::str(h.attr("co_filename")).cast<std::string>() + ":" + std::to_string(line) + " in " +
         py::str(h.attr("co_name")).cast<std::string>();
}

}  // namespace

std::string current_site() {
  Site s;
  s.capture();
  return s.str();
}

void init_sites(py::module_& m) {
  Site::set_hooks({&capture, &release, &format});
  // Capturing off (sites already captured still format): what benchmarks/callgrind_per_op.py --no-sites
  // measures the capture's cost against.
  m.def("_set_source_sites", [](bool on) { Site::set_hooks({on ? &capture : nullptr, &release, &format}); });
}

}  // namespace pyad::python
