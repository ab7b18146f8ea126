"""A fuzzer over pyad's public API: random functions and Tensor methods called with random arguments.

    python tests/fuzz.py --calls 20000            # the CI run
    python tests/fuzz.py --calls 500000 --seed 7  # a longer run
    python tests/fuzz.py --calls 2000 --hypothesis  # calls drawn by hypothesis instead of random.Random
    python tests/fuzz.py --replay "<spec>"         # re-run one reported call in this process

Arguments are drawn (with random.Random, or with hypothesis strategies of the same distribution): tensors of
random shapes (0-size, 0-d), dtypes and layouts (transposed, strided, expanded views), holding NaN, inf or
huge values, requiring grad or not; Python values of every kind (None, huge ints, NaN, strings, nested lists
of mixed types, negative and huge sizes, out-of-range dims, dtypes, devices, callables); and a context (plain,
no_grad, inside a dual level with dual tensors).

Each call runs in a worker interpreter (its address space capped, so a size the machine cannot hold fails
with MemoryError instead of swapping): a crash (signal, abort, escaped C++ exception) or a hang kills only
the worker, is recorded with the call that caused it, and a fresh worker goes on. A call passes when it
returns, or raises TypeError, ValueError, IndexError, RuntimeError or MemoryError (or a subclass) whose
message names the op (a "[op]" tag or the function's name). AttributeError, OverflowError, SystemError,
KeyError, a bare Exception and so on fail. Results that are tensors are also printed and, when they require
grad, differentiated (sum().backward()), under the same rules.
"""

import argparse
import os
import pickle
import re
import struct
import subprocess
import sys
import time

ALLOWED = (
    "TypeError",
    "ValueError",
    "IndexError",
    "RuntimeError",
    "MemoryError",
    "NotImplementedError",
    "FileNotFoundError",
    "ZeroDivisionError",
)  # the last two: subclasses of OSError/ArithmeticError that
# Python raises itself for a missing file and x / 0 on Python numbers; never from pyad's core.
WORKER_MEMORY = 3 << 30  # address-space cap of a worker
CALL_TIMEOUT = 30.0

# ---- what to call ----

SKIP_FUNCTIONS = {"set_num_threads", "save", "load", "from_dlpack", "set_rng_state", "get_rng_state"}
TENSOR_DUNDERS = [
    "__add__",
    "__radd__",
    "__sub__",
    "__rsub__",
    "__mul__",
    "__rmul__",
    "__truediv__",
    "__rtruediv__",
    "__pow__",
    "__rpow__",
    "__matmul__",
    "__rmatmul__",
    "__eq__",
    "__ne__",
    "__lt__",
    "__le__",
    "__gt__",
    "__ge__",
    "__neg__",
    "__abs__",
    "__iadd__",
    "__isub__",
    "__imul__",
    "__itruediv__",
    "__getitem__",
    "__setitem__",
    "__bool__",
    "__float__",
    "__int__",
    "__index__",
    "__len__",
    "__iter__",
    "__repr__",
    "__array__",
    "__dlpack__",
    "__reduce_ex__",
    "__deepcopy__",
    "__copy__",
    "__hash__",
]


def targets():
    import inspect

    import pyad

    fns = sorted(
        n
        for n in dir(pyad)
        if not n.startswith("_")
        and callable(getattr(pyad, n))
        and not inspect.isclass(getattr(pyad, n))
        and n not in SKIP_FUNCTIONS
    )
    out = [f"pyad.{n}" for n in fns]
    out += [f"pyad.nn.functional.{n}" for n in ("dropout", "linear", "log_softmax", "relu", "softmax", "softplus")]
    out += [f"pyad.autograd.{n}" for n in ("grad", "backward")]
    out += [f"pyad.func.{n}" for n in ("grad", "jacrev", "jacfwd", "hessian", "vjp", "jvp", "hvp")]
    out += [f"pyad.autograd.forward_ad.{n}" for n in ("make_dual", "unpack_dual")]
    meths = sorted(n for n in dir(pyad.Tensor) if not n.startswith("_") and callable(getattr(pyad.Tensor, n, None)))
    out += [f"Tensor.{n}" for n in meths + TENSOR_DUNDERS]
    return out


