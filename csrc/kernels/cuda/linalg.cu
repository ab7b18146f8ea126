// The linalg kernels on a GPU: cuSOLVER's dense LAPACK (getrf/getrs, potrf, geqrf/orgqr, syevd, gesvd) and
// cuBLAS's trsm, both loaded at run time (kernels/cuda/dynlib.h), never linked. Same entry points, layouts and
// results as cpu/lapack.cpp (Note [cuSOLVER on row-major batches]). Written against cuSOLVER 12's headers
// (CUDA 13) and compile-checked, but it has never run on a GPU: the op_db linalg rows' cuda mode is its test.
#include <algorithm>
#include <climits>
#include <mutex>
#include <vector>
#include "kernels/cuda/cublas.cuh"
#include "kernels/cuda/dynlib.h"
#include "kernels/cuda/linalg_backend.h"
#include "kernels/cuda/matmul_backend.h"
#include "kernels/linalg_batch.h"

// Note [cuSOLVER on row-major batches]
// cuSOLVER is column-major, as LAPACK is, and takes one matrix a call. The batch is looped on our one stream:
// cusolverDn has batched forms only for some routines (potrfBatched, syevjBatched for n <= 32, and cuBLAS's
// getrfBatched), each taking an array of device pointers and some restricted to small n or another algorithm,
// so one loop serves every routine with the LAPACK algorithm the CPU runs. The workspace is sized once per
// call and shared by the batch (the calls run in stream order); devInfo is one int per matrix, read back once.
// The layouts follow lapack.cpp: LU and Cholesky factor the column-major A^T that the row-major buffer is
// (so the pivots and factors are the CPU's, and potrf's 'U' is the row-major L); trsm solves the transposed
// problem with the other side and the other triangle; eigh's symmetric input needs no transpose (the row-major
// upper triangle is the column-major lower one) but its column-major eigenvectors do. gesvd wants rows >= cols:
// a wide or square A is handed over as the column-major A^T = V S U^T, whose U and V^T land, read row-major, in
// our Vh and U with no copy; a tall A, like QR's input, is transposed into a column-major scratch first.
namespace pyad::gpu {

namespace {
using SolverHandle = void*;

template <class T>
struct DnFns {  // cusolverDn's S or D entry points (cusolverDn.h, cuSOLVER 12); enums passed as int
  Status (*getrf_size)(SolverHandle, int, int, T*, int, int*);
  Status (*getrf)(SolverHandle, int, int, T*, int, T*, int*, int*);
  Status (*getrs)(SolverHandle, int, int, int, const T*, int, const int*, T*, int, int*);
  Status (*potrf_size)(SolverHandle, int, int, T*, int, int*);
  Status (*potrf)(SolverHandle, int, int, T*, int, T*, int, int*);
  Status (*geqrf_size)(SolverHandle, int, int, T*, int, int*);
  Status (*geqrf)(SolverHandle, int, int, T*, int, T*, T*, int, int*);
  Status (*orgqr_size)(SolverHandle, int, int, int, const T*, int, const T*, int*);
  Status (*orgqr)(SolverHandle, int, int, int, T*, int, const T*, T*, int, int*);
  Status (*syevd_size)(SolverHandle, int, int, int, const T*, int, const T*, int*);
  Status (*syevd)(SolverHandle, int, int, int, T*, int, T*, T*, int, int*);
  Status (*gesvd_size)(SolverHandle, int, int, int*);
  Status (*gesvd)(SolverHandle, signed char, signed char, int, int, T*, int, T*, T*, int, T*, int, T*, int, T*, int*);
};

struct Cusolver {
  Status (*create)(SolverHandle*);
  Status (*set_stream)(SolverHandle, cudaStream_t);
  DnFns<float> s;
  DnFns<double> d;
  SolverHandle handles[64] = {};
};

std::mutex g_mutex;
Cusolver* g_cusolver = nullptr;
std::string g_error = "not loaded yet";

template <class T>
bool load_fns(void* lib, char p, DnFns<T>& f) {
  auto sym = [&](const char* base, auto& out) {
    return find_symbol(lib, cat_str("cusolverDn", p, base).c_str(), "cuSOLVER", out, &g_error);
  };
  return sym("getrf_bufferSize", f.getrf_size) && sym("getrf", f.getrf) && sym("getrs", f.getrs) &&
         sym("potrf_bufferSize", f.potrf_size) && sym("potrf", f.potrf) && sym("geqrf_bufferSize", f.geqrf_size) &&
         sym("geqrf", f.geqrf) && sym("orgqr_bufferSize", f.orgqr_size) && sym("orgqr", f.orgqr) &&
         sym("syevd_bufferSize", f.syevd_size) && sym("syevd", f.syevd) && sym("gesvd_bufferSize", f.gesvd_size) &&
         sym("gesvd", f.gesvd);
}
}  // namespace

bool load_cusolver(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_cusolver) return true;
  void* lib = open_library(path, {"libcusolver.so.12", "libcusolver.so.11", "libcusolver.so"}, &g_error);
  if (!lib) return false;
  auto* c = new Cusolver();
  if (!find_symbol(lib, "cusolverDnCreate", "cuSOLVER", c->create, &g_error) ||
      !find_symbol(lib, "cusolverDnSetStream", "cuSOLVER", c->set_stream, &g_error) || !load_fns(lib, 'S', c->s) ||
      !load_fns(lib, 'D', c->d)) {
    delete c;
    return false;
  }
  g_cusolver = c;
  g_error.clear();
  return true;
}

