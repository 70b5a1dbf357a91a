"""The library's layers: what may import what, and a cheap ``import fusecli``."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from conftest import REPO

PACKAGE = REPO / "fusecli"

# (importing package, imported package): never allowed
FORBIDDEN = [
    ("fusecli", "fusecli.cli"),  # the CLI imports the library, never the reverse
    ("fusecli.metrics", "fusecli.models"),
    ("fusecli.degrade", "fusecli.models"),
    ("fusecli.sampling", "fusecli.models"),
    ("fusecli.models", "fusecli.train"),
    # architectures only: the classical stage, the pipeline and the training-free methods run around them
    ("fusecli.models", "fusecli.restore"),
    ("fusecli.models", "fusecli.fusion"),
    ("fusecli.models", "fusecli.methods"),
]


def module_imports() -> dict[str, set[str]]:
    """Module name -> the fusecli modules it imports (anywhere in the file, lazily or not)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fusecli"):
                imported.add(node.module)
                imported.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names if alias.name.startswith("fusecli"))
        found[name] = imported
    return found


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@pytest.mark.parametrize("importer,imported", FORBIDDEN, ids=lambda s: s)
def test_layer_is_kept(importer, imported):
    offenders = sorted(
        f"{module} imports {target}"
        for module, targets in module_imports().items()
        if within(module, importer) and not within(module, imported) and module != "fusecli.__main__"  # the entry point
        for target in targets
        if within(target, imported)
    )
    assert offenders == []


def test_relative_imports_are_not_used():
    """Absolute imports only, so a module's dependencies read the same wherever it lives."""
    relative = [str(p.relative_to(REPO)) for p in PACKAGE.rglob("*.py") if any(
        isinstance(n, ast.ImportFrom) and n.level for n in ast.walk(ast.parse(p.read_text())))]
    assert relative == []


def test_import_fusecli_is_cheap():
    """``import fusecli`` loads neither OpenCV nor torch; its public names load them when used."""
    code = "import sys, fusecli; print(sorted(m for m in ('cv2', 'torch') if m in sys.modules)); fusecli.read_image; print('cv2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO).stdout.split("\n")
    assert out[0] == "[]" and out[1] == "True"
