#!/usr/bin/env bash
# The CPU test suite and the fuzzer against a sanitized build of pyad's core (issue 16, item 2).
#
#   tools/sanitize_tests.sh asan         # AddressSanitizer + UndefinedBehaviorSanitizer
#   tools/sanitize_tests.sh assertions   # -D_GLIBCXX_ASSERTIONS
#   FUZZ_CALLS=20000 PYTEST_ARGS="-x" tools/sanitize_tests.sh asan
#
# Builds into build/sanitize-<mode> with CMake (options PYAD_SANITIZE / PYAD_GLIBCXX_ASSERTIONS), puts the
# sanitized pyad._C next to a copy of the Python package, and runs pytest and tests/fuzz.py on it. Any
# sanitizer report aborts the process (-fno-sanitize-recover), so a clean run is a passing run. Leak checking
# is off: CPython keeps objects alive until exit by design.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-asan}
case "$mode" in
  asan) flags=(-DPYAD_SANITIZE=address,undefined) ;;
  assertions) flags=(-DPYAD_GLIBCXX_ASSERTIONS=ON) ;;
  *) echo "usage: $0 asan|assertions" >&2; exit 2 ;;
esac
py=${PYTHON:-python}
build=build/sanitize-$mode
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPYAD_ENABLE_CUDA=OFF "${flags[@]}" \
  -DPython_EXECUTABLE="$(command -v "$py")" -Dpybind11_DIR="$("$py" -m pybind11 --cmakedir)" >/dev/null
cmake --build "$build" -j "${JOBS:-2}" >/dev/null
pkg=$build/pkg
rm -rf "$pkg" && mkdir -p "$pkg" && cp -r pyad "$pkg/" && cp "$build"/_C*.so "$pkg/pyad/"
# An editable install of pyad redirects `import pyad` to itself ahead of PYTHONPATH: drop that finder.
cat > "$pkg/sitecustomize.py" <<'PY'
import sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in type(f).__module__]
PY
export PYTHONPATH=$PWD/$pkg
if [ "$mode" = asan ]; then
  export LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
  # Reports also go to files: pytest captures stderr, and an aborting process takes the capture with it.
  rm -f "$PWD/$build"/report.*
  export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:max_allocation_size_mb=3072:abort_on_error=1:log_path=$PWD/$build/report
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$PWD/$build/report
  export PYAD_FUZZ_NO_RLIMIT=1  # ASan reserves terabytes of address space: no RLIMIT_AS for the workers
fi
"$py" -c "import pyad, sys; assert pyad._C.__file__.startswith('$PWD/$pkg'), pyad._C.__file__; print('pyad._C:', pyad._C.__file__)"
status=0
"$py" -m pytest -q -p no:cacheprovider ${PYTEST_ARGS:-} tests || status=$?
"$py" tests/fuzz.py --calls "${FUZZ_CALLS:-20000}" || status=$?
# (allocator_may_return_null also logs a WARNING for each refused huge allocation: those are not reports.)
if cat "$build"/report.* 2>/dev/null | grep -qE "ERROR: |runtime error"; then
  echo "sanitizer reports in $build/report.*" >&2; exit 1
fi
echo "sanitizer ($mode): no reports (pytest and fuzz exit status: $status)"
exit $status
