// Bindings of sorting, selection and gather (csrc/ops/sort.cpp), each as a function pyad._C.<op> and a Tensor
// method, with torch's argument names and defaults. sort and topk return (values, indices) named tuples, as
// torch's return types.
#include "python/bind.h"
#include "ops/ops.h"

namespace pyad::python {

void init_ops_sort(py::module_& m) {
  auto cls = py::reinterpret_borrow<py::class_<TensorImpl, std::shared_ptr<TensorImpl>>>(m.attr("Tensor"));
  py::object namedtuple = py::module_::import("collections").attr("namedtuple");
  py::object sort_result = namedtuple("sort", py::make_tuple("values", "indices"));
  py::object topk_result = namedtuple("topk", py::make_tuple("values", "indices"));

  auto sort_ = [sort_result](const Tensor& x, int64_t dim, bool descending, bool stable) {
    std::tuple<Tensor, Tensor> r;
    {
      ReleaseGilIfLarge nogil(x.numel());  // Note [Releasing the GIL]
      r = sort(x, dim, descending, stable);
    }
    return sort_result(std::get<0>(r), std::get<1>(r));
  };
  def_op(m, "sort", sort_, py::arg("input"), py::arg("dim") = -1, py::arg("descending") = false,
         py::arg("stable") = false,
         "(values, indices) of input sorted along dim (NaN as the largest; the order of ties is always stable).");
  cls.def("sort", sort_, py::arg("dim") = -1, py::arg("descending") = false, py::arg("stable") = false,
          "See pyad.sort.");

  auto argsort_ = [](const Tensor& x, int64_t dim, bool descending, bool stable) {
    ReleaseGilIfLarge nogil(x.numel());
    return argsort(x, dim, descending, stable);
  };
  def_op(m, "argsort", argsort_, py::arg("input"), py::arg("dim") = -1, py::arg("descending") = false,
         py::arg("stable") = false, "The indices that sort input along dim (pyad.sort's indices).");
  cls.def("argsort", argsort_, py::arg("dim") = -1, py::arg("descending") = false, py::arg("stable") = false,
          "See pyad.argsort.");

  auto topk_ = [topk_result](const Tensor& x, int64_t k, int64_t dim, bool largest, bool sorted) {
    std::tuple<Tensor, Tensor> r;
    {
      ReleaseGilIfLarge nogil(x.numel());
      r = topk(x, k, dim, largest, sorted);
    }
    return topk_result(std::get<0>(r), std::get<1>(r));
  };
  def_op(m, "topk", topk_, py::arg("input"), py::arg("k"), py::arg("dim") = -1, py::arg("largest") = true,
         py::arg("sorted") = true,
         "(values, indices) of the k largest (largest=False: smallest) elements along dim, in sorted order.");
  cls.def("topk", topk_, py::arg("k"), py::arg("dim") = -1, py::arg("largest") = true, py::arg("sorted") = true,
          "See pyad.topk.");

  def_op(m, "argmax", &pyad::argmax, py::arg("input"), py::arg("dim") = py::none(), py::arg("keepdim") = false,
         "The index of the first largest element along dim (of the flattened input when dim is None).");
  cls.def("argmax", &pyad::argmax, py::arg("dim") = py::none(), py::arg("keepdim") = false, "See pyad.argmax.");
  def_op(m, "argmin", &pyad::argmin, py::arg("input"), py::arg("dim") = py::none(), py::arg("keepdim") = false,
         "The index of the first smallest element along dim (of the flattened input when dim is None).");
  cls.def("argmin", &pyad::argmin, py::arg("dim") = py::none(), py::arg("keepdim") = false, "See pyad.argmin.");

  auto gather_ = [](const Tensor& x, int64_t dim, const Tensor& index) {
    ReleaseGilIfLarge nogil(index.numel());
    return gather(x, dim, index);
  };
  def_op(m, "gather", gather_, py::arg("input"), py::arg("dim"), py::arg("index"),
         "out[i][j] = input[index[i][j]][j] (dim 0; likewise for any dim and rank), as torch.gather.");
  cls.def("gather", gather_, py::arg("dim"), py::arg("index"), "See pyad.gather.");
}

}  // namespace pyad::python
