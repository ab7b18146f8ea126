// Zero-copy exchange with NumPy (buffer protocol) and DLPack.
#include <pybind11/numpy.h>
#include "python/bind.h"
#include "core/storage.h"
#include "core/device_runtime.h"
#include "ops/ops.h"

namespace pyad::python {

namespace {

// ---- DLPack (v0.8 ABI, the layout every producer still speaks) ----
struct DLDevice {
  int32_t device_type;
  int32_t device_id;
};
struct DLDataType {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
};
struct DLTensor {
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;
  int64_t* strides;
  uint64_t byte_offset;
};
struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor*);
};
// DLPack >= 1.0: versioned, with flags (no read-only flag: consumers may write, as with torch).
struct DLPackVersion {
  uint32_t major;
  uint32_t minor;
};
struct DLManagedTensorVersioned {
  DLPackVersion version;
  void* manager_ctx;
  void (*deleter)(DLManagedTensorVersioned*);
  uint64_t flags;
  DLTensor dl_tensor;
};
constexpr uint64_t kDLReadOnly = 1;
enum { kDLInt = 0, kDLUInt = 1, kDLFloat = 2, kDLBool = 6 };
enum { kDLCPU = 1, kDLCUDA = 2 };

struct Exported {
  Tensor tensor;
  Shape shape, strides;
  DLManagedTensor managed;
  DLManagedTensorVersioned versioned;
};

DLDataType to_dl(DType d) {
  switch (d) {
    case DType::Float32: return {kDLFloat, 32, 1};
    case DType::Float64: return {kDLFloat, 64, 1};
    case DType::Int64: return {kDLInt, 64, 1};
    case DType::Bool: return {kDLBool, 8, 1};
  }
  return {};
}

DType from_dl(DLDataType t) {
  if (t.lanes == 1) {
    if (t.code == kDLFloat && t.bits == 32) return DType::Float32;
    if (t.code == kDLFloat && t.bits == 64) return DType::Float64;
    if (t.code == kDLInt && t.bits == 64) return DType::Int64;
    if (t.code == kDLBool && t.bits == 8) return DType::Bool;
  }
  throw TypeError(cat_str("[from_dlpack] unsupported dtype (code ", int(t.code), ", bits ", int(t.bits), ", lanes ",
                          t.lanes, "): pyad holds float32, float64, int64 and bool"));
}

void fill_dl_tensor(Exported* e, DLTensor& d) {
  const Tensor& t = e->tensor;
  d.data = t->storage->data;
  d.byte_offset = static_cast<uint64_t>(t->offset) * itemsize(t.dtype());
  d.device = {t.device().is_cpu() ? kDLCPU : kDLCUDA, t.device().is_cpu() ? 0 : t.device().index};
  d.ndim = static_cast<int32_t>(t.ndim());
  d.dtype = to_dl(t.dtype());
  d.shape = e->shape.data();
  d.strides = e->strides.data();
}

py::capsule to_dlpack(const Tensor& t, bool versioned) {
  auto* e = new Exported{t, t.shape(), t.strides(), {}, {}};
  if (versioned) {
    fill_dl_tensor(e, e->versioned.dl_tensor);
    e->versioned.version = {1, 0};
    e->versioned.flags = 0;
    e->versioned.manager_ctx = e;
    e->versioned.deleter = [](DLManagedTensorVersioned* m) { delete static_cast<Exported*>(m->manager_ctx); };
    return py::capsule(&e->versioned, "dltensor_versioned", [](PyObject* cap) {
      if (PyCapsule_IsValid(cap, "dltensor_versioned")) {
        auto* m = static_cast<DLManagedTensorVersioned*>(PyCapsule_GetPointer(cap, "dltensor_versioned"));
        if (m && m->deleter) m->deleter(m);
      }
    });
  }
  fill_dl_tensor(e, e->managed.dl_tensor);
  e->managed.manager_ctx = e;
  e->managed.deleter = [](DLManagedTensor* m) { delete static_cast<Exported*>(m->manager_ctx); };
  // A capsule nobody consumed frees the tensor it exports.
  return py::capsule(&e->managed, "dltensor", [](PyObject* cap) {
    if (PyCapsule_IsValid(cap, "dltensor")) {
      auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(cap, "dltensor"));
      if (m && m->deleter) m->deleter(m);
    }
  });
}

