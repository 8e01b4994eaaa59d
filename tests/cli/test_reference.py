"""The README's command table is the one argparse generates (`python -m mechdsl.cli.reference`)."""

from __future__ import annotations

import argparse

from mechdsl.cli.main import build_parser
from mechdsl.cli.reference import BEGIN, END, README, command_table, readme_table, synopsis, with_table


def test_readme_table_is_generated_from_argparse():
    expected = command_table(build_parser())
    assert readme_table(README.read_text(encoding="utf-8")) == expected, (
        "README.md's command table is out of date: run `python -m mechdsl.cli.reference --write`")


def test_every_option_of_every_subcommand_is_in_the_table():
    table = command_table(build_parser())
    subparsers = next(a for a in build_parser()._actions if a.dest == "command").choices
    for name, sub in subparsers.items():
        row = next(line for line in table.splitlines() if line.startswith((f"| `mechdsl {name} ", f"| `mechdsl {name}`")))
        for action in sub._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag not in ("--help", "--debug"):
                    assert flag in row, (name, flag)
    assert "--debug" in table and "--version" in table


def test_synopsis_shapes():
    parser = argparse.ArgumentParser(prog="x")
    parser.add_argument("spec")
    parser.add_argument("-o", "--out", metavar="DIR")
    parser.add_argument("--mode", choices=("a", "b"))
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--latex", action="store_true")
    group.add_argument("--json", action="store_true")
    assert synopsis("demo", parser) == "mechdsl demo SPEC [--out DIR] [--mode a|b] [--latex | --json]"


def test_with_table_replaces_only_between_the_markers():
    text = f"intro\n{BEGIN}\nold table\n{END}\noutro\n"
    assert with_table(text, "| new |") == f"intro\n{BEGIN}\n| new |\n{END}\noutro\n"
    assert readme_table("no markers") == ""
