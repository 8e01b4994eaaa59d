"""Shared by the sweep tests: `main` with the `sweep` subcommand registered, and the Ray guard."""

import os

import pytest

import mechdsl.cli.main as cli_main

if os.environ.get("MECHDSL_REQUIRE_RAY") == "1":
    # .ci/run installs the `ray` extra and sets this: there the Ray tests must run, never skip.
    import ray  # noqa: F401
    import ray.tune  # noqa: F401


@pytest.fixture
def mechdsl_main(monkeypatch):
    # Until `sweep` is listed in mechdsl.cli.main.SUBCOMMANDS, register it for the tests.
    if "sweep" not in cli_main.SUBCOMMANDS:
        monkeypatch.setattr(cli_main, "SUBCOMMANDS", cli_main.SUBCOMMANDS + ("sweep",))
    return cli_main.main
