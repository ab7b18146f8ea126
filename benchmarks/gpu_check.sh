#!/usr/bin/env bash
# The whole GPU check of pyad in one call: build, CUDA tests, compute-sanitizer, GPU benchmarks.
#
# A task lent a GPU machine has 15 minutes of device time in all, the machine's start included, so this runs as
# one call of the device tool and ends within 8 minutes (GPU_CHECK_BUDGET), leaving time for one rerun:
#
#   run(command="bash benchmarks/gpu_check.sh", carry=[".whl"], timeout_s=540)
#
# The machine has no package registry and lacks scipy-openblas32 (pyad's BLAS, needed to build and to import):
# carry its wheel in .whl/ (ignored by git), fetched once on this machine with
#
#   pip download --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 --no-deps \
#       scipy-openblas32 -d .whl
#
# Stages, each stopped at its limit in seconds (GPU_CHECK_LIMIT_<NAME> overrides one: BUILD, TESTS, SANITIZE_TRIAL,
# MEMCHECK, RACECHECK, INITCHECK, BENCH_PYAD, BENCH_CUDA; each is also cut to what is left of GPU_CHECK_BUDGET,
# default 460 s):
#   probe     10  nvidia-smi, the runtime (Firecracker or gVisor), tool and package versions
#   build    140  install the carried wheels, then pip install -e . with all cores, for sm_90, CUDA required
#   tests    140  tests/test_cuda.py and every device-parametrised test on "cuda" (pytest -k cuda), -x off,
#                 in 8 processes where pytest-xdist is installed (GPU_CHECK_XDIST=N sets the number, 0 none),
#                 60 s per test where pytest-timeout is installed; PYAD_EXPECT_CUDA=1 and PYAD_EXPECT_CUBLAS=1
#                 make a missing GPU or cuBLAS fail those tests instead of skipping them, PYAD_TEST_HUGE=1 runs
#                 tests/test_cuda_limits.py's tests past 2^31 elements (about 45 GB of GPU memory); tests not
#                 started 30 s before the limit are skipped (PYAD_TEST_DEADLINE), so the report is still written
#   sanitize 100  benchmarks/gpu_sanitize.py --quick under compute-sanitizer memcheck (40), racecheck (35) and
#                 initcheck (25); skipped on gVisor, where compute-sanitizer does not work
#   bench     70  python -m pyad.bench --device cuda --d 4000 --repeats 3 (35) and benchmarks/bench_cuda.py
#                 --gemm-n 1024 4096 --repeats 3 (35): the speed issue's benchmarks in a short mode
#
# Writes to $OUT (the device tool sets it; default /tmp/gpu-check-out), five files at most, as the tool brings
# back 8 files two folders deep: summary.txt (one line per stage, then the details; also printed at the end),
# junit-cuda.xml, bench-pyad-cuda.json, bench-cuda.json and logs.tar.gz (build, pytest, sanitizer reports, ...).
#
# Without a GPU (here, or with GPU_CHECK_FORCE_NO_GPU=1) it says so and rehearses each stage's plumbing in
# seconds: the wheel check, the test run (whose CUDA tests then fail, as PYAD_EXPECT_CUDA=1 demands), the
# sanitizer workload on the CPU, the benchmarks' argument parsing; it builds nothing and exits 2.
#
# A rerun fits only at once, on the still-warm machine (it is held 30 s after a call; a fresh start needs 4 minutes
# of device time left), with fewer stages and a smaller budget (build/ stays there, so the rebuild can be incremental):
#   run(command="GPU_CHECK_STAGES='build tests' GPU_CHECK_BUDGET=200 bash benchmarks/gpu_check.sh", carry=[".whl"],
#       timeout_s=260)
#
# Env: GPU_CHECK_STAGES (default "build tests sanitize bench"), GPU_CHECK_TESTS (pytest arguments selecting the tests),
# GPU_CHECK_BENCH_D (default 4000), GPU_CHECK_RUNTIME (firecracker or gvisor: overrides the detection),
# PYTHON (default python3). Exit status: 0 every stage passed, 1 one failed
# or timed out, 2 no GPU.
set -u -o pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-/tmp/gpu-check-out}
PY=${PYTHON:-python3}
BUDGET=${GPU_CHECK_BUDGET:-460}
STAGES=${GPU_CHECK_STAGES:-build tests sanitize bench}
BENCH_D=${GPU_CHECK_BENCH_D:-4000}
mkdir -p "$OUT"
rm -f "$OUT/summary.txt" "$OUT/junit-cuda.xml" "$OUT/bench-pyad-cuda.json" "$OUT/bench-cuda.json" "$OUT/logs.tar.gz"
WORK=$(mktemp -d)
LOGS=$WORK/logs
mkdir -p "$LOGS"
SUMMARY=$OUT/summary.txt
DETAILS=$WORK/details.txt
: >"$DETAILS"
FAILED=0

