// The Tensor class: metadata, autograd attributes and the hot arithmetic
// operators (bound here so `y * 1.0001` costs one C++ call).
#include <pybind11/operators.h>
#include "python/bind.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/variable.h"
#include "ops/ops.h"

namespace pyad::python {

Tensor as_operand(const Tensor& like, py::handle obj) {
  if (PyBool_Check(obj.ptr())) {
    DType dt = like.dtype() == DType::Bool ? DType::Bool : like.dtype();
    return scalar_tensor(obj.ptr() == Py_True ? 1.0 : 0.0, dt, like.device());
  }
  if (PyLong_Check(obj.ptr())) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(obj.ptr(), &overflow);
    PYAD_CHECK(!overflow, ValueError, "[scalar] integer ", py::str(obj).cast<std::string>(), " does not fit in int64");
    return scalar_tensor(static_cast<double>(v), scalar_dtype(like, false), like.device());
  }
  if (PyFloat_Check(obj.ptr()))
    return scalar_tensor(PyFloat_AS_DOUBLE(obj.ptr()), scalar_dtype(like, true), like.device());
  py::detail::make_caster<Tensor> c;
  if (!obj.is_none() && c.load(obj, false)) return py::detail::cast_op<Tensor>(c);
  // NumPy arrays and scalars (Note [NumPy operands] in pyad/_numpy_interop.py): an array becomes a tensor
  // operand as torch.from_numpy would make it, a NumPy scalar the Python number it holds.
  static py::handle numpy_types = py::object(py::module_::import("numpy").attr("ndarray")).release();
  static py::handle numpy_scalars = py::object(py::module_::import("numpy").attr("generic")).release();
  if (PyObject_IsInstance(obj.ptr(), numpy_types.ptr()) == 1 ||
      PyObject_IsInstance(obj.ptr(), numpy_scalars.ptr()) == 1) {
    static py::handle convert = py::object(py::module_::import("pyad._numpy_interop").attr("operand")).release();
    return as_operand(like, convert(obj, like.device()));
  }
  // NumPy scalars and other numbers convert through float().
  if (PyNumber_Check(obj.ptr()) && !PySequence_Check(obj.ptr()) && py::hasattr(obj, "__float__")) {
    bool integral = py::hasattr(obj, "__index__");
    double v = PyFloat_AsDouble(obj.ptr());
    if (v == -1.0 && PyErr_Occurred()) throw py::error_already_set();
    return scalar_tensor(v, scalar_dtype(like, !integral), like.device());
  }
  return Tensor();
}

std::vector<int64_t> dims_arg(py::handle dim) {
  if (dim.is_none()) return {};
  if (PyLong_Check(dim.ptr())) return {dim.cast<int64_t>()};
  PYAD_CHECK(py::isinstance<py::sequence>(dim), TypeError, "[dim] expected an int or a tuple of ints, got ",
             py::str(py::type::handle_of(dim).attr("__name__")).cast<std::string>());
  std::vector<int64_t> d;
  for (auto v : dim) {
    PYAD_CHECK(PyLong_Check(v.ptr()), TypeError, "[dim] expected an int or a tuple of ints");
    d.push_back(v.cast<int64_t>());
  }
  PYAD_CHECK(!d.empty(), ValueError, "[dim] an empty tuple of dims is not supported here; pass dim=None to reduce all");
  return d;
}

Shape shape_args(const py::args& args, const char* op) {
  py::sequence seq = args;
  if (args.size() == 1 && !PyLong_Check(args[0].ptr())) {
    PYAD_CHECK(py::isinstance<py::sequence>(args[0]), TypeError, "[", op,
               "] expected a shape (ints or a tuple of ints)");
    seq = args[0].cast<py::sequence>();
  }
  Shape s;
  for (auto v : seq) {
    PYAD_CHECK(PyLong_Check(v.ptr()) || py::hasattr(v, "__index__"), TypeError, "[", op,
               "] shape entries must be ints, got ",
               py::str(py::type::handle_of(v).attr("__name__")).cast<std::string>());
    s.push_back(py::int_(v).cast<int64_t>());
  }
  return s;
}

