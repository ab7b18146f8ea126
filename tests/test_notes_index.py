"""docs/design.md's index of the Note comments is current (tools/notes_index.py), each Note is defined once,
and every reference names a Note that exists. The rules of the scanner are checked on a small tree of its own."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tools" / "notes_index.py"

_spec = importlib.util.spec_from_file_location("notes_index", SCRIPT)
notes_index = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(notes_index)

# Spelled in two halves so that this file mentions no Note itself.
N = "Note " + "["


def test_design_doc_index_is_current_and_notes_are_whole():
    r = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_conftest_points_to_the_design_doc():
    conftest = (ROOT / "tests" / "conftest.py").read_text()
    assert "docs/design.md" in conftest and (ROOT / "docs" / "design.md").is_file()


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "csrc").mkdir()
    (tmp_path / "pyad").mkdir()
    (tmp_path / "csrc" / "a.h").write_text(
        "#pragma once\n"
        f"// {N}Alpha]\n"
        "// Alpha explains itself here.\n"
        f"int x;  // See {N}Alpha].\n"
        f"// two on a line: {N}Alpha] and {N}Beta\n"
        "//   Wrapped] (a title broken across comment lines)\n"
    )
    (tmp_path / "pyad" / "b.py").write_text(f'"""{N}Beta Wrapped]\nBeta\'s text."""\n# {N}Gamma] is referenced only\n')
    return tmp_path


def test_scanner_tells_definitions_from_references(tree):
    defs, refs = notes_index.scan(tree)
    assert defs == {"Alpha": [("csrc/a.h", 2)], "Beta Wrapped": [("pyad/b.py", 1)]}
    assert refs == {
        "Alpha": [("csrc/a.h", 4), ("csrc/a.h", 5)],
        "Beta Wrapped": [("csrc/a.h", 5)],
        "Gamma": [("pyad/b.py", 3)],
    }
    assert notes_index.problems(defs, refs) == [f"{N}Gamma] is referenced at pyad/b.py:3 but defined nowhere"]


def test_scanner_reports_a_note_defined_twice(tree):
    (tree / "pyad" / "c.py").write_text(f"# {N}Alpha]\n# a second text for the same title\n")
    defs, refs = notes_index.scan(tree)
    assert any(
        p.startswith(f"{N}Alpha] is defined 2 times: csrc/a.h:2, pyad/c.py:1") for p in notes_index.problems(defs, refs)
    )


def test_index_rows_name_where_each_note_is_defined(tree):
    defs, _ = notes_index.scan(tree)
    index = notes_index.render(defs)
    assert "| Alpha | `csrc/a.h:2` |" in index and "| Beta Wrapped | `pyad/b.py:1` |" in index
    assert "Gamma" not in index
    stale = f"intro\n{notes_index.BEGIN}\nold rows\n{notes_index.END}\noutro\n"
    assert notes_index.replace_index(stale, index) == f"intro\n{index}\noutro\n"
