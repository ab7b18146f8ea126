#include "forward_ad.h"
#include <atomic>
#include <mutex>
#include "../ops/ops.h"

namespace pyad {

namespace {
uint64_t g_next_level = 1;
std::atomic<uint64_t> g_level{0};  // 0: no dual level active. Process-wide, as torch's levels
std::vector<std::weak_ptr<ForwardGrad>> g_registry;  // slots holding a tangent at g_level
std::mutex g_mutex;
thread_local bool t_in_rule = false;
}  // namespace

JvpRuleGuard::JvpRuleGuard() : prev(t_in_rule) { t_in_rule = true; }
JvpRuleGuard::~JvpRuleGuard() { t_in_rule = prev; }

uint64_t forward_level() { return g_level; }

uint64_t enter_dual_level() {
  std::lock_guard<std::mutex> lock(g_mutex);
  PYAD_CHECK(g_level == 0, RuntimeError, "[dual_level] nested dual levels are not supported: exit the active level "
             "before entering another, or compose forward over reverse mode instead (e.g. jacfwd(jacrev(f)))");
  g_level = g_next_level++;
  return g_level;
}

void exit_dual_level(uint64_t level) {
  std::lock_guard<std::mutex> lock(g_mutex);
  PYAD_CHECK(level == g_level && level != 0, RuntimeError, "[dual_level] exiting level ", level,
             " but the active level is ", g_level.load());
  // Dropping the tangents also breaks the cycles a tangent's graph can form with its primal.
  for (auto& w : g_registry)
    if (auto slot = w.lock()) {
      slot->tangent = Tensor();
      slot->level = 0;
    }
  g_registry.clear();
  g_level = 0;
}

Tensor tangent_of(const Tensor& t) {
  if (g_level == 0 || !t.defined() || !t->fw || t->fw->level != g_level) return {};
  return t->fw->tangent;
}

bool any_tangent(const TensorList& ts) {
  if (g_level == 0 || t_in_rule) return false;
  for (const auto& t : ts)
    if (tangent_of(t).defined()) return true;
  return false;
}

Shape batch_shape(const Tensor& t, int64_t ndim) {
  return Shape(t.shape().begin(), t.shape().end() - ndim);
}

Tensor align_batched(const Tensor& t, int64_t own_ndim, int64_t ndim) {
  if (own_ndim >= ndim) return t;
  Shape s = batch_shape(t, own_ndim);
  s.insert(s.end(), ndim - own_ndim, 1);
  s.insert(s.end(), t.shape().end() - own_ndim, t.shape().end());
  return reshape(t, s);
}

void set_tangent(const Tensor& out, Tensor t) {
  if (!t.defined() || g_level == 0) return;
  JvpRuleGuard guard;  // fitting t to out's shape must not start rules of its own
  PYAD_CHECK(is_floating(out.dtype()), RuntimeError, "[forward AD] a tangent cannot be attached to a ",
             dtype_name(out.dtype()), " result");
  const int64_t nb = t.ndim() - out.ndim();
  PYAD_CHECK(nb >= 0, RuntimeError, "[forward AD] tangent of shape ", shape_str(t.shape()),
             " has fewer dims than its primal ", shape_str(out.shape()));
  Shape want = concat(batch_shape(t, out.ndim()), out.shape());
  if (t.shape() != want) t = expand(t, want);
  if (t.dtype() != out.dtype()) t = to_dtype(t, out.dtype());
  if (!out->fw) out->fw = std::make_shared<ForwardGrad>();
  out->fw->tangent = t;
  out->fw->level = g_level;
  std::lock_guard<std::mutex> lock(g_mutex);
  g_registry.push_back(out->fw);
}

Tensor make_dual(const Tensor& primal, const Tensor& tangent) {
  PYAD_CHECK(g_level != 0, RuntimeError, "[make_dual] must be called inside a dual level (forward_ad.dual_level())");
  PYAD_CHECK(is_floating(primal.dtype()), TypeError, "[make_dual] expected a floating primal, got ",
             dtype_name(primal.dtype()));
  PYAD_CHECK(tangent.ndim() >= primal.ndim() &&
                 Shape(tangent.shape().end() - primal.ndim(), tangent.shape().end()) == primal.shape(),
             ValueError, "[make_dual] tangent of shape ", shape_str(tangent.shape()),
             " does not match the primal's shape ", shape_str(primal.shape()));
  // The dual is a view of the primal (as torch) that shares its history.
  Tensor d = view(primal, primal.shape());
  set_tangent(d, tangent);
  return d;
}

}  // namespace pyad
