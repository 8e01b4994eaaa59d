"""Shared by the language-server tests: the pygls guard (the LSP tests must run in CI)."""

import os

if os.environ.get("MECHDSL_REQUIRE_LSP") == "1":
    # .ci/run installs pygls and pytest-lsp (the `dev` extra) and sets this: there the LSP
    # tests must run, never skip.
    import pygls  # noqa: F401
    import pytest_lsp  # noqa: F401
