// Note [Recomputed saved tensors] (recompute_frame.h): the frames, their guards, and the early
// recomputation when a dual level a frame needs is about to exit.
#include "autograd/recompute_frame.h"
#include <algorithm>
#include <mutex>
#include "autograd/forward_ad.h"
#include "autograd/grad_mode.h"

namespace pyad {

namespace {
thread_local std::vector<ActiveFrame> t_frames;  // FrameGuards alive on this thread, innermost last
}

FrameGuard::FrameGuard(std::shared_ptr<RecomputeFrame> frame, bool harvest) {
  if (!harvest) frame->outer_level = forward_level();
  t_frames.push_back({std::move(frame), harvest});
}
FrameGuard::~FrameGuard() { t_frames.pop_back(); }

const ActiveFrame* active_frame() { return t_frames.empty() ? nullptr : &t_frames.back(); }

namespace {
// Frames whose first run attached tangents at a level, by level, in the order they noted it.
std::mutex g_level_frames_mutex;
std::vector<std::pair<uint64_t, std::weak_ptr<RecomputeFrame>>> g_level_frames;
size_t g_prune_at = 1024;  // a long-lived level sees many checkpoints come and go: drop the finished ones

void prune_level_frames() {
  auto finished = [](const auto& e) {
    auto f = e.second.lock();
    return !f || f->done;
  };
  g_level_frames.erase(std::remove_if(g_level_frames.begin(), g_level_frames.end(), finished), g_level_frames.end());
  g_prune_at = 2 * g_level_frames.size() + 1024;
}
}  // namespace

void note_tangent_level(uint64_t level) {
  for (auto& [frame, harvest] : t_frames) {
    auto& ls = frame->levels;
    // Levels entered inside the run (fn's own jvp) are entered again by the recomputation itself.
    if (!harvest && level <= frame->outer_level && std::find(ls.begin(), ls.end(), level) == ls.end()) {
      ls.push_back(level);
      std::lock_guard<std::mutex> lock(g_level_frames_mutex);
      g_level_frames.emplace_back(level, frame);
      if (g_level_frames.size() >= g_prune_at) prune_level_frames();
    }
  }
}

void recompute_frames_at(uint64_t level) {
  // Latest first (an inner checkpoint before the one around it); a recomputation may register new frames.
  for (;;) {
    std::shared_ptr<RecomputeFrame> frame;
    bool found = false;
    {
      std::lock_guard<std::mutex> lock(g_level_frames_mutex);
      for (size_t i = g_level_frames.size(); i-- > 0;)
        if (g_level_frames[i].first == level) {
          frame = g_level_frames[i].second.lock();
          g_level_frames.erase(g_level_frames.begin() + static_cast<std::ptrdiff_t>(i));
          found = true;
          break;
        }
    }
    if (!found) return;
    // packed == 0: fn ran without recording (plain jacfwd through a checkpoint), so nothing needs it again.
    if (!frame || frame->done || !frame->eager || frame->packed == 0) continue;
    try {
      frame->run_recompute("checkpoint");
    } catch (const std::exception& e) {
      frame->failure = e.what();  // the level must still exit; get() reports this
    }
  }
}

void RecomputeFrame::run_recompute(const std::string& who) {
  std::vector<uint64_t> active = dual_levels();
  for (uint64_t l : levels)
    PYAD_CHECK(std::find(active.begin(), active.end(), l) != active.end(), RuntimeError, "[", who,
               "] checkpoint: the checkpointed function computed tangents at a dual level (forward mode) that "
               "has exited before backward needed its recomputation, so they cannot be recomputed",
               failure.empty() ? std::string(eager ? "" : " (checkpoint_revolve cannot recompute early)")
                               : " (recomputing it when the level exited failed: " + failure + ")",
               ". Differentiate in forward mode over the reverse pass instead (e.g. jacfwd(jacrev(f)), "
               "not jacrev(jacfwd(f))), or use checkpoint here");
  harvested.clear();
  HideLevelsGuard same_levels(levels);
  FrameGuard harvesting(shared_from_this(), true);
  recompute();
  PYAD_CHECK(harvested.size() == packed, RuntimeError, "[", who, "] checkpoint: the recomputation saved ",
             harvested.size(), " tensors where the first run saved ", packed,
             "; the checkpointed function must run the same ops each time");
  done = true;
}

Tensor RecomputeFrame::get(size_t index, const std::string& who) {
  if (!done) run_recompute(who);
  PYAD_CHECK(index < harvested.size(), RuntimeError, "[", who, "] checkpoint: the recomputation saved ",
             harvested.size(), " tensors where the first run saved ", packed,
             "; the checkpointed function must run the same ops each time");
  return harvested[index];
}

}  // namespace pyad
