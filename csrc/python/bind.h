#pragma once
// Shared by the binding files: the Tensor <-> Python caster (an undefined
// Tensor is returned as None; the Python object wraps the TensorImpl, so
// `x.grad is x.grad` holds while the object lives) and the init functions.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <optional>
#include "core/tensor.h"
#include "ops/ops.h"
#include "python/node_wrapper.h"

namespace py = pybind11;

namespace pybind11::detail {
template <>
struct type_caster<pyad::Tensor> {
  PYBIND11_TYPE_CASTER(pyad::Tensor, const_name("Tensor"));
  using Holder = std::shared_ptr<pyad::TensorImpl>;
  // None is not a Tensor: functions that take an optional tensor take a py::object instead.
  bool load(handle src, bool convert) {
    if (src.is_none()) return false;
    make_caster<Holder> inner;
    if (!inner.load(src, convert)) return false;
    value = pyad::Tensor(cast_op<Holder>(inner));
    return true;
  }
  static handle cast(const pyad::Tensor& t, return_value_policy policy, handle parent) {
    if (!t.defined()) return none().release();
    return make_caster<Holder>::cast(t.impl(), policy, parent);
  }
};

// A node goes to Python as its one persistent wrapper (Note [Python wrappers of nodes]).
template <>
struct type_caster<std::shared_ptr<pyad::Node>> : copyable_holder_caster<pyad::Node, std::shared_ptr<pyad::Node>> {
  static constexpr auto name = const_name("Node | None");
  static handle cast(const std::shared_ptr<pyad::Node>& n, return_value_policy, handle) {
    return pyad::python::node_to_python(n);
  }
};
}  // namespace pybind11::detail

