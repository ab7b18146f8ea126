#pragma once
// Exceptions that the binding layer maps to Python's ValueError, TypeError,
// IndexError and RuntimeError. Messages start with "[op]" so the user sees
// which operation refused the input.
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>
#include <cstdint>

namespace pyad {

struct ValueError : std::runtime_error { using std::runtime_error::runtime_error; };
struct TypeError : std::runtime_error { using std::runtime_error::runtime_error; };
struct IndexError : std::runtime_error { using std::runtime_error::runtime_error; };
struct RuntimeError : std::runtime_error { using std::runtime_error::runtime_error; };

inline std::string shape_str(const std::vector<int64_t>& s) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  if (s.size() == 1) os << ",";
  os << ")";
  return os.str();
}

template <class... Args>
std::string cat_str(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

}  // namespace pyad

#define PYAD_CHECK(cond, Kind, ...)                                \
  do {                                                             \
    if (!(cond)) throw ::pyad::Kind(::pyad::cat_str(__VA_ARGS__)); \
  } while (0)