std::string cusolver_error() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_error;
}

namespace {
constexpr const char* kHowToGet = "install it with pip install \"pyad[cuda]\", or move the tensors to the CPU (.cpu())";

// cuSOLVER, and in *h its handle of the current device on our stream; raises, naming the op, where it is not
// loaded.
Cusolver* solver(const char* op, SolverHandle* out) {
  std::lock_guard<std::mutex> lock(g_mutex);
  PYAD_CHECK(g_cusolver, RuntimeError, "[", op, "] pyad.linalg on a GPU needs cuSOLVER, which is not loaded (", g_error,
             "): ", kHowToGet);
  int dev = 0;
  PYAD_CUDA_CHECK(cudaGetDevice(&dev));
  *out = device_handle(*g_cusolver, dev, stream(), op, "cuSOLVER");
  return g_cusolver;
}
}  // namespace

}  // namespace pyad::gpu

namespace pyad::kernels::cuda {
using linalg::batch;
using linalg::cols;
using linalg::rows;

namespace {
enum { kEigValues = 0, kEigVectors = 1 };  // cusolverEigMode_t

template <class T>
const gpu::DnFns<T>& fns(const gpu::Cusolver& c) {
  if constexpr (std::is_same_v<T, double>) return c.d;
  else return c.s;
}

int dim(int64_t v, const char* op) {
  PYAD_CHECK(v <= INT_MAX, ValueError, "[", op, "] cuSOLVER takes matrix dims below 2^31, got ", v);
  return static_cast<int>(v);
}

void ok(gpu::Status st, const char* op, const char* routine) {
  PYAD_CHECK(st == 0, RuntimeError, "[", op, "] cuSOLVER's ", routine, " failed with status ", st);
}

// Scratch on a's device: n elements of a's dtype, or n ints (pyad has no int32 dtype: half as many int64s).
Tensor scratch(const Tensor& a, int64_t n) { return empty({std::max<int64_t>(n, 1)}, a.dtype(), a.device()); }
Tensor ints(const Tensor& a, int64_t n) { return empty({std::max<int64_t>((n + 1) / 2, 1)}, DType::Int64, a.device()); }
int* int_ptr(const Tensor& t) { return static_cast<int*>(t.raw_data()); }

// devInfo (nb ints on the device) -> info (host int64) where given; a negative one is a bad argument (ours).
void read_info(const Tensor& dev_info, int64_t nb, const Tensor* info, const char* op, const char* routine) {
  std::vector<int> h(static_cast<size_t>(nb));
  gpu::memcpy(h.data(), dev_info.raw_data(), h.size() * sizeof(int), gpu::CopyKind::DeviceToHost);
  for (int64_t i = 0; i < nb; ++i) {
    PYAD_CHECK(h[i] >= 0, RuntimeError, "[", op, "] cuSOLVER's ", routine, " rejected argument ", -h[i]);
    if (info) info->data<int64_t>()[i] = h[i];
  }
}

// LAPACK's 1-based pivots (host int64, nb x n) as cuSOLVER's device ints.
Tensor device_pivots(const Tensor& like, const Tensor& pivots, int64_t count) {
  std::vector<int> h(static_cast<size_t>(count));
  std::transform(pivots.data<int64_t>(), pivots.data<int64_t>() + count, h.begin(),
                 [](int64_t v) { return static_cast<int>(v); });
  Tensor d = ints(like, count);
  gpu::memcpy(d.raw_data(), h.data(), h.size() * sizeof(int), gpu::CopyKind::HostToDevice);
  return d;
}

enum Part { kAll, kUpper, kLower, kEye };

// out (nb, r, c) row-major: element (i, j) of matrix b is in[b * in_batch + i * rs + j * cs] where i < vr, j < vc
// and (i, j) lies in `part`, zero elsewhere (kEye: the identity, `in` unread). With (rs, cs) = (1, ld) it turns a
// column-major matrix into row-major and back; with in == out, (rs, cs) = (c, 1), it masks a triangle in place.
template <class T>
__global__ void relayout_kernel(T* out, int64_t nb, int64_t r, int64_t c, const T* in, int64_t in_batch, int64_t rs,
                                int64_t cs, int64_t vr, int64_t vc, Part part) {
  const int64_t total = nb * r * c;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = e % c, i = (e / c) % r, b = e / (r * c);
    if (part == kEye) {
      out[e] = T(i == j ? 1 : 0);
      continue;
    }
    const bool keep = i < vr && j < vc && (part == kAll || (part == kUpper ? j >= i : j <= i));
    out[e] = keep ? in[b * in_batch + i * rs + j * cs] : T(0);
  }
}

template <class T>
void relayout(T* out, int64_t nb, int64_t r, int64_t c, const T* in, int64_t in_batch, int64_t rs, int64_t cs,
              int64_t vr, int64_t vc, Part part = kAll) {
  const int64_t total = nb * r * c;
  if (total == 0) return;
  relayout_kernel<T>
      <<<gpu::grid_for(total), gpu::kThreads, 0, gpu::stream()>>>(out, nb, r, c, in, in_batch, rs, cs, vr, vc, part);
  gpu::check_launch("linalg");
}

template <class T>
T* ptr(const Tensor& t) {
  return static_cast<T*>(t.raw_data());
}

// The start every cuSOLVER entry point shares: cuSOLVER loaded (a clear error naming op where it cannot be), then
// body(tag, handle, T's routines) for t's float dtype T.
template <class Body>
void on_solver(const char* op, const Tensor& t, Body&& body) {
  gpu::SolverHandle h = nullptr;
  gpu::Cusolver* cs = gpu::solver(op, &h);
  PYAD_DISPATCH_FLOAT(t.dtype(), op, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    body(tag, h, fns<T>(*cs));
  });
}
}  // namespace