# ---- argument specs (plain data, so that a failing call prints and replays exactly) ----


def strategies():
    from hypothesis import strategies as st

    small_shape = st.lists(st.integers(0, 4), max_size=4).map(tuple)
    tensor = st.fixed_dictionaries(
        {
            "shape": small_shape,
            "dtype": st.sampled_from(["float32", "float64", "int64", "bool"]),
            "layout": st.sampled_from(["contiguous", "transposed", "strided", "expanded", "sliced"]),
            "values": st.sampled_from(["randn", "randn", "zeros", "nan", "inf", "huge", "tiny"]),
            "requires_grad": st.booleans(),
            "dual": st.booleans(),
        }
    ).map(lambda d: ("tensor", d))
    huge_int = st.sampled_from(
        [2**31, 2**32, 2**40, 2**62, 2**63 - 1, 2**63, 2**64, -(2**63), -(2**63) - 1, 10**30, -(10**30)]
    )
    ints = st.one_of(st.integers(-5, 5), huge_int)
    floats = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0, 1e308, -1e308, 5e-324])
    )
    scalar = st.one_of(st.none(), st.booleans(), ints, floats)
    nested = st.recursive(
        st.one_of(st.integers(-3, 3), floats, st.booleans(), st.none(), st.text(max_size=2)),
        lambda c: st.one_of(st.lists(c, max_size=3), st.tuples(c, c)),
        max_leaves=8,
    )
    sizes = st.one_of(small_shape, st.lists(st.one_of(st.integers(-3, 4), huge_int), max_size=4).map(tuple))
    value = st.one_of(
        scalar,
        st.text(max_size=4),
        sizes,
        nested,
        st.sampled_from(
            ["cpu", "cuda", "cuda:0", "cuda:9", "meta", "cpu:1", "float32", "pyad.float64", "int64", "", "x" * 50]
        ).map(lambda s: ("str", s)),
        st.sampled_from(["float32", "float64", "int64", "bool"]).map(lambda s: ("dtype", s)),
        st.sampled_from(["cpu", "cuda"]).map(lambda s: ("device", s)),
        st.sampled_from(["identity", "square_sum", "raises", "returns_none", "returns_int"]).map(lambda s: ("fn", s)),
        st.lists(tensor, min_size=1, max_size=3).map(lambda ts: ("list", ts)),
        st.just(("slice",)),
        st.just(("ellipsis",)),
        st.just(("object",)),
    )
    arg = st.one_of(tensor, tensor, value)
    kw_names = st.sampled_from(_KW)
    call = st.fixed_dictionaries(
        {
            "target": st.sampled_from(targets()),
            "self": tensor,
            "args": st.lists(arg, max_size=4),
            "kwargs": st.dictionaries(kw_names, arg, max_size=2),
            "context": st.sampled_from(["plain", "plain", "no_grad", "dual"]),
        }
    )
    return call


# The same distribution drawn with random.Random: hypothesis spends ~15 ms drawing one call, this ~0.05 ms, so
# the bulk runs use it; the pytest run also goes through hypothesis (which shrinks what it finds).
_HUGE = [2**31, 2**32, 2**40, 2**62, 2**63 - 1, 2**63, 2**64, -(2**63), -(2**63) - 1, 10**30, -(10**30)]
_FLOATS = [0.0, -0.0, 1.5, -2.0, 1e308, -1e308, 5e-324, float("nan"), float("inf"), -float("inf")]
_STRS = ["cpu", "cuda", "cuda:0", "cuda:9", "meta", "cpu:1", "float32", "pyad.float64", "int64", "", "x" * 50]
_DTYPES = ["float32", "float64", "int64", "bool"]
_KW = [
    "dim",
    "keepdim",
    "dtype",
    "device",
    "requires_grad",
    "out",
    "input",
    "other",
    "alpha",
    "p",
    "training",
    "min",
    "max",
    "gradient",
    "retain_graph",
    "create_graph",
    "allow_unused",
    "argnums",
    "start_dim",
    "end_dim",
    "bogus",
]
_FNS = ["identity", "square_sum", "raises", "returns_none", "returns_int"]


