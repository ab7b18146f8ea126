"""The one timing loop every benchmark here uses: the functions compared run in rotation, so that the noise of a
shared machine hits all of them alike, and each one's median is reported (never a single run, never a mean)."""

import gc
import statistics
import time


def interleaved(fns, repeats, warmup=2, per_round=1):
    """Median seconds per call of each function in `fns` (name -> callable), over `repeats` rounds of
    `per_round` calls each, after `warmup` calls each; a garbage collection before each measurement keeps one
    function's garbage from being collected in another's time."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    ts = {k: [] for k in fns}
    names = list(fns)
    for r in range(repeats):
        # Each round starts one function further on, so that each follows every other equally often: in a fixed
        # order the function after the one that churns the most memory would always start with cold caches.
        for k in names[r % len(names) :] + names[: r % len(names)]:
            fn = fns[k]
            gc.collect()
            t0 = time.perf_counter()
            for _ in range(per_round):
                fn()
            ts[k].append((time.perf_counter() - t0) / per_round)
    return {k: statistics.median(v) for k, v in ts.items()}
