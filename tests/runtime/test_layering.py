"""`mechdsl.runtime` is what generated packages import at run time: it depends on torch,
NumPy, the standard library, itself, SciPy's HiGHS (the payment LPs' fallback, imported
only when the interior-point method stalls) and numba (the payment LPs' compiled pivots on the
CPU) only (never on mechdsl's compiler stages)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import mechdsl.runtime

ALLOWED = {"torch", "numpy", "numba", "scipy.optimize", "mechdsl.runtime", "mechdsl.errors", "__future__"}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module or "")
    return names


def test_runtime_imports_only_torch_numpy_numba_and_itself():
    folder = Path(mechdsl.runtime.__file__).parent
    modules = sorted(folder.glob("*.py"))
    assert len(modules) >= 8
    for path in modules:
        for name in _imports(path):
            top = name.split(".")[0]
            allowed = top in sys.stdlib_module_names or any(name == a or name.startswith(a + ".") for a in ALLOWED)
            assert allowed, f"{path.name} imports {name}"
