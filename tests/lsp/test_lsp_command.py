"""`mechdsl lsp` without pygls: exit 2 and the install hint, not a traceback."""

from __future__ import annotations

import sys

from mechdsl.cli.main import main


def test_lsp_without_pygls_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pygls", None)  # `import pygls` now fails as if it were not installed
    assert main(["lsp"]) == 2
    err = capsys.readouterr().err
    assert "mechdsl lsp needs pygls" in err and "hint: pip install 'mechdsl[lsp]'" in err