Tensor from_dlpack_capsule(py::capsule cap) {
  const DLTensor* dp = nullptr;
  std::shared_ptr<void> owner;
  if (PyCapsule_IsValid(cap.ptr(), "dltensor_versioned")) {
    auto* m = static_cast<DLManagedTensorVersioned*>(PyCapsule_GetPointer(cap.ptr(), "dltensor_versioned"));
    PYAD_CHECK(m->version.major == 1, ValueError, "[from_dlpack] unsupported DLPack version ", m->version.major);
    PyCapsule_SetName(cap.ptr(), "used_dltensor_versioned");
    owner = std::shared_ptr<void>(m, [](void* p) {
      auto* mt = static_cast<DLManagedTensorVersioned*>(p);
      if (mt->deleter) mt->deleter(mt);
    });
    dp = &m->dl_tensor;
  } else {
    PYAD_CHECK(PyCapsule_IsValid(cap.ptr(), "dltensor"), ValueError,
               "[from_dlpack] expected an unconsumed 'dltensor' or 'dltensor_versioned' capsule");
    auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(cap.ptr(), "dltensor"));
    PyCapsule_SetName(cap.ptr(), "used_dltensor");
    owner = std::shared_ptr<void>(m, [](void* p) {
      auto* mt = static_cast<DLManagedTensor*>(p);
      if (mt->deleter) mt->deleter(mt);
    });
    dp = &m->dl_tensor;
  }
  const DLTensor& d = *dp;
  PYAD_CHECK(d.device.device_type == kDLCPU || d.device.device_type == kDLCUDA, RuntimeError,
             "[from_dlpack] only CPU and CUDA memory can be imported (DLPack device type ", d.device.device_type, ")");
  Device dev{};
  if (d.device.device_type == kDLCUDA) {
    dev = Device{DeviceType::CUDA, d.device.device_id};
    PYAD_CHECK(gpu::is_available(), RuntimeError, "[from_dlpack] the array is on ", dev.str(),
               " but CUDA is not available: ", gpu::unavailable_reason());
  }
  DType dt = from_dl(d.dtype);
  auto impl = std::make_shared<TensorImpl>();
  impl->shape.assign(d.shape, d.shape + d.ndim);
  impl->strides = d.strides ? Shape(d.strides, d.strides + d.ndim) : contiguous_strides(impl->shape);
  impl->dtype = dt;
  char* base = static_cast<char*>(d.data) + d.byte_offset;
  impl->storage = borrow(base, 0, dev, owner);
  return Tensor(std::move(impl));
}

// A CPU tensor's array shares its memory; a GPU tensor's is a host copy (made after its kernels finish).
py::array to_numpy(const Tensor& t0) {
  PYAD_CHECK(!t0.requires_grad(), RuntimeError,
             "[numpy] Can't call numpy() on Tensor that requires grad. Use "
             "tensor.detach().numpy() instead.");
  const Tensor t = t0.device().is_cpu() ? t0 : to_device(t0, Device{});
  py::dtype dt;
  switch (t.dtype()) {
    case DType::Float32: dt = py::dtype::of<float>(); break;
    case DType::Float64: dt = py::dtype::of<double>(); break;
    case DType::Int64: dt = py::dtype::of<int64_t>(); break;
    case DType::Bool: dt = py::dtype("bool"); break;
  }
  std::vector<py::ssize_t> strides;
  for (auto s : t.strides()) strides.push_back(s * static_cast<py::ssize_t>(itemsize(t.dtype())));
  // The capsule keeps the storage alive as long as the array (and its views) live.
  auto* keep = new Tensor(detach(t));
  py::capsule base(keep, [](void* p) { delete static_cast<Tensor*>(p); });
  return py::array(dt, std::vector<py::ssize_t>(t.shape().begin(), t.shape().end()), strides, t.raw_data(), base);
}

