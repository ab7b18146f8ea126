#include "kernels/gpu_generator.h"
#include <mutex>
#include <sstream>
#include "core/error.h"

namespace pyad::gpu {

namespace {
uint64_t g_seed = 5489u, g_offset = 0;
std::mutex g_rng_mutex;
}  // namespace

void manual_seed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(g_rng_mutex);
  g_seed = seed;
  g_offset = 0;
}

std::string rng_state() {
  std::lock_guard<std::mutex> lock(g_rng_mutex);
  return cat_str(g_seed, " ", g_offset);
}

void set_rng_state(const std::string& state) {
  std::istringstream is(state);
  uint64_t s = 0, o = 0;
  is >> s >> o;
  PYAD_CHECK(!is.fail(), ValueError, "[cuda.set_rng_state] the state is not one that cuda.get_rng_state returned");
  std::lock_guard<std::mutex> lock(g_rng_mutex);
  g_seed = s;
  g_offset = o;
}

std::pair<uint64_t, uint64_t> rng_reserve(uint64_t count) {
  std::lock_guard<std::mutex> lock(g_rng_mutex);
  uint64_t first = g_offset;
  g_offset += count;
  return {g_seed, first};
}

}  // namespace pyad::gpu