namespace pyad::python {

// Note [Releasing the GIL]
// An op on a large operand runs without the GIL, so that other Python threads run meanwhile (backward and
// matmul always do). Everything in the core that calls into Python takes the GIL first: custom Functions,
// hooks, checkpoint recomputation, the anomaly-mode site hook, and the deleters of Python-owned memory.
// Small ops keep it: releasing and retaking costs more than they do.
constexpr int64_t kReleaseGilNumel = int64_t(1) << 15;
struct ReleaseGilIfLarge {
  std::optional<py::gil_scoped_release> release;
  explicit ReleaseGilIfLarge(int64_t numel) {
    if (numel >= kReleaseGilNumel) release.emplace();
  }
};

// A unary op bound so that it releases the GIL on large inputs.
template <Tensor (*F)(const Tensor&)>
Tensor unary_op(const Tensor& x) {
  ReleaseGilIfLarge nogil(x.numel());
  return F(x);
}

// Note [The op list] (kernels/math.h): the op functions bound with def_op are listed in _C.__all__, which
// pyad/_functions.py re-exports as they are (and the type stub lists).
std::vector<std::string>& exported_ops();
template <class Func, class... Extra>
void def_op(py::module_& m, const char* name, Func&& f, const Extra&... extra) {
  m.def(name, std::forward<Func>(f), extra...);
  exported_ops().emplace_back(name);
}

void init_tensor(py::module_& m);
void init_ops(py::module_& m);
void init_ops_more(py::module_& m);  // scans and matrix-shape ops (ops_more.cpp)
void init_ops_sort(py::module_& m);  // sort, argsort, topk, argmax, argmin, gather (ops_sort.cpp)
void init_ops_index(py::module_& m);  // indexing by tensors, nonzero, scatter, index_select ... (ops_index.cpp)
void init_autograd(py::module_& m);
void init_interop(py::module_& m);
void init_function(py::module_& m);
void init_ops_nn(py::module_& m);  // the fused ops of the training loop (ops_nn.cpp)
void init_cuda(py::module_& m);
void init_linalg(py::module_& m);  // the LAPACK / cuSOLVER primitives under pyad.linalg (linalg.cpp)

// Note [The __pyad_function__ protocol]
// A Python type that defines the classmethod __pyad_function__ (torch's __torch_function__ contract: called as
// cls.__pyad_function__(func, types, args, kwargs), NotImplemented passes to the next type) takes over any _C
// function called with one of its instances among the arguments, or inside a list or tuple argument (vmap's
// BatchedTensor, the sparsity tracer). Every _C function gets a last overload that takes anything and calls the
// hook (add_pyad_function_fallbacks, run once the module is built): it is tried only after the typed overloads
// failed to load their arguments, so the fast path never sees it, and with no hook among the arguments it
// passes (reference_cast_error), so pybind11 tries the typed overloads with conversions and then raises its
// usual TypeError. Bindings that take a py::handle and convert it themselves (operand, the autograd functions'
// tensor lists) throw reference_cast_error when the object has the hook, to reach the fallback the same way.
bool has_pyad_function(py::handle obj);
void add_pyad_function_fallbacks(py::module_& m);
void init_sites(py::module_& m);  // Note [Source sites] (core/site.h): python/sites.cpp
// "file.py:LINE in function" of the innermost frame outside pyad running now ("" if none).
std::string current_site();

// A Python number as a 0-d tensor of the dtype it takes next to `like` (torch's promotion for scalars);
// an undefined Tensor when `obj` is neither a Tensor nor a number.
Tensor as_operand(const Tensor& like, py::handle obj);
// The same as a TypeError naming op when `obj` is neither.
Tensor operand(const Tensor& like, py::handle obj, const char* op);
std::vector<int64_t> dims_arg(py::handle dim);  // None, int or sequence of ints
Shape shape_args(const py::args& args, const char* op);  // f(2, 3) or f((2, 3))

// The number fast path (ops/scalar_binary.cpp): F's NumberOp, if it has one, and a Python float or int (not
// bool, not out of int64's range) as a double; a floating tensor's result with either is number_op's.
template <Tensor (*F)(const Tensor&, const Tensor&)>
constexpr int number_op_index() {
  if constexpr (F == &pyad::add) return static_cast<int>(NumberOp::Add);
  else if constexpr (F == &pyad::sub) return static_cast<int>(NumberOp::Sub);
  else if constexpr (F == &pyad::mul) return static_cast<int>(NumberOp::Mul);
  else if constexpr (F == &pyad::div) return static_cast<int>(NumberOp::Div);
  else return -1;
}
bool number_value(py::handle obj, double* value);
// F(self, number) (or F(number, self) when reflected) through number_op when it applies: true and `out` set.
template <Tensor (*F)(const Tensor&, const Tensor&)>
bool try_number_op(const Tensor& self, py::handle number, bool reflected, Tensor* out) {
  constexpr int op = number_op_index<F>();
  if constexpr (op < 0) {
    return false;
  } else {
    double v;
    if (!is_floating(self.dtype()) || !number_value(number, &v)) return false;
    ReleaseGilIfLarge nogil(self.numel());  // Note [Releasing the GIL]
    // s + x and s * x are x + s and x * s, whose node has the tensor's edge first, as torch's.
    const bool commutes = op == static_cast<int>(NumberOp::Add) || op == static_cast<int>(NumberOp::Mul);
    *out = number_op(static_cast<NumberOp>(op), self, v, reflected && !commutes);
    return true;
  }
}

// A binary op F whose second operand came from a Python number; pow specialises it, since an integer
// tensor to a negative integer number raises (pow_scalar), as torch.
template <Tensor (*F)(const Tensor&, const Tensor&)>
Tensor with_number(const Tensor& a, const Tensor& number) {
  return F(a, number);
}
template <>
inline Tensor with_number<&pyad::pow>(const Tensor& a, const Tensor& number) {
  return pow_scalar(a, number);
}

// A binary op called from Python: (Tensor | number, Tensor | number), at least one a Tensor.
template <Tensor (*F)(const Tensor&, const Tensor&)>
Tensor binary_call(const char* op, py::handle a, py::handle b) {
  py::detail::make_caster<Tensor> ca, cb;
  const bool ta = !a.is_none() && ca.load(a, false), tb = !b.is_none() && cb.load(b, false);
  if (!ta && !tb && (has_pyad_function(a) || has_pyad_function(b))) throw py::reference_cast_error();
  PYAD_CHECK(ta || tb, TypeError, "[", op, "] expected at least one Tensor argument, got ",
             py::str(py::type::handle_of(a).attr("__name__")).cast<std::string>(), " and ",
             py::str(py::type::handle_of(b).attr("__name__")).cast<std::string>());
  Tensor x = ta ? py::detail::cast_op<Tensor>(ca) : Tensor(), y = tb ? py::detail::cast_op<Tensor>(cb) : Tensor();
  if (Tensor r; ta != tb && try_number_op<F>(ta ? x : y, ta ? b : a, !ta, &r)) return r;
  if (!ta) x = operand(y, a, op);
  if (!tb) y = operand(x, b, op);
  ReleaseGilIfLarge nogil(std::max(x.numel(), y.numel()));  // Note [Releasing the GIL]
  return tb ? F(x, y) : with_number<F>(x, y);
}

// The same as a Tensor method: self.op(other).
template <Tensor (*F)(const Tensor&, const Tensor&)>
Tensor binary_method(const char* op, const Tensor& self, py::handle other) {
  py::detail::make_caster<Tensor> c;
  if (!other.is_none() && c.load(other, false)) {
    const Tensor& y = py::detail::cast_op<const Tensor&>(c);
    ReleaseGilIfLarge nogil(std::max(self.numel(), y.numel()));
    return F(self, y);
  }
  if (Tensor r; try_number_op<F>(self, other, false, &r)) return r;
  Tensor y = operand(self, other, op);
  ReleaseGilIfLarge nogil(std::max(self.numel(), y.numel()));
  return with_number<F>(self, y);
}

}  // namespace pyad::python