void lu_factor(const Tensor& a, const Tensor& pivots, const Tensor& info) {
  constexpr const char* op = "linalg.lu_factor";
  const int n = dim(rows(a), op);
  const int64_t nb = batch(a);
  if (nb == 0) return;
  on_solver(op, a, [&](auto* tag, gpu::SolverHandle h, const auto& f) {
    using T = std::remove_pointer_t<decltype(tag)>;
    int lwork = 0;
    ok(f.getrf_size(h, n, n, ptr<T>(a), n, &lwork), op, "getrf_bufferSize");
    Tensor work = scratch(a, lwork), ipiv = ints(a, nb * n), dinfo = ints(a, nb);
    for (int64_t i = 0; i < nb; ++i)
      ok(f.getrf(h, n, n, ptr<T>(a) + i * n * n, n, ptr<T>(work), int_ptr(ipiv) + i * n, int_ptr(dinfo) + i), op,
         "getrf");
    std::vector<int> p(static_cast<size_t>(nb * n));
    gpu::memcpy(p.data(), ipiv.raw_data(), p.size() * sizeof(int), gpu::CopyKind::DeviceToHost);
    std::copy(p.begin(), p.end(), pivots.data<int64_t>());
    read_info(dinfo, nb, &info, op, "getrf");
  });
}

