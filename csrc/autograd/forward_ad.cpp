#include "autograd/forward_ad.h"
#include <algorithm>
#include <limits>
#include <mutex>
#include "autograd/grad_ops.h"
#include "autograd/node.h"
#include "autograd/recompute_frame.h"

namespace pyad {

namespace detail {
std::atomic<uint64_t> g_innermost{0};  // process-wide, as torch's levels; written under g_mutex
}
using detail::g_innermost;

namespace {
constexpr uint64_t kAllLevels = std::numeric_limits<uint64_t>::max();
uint64_t g_next_level = 1;
std::vector<uint64_t> g_levels;  // active, outermost first
// Per active level, the slots holding a tangent at it, so exiting the level can drop them.
std::vector<std::vector<std::weak_ptr<ForwardGrad>>> g_registry;
std::mutex g_mutex;
// Ops compute tangents only at levels below t_limit (Note [Nested dual levels]) and not in t_hidden.
thread_local uint64_t t_limit = kAllLevels;
thread_local std::vector<uint64_t> t_hidden;

bool hidden(uint64_t level) {
  return !t_hidden.empty() && std::find(t_hidden.begin(), t_hidden.end(), level) != t_hidden.end();
}

bool is_active(uint64_t level) { return std::find(g_levels.begin(), g_levels.end(), level) != g_levels.end(); }

ForwardGrad* slot_of(const Tensor& t) {
  AutogradMeta* m = t.defined() ? t->autograd_meta() : nullptr;
  return m ? m->fw.get() : nullptr;
}

ForwardGrad& mutable_slot_of(const Tensor& t) {
  auto& fw = t->mutable_autograd_meta().fw;
  if (!fw) fw = std::make_shared<ForwardGrad>();
  return *fw;
}

TangentEntry* entry_at(const Tensor& t, uint64_t level) {
  ForwardGrad* fw = slot_of(t);
  if (!fw) return nullptr;
  for (auto& e : fw->tangents)
    if (e.level == level) return &e;
  return nullptr;
}

// The dense form of an identity slice over t's elements (Note [Identity tangents]).
Tensor materialise(const IdentitySlice& id, const Tensor& t) {
  const int64_t n = t.numel();
  Tensor e = grad_ops::zeros({id.count, n}, t.dtype(), t.device());
  if (id.count > 0) grad_ops::fill(make_view(e, {id.count}, {n + 1}, id.start), 1.0);
  Shape shape = concat({id.count}, t.shape());
  return make_view(e, shape, contiguous_strides(shape), 0);
}

// Record that t's slot holds a tangent at `level`, so that exiting the level can drop it.
void register_slot(const Tensor& t, uint64_t level) {
  note_tangent_level(level);
  std::lock_guard<std::mutex> lock(g_mutex);
  auto lv = std::find(g_levels.begin(), g_levels.end(), level);
  PYAD_CHECK(lv != g_levels.end(), RuntimeError, "[forward AD] level ", level, " is not an active dual level");
  g_registry[lv - g_levels.begin()].push_back(t->autograd_meta()->fw);
}

void put_entry(const Tensor& t, TangentEntry entry) {
  auto& ts = mutable_slot_of(t).tangents;
  auto it = std::find_if(ts.begin(), ts.end(), [&](const auto& e) { return e.level == entry.level; });
  const uint64_t level = entry.level;
  if (it != ts.end()) *it = std::move(entry);
  else ts.push_back(std::move(entry));
  register_slot(t, level);
}

void erase_level(ForwardGrad& fw, uint64_t level) {
  auto& ts = fw.tangents;
  ts.erase(std::remove_if(ts.begin(), ts.end(), [&](const auto& e) { return e.level == level; }), ts.end());
}
}  // namespace

JvpRuleGuard::JvpRuleGuard() : JvpRuleGuard(current_level()) {}
JvpRuleGuard::JvpRuleGuard(uint64_t level) : prev(t_limit) { t_limit = level; }
JvpRuleGuard::~JvpRuleGuard() { t_limit = prev; }

HideLevelsGuard::HideLevelsGuard(const std::vector<uint64_t>& keep) : prev_hidden(t_hidden), prev_limit(t_limit) {
  std::vector<uint64_t> hide;
  for (uint64_t l : dual_levels())
    if (std::find(keep.begin(), keep.end(), l) == keep.end()) hide.push_back(l);
  t_hidden = std::move(hide);
  t_limit = kAllLevels;
}
HideLevelsGuard::~HideLevelsGuard() {
  t_hidden = std::move(prev_hidden);
  t_limit = prev_limit;
}

Tensor without_hidden_tangents(const Tensor& t) {
  const ForwardGrad* fw = slot_of(t);
  if (t_hidden.empty() || !fw) return t;
  for (const auto& e : fw->tangents)
    if (hidden(e.level)) return grad_ops::view(t, t.shape());  // the view's rule skips the hidden levels
  return t;
}

uint64_t forward_level() { return g_innermost; }

uint64_t enter_dual_level() {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_levels.push_back(g_next_level++);
  g_registry.emplace_back();
  g_innermost = g_levels.back();
  return g_innermost;
}

void exit_dual_level(uint64_t level) {
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    PYAD_CHECK(!g_levels.empty(), RuntimeError, "[dual_level] exiting level ", level, " but no dual level is active");
    if (level == 0) level = g_levels.back();
    PYAD_CHECK(level == g_levels.back(), RuntimeError, "[dual_level] exiting level ", level,
               " but the innermost active level is ", g_levels.back(), ": levels exit innermost first");
  }
  recompute_frames_at(level);  // checkpoints that still need this level's tangents (Note [Recomputed saved tensors])
  std::lock_guard<std::mutex> lock(g_mutex);
  // Dropping the tangents also breaks the cycles a tangent's graph can form with its primal.
  for (auto& w : g_registry.back())
    if (auto slot = w.lock()) erase_level(*slot, level);
  g_registry.pop_back();
  g_levels.pop_back();
  g_innermost = g_levels.empty() ? 0 : g_levels.back();
}