namespace {

py::object item(const Tensor& t0) {
  PYAD_CHECK(t0.numel() == 1, RuntimeError, "[item] a Tensor with ", t0.numel(),
             " elements cannot be converted to Scalar (shape ", shape_str(t0.shape()), ")");
  const Tensor t = t0.device().is_cpu() ? t0 : to_device(detach(t0), Device{});  // waits for the GPU
  switch (t.dtype()) {
    case DType::Float32: return py::float_(*t.data<float>());
    case DType::Float64: return py::float_(*t.data<double>());
    case DType::Int64: return py::int_(*t.data<int64_t>());
    case DType::Bool: return py::bool_(*t.data<bool>());
  }
  return py::none();
}

Tensor power(const Tensor& self, const Tensor& exponent, py::handle obj) {
  py::detail::make_caster<Tensor> c;
  return c.load(obj, false) ? pow(self, exponent) : pow_scalar(self, exponent);
}

// matmul with a NumPy operand: both promoted to one dtype, as the elementwise ops promote (matmul itself
// takes one dtype, as torch's).
py::object matmul_operand(const Tensor& self, py::handle other, bool reflected) {
  Tensor o = as_operand(self, other);
  if (!o.defined()) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
  Tensor a = self;
  py::detail::make_caster<Tensor> c;
  if (!c.load(other, false)) {
    DType dt = promote(a.dtype(), o.dtype());
    if (a.dtype() != dt) a = to_dtype(a, dt);
    if (o.dtype() != dt) o = to_dtype(o, dt);
  }
  Tensor r;
  {
    py::gil_scoped_release nogil;  // Note [Releasing the GIL] (python/bind.h): matmul always runs without it
    r = reflected ? matmul(o, a) : matmul(a, o);
  }
  return py::cast(r);
}

// Binary operator: Tensor op (Tensor | number); NotImplemented for anything else.
template <Tensor (*F)(const Tensor&, const Tensor&), bool Reflected = false>
py::object binop(const Tensor& self, py::handle other) {
  Tensor o = as_operand(self, other);
  if (!o.defined()) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
  Tensor r;
  {
    ReleaseGilIfLarge nogil(std::max(self.numel(), o.numel()));  // Note [Releasing the GIL] (python/bind.h)
    r = Reflected ? F(o, self) : F(self, o);
  }
  return py::cast(r);
}

template <Tensor& (*F)(Tensor&, const Tensor&)>
Tensor inplace(Tensor self, py::handle other) {
  Tensor o = as_operand(self, other);
  PYAD_CHECK(o.defined(), TypeError, "[in-place] expected a Tensor or a number, got ",
             py::str(py::type::handle_of(other).attr("__name__")).cast<std::string>());
  return F(self, o);
}

}  // namespace