Tensor from_numpy(py::array a) {
  const char kind = a.dtype().kind();
  const auto size = a.dtype().itemsize();
  DType dt;
  if (kind == 'f' && size == 4) dt = DType::Float32;
  else if (kind == 'f' && size == 8) dt = DType::Float64;
  else if (kind == 'i' && size == 8) dt = DType::Int64;
  else if (kind == 'b') dt = DType::Bool;
  else
    throw TypeError(cat_str("[from_numpy] can't convert a NumPy array of dtype ",
                            py::str(a.dtype()).cast<std::string>(), ": pyad holds float32, float64, int64 and bool"));
  PYAD_CHECK(a.dtype().attr("byteorder").cast<std::string>() != ">", TypeError,
             "[from_numpy] big-endian arrays are not supported");
  auto impl = std::make_shared<TensorImpl>();
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    impl->shape.push_back(a.shape(i));
    PYAD_CHECK(a.strides(i) % static_cast<py::ssize_t>(size) == 0, ValueError,
               "[from_numpy] array strides are not a multiple of the element size");
    impl->strides.push_back(a.strides(i) / static_cast<py::ssize_t>(size));
  }
  impl->dtype = dt;
  // Hold the array; drop that reference under the GIL whenever the storage dies.
  auto* ref = new py::object(a);
  std::shared_ptr<void> owner(ref, [](void* p) {
    py::gil_scoped_acquire gil;
    delete static_cast<py::object*>(p);
  });
  impl->storage = borrow(const_cast<void*>(a.data()), static_cast<size_t>(a.nbytes()), Device{}, owner);
  return Tensor(std::move(impl));
}

// Copying and pickling (pyad/_serialization.py): the whole storage behind t as a flat tensor of t's dtype
// (no history), and its identity, so that views copied together can share a copy.
py::tuple storage_of(const Tensor& t) {
  const int64_t n = static_cast<int64_t>(t->storage->nbytes / itemsize(t.dtype()));
  return py::make_tuple(reinterpret_cast<uintptr_t>(t->storage.get()), make_view(t, {n}, {1}, 0));
}

// A view of storage tensor `base` (from storage_of) with the given geometry, checked against the storage's
// extent: the geometry may come from a file.
Tensor view_of_storage(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset) {
  PYAD_CHECK(base.ndim() == 1 && base.strides()[0] == 1 && base->offset == 0, ValueError,
             "[unpickle] expected a flat storage tensor");
  PYAD_CHECK(shape.size() == strides.size(), ValueError, "[unpickle] shape ", shape_str(shape), " and strides ",
             shape_str(strides), " differ in length");
  PYAD_CHECK(offset >= 0, ValueError, "[unpickle] negative storage offset ", offset);  // (before the sums below)
  int64_t last = offset;
  bool empty_view = false;
  for (size_t i = 0; i < shape.size(); ++i) {
    PYAD_CHECK(shape[i] >= 0 && strides[i] >= 0, ValueError, "[unpickle] negative size or stride in shape ",
               shape_str(shape), " strides ", shape_str(strides));
    if (shape[i] == 0) empty_view = true;
    else
      PYAD_CHECK(strides[i] == 0 || shape[i] - 1 <= (INT64_MAX - last) / strides[i], ValueError,
                 "[unpickle] view extent overflows");
    if (shape[i] > 0) last += (shape[i] - 1) * strides[i];
  }
  PYAD_CHECK(offset >= 0 && (empty_view ? offset <= base.numel() : last < base.numel()), ValueError,
             "[unpickle] a view of shape ", shape_str(shape), ", strides ", shape_str(strides), " and offset ", offset,
             " does not fit in a storage of ", base.numel(), " elements");
  Tensor v = make_view(base, shape, strides, offset);
  v->is_view = false;
  return v;
}

}  // namespace

void init_interop(py::module_& m) {
  m.def("storage_of", &storage_of);
  m.def("view_of_storage", &view_of_storage);
  m.def("from_numpy", &from_numpy);
  m.def("to_numpy", &to_numpy);
  m.def("to_dlpack", &to_dlpack, py::arg("tensor"), py::arg("versioned") = false);
  m.def("from_dlpack_capsule", &from_dlpack_capsule);
}

}  // namespace pyad::python
