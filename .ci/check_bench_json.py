"""Checks that the main job's JSON holds what the README promises (run by .ci/run and tests/test_bench_cli.py)."""
import json
import os
import sys

META = ("machine", "versions", "device", "dtype", "threads", "repeats", "sizes", "quick", "wall_s")
MACHINE = ("cpu", "logical_cpus", "threads", "platform", "python", "blas")
VERSIONS = ("pyad", "numpy")
RESULT = ("method", "mode", "d", "dtype", "median_s", "min_s", "max_s", "iqr_s", "times_s", "max_rel_error",
          "tolerance", "check_passed", "model_flops")
METHODS = ("pyad reverse (grad)", "pyad forward (jacfwd)", "pyad jacobian(auto)", "numpy reverse", "numpy forward")
TORCH_METHODS = ("torch reverse (autograd)", "torch.func.jacrev", "torch.func.jacfwd")


def problems(doc, expect_torch=None):
    """What the document lacks, as a list of sentences (empty when it is complete)."""
    out = []
    meta = doc.get("meta", {})
    out += [f"meta.{k} is missing" for k in META if k not in meta]
    out += [f"meta.machine.{k} is missing" for k in MACHINE if k not in meta.get("machine", {})]
    out += [f"meta.versions.{k} is missing" for k in VERSIONS if k not in meta.get("versions", {})]
    results = doc.get("results") or []
    if not results:
        out.append("results is empty")
    for r in results:
        out += [f"results[{r.get('method')}, d={r.get('d')}].{k} is missing" for k in RESULT if k not in r]
        if r.get("check_passed") is not True:
            out.append(f"{r.get('method')} at d={r.get('d')} did not pass its check")
    has_torch = "torch" in meta.get("versions", {})
    if expect_torch is not None and has_torch != expect_torch:
        out.append(f"torch was {'' if has_torch else 'not '}compared, expected the opposite")
    wanted = METHODS + (TORCH_METHODS if has_torch else ())
    for d in meta.get("sizes", []):
        got = {r["method"] for r in results if r.get("d") == d}
        out += [f"no result for {m} at d={d}" for m in wanted if m not in got]
    checks = doc.get("checks") or []
    if len(checks) != len(results) or not all(c.get("passed") is True for c in checks):
        out.append("checks are missing or failed")
    if "plot" not in doc:
        out.append("plot is missing (null when matplotlib is not installed)")
    return out


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else "pyad-bench.json"
    with open(path) as fh:
        doc = json.load(fh)
    # The bench extra brings torch and matplotlib: CI's main job compares with torch and draws the plot.
    found = problems(doc, expect_torch=True)
    if not (doc.get("plot") and os.path.exists(doc["plot"])):
        found.append(f"the plot {doc.get('plot')!r} was not written")
    if found:
        print(f"{path}: " + "; ".join(found), file=sys.stderr)
        sys.exit(1)
    print(f"{path}: every field the README promises is there")