limit() {  # limit NAME DEFAULT: the stage's own limit, cut to the budget left (10 s kept for packing)
  local var="GPU_CHECK_LIMIT_$1" own left
  own=${!var:-$2}
  left=$((BUDGET - SECONDS - 10))
  ((left < own)) && own=$left
  echo $((own > 0 ? own : 0))
}

status() {  # status STAGE STATUS SECONDS LIMIT DETAIL: one summary line, printed as it happens
  local line
  line=$(printf '%-20s %-8s %5ss/%-5s %s' "$1" "$2" "$3" "$4" "$5")
  echo "$line" >>"$SUMMARY"
  echo "== $line"
  case $2 in FAIL | TIMEOUT) FAILED=1 ;; esac
}

detail() { printf '%s\n' "$*" >>"$DETAILS"; }

wants() { [[ " $STAGES " == *" $1 "* ]]; }

# timed STAGE LIMIT LOG CMD...: runs CMD under LIMIT seconds (SIGINT first, so pytest still writes its report),
# output to LOG; sets RC (124 when the limit stopped it) and TOOK. Where too little time is left to start it,
# reports STAGE as TIMEOUT and returns 1.
timed() {
  local name=$1 lim=$2 log=$3 t0=$SECONDS
  shift 3
  if ((lim < 5)); then
    echo "not started: only ${lim}s left of the ${BUDGET}s budget" >"$log"
    status "$name" TIMEOUT 0 "$lim" "not started: only ${lim}s left of the ${BUDGET}s budget"
    return 1
  fi
  echo "-- $name (limit ${lim}s): $*"
  timeout -s INT -k 10 "$lim" "$@" >"$log" 2>&1
  RC=$?
  ((RC == 137)) && RC=124
  TOOK=$((SECONDS - t0))
}

verdict() {  # verdict RC: PASS, FAIL or TIMEOUT
  case $1 in 0) echo PASS ;; 124) echo TIMEOUT ;; *) echo FAIL ;; esac
}

junit_summary() {  # junit_summary XML: the counts on one line, then failures and skip reasons
  $PY - "$1" <<'EOF' 2>&1
import collections, sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError) as e:
    print(f"no JUnit report ({e.__class__.__name__})")
    sys.exit()
suites = [root] if root.tag == "testsuite" else list(root)
n = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")}
print(f"{n['tests']} tests: {n['tests'] - n['failures'] - n['errors'] - n['skipped']} passed, "
      f"{n['failures']} failed, {n['errors']} errors, {n['skipped']} skipped")
bad, skips = collections.defaultdict(list), collections.Counter()
for case in root.iter("testcase"):
    name = f"{case.get('classname')}::{case.get('name')}"
    for tag in ("failure", "error"):
        for el in case.findall(tag):
            msg = (el.get("message") or "").strip().splitlines()
            bad[f"{tag}: {msg[0][:150] if msg else '(no message)'}"].append(name)
    for el in case.findall("skipped"):
        skips[(el.get("message") or "")[:150]] += 1