void lu_solve(const Tensor& lu, const Tensor& pivots, const Tensor& b, bool adjoint) {
  constexpr const char* op = "linalg.lu_solve";
  const int n = dim(rows(lu), op), k = dim(cols(b), op);
  const int64_t nb = batch(b);
  if (nb == 0) return;
  Tensor ipiv = device_pivots(b, pivots, nb * n), dinfo = ints(b, nb);
  on_solver(op, b, [&](auto* tag, gpu::SolverHandle h, const auto& f) {
    using T = std::remove_pointer_t<decltype(tag)>;
    // The factors are A^T's: A x = b is (A^T)^T x = b, getrs' 'T'; A^T x = b is its 'N'.
    const int trans = adjoint ? gpu::kOpN : gpu::kOpT;
    // getrs wants b's columns column-major: a single column is the same in both layouts
    Tensor col = k > 1 ? scratch(b, nb * n * k) : b;
    if (k > 1) relayout(ptr<T>(col), nb, k, n, ptr<T>(b), int64_t(n) * k, 1, k, k, n);
    for (int64_t i = 0; i < nb; ++i)
      ok(f.getrs(h, trans, n, k, ptr<T>(lu) + i * n * n, n, int_ptr(ipiv) + i * n, ptr<T>(col) + i * n * k, n,
                 int_ptr(dinfo) + i),
         op, "getrs");
    if (k > 1) relayout(ptr<T>(b), nb, n, k, ptr<T>(col), int64_t(n) * k, 1, n, n, k);
  });
  read_info(dinfo, nb, nullptr, op, "getrs");
}

void lu_inverse(const Tensor& lu, const Tensor& pivots, const Tensor& info) {
  constexpr const char* op = "linalg.inv";
  const int n = dim(rows(lu), op);
  const int64_t nb = batch(lu);
  if (nb == 0) return;
  Tensor ipiv = device_pivots(lu, pivots, nb * n), dinfo = ints(lu, nb);
  PYAD_CUDA_CHECK(cudaMemsetAsync(dinfo.raw_data(), 0, nb * sizeof(int), gpu::stream()));  // for the skipped ones
  on_solver(op, lu, [&](auto* tag, gpu::SolverHandle h, const auto& f) {
    using T = std::remove_pointer_t<decltype(tag)>;
    // cuSOLVER has no getri: (A^T) X = I, getrs' 'N' on the factors of A^T, gives X = A^{-T} column-major, which
    // is A^{-1} read row-major.
    Tensor x = scratch(lu, nb * n * n);
    relayout<T>(ptr<T>(x), nb, n, n, nullptr, 0, 0, 0, 0, 0, kEye);
    for (int64_t i = 0; i < nb; ++i) {
      if (info.data<int64_t>()[i] != 0) continue;  // singular: the caller raises
      ok(f.getrs(h, gpu::kOpN, n, n, ptr<T>(lu) + i * n * n, n, int_ptr(ipiv) + i * n, ptr<T>(x) + i * n * n, n,
                 int_ptr(dinfo) + i),
         op, "getrs");
    }
    PYAD_CUDA_CHECK(
        cudaMemcpyAsync(lu.raw_data(), x.raw_data(), lu.numel() * sizeof(T), cudaMemcpyDeviceToDevice, gpu::stream()));
  });
  read_info(dinfo, nb, nullptr, op, "getrs");
}

void cholesky(const Tensor& a, const Tensor& info) {
  constexpr const char* op = "linalg.cholesky";
  const int n = dim(rows(a), op);
  const int64_t nb = batch(a);
  if (nb == 0) return;
  on_solver(op, a, [&](auto* tag, gpu::SolverHandle h, const auto& f) {
    using T = std::remove_pointer_t<decltype(tag)>;
    // The upper factor of the column-major A^T = A (the row-major lower triangle) is, read row-major, L.
    int lwork = 0;
    ok(f.potrf_size(h, gpu::kFillUpper, n, ptr<T>(a), n, &lwork), op, "potrf_bufferSize");
    Tensor work = scratch(a, lwork), dinfo = ints(a, nb);
    for (int64_t i = 0; i < nb; ++i)
      ok(f.potrf(h, gpu::kFillUpper, n, ptr<T>(a) + i * n * n, n, ptr<T>(work), lwork, int_ptr(dinfo) + i), op,
         "potrf");
    relayout(ptr<T>(a), nb, n, n, ptr<T>(a), int64_t(n) * n, n, 1, n, n, kLower);  // zero the strict upper part
    read_info(dinfo, nb, &info, op, "potrf");
  });
}