void init_tensor(py::module_& m) {
  m.def("as_operand", [](const Tensor& like, py::handle obj) {
    Tensor t = as_operand(like, obj);
    PYAD_CHECK(t.defined(), TypeError, "[operand] expected a Tensor, a number or a NumPy array, got ",
               py::str(py::type::handle_of(obj).attr("__name__")).cast<std::string>());
    return t;
  });
  py::enum_<DType>(m, "dtype")
      .value("bool", DType::Bool)
      .value("int64", DType::Int64)
      .value("float32", DType::Float32)
      .value("float64", DType::Float64)
      .def("__repr__", [](DType d) { return std::string("pyad.") + dtype_name(d); })
      .def("__str__", [](DType d) { return std::string("pyad.") + dtype_name(d); })
      .def_property_readonly("is_floating_point", [](DType d) { return is_floating(d); })
      .def_property_readonly("itemsize", [](DType d) { return itemsize(d); });

  py::class_<Device>(m, "device")
      .def(py::init([](const std::string& s) { return Device::parse(s); }))
      .def(py::init([](const Device& d) { return d; }))
      .def_property_readonly("type", [](const Device& d) { return d.is_cpu() ? "cpu" : "cuda"; })
      .def_property_readonly(
          "index",
          [](const Device& d) -> py::object { return d.is_cpu() ? py::none() : py::object(py::int_(d.index)); })
      .def("__str__", &Device::str)
      .def("__repr__",
           [](const Device& d) {
             return d.is_cpu() ? std::string("device(type='cpu')")
                               : "device(type='cuda', index=" + std::to_string(d.index) + ")";
           })
      .def("__eq__",
           [](const Device& d, py::handle o) {
             if (py::isinstance<py::str>(o))
               return d.str() == o.cast<std::string>() ||
                      (o.cast<std::string>() == "cuda" && !d.is_cpu() && d.index == 0);
             if (py::isinstance<Device>(o)) return d == o.cast<Device>();
             return false;
           })
      .def("__hash__", [](const Device& d) { return std::hash<std::string>()(d.str()); });

  py::class_<TensorImpl, std::shared_ptr<TensorImpl>> cls(m, "Tensor");
  // torch's legacy constructor (pyad.Tensor([1., 2.]), pyad.Tensor(2, 3), pyad.Tensor()), built in
  // pyad/_creation.py; an instance is still the one C++ class.
  cls.def(py::init([](py::args args, py::kwargs kwargs) {
    static py::handle legacy = py::object(py::module_::import("pyad._creation").attr("_legacy_new")).release();
    return legacy(*args, **kwargs).cast<Tensor>().impl();
  }));
  cls.def_property_readonly("shape", [](const Tensor& t) { return py::tuple(py::cast(t.shape())); })
      .def_property_readonly("ndim", [](const Tensor& t) { return t.ndim(); })
      .def("dim", [](const Tensor& t) { return t.ndim(); })
      .def("numel", [](const Tensor& t) { return t.numel(); })
      .def(
          "stride",
          [](const Tensor& t, py::object dim) -> py::object {
            if (dim.is_none()) return py::tuple(py::cast(t.strides()));
            PYAD_CHECK(PyLong_Check(dim.ptr()), TypeError, "[stride] dim must be an int, got ",
                       py::str(py::type::handle_of(dim).attr("__name__")).cast<std::string>());
            return py::int_(t.strides()[wrap_dim(dim.cast<int64_t>(), t.ndim(), "stride")]);
          },
          py::arg("dim") = py::none())
      .def(
          "size",
          [](const Tensor& t, py::object dim) -> py::object {
            if (dim.is_none()) return py::tuple(py::cast(t.shape()));
            PYAD_CHECK(PyLong_Check(dim.ptr()), TypeError, "[size] dim must be an int, got ",
                       py::str(py::type::handle_of(dim).attr("__name__")).cast<std::string>());
            return py::int_(t.size(dim.cast<int64_t>()));
          },
          py::arg("dim") = py::none())
      .def_property_readonly("dtype", [](const Tensor& t) { return t.dtype(); })
      .def_property_readonly("device", [](const Tensor& t) { return t.device(); })
      .def("is_contiguous", [](const Tensor& t) { return t.is_contiguous(); })
      .def("element_size", [](const Tensor& t) { return itemsize(t.dtype()); })
      .def("data_ptr", [](const Tensor& t) { return reinterpret_cast<uintptr_t>(t.raw_data()); })
      .def("storage_offset", [](const Tensor& t) { return t->offset; })
      .def_property_readonly("_version", [](const Tensor& t) { return t->version->version; })
      // Writers outside pyad's ops (a collective filling the tensor's memory) mark the in-place change.
      .def("_bump_version", [](const Tensor& t) { ++t->version->version; })
      .def("item", [](const Tensor& t) { return item(t); })
      .def_property(
          "requires_grad", [](const Tensor& t) { return t.requires_grad(); }, &set_requires_grad)
      .def(
          "requires_grad_",
          [](const Tensor& t, bool on) {
            set_requires_grad(t, on);
            return t;
          },
          py::arg("requires_grad") = true)
      .def_property_readonly("is_leaf", [](const Tensor& t) { return t.is_leaf(); })
      .def_property_readonly("grad_fn", [](const Tensor& t) { return t.grad_fn(); })
      .def_property("grad", &grad_of,
                    [](const Tensor& t, py::object obj) { set_grad(t, obj.is_none() ? Tensor() : obj.cast<Tensor>()); })
      .def_property_readonly("retains_grad", &retains_grad)
      .def("detach", [](const Tensor& t) { return detach(t); })
      .def("detach_",
           [](const Tensor& t) {
             detach_(t);
             return t;
           })
      .def_property("data", &data_of, &set_data)
      .def("_view_dtype", &view_dtype)
      .def("clone", &clone)
      .def("contiguous", &contiguous)
      .def("__hash__", [](py::handle self) { return reinterpret_cast<intptr_t>(self.ptr()); })
      // arithmetic: the hot path of user code
      .def("__add__", &binop<add>)
      .def("__radd__", &binop<add, true>)
      .def("__sub__", &binop<sub>)
      .def("__rsub__", &binop<sub, true>)
      .def("__mul__", &binop<mul>)
      .def("__rmul__", &binop<mul, true>)
      .def("__truediv__", &binop<div>)
      .def("__rtruediv__", &binop<div, true>)
      .def("__mod__", &binop<remainder>)
      .def("__rmod__", &binop<remainder, true>)
      .def("__pow__",
           [](const Tensor& self, py::handle other) -> py::object {
             Tensor o = as_operand(self, other);
             if (!o.defined()) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
             return py::cast(power(self, o, other));
           })
      .def("__rpow__", &binop<pow, true>)
      .def("__matmul__", [](const Tensor& self, py::handle other) { return matmul_operand(self, other, false); })
      .def("__rmatmul__", [](const Tensor& self, py::handle other) { return matmul_operand(self, other, true); })
      .def("__eq__", &binop<eq>)
      .def("__ne__", &binop<ne>)
      .def("__lt__", &binop<lt>)
      .def("__le__", &binop<le>)
      .def("__gt__", &binop<gt>)
      .def("__ge__", &binop<ge>)
      .def("__neg__", &neg)
      .def("__abs__", &abs)
      .def("__iadd__", &inplace<add_>)
      .def("__isub__", &inplace<sub_>)
      .def("__imul__", &inplace<mul_>)
      .def("__itruediv__", &inplace<div_>)
      .def("add_", &inplace<add_>)
      .def("sub_", &inplace<sub_>)
      .def("mul_", &inplace<mul_>)
      .def("div_", &inplace<div_>)
      .def("fill_", [](Tensor t, double v) { return fill_(t, v); })
      .def("zero_", [](Tensor t) { return zero_(t); })
      .def("copy_", [](Tensor t, const Tensor& src) { return copy_(t, src); });

  // The op list as methods (Note [The op list]): x.exp(), x.atan2(y), x.eq(y) ...
#define PYAD_METHOD_UNARY(name, F, D) cls.def(#name, &unary_op<name>);
#define PYAD_METHOD_BINARY(name, F, D)                                                                     \
  cls.def(                                                                                                 \
      #name, [](const Tensor& self, py::handle other) { return binary_method<name>(#name, self, other); }, \
      py::arg("other"));
  PYAD_UNARY_OPS(PYAD_METHOD_UNARY)
  PYAD_BINARY_OPS(PYAD_METHOD_BINARY)
  PYAD_COMPARE_OPS(PYAD_METHOD_BINARY)
#undef PYAD_METHOD_UNARY
#undef PYAD_METHOD_BINARY
}

}  // namespace pyad::python
