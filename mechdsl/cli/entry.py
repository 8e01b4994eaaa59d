"""The `mechdsl` command's entry point: what must be settled before SymPy is imported.

SymPy sizes its expression cache once, at import, from `SYMPY_CACHE_SIZE` (1,000 entries by
default). A one-shot command fits in that; the language server re-checks a spec on every edit,
and with a cache that holds the whole spec's subexpressions an edit rebuilds only what changed
(checking `specs/agent_migration.mech` again: 570 ms -> 380 ms, `benchmarks/bench_lsp.py`). So
`mechdsl lsp` starts with `LSP_SYMPY_CACHE_SIZE` unless the user set the variable.
"""

from __future__ import annotations

import os
import sys

LSP_SYMPY_CACHE_SIZE = 100_000
"""Entries of SymPy's cache in the language server (a bounded LRU: memory stays bounded)."""


def prepare_environment(argv: list[str]) -> None:
    """Set the environment that `argv`'s command needs before anything imports SymPy."""
    if argv[:1] == ["lsp"]:
        os.environ.setdefault("SYMPY_CACHE_SIZE", str(LSP_SYMPY_CACHE_SIZE))


def main(argv: list[str] | None = None) -> int:
    """`mechdsl ARGS`: prepare the environment, then run the command line."""
    prepare_environment(sys.argv[1:] if argv is None else list(argv))
    from mechdsl.cli.main import main as run_command_line

    return run_command_line(argv)
