// The CPU kernels' worker pool and thread setting: Note [CPU kernel threads] (parallel.h).
#include "kernels/cpu/parallel.h"
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>
#include "kernels/kernels.h"

namespace pyad::kernels::cpu {

namespace {

// The first positive count in the first of these that is set (OMP_NUM_THREADS may be a list: its first entry).
int threads_from_env() {
  for (const char* name : {"OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"}) {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') continue;
    char* end = nullptr;
    const long n = std::strtol(v, &end, 10);
    if (end != v && n >= 1) return static_cast<int>(std::min<long>(n, 1024));
  }
  return 0;
}

// Physical cores among the CPUs this process may run on, as torch's default: a second hyperthread rarely
// adds memory bandwidth. Falls back to the logical count where the topology is not readable.
int default_threads() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return std::max(1u, std::thread::hardware_concurrency());
  std::set<std::pair<int, int>> cores;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (!CPU_ISSET(c, &set)) continue;
    const std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(c) + "/topology/";
    int pkg = -1, core = -1;
    std::ifstream(base + "physical_package_id") >> pkg;
    std::ifstream(base + "core_id") >> core;
    if (pkg < 0 || core < 0) return std::max(1, CPU_COUNT(&set));
    cores.insert({pkg, core});
  }
  return std::max<int>(1, static_cast<int>(cores.size()));
}

std::atomic<int>& threads_setting() {
  static std::atomic<int> n{[] {
    const int env = threads_from_env();
    return env > 0 ? env : default_threads();
  }()};
  return n;
}

// The caller and the workers that wake in time take chunks of the loop from one counter until it runs out,
// so a worker the scheduler is slow to run (a busy or shared machine) costs nothing: the caller does its
// chunks instead and waits only for workers already inside a chunk. The pool is never destroyed (workers
// may still be parked at exit), and a forked child starts a fresh one: its parent's workers do not exist there.
struct Pool {
  std::mutex busy;  // held by the one caller whose loop the pool is running
  std::mutex m;
  std::condition_variable work_cv, done_cv;
  std::vector<std::thread> workers;
  uint64_t generation = 0;
  bool open = false;  // workers may still join the current loop
  int wanted = 0, joined = 0, active = 0;
  const std::function<void(int64_t, int64_t)>* body = nullptr;
  int64_t pieces = 0, chunk = 1;
  std::atomic<int64_t> next{0};
  std::exception_ptr error;  // the first exception a worker's chunk threw, rethrown by the caller

  void drain() {
    for (int64_t b; (b = next.fetch_add(chunk, std::memory_order_relaxed)) < pieces;)
      (*body)(b, std::min(pieces, b + chunk));
  }

  void worker(uint64_t seen) {
    std::unique_lock<std::mutex> lk(m);
    while (true) {
      work_cv.wait(lk, [&] { return generation != seen; });
      seen = generation;
      if (!open || joined >= wanted) continue;
      ++joined;
      ++active;
      lk.unlock();
      std::exception_ptr err;
      try {
        drain();
      } catch (...) { err = std::current_exception(); }
      lk.lock();
      if (err && !error) error = err;
      if (--active == 0) done_cv.notify_one();
    }
  }

  void run(int nt, int64_t n, const std::function<void(int64_t, int64_t)>& f) {
    std::unique_lock<std::mutex> lk(m);
    // A new worker starts at the current generation, so it waits for this loop, not the last one.
    while (static_cast<int>(workers.size()) < nt - 1) workers.emplace_back([this, g = generation] { worker(g); });
    body = &f;
    pieces = n;
    chunk = std::max<int64_t>(1, n / (4 * static_cast<int64_t>(nt)));
    next.store(0, std::memory_order_relaxed);
    wanted = nt - 1;
    joined = 0;
    open = true;
    ++generation;
    lk.unlock();
    work_cv.notify_all();
    std::exception_ptr err;
    try {
      drain();
    } catch (...) {
      err = std::current_exception();
      next.store(pieces, std::memory_order_relaxed);  // the others stop at their next chunk
    }
    lk.lock();
    open = false;
    done_cv.wait(lk, [&] { return active == 0; });
    if (!err) err = error;
    error = nullptr;
    lk.unlock();
    if (err) std::rethrow_exception(err);
  }
};

Pool* g_pool = nullptr;
std::once_flag g_atfork_once;

Pool& pool() {
  std::call_once(g_atfork_once, [] { pthread_atfork(nullptr, nullptr, [] { g_pool = nullptr; }); });
  static std::mutex create;
  std::lock_guard<std::mutex> lk(create);
  if (g_pool == nullptr) g_pool = new Pool();  // leaked on purpose (see Pool)
  return *g_pool;
}

std::atomic<int64_t> g_min_bytes{kParallelMinBytes};

}  // namespace

int64_t parallel_min_bytes() { return g_min_bytes.load(std::memory_order_relaxed); }
int64_t set_parallel_min_bytes(int64_t bytes) { return g_min_bytes.exchange(std::max<int64_t>(0, bytes)); }

int num_threads() { return threads_setting().load(std::memory_order_relaxed); }

void set_num_threads(int n) { threads_setting().store(std::max(1, n), std::memory_order_relaxed); }

int threads_for(int64_t bytes, int64_t pieces) {
  const int64_t min_bytes = parallel_min_bytes();
  if (bytes < min_bytes || pieces < 2) return 1;
  // Each thread gets at least half the threshold's worth of work.
  const int64_t by_size = std::max<int64_t>(1, bytes / std::max<int64_t>(1, min_bytes / 2));
  return static_cast<int>(std::min<int64_t>({num_threads(), pieces, by_size}));
}

void parallel_pieces(int threads, int64_t pieces, const std::function<void(int64_t, int64_t)>& body) {
  const int nt = static_cast<int>(std::min<int64_t>(threads, pieces));
  if (nt <= 1) return body(0, pieces);
  Pool& p = pool();
  std::unique_lock<std::mutex> busy(p.busy, std::try_to_lock);
  if (!busy.owns_lock()) return body(0, pieces);  // another thread's loop has the pool (or this is a worker)
  p.run(nt, pieces, body);
}

}  // namespace pyad::kernels::cpu
