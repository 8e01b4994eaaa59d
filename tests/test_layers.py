"""The layer order of mechdsl (docs/architecture.md): a module imports only modules of its own
layer or of layers below it, and no modules import each other in a cycle.

Imports are read from the source (`ast`), function-level imports included: a lazy import
is still a dependency (the old cycle rl.runs -> pipelines -> rl.contract_pipeline -> rl.runs
was made of lazy imports). Imports under `if TYPE_CHECKING:` are not dependencies. Every
module is also imported, so a module that cannot be imported at all fails here too (one
that needs an optional package that is not installed is skipped)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mechdsl"

# Bottom to top; a module belongs to the layer of the longest prefix that names it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("mechdsl.errors", "mechdsl.runtime", "mechdsl.tolerances", "mechdsl.seeds"),
    # the checked models: plain data the front end builds, so below it
    ("mechdsl.model", "mechdsl.model_json", "mechdsl.games.model", "mechdsl.scenario.model",
     "mechdsl.scenario.hard", "mechdsl.auction_design.model"),
    ("mechdsl.lang",),
    ("mechdsl.constraints",),
    ("mechdsl.reduce",),
    ("mechdsl.solve",),
    ("mechdsl.codegen",),
    ("mechdsl.auction",),
    ("mechdsl.rl",),
    ("mechdsl.games", "mechdsl.scenario", "mechdsl.auction_design"),  # back ends of the game, scenario and
                                                                       # auction-design kinds (they train with rl)
    ("mechdsl.kinds",),
    ("mechdsl.sweep",),                      # trains trials of any kind through kinds.runs
    ("mechdsl.api", "mechdsl.gym", "mechdsl"),  # `mechdsl` itself: its lazy facade of mechdsl.api
    ("mechdsl.cli", "mechdsl.lsp", "mechdsl.__main__"),  # the front ends: the command line, the language server
)

# Known upward imports and cycles of code outside this branch's reach, each with who removes it.
KNOWN_UPWARD: set[tuple[str, str]] = set()
KNOWN_CYCLES: set[frozenset[str]] = set()


def module_files() -> dict[str, Path]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


MODULES = module_files()


def layer_of(module: str) -> int:
    best, layer = -1, None
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            covers = module == prefix or (prefix != "mechdsl" and module.startswith(prefix + "."))
            if covers and len(prefix) > best:
                best, layer = len(prefix), index
    assert layer is not None, f"{module} is in no layer; add it to LAYERS (and docs/architecture.md)"
    return layer


def imported_modules(module: str, path: Path) -> set[str]:
    """The mechdsl modules `module` imports anywhere in its source."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names if a.name.split(".")[0] == "mechdsl")
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[:len(package.split(".")) - child.level + 1]
                    base = ".".join(anchor + ([child.module] if child.module else []))
                if base.split(".")[0] == "mechdsl":
                    for alias in child.names:
                        submodule = f"{base}.{alias.name}"
                        found.add(submodule if submodule in MODULES else base)
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    # `import mechdsl` (for its __file__ or __version__) is no dependency on the facade: every
    # import of a submodule imports the root package first anyway
    found -= {module, "mechdsl"}
    return found


GRAPH = {module: imported_modules(module, path) for module, path in MODULES.items()}


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def test_no_module_imports_a_higher_layer():
    upward = sorted((module, target) for module, targets in GRAPH.items() for target in targets
                    if target in MODULES and layer_of(target) > layer_of(module)
                    and (module, target) not in KNOWN_UPWARD)
    assert not upward, "upward imports:\n" + "\n".join(f"  {m} -> {t}" for m, t in upward)


def test_no_library_module_imports_the_cli():
    users = sorted(m for m, targets in GRAPH.items() if layer_of(m) != len(LAYERS) - 1
                   and any(t.startswith("mechdsl.cli") for t in targets))
    assert not users


def test_no_import_cycles():
    found = [c for c in cycles(GRAPH) if c not in KNOWN_CYCLES]
    assert not found, "import cycles:\n" + "\n".join("  " + " <-> ".join(sorted(c)) for c in found)


def test_known_exceptions_still_exist():
    """An exception that is gone must leave the lists, so they never hide a new one."""
    for module, target in KNOWN_UPWARD:
        if module in GRAPH:
            assert target in GRAPH[module], f"{module} -> {target} is gone; remove it from KNOWN_UPWARD"
    for cycle in KNOWN_CYCLES:
        if cycle <= set(GRAPH):
            assert cycle in cycles(GRAPH), f"{sorted(cycle)} is no longer a cycle; remove it from KNOWN_CYCLES"


def test_the_checker_detects_an_upward_import_and_a_cycle():
    assert layer_of("mechdsl.lang.checker") < layer_of("mechdsl.rl.runs") < layer_of("mechdsl.cli.main")
    assert layer_of("mechdsl.games.model") < layer_of("mechdsl.lang") < layer_of("mechdsl.games.pipeline")
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [frozenset("abc")]
    assert cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_imports(module):
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name and error.name.split(".")[0] != "mechdsl":
            pytest.skip(f"optional dependency {error.name} is not installed")
        raise
