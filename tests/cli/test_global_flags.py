"""Flags every subcommand shares: `--debug` before or after the subcommand, `--set` on every
verb that loads a spec (documented once in `mechdsl --help`), a folder passed as a spec."""

from __future__ import annotations

from pathlib import Path

import pytest

from mechdsl.cli.main import SUBCOMMANDS, TOOLS, build_parser, main

ROOT = Path(__file__).resolve().parents[2]
SPEC = str(ROOT / "specs" / "static_contract.mech")
SPEC_VERBS = ("check", "derive", "solve", "compile", "train", "run", "sweep")


@pytest.fixture
def broken_checker(monkeypatch):
    """An internal error inside spec loading (a bug, not a user mistake)."""
    import mechdsl.lang

    def crash(*args, **kwargs):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(mechdsl.lang, "load_source", crash)


@pytest.mark.parametrize("argv", [["--debug", "check", SPEC], ["check", SPEC, "--debug"], ["check", "--debug", SPEC]])
def test_debug_before_or_after_the_subcommand(argv, capsys, broken_checker):
    assert main(argv) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: simulated bug" in err


def test_without_debug_no_traceback(capsys, broken_checker):
    assert main(["check", SPEC]) == 3
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error (RuntimeError: simulated bug)" in err
    assert "rerun with --debug" in err


def test_every_subcommand_accepts_debug():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command").choices
    assert set(subparsers) == set(SUBCOMMANDS) | set(TOOLS)
    for name, sub in subparsers.items():
        assert "--debug" in sub._option_string_actions, name


@pytest.mark.parametrize("verb", SPEC_VERBS)
def test_set_on_every_verb_that_loads_a_spec(verb):
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices[verb]
    action = sub._option_string_actions["--set"]
    assert action.metavar == "NAME=VALUE" and "mechdsl --help" in action.help


def test_set_is_documented_once_in_the_main_help():
    text = build_parser().format_help()
    assert text.count("--set NAME=VALUE") == 1
    for verb in SPEC_VERBS:
        assert verb in text.split("--set NAME=VALUE")[1]


@pytest.mark.parametrize("verb", ["check", "derive", "compile"])
def test_set_changes_the_model(verb, tmp_path, capsys):
    argv = [verb, SPEC, "--set", "K=3"] + (["-o", str(tmp_path / "p")] if verb == "compile" else [])
    assert main(argv) == 0
    assert main([verb, SPEC, "--set", "nosuch=1"] + (["-o", str(tmp_path / "q")] if verb == "compile" else [])) == 2
    assert "nosuch" in capsys.readouterr().err


def test_a_folder_is_not_a_spec(tmp_path, capsys):
    (tmp_path / "a.mech").write_text("mechanism a\n")
    (tmp_path / "b.mech").write_text("mechanism b\n")
    assert main(["derive", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path} is a folder, not a spec file" in err and f"e.g. {tmp_path / 'a.mech'} (2 .mech files there)" in err


@pytest.mark.parametrize("verb", ["check", "derive"])
def test_a_closed_pipe_ends_quietly(verb):
    """`mechdsl check SPEC | head -1`: the reader goes away before mechdsl writes; no traceback,
    no "internal error", the shell's code for a closed pipe (141)."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "import sys; from mechdsl.cli.main import main; sys.exit(main())",
                             verb, SPEC], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 141
    assert err == ""
