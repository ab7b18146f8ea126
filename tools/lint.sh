#!/usr/bin/env bash
# The static checks CI runs (.ci/run), each over the whole tree, all of them even when one fails:
#   ruff check and ruff format --check   (ruff.toml)     over the Python of pyad/ tests/ benchmarks/ examples/ tools/
#   mypy pyad                            (mypy.ini)      the package's type hints
#   clang-format --dry-run -Werror       (.clang-format) over csrc/
#   tools/gen_stubs.py --check           pyad/_C.pyi is what the built pyad._C gives (needs pyad installed)
# The tools come from PyPI, pinned in pyproject's `lint` extra (pip install -e ".[lint]"), so that every machine
# formats alike. Exits non-zero if any check failed. `tools/lint.sh --fix` first applies what can be applied
# (import order, ruff format, clang-format, then the Note index of docs/design.md), then checks.
set -uo pipefail
cd "$(dirname "$0")/.."

python_dirs=(pyad tests benchmarks examples tools)
cpp_sources() { find csrc -type f \( -name '*.h' -o -name '*.cpp' -o -name '*.cu' -o -name '*.cuh' -o -name '*.inc' \) | sort; }

mapfile -t cpp < <(cpp_sources)
if [ "${1:-}" = "--fix" ]; then
  ruff check --fix --select I "${python_dirs[@]}"
  ruff format "${python_dirs[@]}"
  clang-format -i --style=file "${cpp[@]}"
  python tools/notes_index.py --write  # formatting moves the lines the index points to
fi

failed=()
step() {  # step NAME COMMAND...: run it, remember a failure, go on
  echo "+ $1"
  "${@:2}" || failed+=("$1")
}

step "ruff check ${python_dirs[*]}" ruff check "${python_dirs[@]}"
step "ruff format --check ${python_dirs[*]}" ruff format --check "${python_dirs[@]}"
step "mypy pyad" mypy pyad
clang_format_check() {  # names the files that need formatting (its own report quotes every line)
  local bad=0 f
  command -v clang-format >/dev/null || { echo "clang-format not found (pyproject's lint extra)"; return 1; }
  for f in "${cpp[@]}"; do
    clang-format --dry-run -Werror --style=file "$f" 2>/dev/null || { echo "would reformat: $f"; bad=1; }
  done
  return $bad
}
step "clang-format --dry-run -Werror (${#cpp[@]} files of csrc/)" clang_format_check
step "python tools/gen_stubs.py --check" python tools/gen_stubs.py --check

if [ ${#failed[@]} -gt 0 ]; then
  printf 'lint: failed:\n' >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "lint: all checks passed"