void triangular_solve(const Tensor& a, const Tensor& b, bool upper, bool transpose, bool unit, bool left) {
  constexpr const char* op = "linalg.solve_triangular";
  const int n = dim(rows(a), op), k = dim(left ? cols(b) : rows(b), op);
  const int64_t nb = batch(b);
  if (n == 0 || k == 0 || nb == 0) return;
  gpu::Handle h = nullptr;
  gpu::Cublas* cb = gpu::cublas_for_current_device(&h, /*for_matmul=*/false);
  PYAD_CHECK(cb, RuntimeError, "[", op, "] pyad.linalg on a GPU needs cuBLAS, which is not loaded (",
             gpu::cublas_error(), "): ", gpu::kHowToGet);
  // cuBLAS reads the row-major T as the column-major T^T (the other triangle) and B as B^T: T X = B is
  // X^T T^T = B^T, a solve from the other side with the same transpose flag.
  const int side = left ? gpu::kSideRight : gpu::kSideLeft;
  const int uplo = upper ? gpu::kFillLower : gpu::kFillUpper;
  const int trans = transpose ? gpu::kOpT : gpu::kOpN, diag = unit ? gpu::kDiagUnit : gpu::kDiagNonUnit;
  const int m_cm = left ? k : n, n_cm = left ? n : k;  // B^T is m_cm x n_cm, leading dim m_cm
  PYAD_DISPATCH_FLOAT(a.dtype(), op, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const T one = 1;
    for (int64_t i = 0; i < nb; ++i) {
      const T* ai = ptr<T>(a) + i * n * n;
      T* bi = ptr<T>(b) + i * n * k;
      gpu::Status st;
      if constexpr (std::is_same_v<T, double>)
        st = cb->dtrsm(h, side, uplo, trans, diag, m_cm, n_cm, &one, ai, n, bi, m_cm);
      else st = cb->strsm(h, side, uplo, trans, diag, m_cm, n_cm, &one, ai, n, bi, m_cm);
      PYAD_CHECK(st == 0, RuntimeError, "[", op, "] cuBLAS trsm failed with status ", st);
    }
  });
}

void qr(const Tensor& a, const Tensor& q, const Tensor& r) {
  constexpr const char* op = "linalg.qr";
  const int m = dim(rows(a), op), n = dim(cols(a), op), k = std::min(m, n);
  const int kq = dim(cols(q), op), kr = dim(rows(r), op);
  const int64_t nb = linalg::qr_batch(q, r);
  if (nb == 0) return;
  on_solver(op, a, [&](auto* tag, gpu::SolverHandle h, const auto& f) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const int64_t mn = int64_t(m) * n, mq = int64_t(m) * kq;
    Tensor c = scratch(a, nb * mn), tau = scratch(a, nb * std::max(k, 1)), dinfo = ints(a, nb);
    PYAD_CUDA_CHECK(cudaMemsetAsync(dinfo.raw_data(), 0, nb * sizeof(int), gpu::stream()));
    T* cp = ptr<T>(c);
    relayout(cp, nb, n, m, ptr<T>(a), mn, 1, n, n, m);  // A column-major (m x n, leading dim m)
    int lwork = 0;
    if (k > 0) {
      ok(f.geqrf_size(h, m, n, cp, m, &lwork), op, "geqrf_bufferSize");
      Tensor work = scratch(a, lwork);
      for (int64_t i = 0; i < nb; ++i)
        ok(f.geqrf(h, m, n, cp + i * mn, m, ptr<T>(tau) + i * std::max(k, 1), ptr<T>(work), lwork, int_ptr(dinfo) + i),
           op, "geqrf");
    }
    // R: the upper triangle of the first kr rows (zeros below it)
    relayout(ptr<T>(r), nb, kr, n, cp, mn, 1, m, kr, n, kUpper);
    if (kq > 0 && m > 0) {
      // Q: the Householder vectors, expanded column-major in a buffer with kq columns (zeros past A's n)
      Tensor qc = scratch(a, nb * mq);
      relayout(ptr<T>(qc), nb, kq, m, cp, mn, m, 1, std::min(n, kq), m);
      ok(f.orgqr_size(h, m, kq, k, ptr<T>(qc), m, ptr<T>(tau), &lwork), op, "orgqr_bufferSize");
      Tensor work = scratch(a, lwork);
      for (int64_t i = 0; i < nb; ++i)
        ok(f.orgqr(h, m, kq, k, ptr<T>(qc) + i * mq, m, ptr<T>(tau) + i * std::max(k, 1), ptr<T>(work), lwork,
                   int_ptr(dinfo) + i),
           op, "orgqr");
      relayout(ptr<T>(q), nb, m, kq, ptr<T>(qc), mq, 1, m, m, kq);
    }
    read_info(dinfo, nb, nullptr, op, "geqrf/orgqr");
  });
}

