#pragma once
// Note [CPU kernel threads]
// pyad's own CPU kernels (elementwise ops, reductions, matrix-vector products)
// split large loops over a small pool of persistent worker threads; OpenBLAS
// keeps its own pool for GEMM. Both follow one setting: pyad.set_num_threads,
// whose default comes from the environment as torch's does (OMP_NUM_THREADS,
// then OPENBLAS_NUM_THREADS, else every logical CPU the process may run on).
//
// Results never depend on the thread count: work is cut into pieces whose
// bounds depend on the problem only, and every piece is computed the same way
// whichever thread runs it (reductions combine fixed-size blocks in order), so
// 1 and N threads give bitwise equal results (tests/test_threads.py).
//
// A loop is split only when it is large enough to pay for waking the pool
// (kParallelMinBytes below, measured with benchmarks/bench_threads.py
// --threshold, which moves it at run time through _C._set_parallel_min_bytes); when several Python threads run kernels
// at once (the GIL is released around large ops), the one that finds the pool busy runs its loop on its own thread
// instead of waiting; and a worker that the scheduler is slow to wake costs nothing (the caller takes its chunks;
// parallel.cpp).
//
// Picking the thread count: memory-bound kernels (everything here) stop
// scaling once the memory bus is saturated, and two hyperthreads of one core
// share its load ports. On machines where the second hyperthread hurts, set
// the count to the number of physical cores (lscpu: "Core(s) per socket" x
// sockets; OMP_NUM_THREADS=<cores>, or pyad.set_num_threads(cores)) and pin
// with taskset/OMP_PROC_BIND if neighbours move threads around; run
// `python benchmarks/bench_threads.py` at 1, cores and 2 x cores threads and
// keep the fastest.
#include <cstdint>
#include <functional>

namespace pyad::kernels::cpu {

// Loops below this many bytes touched run on the calling thread. Measured with benchmarks/bench_threads.py
// --threshold (a + b, 1 thread against 2 with every loop split, 16 KiB .. 8 MiB) on the 2-vCPU development
// machines shared with other jobs: from 256 KiB to 2 MiB two threads were 7-18x slower (the woken worker
// waits behind other processes for a time slice), from 4 MiB on within noise of one thread. A quiet machine
// would pay from about 2 x wake-up (~20 us) x bandwidth (~10 GB/s) = 400 KiB; 4 MiB keeps the shared case
// safe and still splits every d >= 750 float64 matrix pass. Rerun the sweep on a new machine.
constexpr int64_t kParallelMinBytes = int64_t(4) << 20;

int num_threads();
void set_num_threads(int n);
// The threshold in force (kParallelMinBytes unless a measurement moved it); returns the previous one.
int64_t parallel_min_bytes();
int64_t set_parallel_min_bytes(int64_t bytes);

// Runs body(begin, end) over contiguous ranges covering [0, pieces) on up to `threads` threads (the caller's
// included) and returns when all are done; an exception from any range is rethrown here. How [0, pieces) is
// cut into ranges varies from call to call, so body's result must not depend on it.
void parallel_pieces(int threads, int64_t pieces, const std::function<void(int64_t begin, int64_t end)>& body);

// How many threads a loop touching `bytes` in `pieces` independent pieces should use (1: run it inline).
int threads_for(int64_t bytes, int64_t pieces);

}  // namespace pyad::kernels::cpu