std::vector<uint64_t> dual_levels() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_levels;
}

uint64_t current_level() {
  if (g_innermost == 0) return 0;
  if (t_limit != kAllLevels) return t_limit;
  std::lock_guard<std::mutex> lock(g_mutex);
  for (auto it = g_levels.rbegin(); it != g_levels.rend(); ++it)
    if (!hidden(*it)) return *it;
  return 0;
}

Tensor tangent_at(const Tensor& t, uint64_t level) {
  if (g_innermost == 0 || level == 0) return {};
  TangentEntry* e = entry_at(t, level);
  if (!e) return {};
  if (!e->dense.defined() && e->identity) e->dense = materialise(*e->identity, t);
  if (!e->dense.defined() && e->scaled) {
    JvpRuleGuard guard(level);
    ScaledTangent st = std::move(*e->scaled);
    e->scaled.reset();
    PYAD_CHECK(st.base->version->version == st.base_version, RuntimeError, "[", st.op,
               "] the tangent of its input was modified in place after ", st.op,
               " read it (forward mode made its result's tangent from it later: Note [Scaled tangents]); "
               "clone a tangent before writing to it");
    e->dense = grad_ops::mul(st.base, st.scale);
  }
  return e->dense;
}

Tensor tangent_of(const Tensor& t) {
  if (g_innermost == 0 || !slot_of(t)) return {};
  return tangent_at(t, current_level());
}

std::optional<IdentitySlice> identity_tangent_of(const Tensor& t) {
  if (g_innermost == 0 || !slot_of(t)) return std::nullopt;
  const TangentEntry* e = entry_at(t, current_level());
  return e ? e->identity : std::nullopt;
}

std::optional<ScaledTangent> scaled_tangent_of(const Tensor& t) {
  if (g_innermost == 0 || !slot_of(t)) return std::nullopt;
  const TangentEntry* e = entry_at(t, current_level());
  return e && !e->dense.defined() ? e->scaled : std::nullopt;
}

void set_scaled_tangent(const char* op, const Tensor& out, const Tensor& in, Tensor base, Tensor scale,
                        uint64_t level) {
  if (!base.defined() || level == 0 || g_innermost == 0) return;
  bool lazy = !base.requires_grad() && !scale.requires_grad() && scale.shape() == out.shape() &&
              base.dtype() == out.dtype() && scale.dtype() == out.dtype() && base.ndim() >= out.ndim() &&
              Shape(base.shape().end() - out.ndim(), base.shape().end()) == out.shape() &&
              scale->storage != out->storage && scale->storage != in->storage;
  if (lazy) {
    std::lock_guard<std::mutex> lock(g_mutex);
    lazy = g_levels.size() == 1;
  }
  if (!lazy) {
    Tensor t;
    {
      JvpRuleGuard guard(level);
      t = grad_ops::mul(base, scale);
    }
    return set_tangent(out, std::move(t), level);
  }
  PYAD_CHECK(is_floating(out.dtype()), RuntimeError, "[forward AD] a tangent cannot be attached to a ",
             dtype_name(out.dtype()), " result");
  TangentEntry entry;
  entry.level = level;
  const uint64_t version = base->version->version;
  entry.scaled = ScaledTangent{std::move(base), std::move(scale), version, op};
  put_entry(out, std::move(entry));
}

uint64_t next_tangent_level(const TensorList& ts, uint64_t after) {
  if (g_innermost == 0) return 0;
  uint64_t best = 0;
  for (const auto& t : ts) {
    const ForwardGrad* fw = slot_of(t);
    if (!fw) continue;
    for (const auto& e : fw->tangents) {
      const uint64_t l = e.level;
      if (l > after && l < t_limit && (best == 0 || l < best) && e.defined() && !hidden(l)) best = l;
    }
  }
  return best;
}

Shape batch_shape(const Tensor& t, int64_t ndim) { return Shape(t.shape().begin(), t.shape().end() - ndim); }