void eigh(const Tensor& a, const Tensor& w, bool upper, bool vectors, const Tensor& info) {
  constexpr const char* op = "linalg.eigh";
  const int n = dim(rows(a), op);
  const int64_t nb = batch(a);
  if (nb == 0) return;
  const int jobz = vectors ? kEigVectors : kEigValues, uplo = upper ? gpu::kFillLower : gpu::kFillUpper;
  on_solver(op, a, [&](auto* tag, gpu::SolverHandle h, const auto& f) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const int64_t nn = int64_t(n) * n;
    // syevd leaves the eigenvectors column-major: it works on a copy, transposed back into a
    Tensor v = scratch(a, nb * nn), dinfo = ints(a, nb);
    PYAD_CUDA_CHECK(
        cudaMemcpyAsync(v.raw_data(), a.raw_data(), nb * nn * sizeof(T), cudaMemcpyDeviceToDevice, gpu::stream()));
    int lwork = 0;
    ok(f.syevd_size(h, jobz, uplo, n, ptr<T>(v), n, ptr<T>(w), &lwork), op, "syevd_bufferSize");
    Tensor work = scratch(a, lwork);
    for (int64_t i = 0; i < nb; ++i)
      ok(f.syevd(h, jobz, uplo, n, ptr<T>(v) + i * nn, n, ptr<T>(w) + i * n, ptr<T>(work), lwork, int_ptr(dinfo) + i),
         op, "syevd");
    if (vectors) relayout(ptr<T>(a), nb, n, n, ptr<T>(v), nn, 1, n, n, n);
    read_info(dinfo, nb, &info, op, "syevd");
  });
}

void svd(const Tensor& a, const Tensor& u, const Tensor& s, const Tensor& vh, bool full, const Tensor& info) {
  constexpr const char* op = "linalg.svd";
  const int m = dim(rows(a), op), n = dim(cols(a), op), k = std::min(m, n);
  const int64_t nb = batch(a);
  if (nb == 0) return;
  const bool values_only = u.numel() == 0;
  const signed char job = values_only ? 'N' : (full ? 'A' : 'S');
  const int ku = full ? m : k, kv = full ? n : k;
  const bool wide = m <= n;  // gesvd wants rows >= cols: a wide A goes in as A^T (see the Note)
  const int gr = wide ? n : m, gc = wide ? m : n;  // the matrix gesvd sees, column-major gr x gc
  on_solver(op, a, [&](auto* tag, gpu::SolverHandle h, const auto& f) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const int64_t mn = int64_t(m) * n;
    Tensor g = wide ? a : scratch(a, nb * mn), dinfo = ints(a, nb), rwork = scratch(a, k);
    if (!wide) relayout(ptr<T>(g), nb, n, m, ptr<T>(a), mn, 1, n, n, m);  // A column-major (m x n)
    // Its left and right factors: wide, A^T = Vh^T S U^T, so our vh and u as they lie; tall, scratch
    // transposed into u and vh afterwards. Values only: a one-element stand-in gesvd never reads.
    const int64_t gu_cols = wide ? kv : ku, gvt_rows = wide ? k : kv;  // gesvd's U (gr x .), VT (. x gc)
    Tensor gu = values_only ? scratch(a, 1) : (wide ? vh : scratch(a, nb * gr * gu_cols));
    Tensor gvt = values_only ? scratch(a, 1) : (wide ? u : scratch(a, nb * gvt_rows * gc));
    const int64_t su = values_only ? 0 : int64_t(gr) * gu_cols, svt = values_only ? 0 : gvt_rows * gc;
    int lwork = 0;
    ok(f.gesvd_size(h, gr, gc, &lwork), op, "gesvd_bufferSize");
    Tensor work = scratch(a, lwork);
    for (int64_t i = 0; i < nb; ++i)
      ok(f.gesvd(h, job, job, gr, gc, ptr<T>(g) + i * mn, gr, ptr<T>(s) + i * k, ptr<T>(gu) + i * su, gr,
                 ptr<T>(gvt) + i * svt, static_cast<int>(gvt_rows), ptr<T>(work), lwork, ptr<T>(rwork),
                 int_ptr(dinfo) + i),
         op, "gesvd");
    if (!values_only && !wide) {
      relayout(ptr<T>(u), nb, m, ku, ptr<T>(gu), su, 1, m, m, ku);
      relayout(ptr<T>(vh), nb, kv, n, ptr<T>(gvt), svt, 1, kv, kv, n);
    }
    read_info(dinfo, nb, &info, op, "gesvd");
  });
}

}  // namespace pyad::kernels::cuda
