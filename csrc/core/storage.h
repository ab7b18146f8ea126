#pragma once
// Storage: one block of memory on one device. The allocator counts the bytes
// of live storages per device (what memory_allocated reports); memory that
// belongs to someone else (a NumPy array, a DLPack producer) is not counted.
#include <cstddef>
#include <functional>
#include <memory>
#include "core/device.h"

namespace pyad {

struct Storage {
  void* data = nullptr;
  size_t nbytes = 0;
  Device device;
  bool owned = false;                 // allocated (and counted) by us
  std::shared_ptr<void> keepalive;    // owner of borrowed memory
  Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage();
};

using StoragePtr = std::shared_ptr<Storage>;

StoragePtr allocate(size_t nbytes, Device device);
StoragePtr borrow(void* data, size_t nbytes, Device device, std::shared_ptr<void> owner);

struct MemoryStats {
  int64_t current = 0;
  int64_t peak = 0;
};
MemoryStats memory_stats(Device device);
void reset_peak_memory(Device device);

}  // namespace pyad
