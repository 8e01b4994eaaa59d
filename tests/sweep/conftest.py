"""Shared by the sweep tests: `main` with the `sweep` subcommand registered."""

import pytest

import mechdsl.cli.main as cli_main


@pytest.fixture
def mechdsl_main(monkeypatch):
    # Until `sweep` is listed in mechdsl.cli.main.SUBCOMMANDS, register it for the tests.
    if "sweep" not in cli_main.SUBCOMMANDS:
        monkeypatch.setattr(cli_main, "SUBCOMMANDS", cli_main.SUBCOMMANDS + ("sweep",))
    return cli_main.main
