// One global generator, as torch's default CPU generator; its state can be
// saved and restored (checkpointing replays random ops with it).
#include <cmath>
#include <random>
#include <sstream>
#include "kernels/kernels.h"
#include "kernels/math.h"

namespace pyad::kernels {

namespace {
std::mt19937_64& gen() {
  static std::mt19937_64 g(5489u);
  return g;
}
template <class T = double>
T uniform01() {
  return math::uniform01_from_bits<T>(gen()());
}
}  // namespace

void manual_seed(uint64_t seed) { gen().seed(seed); }

std::string rng_state() {
  std::ostringstream os;
  os << gen();
  return os.str();
}

void set_rng_state(const std::string& state) {
  std::istringstream is(state);
  std::mt19937_64 g;
  is >> g;
  PYAD_CHECK(!is.fail(), ValueError, "[set_rng_state] the state is not one that get_rng_state returned");
  gen() = g;
}

namespace cpu {

void uniform(const Tensor& out, double low, double high) {
  PYAD_DISPATCH_FLOAT(out.dtype(), "rand", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    T* o = out.data<T>();
    for (int64_t i = 0; i < out.numel(); ++i)
      o[i] = static_cast<T>(low + (high - low) * static_cast<double>(uniform01<T>()));
  });
}

void normal(const Tensor& out, double mean, double std) {
  PYAD_DISPATCH_FLOAT(out.dtype(), "randn", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    T* o = out.data<T>();
    const int64_t n = out.numel();
    for (int64_t i = 0; i < n; i += 2) {  // Box-Muller gives two normals per pair of uniforms
      double u1 = 1.0 - uniform01(), u2 = uniform01();
      double r = std::sqrt(-2.0 * std::log(u1));
      o[i] = static_cast<T>(mean + std * r * std::cos(2 * M_PI * u2));
      if (i + 1 < n) o[i + 1] = static_cast<T>(mean + std * r * std::sin(2 * M_PI * u2));
    }
  });
}

}  // namespace cpu
}  // namespace pyad::kernels