def random_tensor(r):
    return (
        "tensor",
        {
            "shape": tuple(r.randint(0, 4) for _ in range(r.randint(0, 4))),
            "dtype": r.choice(_DTYPES),
            "layout": r.choice(["contiguous", "transposed", "strided", "expanded", "sliced"]),
            "values": r.choice(["randn", "randn", "zeros", "nan", "inf", "huge", "tiny"]),
            "requires_grad": r.random() < 0.5,
            "dual": r.random() < 0.5,
        },
    )


def random_value(r, depth=0):
    k = r.randrange(14)
    if k == 0:
        return None
    if k == 1:
        return r.random() < 0.5
    if k == 2:
        return r.randint(-5, 5)
    if k == 3:
        return r.choice(_HUGE)
    if k == 4:
        return r.choice(_FLOATS) if r.random() < 0.7 else r.uniform(-1e3, 1e3)
    if k == 5:
        return tuple(r.choice([r.randint(-3, 4), r.randint(0, 4), r.choice(_HUGE)]) for _ in range(r.randint(0, 4)))
    if k == 6 and depth < 2:
        return [random_value(r, depth + 1) for _ in range(r.randint(0, 3))]
    if k == 7:
        return ("str", r.choice(_STRS))
    if k == 8:
        return ("dtype", r.choice(_DTYPES))
    if k == 9:
        return ("device", r.choice(["cpu", "cuda"]))
    if k == 10:
        return ("fn", r.choice(_FNS))
    if k == 11:
        return ("list", [random_tensor(r) for _ in range(r.randint(1, 3))])
    if k == 12:
        return r.choice([("slice",), ("ellipsis",), ("object",)])
    return tuple(r.randint(0, 4) for _ in range(r.randint(0, 4)))


def random_arg(r):
    return random_tensor(r) if r.random() < 0.55 else random_value(r)


def random_spec(r, names):
    return {
        "target": r.choice(names),
        "self": random_tensor(r),
        "args": [random_arg(r) for _ in range(r.choice([0, 1, 1, 2, 2, 3, 4]))],
        "kwargs": {r.choice(_KW): random_arg(r) for _ in range(r.choice([0, 0, 1, 2]))},
        "context": r.choice(["plain", "plain", "no_grad", "dual"]),
    }


# ---- building and running one call (in the worker) ----


def build_tensor(d, in_dual):
    import pyad

    dt = getattr(pyad, d["dtype"])
    shape = tuple(d["shape"])
    layout = d["layout"]
    base_shape = shape[::-1] if layout == "transposed" else shape
    if layout == "strided":
        base_shape = tuple(2 * s for s in shape)
    elif layout == "sliced":
        base_shape = (3,) + shape
    if layout == "expanded":
        base_shape = tuple(1 for _ in shape)
    t = pyad.randn(*base_shape, dtype=pyad.float64) if base_shape else pyad.randn((), dtype=pyad.float64)
    v = d["values"]
    if v == "zeros":
        t = t * 0
    elif v == "nan" and t.numel():
        t = pyad.where(t > 0, float("nan"), t)
    elif v == "inf" and t.numel():
        t = pyad.where(t > 0, float("inf"), -t * 1e300)
    elif v == "huge":
        t = t * 1e300
    elif v == "tiny":
        t = t * 1e-310
    t = t.to(dt)
    if layout == "transposed" and t.ndim >= 2:
        t = t.permute(*range(t.ndim - 1, -1, -1))
    elif layout == "strided" and t.ndim:
        t = t[tuple(slice(None, None, 2) for _ in shape)]
    elif layout == "sliced":
        t = t[1]
    elif layout == "expanded":
        t = t.expand(*shape)
    if d["requires_grad"] and dt.is_floating_point:
        base = t.detach().clone().requires_grad_(True)
        t = base * 1.0 if layout != "contiguous" else base
    if in_dual and d["dual"] and dt.is_floating_point:
        from pyad.autograd import forward_ad

        t = forward_ad.make_dual(t, pyad.randn(*t.shape, dtype=t.dtype) if t.ndim else pyad.randn((), dtype=t.dtype))
    return t


