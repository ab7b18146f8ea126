#pragma once
#include <string>
#include "core/error.h"

namespace pyad {

enum class DeviceType : uint8_t { CPU = 0, CUDA = 1 };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  bool is_cpu() const { return type == DeviceType::CPU; }
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }

  static Device parse(const std::string& s) {
    if (s == "cpu") return {};
    if (s == "cuda") return {DeviceType::CUDA, 0};
    // "cuda:N" with N plain decimal digits, no sign, spaces or leading zeros (as torch).
    const std::string n = s.rfind("cuda:", 0) == 0 ? s.substr(5) : "";
    if (!n.empty() && n.size() <= 9 && n.find_first_not_of("0123456789") == std::string::npos &&
        (n == "0" || n[0] != '0'))
      return {DeviceType::CUDA, std::stoi(n)};
    throw RuntimeError("[device] unknown device '" + s + "' (expected 'cpu', 'cuda' or 'cuda:N')");
  }
};

}  // namespace pyad