for msg, names in sorted(bad.items(), key=lambda kv: -len(kv[1]))[:15]:
    print(f"  x{len(names)} {msg}")
    print("      " + ", ".join(n.split("::", 1)[-1] for n in names[:4]) + (" ..." if len(names) > 4 else ""))
if len(bad) > 15:
    print(f"  ... {len(bad) - 15} more kinds of failure: see junit-cuda.xml")
for msg, k in skips.most_common(8):
    print(f"  skipped x{k}: {msg}")
EOF
}

finish() {
  local rc=$1
  {
    echo
    cat "$DETAILS"
  } >>"$SUMMARY"
  tar -czf "$OUT/logs.tar.gz" -C "$WORK" logs 2>/dev/null
  echo
  echo "==================== $SUMMARY"
  cat "$SUMMARY"
  echo "==================== files in $OUT: $(cd "$OUT" && ls | tr '\n' ' ')"
  echo "gpu_check.sh: exit $rc after ${SECONDS}s"
  rm -rf "$WORK"
  exit "$rc"
}

echo "gpu_check.sh $(date -u '+%Y-%m-%d %H:%M:%S UTC'), budget ${BUDGET}s, stages: $STAGES, OUT=$OUT"
{
  echo "pyad GPU check, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "budget ${BUDGET}s; stages: $STAGES"
  echo
  printf '%-20s %-8s %12s %s\n' stage status time/limit detail
} >"$SUMMARY"

# ---------------------------------------------------------------- probe
[[ -x /usr/local/cuda/bin/nvcc ]] && [[ ":$PATH:" != *":/usr/local/cuda/bin:"* ]] && PATH=$PATH:/usr/local/cuda/bin
t0=$SECONDS
HAVE_GPU=0
GPU_DESC="no GPU: nvidia-smi is not on PATH"
if [[ ${GPU_CHECK_FORCE_NO_GPU:-0} == 1 ]]; then
  GPU_DESC="no GPU: GPU_CHECK_FORCE_NO_GPU=1"
elif command -v nvidia-smi >/dev/null; then
  if timeout 10 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$LOGS/nvidia-smi.txt" 2>&1 &&
    [[ -s $LOGS/nvidia-smi.txt ]]; then
    HAVE_GPU=1
    GPU_DESC=$(head -1 "$LOGS/nvidia-smi.txt")
  else
    GPU_DESC="no GPU: nvidia-smi lists none ($(head -c 200 "$LOGS/nvidia-smi.txt" | tr '\n' ' '))"
  fi
fi
KERNEL=$(uname -r)
if [[ -n ${GPU_CHECK_RUNTIME:-} ]]; then
  RUNTIME=$GPU_CHECK_RUNTIME
elif [[ $KERNEL == 4.4.0* ]] || dmesg 2>/dev/null | grep -qi gvisor; then
  RUNTIME=gvisor
elif [[ $KERNEL == *-fc-* ]]; then
  RUNTIME=firecracker
else
  RUNTIME="unknown (kernel $KERNEL)"
fi
SANITIZER=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)
{
  echo "kernel $KERNEL, runtime $RUNTIME, $(nproc) cores"
  echo "python: $($PY -c 'import sys; print(sys.executable, sys.version.split()[0])' 2>&1)"
  $PY - <<'EOF' 2>&1
import importlib.metadata as md
for name in ("torch", "cupy-cuda13x", "numpy", "pytest", "pytest-timeout", "pytest-xdist", "scikit-build-core", "pybind11",
             "cmake", "nvidia-cublas", "cuda-pathfinder", "scipy-openblas32"):
    try:
        print(f"  {name} {md.version(name)}")
    except md.PackageNotFoundError:
        print(f"  {name} (not installed)")
EOF
  echo "nvcc: $(nvcc --version 2>&1 | tail -2 | tr '\n' ' ')"
  echo "compute-sanitizer: ${SANITIZER:-not found}"
  command -v nvidia-smi >/dev/null && nvidia-smi 2>&1
} >"$LOGS/probe.txt"
status probe "$([[ $HAVE_GPU == 1 ]] && echo PASS || echo NO-GPU)" $((SECONDS - t0)) 10 "$GPU_DESC; runtime $RUNTIME"
detail "== probe"
detail "$(cat "$LOGS/probe.txt")"
if [[ $HAVE_GPU == 0 ]]; then
  echo "gpu_check.sh: $GPU_DESC. Rehearsing the stages' plumbing; nothing here runs on a GPU."