def build(spec, in_dual):
    import pyad

    if not isinstance(spec, tuple):
        if isinstance(spec, list):
            return [build(s, in_dual) for s in spec]
        return spec
    if spec and spec[0] == "tensor" and len(spec) == 2 and isinstance(spec[1], dict):
        return build_tensor(spec[1], in_dual)
    kind = spec[0] if spec else None
    if kind == "str" and len(spec) == 2:
        return spec[1]
    if kind == "dtype":
        return getattr(pyad, spec[1])
    if kind == "device":
        return pyad.device(spec[1]) if spec[1] == "cpu" else spec[1]
    if kind == "fn":
        return {
            "identity": lambda x: x,
            "square_sum": lambda x: (x * x).sum(),
            "raises": _raises,
            "returns_none": lambda x: None,
            "returns_int": lambda x: 3,
        }[spec[1]]
    if kind == "list" and len(spec) == 2 and isinstance(spec[1], list):
        return [build(s, in_dual) for s in spec[1]]
    if kind == "slice":
        return slice(None, None, -1)
    if kind == "ellipsis":
        return Ellipsis
    if kind == "object":
        return object()
    return tuple(build(s, in_dual) for s in spec)


def _raises(x):
    raise ValueError("[user fn] raised on purpose")


def resolve(target):
    import pyad

    if target.startswith("Tensor."):
        return None, target.split(".", 1)[1]
    obj = os if target.startswith("os.") else pyad  # (os.abort: the driver's own test)
    for part in target.split(".")[1:]:
        obj = getattr(obj, part)
    return obj, None


def names_op(msg, target):
    short = target.rsplit(".", 1)[1].strip("_")
    return bool(re.search(r"\[[^\]]+\]", msg)) or short in msg or "argument" in msg and "()" in msg


def check_exception(e, target):
    name = type(e).__name__
    if not isinstance(e, tuple(getattr(__builtins__, n, None) or __import__("builtins").__dict__[n] for n in ALLOWED)):
        return f"raised {name}: {e}"
    if not names_op(str(e), target):
        return f"raised {name} whose message does not name the op: {e}"
    return None


def run_call(spec):
    """Run one call spec here; return None (passed) or a description of the failure."""
    import contextlib

    import pyad
    from pyad.autograd import forward_ad

    ctx = spec["context"]
    cm = pyad.no_grad() if ctx == "no_grad" else forward_ad.dual_level() if ctx == "dual" else contextlib.nullcontext()
    target = spec["target"]
    try:
        with cm:
            try:
                fn, meth = resolve(target)
                args = [build(a, ctx == "dual") for a in spec["args"]]
                kwargs = {k: build(v, ctx == "dual") for k, v in spec["kwargs"].items()}
                if meth is not None:
                    self = build(spec["self"], ctx == "dual")
                    if meth == "__copy__":
                        import copy

                        out = copy.copy(self)
                    else:
                        out = getattr(self, meth)(*args, **kwargs)
                else:
                    out = fn(*args, **kwargs)
                if meth == "__iter__":
                    out = list(out)
                for t in out if isinstance(out, (tuple, list)) else (out,):
                    if isinstance(t, pyad.Tensor):
                        repr(t)
                        if t.requires_grad and t.dtype.is_floating_point and ctx != "no_grad":
                            t.sum().backward()
            except Exception as e:  # noqa: BLE001  (classified below)
                return check_exception(e, target)
    except Exception as e:  # noqa: BLE001  (leaving the context failed)
        return f"leaving the {ctx} context raised {type(e).__name__}: {e}"
    finally:
        pyad.set_default_dtype(pyad.float32)
        pyad.set_default_device("cpu")
    return None


# ---- the worker process and its driver ----


def _send(f, obj):
    data = pickle.dumps(obj)
    f.write(struct.pack("<I", len(data)) + data)
    f.flush()


def _read_exact(f, n):
    # Straight from the file descriptor: a buffered reader would take several answers at once, and select()
    # on the descriptor would then wait for answers already read.
    fd, parts = f.fileno(), []
    while n:
        b = os.read(fd, n)
        if not b:
            raise EOFError
        parts.append(b)
        n -= len(b)
    return b"".join(parts)


def _recv(f):
    (n,) = struct.unpack("<I", _read_exact(f, 4))
    return pickle.loads(_read_exact(f, n))


