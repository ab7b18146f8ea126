// Bindings of indexing by tensors (csrc/ops/index_ops.cpp): the functions torch has (pyad.nonzero,
// index_put, index_select, take, scatter, scatter_add, index_add) with their Tensor methods, and the
// internal _index / _index_put_ that pyad/_indexing.py resolves x[key] and x[key] = v into.
#include "python/bind.h"
#include "ops/ops.h"

namespace pyad::python {

namespace {

// A value to write: a Tensor as it is, a Python number as a 0-d tensor of x's dtype (torch casts it).
Tensor value_arg(const Tensor& x, py::handle v, const char* op) {
  if (py::isinstance<TensorImpl>(v)) return py::cast<Tensor>(v);
  return to_dtype(operand(x, v, op), x.dtype());
}

// torch's `indices`: a tuple (or list) of tensors or None, one per leading dim.
TensorIndices indices_arg(py::handle obj, const char* op) {
  PYAD_CHECK(py::isinstance<py::tuple>(obj) || py::isinstance<py::list>(obj), TypeError, "[", op,
             "] indices must be a tuple of tensors (or None), got ",
             std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
  TensorIndices out;
  for (py::handle e : obj) {
    if (e.is_none()) {
      out.emplace_back(std::nullopt);
      continue;
    }
    PYAD_CHECK(py::isinstance<TensorImpl>(e), TypeError, "[", op, "] indices must be tensors (or None), got ",
               std::string(py::str(py::type::handle_of(e).attr("__name__"))));
    out.emplace_back(py::cast<Tensor>(e));
  }
  return out;
}

py::object nonzero_(const Tensor& x, bool as_tuple) {
  Tensor nz;
  {
    ReleaseGilIfLarge nogil(x.numel());
    nz = nonzero(x);
  }
  if (!as_tuple) return py::cast(nz);
  // torch: a 0-d input counts as 1-d here.
  const int64_t nd = std::max<int64_t>(x.ndim(), 1);
  if (x.ndim() == 0) nz = reshape(nonzero(reshape(x, {1})), {nz.shape()[0], 1});
  py::tuple out(nd);
  for (int64_t d = 0; d < nd; ++d) out[d] = py::cast(contiguous(select(nz, 1, d)));
  return out;
}

}  // namespace

void init_ops_index(py::module_& m) {
  auto cls = py::reinterpret_borrow<py::class_<TensorImpl, std::shared_ptr<TensorImpl>>>(m.attr("Tensor"));

  m.def(
      "_index",
      [](const Tensor& x, const TensorIndices& idx, const std::string& op) {
        ReleaseGilIfLarge nogil(x.numel());
        return index_tensor(x, idx, op.c_str());
      },
      py::arg("input"), py::arg("indices"), py::arg("op") = "index",
      "x indexed by one entry per leading dim: an int64 tensor, a bool mask, or None (the whole dim).");
  m.def(
      "_index_put_",
      [](Tensor x, const TensorIndices& idx, py::handle v, bool accumulate, const std::string& op) {
        Tensor value = value_arg(x, v, op.c_str());
        ReleaseGilIfLarge nogil(value.numel());
        return index_put_tensor_(x, idx, value, accumulate, op.c_str());
      },
      py::arg("input"), py::arg("indices"), py::arg("values"), py::arg("accumulate") = false,
      py::arg("op") = "index_put_");

  def_op(m, "nonzero", &nonzero_, py::arg("input"), py::kw_only(), py::arg("as_tuple") = false,
         "The (n, ndim) int64 coordinates of input's nonzero elements (as_tuple: one 1-d tensor per dim).");
  cls.def("nonzero", &nonzero_, py::kw_only(), py::arg("as_tuple") = false, "See pyad.nonzero.");

  auto index_put_ = [](Tensor x, py::handle idx, py::handle v, bool accumulate) {
    Tensor value = value_arg(x, v, "index_put_");
    return index_put_tensor_(x, indices_arg(idx, "index_put_"), value, accumulate, "index_put_");
  };
  auto index_put_out = [](const Tensor& x, py::handle idx, py::handle v, bool accumulate) {
    return index_put(x, indices_arg(idx, "index_put"), value_arg(x, v, "index_put"), accumulate);
  };
  def_op(m, "index_put", index_put_out, py::arg("input"), py::arg("indices"), py::arg("values"),
         py::arg("accumulate") = false, "A copy of input with values written (accumulate: added) at indices.");
  cls.def("index_put", index_put_out, py::arg("indices"), py::arg("values"), py::arg("accumulate") = false,
          "See pyad.index_put.");
  cls.def("index_put_", index_put_, py::arg("indices"), py::arg("values"), py::arg("accumulate") = false,
          "input[indices] = values (accumulate: +=) in place, as torch's Tensor.index_put_.");

  auto index_select_ = [](const Tensor& x, int64_t dim, const Tensor& index) {
    ReleaseGilIfLarge nogil(index.numel());
    return index_select(x, dim, index);
  };
  def_op(m, "index_select", index_select_, py::arg("input"), py::arg("dim"), py::arg("index"),
         "The entries of input along dim at a 1-d int64 index.");
  cls.def("index_select", index_select_, py::arg("dim"), py::arg("index"), "See pyad.index_select.");

  auto take_ = [](const Tensor& x, const Tensor& index) {
    ReleaseGilIfLarge nogil(index.numel());
    return take(x, index);
  };
  def_op(m, "take", take_, py::arg("input"), py::arg("index"),
         "input flattened, read at index (of any shape; the result has index's shape).");
  cls.def("take", take_, py::arg("index"), "See pyad.take.");

  auto scatter_out = [](const Tensor& x, int64_t dim, const Tensor& index, py::handle src) {
    Tensor s = value_arg(x, src, "scatter");
    ReleaseGilIfLarge nogil(index.numel());
    return scatter(x, dim, index, s);
  };
  def_op(m, "scatter", scatter_out, py::arg("input"), py::arg("dim"), py::arg("index"), py::arg("src"),
         "A copy of input with out[..., index[..., j, ...], ...] = src[..., j, ...] along dim (src: a tensor or a "
         "number), as torch.scatter.");
  cls.def("scatter", scatter_out, py::arg("dim"), py::arg("index"), py::arg("src"), "See pyad.scatter.");
  cls.def(
      "scatter_",
      [](Tensor x, int64_t dim, const Tensor& index, py::handle src) {
        Tensor s = value_arg(x, src, "scatter_");
        ReleaseGilIfLarge nogil(index.numel());
        return scatter_(x, dim, index, s);
      },
      py::arg("dim"), py::arg("index"), py::arg("src"),
      "pyad.scatter written into input in place (src: a tensor or a number), with no copy of input.");

  cls.def(
      "masked_fill_",
      [](Tensor x, const Tensor& mask, py::handle value) {
        Tensor v = value_arg(x, value, "masked_fill_");
        const bool tensor_value = py::isinstance<TensorImpl>(value);  // (Python is asked before the GIL goes)
        ReleaseGilIfLarge nogil(x.numel());
        return masked_fill_(x, mask, v, tensor_value);
      },
      py::arg("mask"), py::arg("value"),
      "value (a number or a 0-d tensor) written into input in place where mask (broadcast to input) is True.");

  auto scatter_add_out = [](const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
    ReleaseGilIfLarge nogil(index.numel());
    return scatter_add(x, dim, index, src);
  };
  def_op(m, "scatter_add", scatter_add_out, py::arg("input"), py::arg("dim"), py::arg("index"), py::arg("src"),
         "A copy of input with src added along dim at index (repeated indices accumulate), as torch.scatter_add.");
  cls.def("scatter_add", scatter_add_out, py::arg("dim"), py::arg("index"), py::arg("src"), "See pyad.scatter_add.");
  cls.def(
      "scatter_add_",
      [](Tensor x, int64_t dim, const Tensor& index, const Tensor& src) {
        ReleaseGilIfLarge nogil(index.numel());
        return scatter_add_(x, dim, index, src);
      },
      py::arg("dim"), py::arg("index"), py::arg("src"), "pyad.scatter_add written into input in place.");

  auto index_add_out = [](const Tensor& x, int64_t dim, const Tensor& index, const Tensor& source, double alpha) {
    ReleaseGilIfLarge nogil(source.numel());
    return index_add(x, dim, index, source, alpha);
  };
  def_op(m, "index_add", index_add_out, py::arg("input"), py::arg("dim"), py::arg("index"), py::arg("source"),
         py::kw_only(), py::arg("alpha") = 1.0,
         "A copy of input with alpha * source added along dim at a 1-d int64 index (repeats accumulate).");
  cls.def("index_add", index_add_out, py::arg("dim"), py::arg("index"), py::arg("source"), py::kw_only(),
          py::arg("alpha") = 1.0, "See pyad.index_add.");
  cls.def(
      "index_add_",
      [](Tensor x, int64_t dim, const Tensor& index, const Tensor& source, double alpha) {
        ReleaseGilIfLarge nogil(source.numel());
        return index_add_(x, dim, index, source, alpha);
      },
      py::arg("dim"), py::arg("index"), py::arg("source"), py::kw_only(), py::arg("alpha") = 1.0,
      "pyad.index_add written into input in place.");
}

}  // namespace pyad::python
