"""The `mechdsl` entry point (`mechdsl.cli.entry`): the language server's SymPy cache is sized
before SymPy is imported; other commands keep SymPy's default."""

import os
import subprocess
import sys

from mechdsl.cli.entry import LSP_SYMPY_CACHE_SIZE, prepare_environment

CACHE_SIZE_OF_A_FRESH_PROCESS = ("from mechdsl.cli.entry import prepare_environment; import sys; "
                                 "prepare_environment(sys.argv[1:]); import sympy.core.cache as c; "
                                 "print(c.SYMPY_CACHE_SIZE)")


def cache_size_in_fresh_process(argv: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", CACHE_SIZE_OF_A_FRESH_PROCESS, *argv], env=env,
                          capture_output=True, text=True, timeout=300, check=True)
    return done.stdout.strip()


def test_lsp_gets_the_large_cache_and_other_commands_the_default():
    env = {k: v for k, v in os.environ.items() if k != "SYMPY_CACHE_SIZE"}
    assert cache_size_in_fresh_process(["lsp"], env) == str(LSP_SYMPY_CACHE_SIZE)
    assert cache_size_in_fresh_process(["check", "x.mech"], env) == "1000"


def test_a_size_the_user_set_wins(monkeypatch):
    monkeypatch.setenv("SYMPY_CACHE_SIZE", "77")
    prepare_environment(["lsp"])
    assert os.environ["SYMPY_CACHE_SIZE"] == "77"
    env = {**os.environ}
    assert cache_size_in_fresh_process(["lsp"], env) == "77"
