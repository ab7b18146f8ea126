// Bindings of the scans and matrix-shape ops (csrc/ops/scan.cpp, matrix_shape_ops.cpp), each as a function
// pyad._C.<op> and a Tensor method, with torch's argument names and defaults.
#include "python/bind.h"
#include "ops/ops.h"

namespace pyad::python {

namespace {

std::string type_name(py::handle obj) { return py::str(py::type::handle_of(obj).attr("__name__")).cast<std::string>(); }

bool is_tensor(py::handle obj) {
  py::detail::make_caster<Tensor> caster;
  return !obj.is_none() && caster.load(obj, false);
}

// A Python int (or an object with __index__), as torch's int arguments take; a Tensor is not one here.
int64_t int_arg(py::handle v, const char* op, const char* what) {
  PYAD_CHECK(!PyBool_Check(v.ptr()) && !is_tensor(v) && (PyLong_Check(v.ptr()) || py::hasattr(v, "__index__")),
             TypeError, "[", op, "] ", what, " must be ints, got ", type_name(v));
  PyObject* index = PyNumber_Index(v.ptr());
  if (!index) {
    PyErr_Clear();
    throw TypeError(cat_str("[", op, "] ", what, " must be ints, got ", type_name(v)));
  }
  int overflow = 0;
  const long long r = PyLong_AsLongLongAndOverflow(index, &overflow);
  Py_DECREF(index);
  PYAD_CHECK(!overflow, RuntimeError, "[", op, "] ", what, " must fit in int64");
  return static_cast<int64_t>(r);
}

// An int or a sequence of ints (torch's IntArrayRef arguments). A Tensor is neither, though it iterates.
std::vector<int64_t> int_list(py::handle obj, const char* op, const char* what) {
  PYAD_CHECK(!is_tensor(obj), TypeError, "[", op, "] ", what, " must be an int or a tuple of ints, got a Tensor");
  if (!py::isinstance<py::sequence>(obj) || py::isinstance<py::str>(obj)) return {int_arg(obj, op, what)};
  std::vector<int64_t> out;
  for (auto v : obj) out.push_back(int_arg(v, op, what));
  return out;
}

// A method's dims given as ints (x.flip(0, 1)), as one sequence (x.flip((0, 1))) or as dims=.
std::vector<int64_t> dims_from(const py::args& args, const py::kwargs& kwargs, const char* op) {
  PYAD_CHECK(args.size() == 0 || !kwargs.contains("dims"), TypeError, "[", op,
             "] dims given both by position and by name");
  for (auto kv : kwargs)
    PYAD_CHECK(kv.first.cast<std::string>() == "dims", TypeError, "[", op, "] got an unexpected keyword argument '",
               kv.first.cast<std::string>(), "'");
  if (kwargs.contains("dims")) return int_list(kwargs["dims"], op, "dims");
  PYAD_CHECK(args.size() > 0, TypeError, "[", op, "] missing the argument dims");
  if (args.size() == 1) return int_list(args[0], op, "dims");
  return int_list(args, op, "dims");
}

std::vector<int64_t> roll_dims(py::handle dims) {
  return dims.is_none() ? std::vector<int64_t>{} : int_list(dims, "roll", "dims");
}

}  // namespace

void init_ops_more(py::module_& m) {
  auto cls = py::reinterpret_borrow<py::class_<TensorImpl, std::shared_ptr<TensorImpl>>>(m.attr("Tensor"));

  auto cumsum_ = [](const Tensor& x, int64_t dim, std::optional<DType> dtype) {
    ReleaseGilIfLarge nogil(x.numel());  // Note [Releasing the GIL]
    return cumsum(x, dim, dtype);
  };
  auto cumprod_ = [](const Tensor& x, int64_t dim, std::optional<DType> dtype) {
    ReleaseGilIfLarge nogil(x.numel());
    return cumprod(x, dim, dtype);
  };
  def_op(m, "cumsum", cumsum_, py::arg("input"), py::arg("dim"), py::kw_only(), py::arg("dtype") = py::none(),
         "Running sum of input along dim (integers and bools give int64; dtype converts the input first).");
  cls.def("cumsum", cumsum_, py::arg("dim"), py::kw_only(), py::arg("dtype") = py::none(), "See pyad.cumsum.");
  def_op(m, "cumprod", cumprod_, py::arg("input"), py::arg("dim"), py::kw_only(), py::arg("dtype") = py::none(),
         "Running product of input along dim (integers and bools give int64; dtype converts the input first).");
  cls.def("cumprod", cumprod_, py::arg("dim"), py::kw_only(), py::arg("dtype") = py::none(), "See pyad.cumprod.");

  def_op(
      m, "flip",
      [](const Tensor& x, py::handle dims) {
        auto d = int_list(dims, "flip", "dims");
        ReleaseGilIfLarge nogil(x.numel());
        return flip(x, d);
      },
      py::arg("input"), py::arg("dims"), "A copy of input with the order of elements reversed along dims.");
  cls.def(
      "flip",
      [](const Tensor& x, const py::args& args, const py::kwargs& kwargs) {
        auto d = dims_from(args, kwargs, "flip");
        ReleaseGilIfLarge nogil(x.numel());
        return flip(x, d);
      },
      "flip(*dims): see pyad.flip (dims as ints, one sequence, or dims=).");

  auto roll_ = [](const Tensor& x, py::handle shifts, py::handle dims) {
    auto s = int_list(shifts, "roll", "shifts");
    auto d = roll_dims(dims);
    ReleaseGilIfLarge nogil(x.numel());
    return roll(x, s, d);
  };
  def_op(m, "roll", roll_, py::arg("input"), py::arg("shifts"), py::arg("dims") = py::none(),
         "input with its elements shifted along dims, wrapping around (dims=None: the flattened tensor).");
  cls.def("roll", roll_, py::arg("shifts"), py::arg("dims") = py::none(), "See pyad.roll.");

  auto tril_ = [](const Tensor& x, int64_t diagonal) {
    ReleaseGilIfLarge nogil(x.numel());
    return tril(x, diagonal);
  };
  auto triu_ = [](const Tensor& x, int64_t diagonal) {
    ReleaseGilIfLarge nogil(x.numel());
    return triu(x, diagonal);
  };
  def_op(m, "tril", tril_, py::arg("input"), py::arg("diagonal") = 0,
         "The lower triangle (on and below the given diagonal) of the matrices in the last two dims; the rest 0.");
  cls.def("tril", tril_, py::arg("diagonal") = 0, "See pyad.tril.");
  def_op(m, "triu", triu_, py::arg("input"), py::arg("diagonal") = 0,
         "The upper triangle (on and above the given diagonal) of the matrices in the last two dims; the rest 0.");
  cls.def("triu", triu_, py::arg("diagonal") = 0, "See pyad.triu.");

  def_op(m, "diagonal", &pyad::diagonal, py::arg("input"), py::arg("offset") = 0, py::arg("dim1") = 0,
         py::arg("dim2") = 1, "A view of the offset-th diagonal of dims (dim1, dim2), appended as the last dim.");
  cls.def("diagonal", &pyad::diagonal, py::arg("offset") = 0, py::arg("dim1") = 0, py::arg("dim2") = 1,
          "See pyad.diagonal (a view).");
  def_op(m, "trace", &pyad::trace, py::arg("input"), "The sum of the main diagonal of a 2-d tensor.");
  cls.def("trace", &pyad::trace, "See pyad.trace.");
  auto kron_ = [](const Tensor& a, const Tensor& b) {
    ReleaseGilIfLarge nogil(a.numel() * b.numel());
    return kron(a, b);
  };
  def_op(m, "kron", kron_, py::arg("input"), py::arg("other"), "The Kronecker product of input and other.");
  cls.def("kron", kron_, py::arg("other"), "See pyad.kron.");
}

}  // namespace pyad::python
