"""Figures for graphs of a million nodes (issue 16, item 4): time and peak memory of each pass.

    python benchmarks/deep_graphs.py            # all cases, each in a fresh interpreter
    python benchmarks/deep_graphs.py chain      # one case

Peak RSS is the child's ru_maxrss (it includes the interpreter, ~35 MiB); "per node" divides the growth over
the baseline by the number of graph nodes. pyad's own allocator peak (max_memory_allocated) is reported too.
"""

import json
import resource
import subprocess
import sys
import time

N = 1_000_000


def rss_mib():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20


def case_chain(pyad):
    x = pyad.tensor([0.5], dtype=pyad.float64, requires_grad=True)
    y, t0 = x, time.perf_counter()
    for _ in range(N):
        y = y + 1.0
    t1 = time.perf_counter()
    y.backward()
    t2 = time.perf_counter()
    del y
    t3 = time.perf_counter()
    assert x.grad.item() == 1.0
    return dict(nodes=N + 1, forward_s=t1 - t0, backward_s=t2 - t1, free_s=t3 - t2)


def case_wide(pyad):
    # One leaf feeding N muls gathered by one stack (N unsqueeze nodes and one cat with N edges): 2N + 3 nodes.
    x = pyad.tensor([0.5], dtype=pyad.float64, requires_grad=True)
    t0 = time.perf_counter()
    s = pyad.stack([x * float(i % 7) for i in range(N)]).sum()
    t1 = time.perf_counter()
    s.backward()
    t2 = time.perf_counter()
    del s
    t3 = time.perf_counter()
    assert x.grad.item() == sum(i % 7 for i in range(N))
    return dict(nodes=2 * N + 3, forward_s=t1 - t0, backward_s=t2 - t1, free_s=t3 - t2)


def case_forward_mode(pyad):
    from pyad.autograd import forward_ad

    x = pyad.tensor([0.5], dtype=pyad.float64)
    t0 = time.perf_counter()
    with forward_ad.dual_level():
        y = forward_ad.make_dual(x, pyad.tensor([1.0], dtype=pyad.float64))
        for _ in range(N):
            y = y + 1e-6
        assert forward_ad.unpack_dual(y).tangent.item() == 1.0
        del y
    return dict(nodes=N, forward_s=time.perf_counter() - t0)


def case_inspect(pyad):
    x = pyad.tensor([0.5], dtype=pyad.float64, requires_grad=True)
    y = x
    for _ in range(N // 10):
        y = y * 1.0001
    t0 = time.perf_counter()
    dot = pyad.viz.to_dot(y)
    t1 = time.perf_counter()
    mem = pyad.autograd.graph_memory(y)
    t2 = time.perf_counter()
    return dict(
        nodes=N // 10 + 1, to_dot_s=t1 - t0, dot_mib=len(dot) / 2**20, graph_memory_s=t2 - t1, graph_memory_bytes=mem
    )


CASES = dict(chain=case_chain, wide=case_wide, forward_mode=case_forward_mode, inspect=case_inspect)


def child(name):
    import pyad

    base = rss_mib()
    pyad.reset_peak_memory_stats()
    r = CASES[name](pyad)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    r.update(
        case=name,
        peak_rss_mib=peak,
        baseline_rss_mib=base,
        bytes_per_node=(peak - base) * 2**20 / r["nodes"],
        pyad_peak_bytes=pyad.max_memory_allocated(),
    )
    print(json.dumps(r))


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        return child(sys.argv[2])
    for name in sys.argv[1:] or CASES:
        out = subprocess.run([sys.executable, __file__, "--child", name], capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{name}: FAILED with {out.returncode}\n{out.stderr}")
            continue
        r = json.loads(out.stdout)
        print(", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()))


if __name__ == "__main__":
    main()
