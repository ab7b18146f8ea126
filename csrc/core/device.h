#pragma once
#include <string>
#include "error.h"

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
    if (s.rfind("cuda:", 0) == 0) {
      try {
        size_t used = 0;
        int idx = std::stoi(s.substr(5), &used);
        if (used == s.size() - 5 && idx >= 0) return {DeviceType::CUDA, idx};
      } catch (const std::exception&) {}
    }
    throw RuntimeError("[device] unknown device '" + s + "' (expected 'cpu', 'cuda' or 'cuda:N')");
  }
};

}  // namespace pyad