fi

# ---------------------------------------------------------------- build
if wants build; then
  t0=$SECONDS
  lim=$(limit BUILD 140)
  shopt -s nullglob
  wheels=("$ROOT"/.whl/*.whl)
  shopt -u nullglob
  carried="carried: $( ((${#wheels[@]})) && basename -a "${wheels[@]}" | paste -sd ' ' || echo none)"
  [[ $carried == *scipy_openblas32-* ]] || detail "no scipy-openblas32 wheel in .whl/: the lent machine lacks it; fetch it" \
    "with: pip download --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 --no-deps" \
    "scipy-openblas32 -d .whl"
  if [[ $HAVE_GPU == 1 ]] && ((${#wheels[@]})); then  # never into a machine's own environment without a GPU
    $PY -m pip install -q --no-index --no-deps --no-compile "${wheels[@]}" >"$LOGS/wheels.txt" 2>&1 ||
      detail "pip could not install the carried wheels: $(tail -3 "$LOGS/wheels.txt")"
  fi
  if ! $PY -c "import scipy_openblas32" 2>/dev/null; then
    status build FAIL $((SECONDS - t0)) "$lim" "scipy-openblas32 is missing: carry its wheel in .whl/ (see the top of this script)"
    detail "Fetch it on a machine with a registry, then name .whl in the run's carry:"
    detail "  pip download --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 --no-deps scipy-openblas32 -d .whl"
    finish 1
  fi
  wheel_note="scipy-openblas32 $($PY -c 'import importlib.metadata as m; print(m.version("scipy-openblas32"))'); $carried"
  # Explicit ON: a warm machine's CMake cache would otherwise keep an earlier setting.
  build_cmd=(env CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)"
    CMAKE_ARGS="-DPYAD_ENABLE_CUDA=ON -DPYAD_REQUIRE_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90"
    "$PY" -m pip install --no-build-isolation --no-deps -e .)
  if [[ $HAVE_GPU == 0 ]]; then
    status build SKIP $((SECONDS - t0)) "$lim" "no GPU: not built (the installed pyad is used); $wheel_note; would run: ${build_cmd[*]}"
  else
    timed build "$lim" "$LOGS/build.txt" "${build_cmd[@]}" || finish 1
    if ((RC == 0)); then
      info=$($PY -c "import pyad, pyad.cuda as c; print('cuda compiled', c.is_compiled(), 'available', c.is_available(),
'device', c.get_device_name() if c.is_available() else '-', 'matmul', c.matmul_backend())" 2>&1 | tail -1)
      status build PASS "$TOOK" "$lim" "built in ${TOOK}s with $(nproc) cores; $wheel_note; $info"
    else
      status build "$(verdict $RC)" "$TOOK" "$lim" "pip install -e . exited $RC after ${TOOK}s (logs.tar.gz: logs/build.txt)"
      detail "== build: the end of logs/build.txt"
      detail "$(tail -40 "$LOGS/build.txt")"
      finish 1
    fi
  fi
fi

# ---------------------------------------------------------------- tests
if wants tests; then
  lim=$(limit TESTS 140)
  # eval, so that GPU_CHECK_TESTS can quote a -k expression
  if [[ $HAVE_GPU == 1 ]]; then
    eval "selection=(${GPU_CHECK_TESTS:-tests -k cuda})"
  else  # the same run on a module whose every test needs the GPU: each must fail, none be skipped
    eval "selection=(${GPU_CHECK_TESTS:-tests/test_cuda.py})"
  fi
  pytest_args=()
  if $PY -c "import pytest_timeout" 2>/dev/null; then
    pytest_args=(--timeout=60)
  else
    detail "pytest-timeout is not installed: no per-test limit, only the stage's"
  fi
  # Several processes share the GPU (each with its own context): the CUDA tests are thousands of small ones.
  workers=${GPU_CHECK_XDIST:-$([[ $HAVE_GPU == 1 ]] && echo 8 || echo 0)}
  if ((workers > 0)) && $PY -c "import xdist" 2>/dev/null; then
    pytest_args+=(-n "$workers")
  elif ((workers > 0)); then
    detail "pytest-xdist is not installed: the tests run in one process"
  fi
  # No test starts after the deadline, so the run ends by itself and writes its report (one stopped by a signal
  # would not, under pytest-xdist); the limit stays as the backstop.
  deadline=$(($(date +%s) + (lim > 60 ? lim - 30 : lim / 2)))
  if timed tests "$lim" "$LOGS/pytest.txt" env PYAD_EXPECT_CUDA=1 PYAD_EXPECT_CUBLAS=1 PYAD_TEST_HUGE=1 \
    PYAD_TEST_DEADLINE="$deadline" PYTHONUNBUFFERED=1 \
    "$PY" -m pytest "${selection[@]}" -q -rfEs "${pytest_args[@]}" --junitxml="$OUT/junit-cuda.xml" \
    -o junit_family=xunit2; then
    counts=$(junit_summary "$OUT/junit-cuda.xml")
    first=$(head -1 <<<"$counts")
    detail "== tests: pytest ${selection[*]} (PYAD_EXPECT_CUDA=1 PYAD_EXPECT_CUBLAS=1)"
    detail "$counts"
    detail "$(tail -3 "$LOGS/pytest.txt")"
    if [[ $HAVE_GPU == 0 ]]; then
      if ((RC != 0)) && [[ $first == *" 0 passed,"* ]]; then
        status tests NO-GPU "$TOOK" "$lim" "as expected without a GPU, none passed (PYAD_EXPECT_CUDA=1 fails them): $first"
      else
        status tests FAIL "$TOOK" "$lim" "without a GPU every selected test should have failed: pytest exited $RC; $first"
      fi
    else
      st=$(verdict $RC)
      [[ $st == FAIL && $RC -ge 2 ]] && first="pytest exited $RC (interrupted or internal error); $first"
      cut=$(grep -o "skipped x[0-9]*: not run: PYAD_TEST_DEADLINE" <<<"$counts" | grep -o "[0-9][0-9]*" | head -1)
      [[ -n $cut ]] && st=TIMEOUT first="$first; $cut not started before the stage's limit"
      status tests "$st" "$TOOK" "$lim" "$first"
    fi
  fi
fi

# ---------------------------------------------------------------- sanitize
if wants sanitize; then
  t0=$SECONDS
  if [[ $HAVE_GPU == 0 ]]; then
    lim=$(limit SANITIZE_CPU 30)
    if timed sanitize "$lim" "$LOGS/gpu_sanitize-cpu.txt" "$PY" benchmarks/gpu_sanitize.py --quick --cpu; then
      note="no GPU; compute-sanitizer ${SANITIZER:-not found}; its workload on the CPU: $(tail -1 "$LOGS/gpu_sanitize-cpu.txt")"
      if ((RC == 0)); then status sanitize SKIP "$TOOK" "$lim" "$note"; else status sanitize FAIL "$TOOK" "$lim" "$note"; fi
    fi
  elif [[ -z $SANITIZER ]]; then
    status sanitize SKIP 0 0 "compute-sanitizer not found"
  elif [[ $RUNTIME == gvisor ]]; then
    status sanitize SKIP 0 0 "gVisor runtime: compute-sanitizer does not work there ('Device not supported')"
  else
    # A trial first: where the sanitizer cannot attach, skip rather than report three failures.
    if ! timed sanitize "$(limit SANITIZE_TRIAL 15)" "$LOGS/sanitizer-trial.txt" "$SANITIZER" --tool memcheck "$PY" -c \
      "import pyad; assert pyad.ones(8, device='cuda').sum().item() == 8"; then
      :
    elif ((RC != 0)) || grep -qi "not supported" "$LOGS/sanitizer-trial.txt"; then
      status sanitize SKIP "$TOOK" 15 "compute-sanitizer could not run a trial (exit $RC): $(grep -m1 -i 'error\|not supported' "$LOGS/sanitizer-trial.txt" | head -c 200)"
    else
      for tool_lim in memcheck:40 racecheck:35 initcheck:25; do
        tool=${tool_lim%%:*}
        lim=$(limit "${tool^^}" "${tool_lim##*:}")
        timed "sanitize-$tool" "$lim" "$LOGS/sanitizer-$tool.out" "$SANITIZER" --tool "$tool" --print-limit 50 \
          --error-exitcode 99 --log-file "$LOGS/sanitizer-$tool.txt" "$PY" benchmarks/gpu_sanitize.py --quick ||
          continue
        errors=$(grep -h "ERROR SUMMARY" "$LOGS/sanitizer-$tool.txt" 2>/dev/null | tail -1 | sed 's/^=* *//')
        case $RC in
          0) st=PASS note="${errors:-no error summary}" ;;
          99) st=FAIL note="${errors:-errors found}: logs/sanitizer-$tool.txt" ;;
          124) st=TIMEOUT note="stopped at ${lim}s; ${errors:-no error summary yet}" ;;
          *) st=FAIL note="exit $RC: $(tail -1 "$LOGS/sanitizer-$tool.out")" ;;
        esac
        status "sanitize-$tool" "$st" "$TOOK" "$lim" "$note"
        if [[ $st != PASS ]]; then
          detail "== compute-sanitizer --tool $tool: the start of its report"
          detail "$(head -60 "$LOGS/sanitizer-$tool.txt" 2>/dev/null)"
        fi
      done
    fi
  fi
