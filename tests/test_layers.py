"""The C++ layers point one way (issue 12, item 3): every #include in csrc/ goes to its own layer or one the
layer builds on. core/ is the bottom; the kernels and autograd/ each build on it alone and know nothing of each
other (autograd/ computes through the ops it declares in autograd/grad_ops.h); ops/ builds on all three;
python/ on everything. The two kernel backends share code only through kernels/ proper. This test keeps the
picture true as files move."""

import re
from pathlib import Path

import pytest

CSRC = Path(__file__).resolve().parent.parent / "csrc"

# Each layer and the layers its files may include (its own included).
LAYERS = {
    "core": {"core"},
    "kernels": {"core", "kernels"},
    "autograd": {"core", "autograd"},
    "ops": {"core", "kernels", "autograd", "ops"},
    "python": {"core", "kernels", "autograd", "ops", "python"},
}
# Sub-layers that sit side by side and must not include each other; the parent's own files (shared by all
# of them) include none of them. core/cuda holds the device runtime's CUDA side, whose CUDA-typed header
# the core itself must not see (it compiles without the toolkit).
SIBLINGS = {"kernels": {"cpu", "cuda"}, "core": {"cuda"}}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)
SOURCES = ("*.h", "*.cpp", "*.cu", "*.cuh", "*.inc")


def _resolve(root: Path, src: Path, name: str) -> Path | None:
    # Relative to the including file (today's style) or rooted at csrc/ (the style the tree moves to).
    for base in (src.parent, root):
        p = (base / name).resolve()
        if p.is_file():
            return p
    return None


def layer_violations(root: Path) -> list[str]:
    """Every include under `root` that points up a layer, sideways between sibling sub-layers, or nowhere."""
    root = root.resolve()
    bad = []
    files = sorted(p for pattern in SOURCES for p in root.rglob(pattern))
    for src in files:
        rel = src.relative_to(root).parts
        for name in INCLUDE.findall(src.read_text()):
            target = _resolve(root, src, name)
            where = f'{"/".join(rel)} includes "{name}"'
            if target is None:
                bad.append(f"{where}, which does not exist")
                continue
            try:
                trel = target.relative_to(root).parts
            except ValueError:
                bad.append(f"{where}, which is outside csrc/")
                continue
            if rel[0] not in LAYERS or trel[0] not in LAYERS:
                bad.append(
                    f"{where}: {rel[0] if rel[0] not in LAYERS else trel[0]}/ is in no layer of {sorted(LAYERS)}"
                )
                continue
            if trel[0] not in LAYERS[rel[0]]:
                bad.append(f"{where}: {rel[0]}/ may not include {trel[0]}/")
                continue
            subs = SIBLINGS.get(rel[0], set())
            if rel[0] == trel[0] and subs:
                own = rel[1] if len(rel) > 2 and rel[1] in subs else None
                theirs = trel[1] if len(trel) > 2 and trel[1] in subs else None
                if theirs is not None and own != theirs:
                    bad.append(
                        f"{where}: {rel[0]}/{own or ''} may not include {rel[0]}/{theirs}/ "
                        f"(shared code lives in {rel[0]}/ itself)"
                    )
    return bad


def test_csrc_includes_point_down_the_layers():
    assert CSRC.is_dir()
    bad = layer_violations(CSRC)
    assert not bad, "includes against the layering:\n  " + "\n  ".join(bad)


def test_csrc_has_every_layer():
    # The check above passes vacuously on a tree it cannot see.
    for layer in LAYERS:
        assert any((CSRC / layer).glob("*.h")), f"csrc/{layer}/ has no headers"


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path


BASE = {
    "core/tensor.h": "#pragma once\n",
    "kernels/kernels.h": '#include "../core/tensor.h"\n',
    "kernels/cpu/loops.h": '#include "../kernels.h"\n',
    "kernels/cuda/common.cuh": '#include "../kernels.h"\n',
    "autograd/node.h": '#include "core/tensor.h"\n',
    "ops/ops.h": '#include "../autograd/node.h"\n',
    "python/bind.h": '#include "../ops/ops.h"\n',
}


def test_layer_check_accepts_a_clean_tree(tmp_path):
    assert layer_violations(_tree(tmp_path, BASE)) == []


@pytest.mark.parametrize(
    "name, text, complaint",
    [
        ("core/storage.cpp", '#include "../kernels/kernels.h"\n', "core/ may not include kernels/"),
        ("autograd/engine.cpp", '#include "../ops/ops.h"\n', "autograd/ may not include ops/"),
        ("autograd/engine.cpp", '#include "ops/ops.h"\n', "autograd/ may not include ops/"),
        ("autograd/engine.cpp", '#include "../kernels/kernels.h"\n', "autograd/ may not include kernels/"),
        ("kernels/dispatch.cpp", '#include "../autograd/node.h"\n', "kernels/ may not include autograd/"),
        ("ops/unary.cpp", '#include "../python/bind.h"\n', "ops/ may not include python/"),
        ("kernels/cuda/reduce.cu", '#include "../cpu/loops.h"\n', "may not include kernels/cpu/"),
        ("kernels/matrix_layout.h", '#include "cpu/loops.h"\n', "may not include kernels/cpu/"),
        ("core/storage.cpp", '#include "cuda/check.cuh"\n', "may not include core/cuda/"),
        ("ops/unary.cpp", '#include "../ops/missing.h"\n', "does not exist"),
    ],
)
def test_layer_check_flags_what_breaks_the_layering(tmp_path, name, text, complaint):
    files = dict(BASE, **{name: text, "core/cuda/check.cuh": "#pragma once\n"})
    bad = layer_violations(_tree(tmp_path, files))
    assert len(bad) == 1 and complaint in bad[0], bad
