"""The shape of the code: imports flow one way through the layers of docs/ARCHITECTURE.md with no cycle, the
runtime loads nothing from training, benchmarks or face code, modules stay small, every part kind is built by name,
and the worked examples of docs/ARCHITECTURE.md run."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "lowface"
MAX_LINES = 300

# Each top-level part of lowface and the parts it may import (docs/ARCHITECTURE.md's layers); "lowface" is the
# package's own lazy front (__init__.py).
MAY_IMPORT = {
    "lowface": {"_moved"},
    "_moved": set(),
    "assets": set(),
    "registry": set(),
    "filters": set(),
    "models": {"filters", "registry"},
    "io": set(),
    "inference": {"lowface", "assets", "registry", "filters", "models", "io"},
    "backbones": {"assets", "registry"},
    "face": {"assets", "registry", "filters", "io"},
    "data": {"assets", "filters", "io"},
    "metrics": {"assets", "registry", "filters", "backbones"},
    "losses": {"assets", "registry", "filters", "models", "backbones", "face", "io"},
    "train": {"assets", "registry", "filters", "models", "io", "inference", "backbones", "face", "data", "losses"},
    "bench": {"assets", "registry", "filters", "models", "io", "inference", "face", "data", "metrics", "backbones"},
    "web": {"assets", "registry", "io", "inference", "face"},
    "cli": {
        "lowface",
        "assets",
        "registry",
        "filters",
        "models",
        "io",
        "inference",
        "backbones",
        "face",
        "data",
        "metrics",
        "losses",
        "train",
        "bench",
        "web",
    },
    "weights": set(),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Every lowface module -> the lowface modules its import statements name (top level and in functions)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
                if base.startswith("lowface"):
                    found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("lowface")}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def part(module: str) -> str:
    return module.split(".")[1] if "." in module else "lowface"


def test_imports_form_no_cycle():
    graph, state, path = import_graph(), {}, []

    def visit(module: str) -> None:
        state[module] = "open"
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                cycle = [*path[path.index(target) :], target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)


def test_imports_only_point_down_the_layers():
    wrong = [f"{module} imports {target}" for module, targets in import_graph().items() for target in targets
             if part(target) != part(module) and part(target) not in MAY_IMPORT[part(module)]]  # fmt: skip
    assert not wrong, "\n".join(wrong)
    assert set(MAY_IMPORT) >= {part(m) for m in import_graph()}, "a new top-level part needs its layer here"


def test_the_runtime_loads_no_training_benchmark_or_face_code():
    code = ("import sys, lowface.inference; lowface.inference.Enhancer; "
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('lowface'))))")  # fmt: skip
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert "lowface.inference.enhancer" in loaded and "lowface.models.restore_net" in loaded
    forbidden = [m for m in loaded if part(m) in {"train", "bench", "face", "losses", "data", "metrics", "cli", "web"}]
    assert not forbidden, forbidden


def test_no_module_over_300_lines_without_a_reason_in_its_docstring():
    for path in PACKAGE.rglob("*.py"):
        lines = len(path.read_text().splitlines())
        docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
        assert lines <= MAX_LINES or "lines because" in docstring, f"{path.relative_to(ROOT)}: {lines} lines"


def test_every_module_says_what_it_is():
    missing = [str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py")
               if p.name != "__main__.py" and not ast.get_docstring(ast.parse(p.read_text()))]  # fmt: skip
    assert not missing, missing


def test_every_kind_of_part_is_built_by_name():
    from lowface.metrics.catalogue import Metric
    from lowface.models.base import EnhancementModel
    from lowface.registry import BACKBONES, DETECTORS, METRICS, MODELS, OBJECTIVES, RECOGNIZERS

    assert {"enhance_net", "fast_enhance_net", "restore_net", "zero_dce", "sci", "lime"} <= set(MODELS.names())
    assert all(issubclass(MODELS.get(name), EnhancementModel) for name in MODELS)
    assert {"lowfacenet", "zero_dce", "sci", "lacr_vae"} <= set(OBJECTIVES.names())
    assert all(OBJECTIVES.get(name).default_weights for name in OBJECTIVES)
    assert set(BACKBONES.names()) == {"efficientnet_lite0", "vgg16"}
    assert set(DETECTORS.names()) == {"mtcnn", "hog", "blazeface"}
    assert set(RECOGNIZERS.names()) == {"dlib", "facenet"}
    assert {"psnr", "ssim", "niqe", "brisque", "loe", "ciede2000", "rank1"} <= set(METRICS.names())
    assert all(isinstance(METRICS.get(name), Metric) for name in METRICS)
    assert not METRICS.get("niqe").higher_is_better and METRICS.get("psnr").higher_is_better
    with pytest.raises(KeyError, match="unknown face detector 'yolo'; known: blazeface, hog, mtcnn"):
        DETECTORS.get("yolo")


def test_the_worked_examples_of_the_architecture_page_run():
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    blocks = re.findall(r"```python\n(.*?)\n```", text, re.S)
    assert len(blocks) == 5  # model, loss, metric, detector, command
    result = subprocess.run([sys.executable, "-c", "\n\n".join(blocks)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def test_old_module_paths_still_import_as_aliases_with_a_warning():
    code = """
import warnings
warnings.simplefilter("error")
try:
    import lowface.api
except DeprecationWarning as exc:
    print(exc)
warnings.simplefilter("ignore")
from lowface.api import DEFAULT_MODEL, Enhancer, enhance
from lowface.pretrained import create_model
import lowface.gate, lowface.inference.gate
print(DEFAULT_MODEL, lowface.gate is lowface.inference.gate, create_model.__module__)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "lowface.api is now lowface.inference"
    assert out[1] == "lowface-auto True lowface.inference.catalogue"


def test_the_command_line_loads_torch_only_inside_a_command():
    code = "import sys, lowface.cli; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


def test_training_loads_no_file_or_video_codec():
    """The trainer runs where only PyTorch and the image basics are installed (e.g. a rented GPU machine)."""
    code = ("import sys\nfrom lowface.train.trainer import Trainer\n"
            "from lowface.inference.catalogue import create_model\n"
            "print(sorted(m for m in ('av', 'pillow_heif', 'rawpy') if m in sys.modules))")  # fmt: skip
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"