def worker_main():
    import resource

    if not os.environ.get("PYAD_FUZZ_NO_RLIMIT"):  # (set under AddressSanitizer, which needs the space)
        resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY, WORKER_MEMORY))
    import warnings

    warnings.simplefilter("ignore")
    import pyad  # noqa: F401

    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # prints of the API under test must not corrupt the channel
    while True:
        try:
            batch = _recv(inp)
        except EOFError:
            return
        for spec in batch:  # one answer per call, so a crash names the first call left unanswered
            _send(out, run_call(spec))


class Pool:
    """One worker interpreter, restarted whenever a call kills it."""

    def __init__(self):
        self.proc = None
        self.restarts = 0

    def start(self):
        import tempfile

        env = dict(os.environ, PYTHONFAULTHANDLER="1")
        # stderr to a file, not a pipe: a pipe nobody reads fills up and blocks the worker.
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.err,
            env=env,
        )

    def run_batch(self, specs, timeout=CALL_TIMEOUT):
        """One result per spec: None if the call passed, else a failure description (a crash, a hang or a
        bad exception). After a crash the rest of the batch runs in a fresh worker."""
        import select

        results = []
        while len(results) < len(specs):
            if self.proc is None or self.proc.poll() is not None:
                self.start()
            todo = specs[len(results) :]
            try:
                _send(self.proc.stdin, todo)
                for _ in todo:
                    ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
                    if not ready:
                        self.kill()
                        results.append(f"hang: no answer within {timeout:.0f} s")
                        break
                    results.append(_recv(self.proc.stdout))
            except (EOFError, BrokenPipeError, OSError):
                rc = self.proc.wait()
                self.err.seek(0)
                err = self.err.read().decode(errors="replace")[-2000:]
                self.proc = None
                self.restarts += 1
                results.append(f"crash: worker exited with {rc} (negative: signal)\n{err}")
        return results

    def run(self, spec, timeout=CALL_TIMEOUT):
        return self.run_batch([spec], timeout)[0]

    def kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            self.restarts += 1

    def close(self):
        if self.proc is not None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
            self.proc = None


def fuzz_hypothesis(calls, seed, pool=None, report=None):
    """Draw `calls` call specs with hypothesis and run them; return (calls run, [(spec, failure)])."""
    from hypothesis import HealthCheck, Phase, given, settings

    pool = pool or Pool()
    failures, count = [], [0]

    @settings(
        max_examples=calls,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategies())
    def one(spec):
        count[0] += 1
        f = pool.run(spec)
        if f is not None:
            failures.append((spec, f))
            if report:
                report(spec, f)

    one._hypothesis_internal_use_seed = seed
    one()
    pool.close()
    return count[0], failures


def fuzz(calls, seed, pool=None, report=None, batch=64):
    """Draw `calls` call specs with random.Random(seed) and run them in batches; return (calls run, failures)."""
    import random

    r = random.Random(seed)
    names = targets()
    pool = pool or Pool()
    failures, done = [], 0
    while done < calls:
        specs = [random_spec(r, names) for _ in range(min(batch, calls - done))]
        for spec, f in zip(specs, pool.run_batch(specs)):
            if f is not None:
                failures.append((spec, f))
                if report:
                    report(spec, f)
        done += len(specs)
    pool.close()
    return done, failures


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hypothesis", action="store_true", help="draw the calls with hypothesis (slower)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--replay", help="a call spec as printed by a failing run")
    args = ap.parse_args()
    if args.worker:
        return worker_main()
    if args.replay:
        import ast

        print(run_call(ast.literal_eval(args.replay)) or "passed")
        return 0
    t0 = time.time()

    def report(spec, f):
        print(f"FAIL {f.splitlines()[0]}\n  replay: python tests/fuzz.py --replay {repr(repr(spec))}", flush=True)

    n, failures = (fuzz_hypothesis if args.hypothesis else fuzz)(args.calls, args.seed, report=report)
    kinds = {}
    for _, f in failures:
        kinds[f.split(":")[0]] = kinds.get(f.split(":")[0], 0) + 1
    print(f"fuzzed {n} calls in {time.time() - t0:.0f} s: {len(failures)} failures {kinds or ''}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