fi

# ---------------------------------------------------------------- bench
if wants bench; then
  for spec in "pyad.bench:bench-pyad-cuda.json" "bench_cuda:bench-cuda.json"; do
    name=${spec%%:*} json=${spec##*:}
    if [[ $name == pyad.bench ]]; then
      lim=$(limit BENCH_PYAD 35)
      cmd=("$PY" -m pyad.bench --device cuda --d "$BENCH_D" --repeats 3 --json "$OUT/$json")
    else
      lim=$(limit BENCH_CUDA 35)
      cmd=("$PY" benchmarks/bench_cuda.py --gemm-n 1024 4096 --repeats 3 --json "$OUT/$json")
    fi
    timed "bench-$name" "$lim" "$LOGS/$name.txt" env PYTHONUNBUFFERED=1 "${cmd[@]}" || continue
    if [[ $HAVE_GPU == 0 ]]; then
      # Without a GPU both exit non-zero with a one-line reason, after parsing their arguments.
      if ((RC != 0)) && ! grep -q "Traceback\|unrecognized arguments" "$LOGS/$name.txt"; then
        status "bench-$name" SKIP "$TOOK" "$lim" "no GPU; it answered: $(tail -1 "$LOGS/$name.txt" | head -c 200)"
      else
        status "bench-$name" FAIL "$TOOK" "$lim" "exit $RC without a GPU: $(tail -1 "$LOGS/$name.txt" | head -c 200)"
      fi
    else
      note=$([[ -s $OUT/$json ]] && echo "$json written" || echo "no $json")
      ((RC == 0)) || note="$note; exit $RC: $(tail -1 "$LOGS/$name.txt" | head -c 200)"
      status "bench-$name" "$(verdict $RC)" "$TOOK" "$lim" "$note"
      detail "== $name: ${cmd[*]}"
      detail "$(tail -30 "$LOGS/$name.txt")"
    fi
  done
fi

if [[ $HAVE_GPU == 0 ]]; then
  detail "No GPU here: the stages above only rehearsed their plumbing. On the lent machine run:"
  detail '  run(command="bash benchmarks/gpu_check.sh", carry=[".whl"], timeout_s=540)'
  ((FAILED)) && finish 1
  finish 2
fi
finish "$FAILED"
