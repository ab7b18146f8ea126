#pragma once
// The GPU generator: one counter-based stream per process for all devices, a
// seed and an offset that every random CUDA kernel advances, so replaying
// needs only those two numbers. Its state is plain host data, so a build
// without CUDA keeps it too (pyad.cuda.manual_seed and get_rng_state behave
// as in a CUDA build on a machine without a GPU).
#include <cstdint>
#include <string>
#include <utility>

namespace pyad::gpu {

void manual_seed(uint64_t seed);
std::string rng_state();
void set_rng_state(const std::string& state);
// Reserves `count` numbers of the stream; returns (seed, first offset).
std::pair<uint64_t, uint64_t> rng_reserve(uint64_t count);

}  // namespace pyad::gpu
