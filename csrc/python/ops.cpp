// Module-level op functions (pyad._C.<op>); pyad/ re-exports them with
// torch's argument conventions.
#include "python/bind.h"
#include "kernels/kernels.h"
#include "kernels/math.h"
#include "ops/ops.h"

namespace pyad::python {

Tensor operand(const Tensor& like, py::handle obj, const char* op) {
  Tensor t = as_operand(like, obj);
  if (!t.defined() && has_pyad_function(obj))
    throw py::reference_cast_error();  // Note [The __pyad_function__ protocol]
  PYAD_CHECK(t.defined(), TypeError, "[", op, "] expected a Tensor or a number, got ",
             py::str(py::type::handle_of(obj).attr("__name__")).cast<std::string>());
  return t;
}

namespace {

std::vector<IndexStep> steps_arg(const py::list& steps) {
  std::vector<IndexStep> out;
  for (auto s : steps) {
    auto t = s.cast<py::tuple>();
    IndexStep st{static_cast<IndexStep::Kind>(t[0].cast<int>()), t[1].cast<int64_t>()};
    if (t.size() > 2) st.start = t[2].cast<int64_t>();
    if (t.size() > 3) {
      st.stop = t[3].cast<int64_t>();
      st.step = t[4].cast<int64_t>();
    }
    out.push_back(st);
  }
  return out;
}

}  // namespace

void init_ops(py::module_& m) {
  // creation
  m.def("full", [](const Shape& s, double v, DType dt, Device d) { return full(s, v, dt, d); });
  m.def("zeros", [](const Shape& s, DType dt, Device d) { return zeros(s, dt, d); });
  m.def("ones", [](const Shape& s, DType dt, Device d) { return ones(s, dt, d); });
  m.def("eye", [](int64_t n, int64_t k, DType dt, Device d) { return eye(n, k, dt, d); });
  m.def("arange", [](double a, double b, double s, DType dt, Device d) { return arange(a, b, s, dt, d); });
  m.def("rand", [](const Shape& s, DType dt, Device d) { return rand(s, dt, d); });
  m.def("randn", [](const Shape& s, DType dt, Device d) { return randn(s, dt, d); });
  m.def("empty", [](const Shape& s, DType dt, Device d) { return empty(s, dt, d); });
  m.def("manual_seed", [](uint64_t seed) { kernels::manual_seed(seed); });
  m.def("get_rng_state", [] { return py::bytes(kernels::rng_state()); });
  m.def("set_rng_state", [](const py::bytes& s) { kernels::set_rng_state(std::string(s)); });
  // The uniform both backends' rand builds from 64 random bits, so a test can check its extremes directly.
  m.def("_uniform01_from_bits", [](uint64_t bits, DType dt) {
    PYAD_CHECK(is_floating(dt), TypeError, "[_uniform01_from_bits] expected a floating dtype");
    return dt == DType::Float32 ? static_cast<double>(math::uniform01_from_bits<float>(bits))
                                : math::uniform01_from_bits<double>(bits);
  });
  m.def("set_num_threads", [](int n) {
    PYAD_CHECK(n >= 1, ValueError, "[set_num_threads] expected a positive thread count, got ", n);
    kernels::set_blas_threads(n);
  });
  m.def("get_num_threads", [] { return kernels::blas_threads(); });
  // The CPU kernels' parallel threshold in bytes touched (Note [CPU kernel threads]); returns the old one.
  m.def("_set_parallel_min_bytes", [](int64_t bytes) { return kernels::set_parallel_min_bytes(bytes); });

  // elementwise: the op list (Note [The op list])
#define PYAD_BIND_UNARY(name, F, D) def_op(m, #name, &unary_op<pyad::name>, py::arg("input"));
#define PYAD_BIND_BINARY(name, F, D)                                                                               \
  def_op(                                                                                                          \
      m, #name, [](py::handle a, py::handle b) { return binary_call<pyad::name>(#name, a, b); }, py::arg("input"), \
      py::arg("other"));
  PYAD_UNARY_OPS(PYAD_BIND_UNARY)
  PYAD_BINARY_OPS(PYAD_BIND_BINARY)
  PYAD_COMPARE_OPS(PYAD_BIND_BINARY)
#undef PYAD_BIND_UNARY
#undef PYAD_BIND_BINARY
  m.def("matmul", [](const Tensor& a, const Tensor& b) {
    py::gil_scoped_release nogil;
    return matmul(a, b);
  });
  m.def("outer", &pyad::outer);
  // where and (issue 15) safe_where, whose backward pass runs with strong zeros: one body for both.
  for (bool safe : {false, true}) {
    m.def(safe ? "safe_where" : "where", [safe](const Tensor& c, py::handle a, py::handle b) {
      py::detail::make_caster<Tensor> ca, cb;
      bool ta = !a.is_none() && ca.load(a, false), tb = !b.is_none() && cb.load(b, false);
      if (!ta && !tb && (has_pyad_function(a) || has_pyad_function(b)))
        throw py::reference_cast_error();  // Note [The __pyad_function__ protocol]
      PYAD_CHECK(ta || tb, TypeError, "[where] expected at least one of input and other to be a Tensor");
      Tensor A = ta ? py::detail::cast_op<Tensor>(ca) : Tensor(), B = tb ? py::detail::cast_op<Tensor>(cb) : Tensor();
      if (!ta) A = operand(B, a, "where");
      if (!tb) B = operand(A, b, "where");
      return safe ? safe_where(c, A, B) : where(c, A, B);
    });
  }
  m.def("clamp", [](const Tensor& x, std::optional<double> lo, std::optional<double> hi) { return clamp(x, lo, hi); });

  // reductions
  m.def("sum", [](const Tensor& x, py::handle dim, bool keepdim) {
    auto d = dims_arg(dim);
    ReleaseGilIfLarge nogil(x.numel());
    return sum(x, d, keepdim);
  });
  m.def("mean", [](const Tensor& x, py::handle dim, bool keepdim) {
    auto d = dims_arg(dim);
    ReleaseGilIfLarge nogil(x.numel());
    return mean(x, d, keepdim);
  });
  m.def("amax", [](const Tensor& x, py::handle dim, bool keepdim) {
    auto d = dims_arg(dim);
    ReleaseGilIfLarge nogil(x.numel());
    return amax(x, d, keepdim);
  });
  m.def("amin", [](const Tensor& x, py::handle dim, bool keepdim) {
    auto d = dims_arg(dim);
    ReleaseGilIfLarge nogil(x.numel());
    return amin(x, d, keepdim);
  });
  m.def("logsumexp", [](const Tensor& x, py::handle dim, bool keepdim) {
    auto d = dims_arg(dim);
    ReleaseGilIfLarge nogil(x.numel());
    return logsumexp(x, d, keepdim);
  });
  m.def("max_dim", [](const Tensor& x, int64_t dim, bool keepdim) { return max_dim(x, dim, keepdim); });
  m.def("min_dim", [](const Tensor& x, int64_t dim, bool keepdim) { return min_dim(x, dim, keepdim); });
  m.def("softmax", [](const Tensor& x, int64_t dim) {
    ReleaseGilIfLarge nogil(x.numel());
    return softmax(x, dim);
  });
  m.def("log_softmax", [](const Tensor& x, int64_t dim) {
    ReleaseGilIfLarge nogil(x.numel());
    return log_softmax(x, dim);
  });
  m.def("sum_to", [](const Tensor& x, const Shape& s) { return sum_to(x, s); });

  // shape ops
  m.def("reshape", [](const Tensor& x, const Shape& s) { return reshape(x, s); });
  m.def("view", [](const Tensor& x, const Shape& s) { return view(x, s); });
  m.def("transpose", &pyad::transpose);
  m.def("permute", &pyad::permute);
  m.def("squeeze", [](const Tensor& x, std::optional<int64_t> d) { return squeeze(x, d); });
  m.def("unsqueeze", &pyad::unsqueeze);
  m.def("expand", [](const Tensor& x, const Shape& s) { return expand(x, s); });
  m.def("cat", [](const TensorList& xs, int64_t d) { return cat(xs, d); });
  m.def("stack", [](const TensorList& xs, int64_t d) { return stack(xs, d); });
  m.def("to_dtype", &pyad::to_dtype);
  m.def("to_device", &pyad::to_device);
  // A fresh copy (never the input itself), converted and moved as asked.
  m.def("copy_to", [](const Tensor& x, DType dt, Device d) { return copy_op(x, dt, d, "ToCopyBackward0", false); });
  m.def("index", [](const Tensor& x, const py::list& steps) { return index(x, steps_arg(steps)); });
  m.def("index_put_", [](Tensor x, const py::list& steps, py::handle value) {
    Tensor v = operand(x, value, "setitem");
    return index_put_(x, steps_arg(steps), v);
  });
}

}  // namespace pyad::python