Tensor align_batched(const Tensor& t, int64_t own_ndim, int64_t ndim) {
  if (own_ndim >= ndim) return t;
  Shape s = batch_shape(t, own_ndim);
  s.insert(s.end(), ndim - own_ndim, 1);
  s.insert(s.end(), t.shape().end() - own_ndim, t.shape().end());
  return grad_ops::reshape(t, s);
}

void set_tangent(const Tensor& out, Tensor t) { set_tangent(out, std::move(t), current_level()); }

void set_tangent(const Tensor& out, Tensor t, uint64_t level) {
  if (!t.defined() || level == 0 || g_innermost == 0) return;
  JvpRuleGuard guard(level);  // fitting t to out's shape must not start level-`level` rules of its own
  PYAD_CHECK(is_floating(out.dtype()), RuntimeError, "[forward AD] a tangent cannot be attached to a ",
             dtype_name(out.dtype()), " result");
  const int64_t nb = t.ndim() - out.ndim();
  PYAD_CHECK(nb >= 0, RuntimeError, "[forward AD] tangent of shape ", shape_str(t.shape()),
             " has fewer dims than its primal ", shape_str(out.shape()));
  Shape want = concat(batch_shape(t, out.ndim()), out.shape());
  if (t.shape() != want) t = grad_ops::expand(t, want);
  if (t.dtype() != out.dtype()) t = grad_ops::to_dtype(t, out.dtype());
  TangentEntry entry;
  entry.level = level;
  entry.dense = std::move(t);
  put_entry(out, std::move(entry));
}

void clear_tangent(const Tensor& t, uint64_t level) {
  if (ForwardGrad* fw = slot_of(t)) erase_level(*fw, level);
}

void copy_tangents(const Tensor& src, const Tensor& dst) {
  for (uint64_t l = next_tangent_level({src}, 0); l != 0; l = next_tangent_level({src}, l))
    set_tangent(dst, tangent_at(src, l), l);
}

namespace {
// The level a new dual of primal gets its tangent at, after the checks common to every kind of tangent.
uint64_t dual_level_for(const Tensor& primal, uint64_t level) {
  PYAD_CHECK(g_innermost != 0, RuntimeError,
             "[make_dual] must be called inside a dual level (forward_ad.dual_level())");
  if (level == 0) level = current_level();
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    PYAD_CHECK(is_active(level), RuntimeError, "[make_dual] level ", level, " is not an active dual level");
  }
  PYAD_CHECK(is_floating(primal.dtype()), TypeError, "[make_dual] expected a floating primal, got ",
             dtype_name(primal.dtype()));
  PYAD_CHECK(!entry_at(primal, level), RuntimeError,
             "[make_dual] the primal already has a tangent at "
             "level ",
             level,
             " (as torch, a dual cannot be made from a dual at the same level: use unpack_dual(x)."
             "primal, or another level)");
  return level;
}
}  // namespace

Tensor make_dual(const Tensor& primal, const Tensor& tangent, uint64_t level) {
  level = dual_level_for(primal, level);
  PYAD_CHECK(tangent.ndim() >= primal.ndim() &&
                 Shape(tangent.shape().end() - primal.ndim(), tangent.shape().end()) == primal.shape(),
             ValueError, "[make_dual] tangent of shape ", shape_str(tangent.shape()),
             " does not match the primal's shape ", shape_str(primal.shape()));
  // The dual is a view of the primal (as torch) that shares its history and its tangents at other levels.
  Tensor d = grad_ops::view(primal, primal.shape());
  set_tangent(d, tangent, level);
  return d;
}

Tensor make_identity_dual(const Tensor& primal, int64_t start, int64_t count, uint64_t level) {
  level = dual_level_for(primal, level);
  PYAD_CHECK(start >= 0 && count >= 0 && start + count <= primal.numel(), ValueError, "[make_dual] identity rows [",
             start, ", ", start + count, ") are out of range for a primal of ", primal.numel(), " elements");
  Tensor d = grad_ops::view(primal, primal.shape());
  TangentEntry entry;
  entry.level = level;
  entry.identity = IdentitySlice{start, count};
  put_entry(d, std::move(entry));
  return d;
}

std::pair<Tensor, Tensor> unpack_dual(const Tensor& t, uint64_t level) {
  Tensor tangent = tangent_at(t, level);
  // An alias that keeps t's history and its tangents at the other levels, but not this one.
  Tensor primal = grad_ops::view(t, t.shape());
  clear_tangent(primal, level);
  return {primal, tangent};
}

Tensor detach_dual(const Tensor& t) {
  Tensor d = detach(t);
  if (const ForwardGrad* fw = slot_of(t))
    for (const auto& e : fw->tangents) put_entry(d, e);  // identity slices stay slices
  return d;
}

std::vector<uint64_t> tangent_levels(const TensorList& ts) {
  std::vector<uint64_t> out;
  for (uint64_t l = next_tangent_level(ts, 0); l != 0; l = next_tangent_level(ts, l)) out.push_back(l);
  return out;
}

}  // namespace pyad
