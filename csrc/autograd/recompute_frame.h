#pragma once
// Checkpointing's hold on saved tensors: a frame that records where each saved
// tensor of a checkpointed region would go, and recomputes them on first use.
#include <functional>
#include <memory>
#include <string>
#include <vector>
#include "core/tensor.h"

namespace pyad {

// Note [Recomputed saved tensors]
// Checkpointing records fn's graph as usual but keeps none of the tensors its
// nodes save: while a RecomputeFrame is packing, each SavedTensor holds only
// its index in the frame. The first unpack runs fn again with the frame
// harvesting, which collects the tensors the same ops save, in the same order.
// The graph is the ordinary one, so autograd.grad, create_graph and hooks
// work through it unchanged.
// Forward mode: the recomputation must save what the first run saved, and
// JVP rules save tensors too, so it runs at exactly the dual levels at which
// the first run computed tangents (`levels`; others are hidden). A recomputed
// output keeps its tangent slot, as a saved output does, so forward over
// reverse (hessian, hvp) sees the tangents of recomputed values. If one of
// those levels is about to exit first (reverse over forward: jacrev(jacfwd(f))),
// exit_dual_level recomputes the frame right then, while its tangents still
// exist (the memory is then held as without checkpointing, but the answer is
// right); a frame that cannot be recomputed early (`eager` false:
// checkpoint_revolve, whose schedule decides the order) raises in get().
struct RecomputeFrame : std::enable_shared_from_this<RecomputeFrame> {
  std::function<void()> recompute;  // runs fn again (get() makes the frame harvest meanwhile)
  TensorList harvested;
  size_t packed = 0;
  bool done = false;
  bool eager = true;
  uint64_t outer_level = 0;      // the innermost dual level when the first run began
  std::vector<uint64_t> levels;  // the levels (<= outer_level) at which the first run attached tangents
  std::string failure;           // why an early recomputation failed
  Tensor get(size_t index, const std::string& who);
  void run_recompute(const std::string& who);
};
// Called whenever a tangent is attached at `level`: frames that are packing remember it.
void note_tangent_level(uint64_t level);
// Called by exit_dual_level before `level` drops its tangents: recompute the frames that need them.
void recompute_frames_at(uint64_t level);
// RAII: SavedTensors created meanwhile pack into (harvest = false) or harvest for (true) the frame.
struct FrameGuard {
  FrameGuard(std::shared_ptr<RecomputeFrame> frame, bool harvest);
  ~FrameGuard();
};

// The innermost FrameGuard's frame, which SavedTensors created now pack into or harvest for.
struct ActiveFrame {
  std::shared_ptr<RecomputeFrame> frame;
  bool harvest;
};
// Null when no FrameGuard is alive on this thread (every op that saves a tensor asks).
const ActiveFrame* active_frame();

}  // namespace pyad
