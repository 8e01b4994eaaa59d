"""Every code line of README.md and docs/*.md runs or is checked, so the docs cannot rot.

The rule (also stated in the README, "Tests"):
  * a ```python block is executed: the blocks of one file in order, as one script, in a
    scratch folder holding `specs/` and a copy of `generated/` (so nothing in the repository
    is written);
  * a block tagged ```python signatures is an API listing, not run: its `from X import ...`
    lines must import, and each `name(parameters) -> ...` line must list exactly the
    parameters of the real function (`inspect.signature`);
  * in ```bash, ```sh, ```console and untagged blocks, every `mechdsl ...` command is parsed
    by the real argparse parser (subcommands and options must exist; nothing is run, since
    some train for minutes) and every `python path/to/script.py` must name a file that
    exists; so must every `mechdsl ...` code span of the prose; ```text blocks (the
    language tour, listings) are left alone.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mechdsl.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```\s*$", re.M | re.S)
SHELL = {"", "bash", "sh", "shell", "console"}


def blocks(path: Path) -> list[tuple[str, str]]:
    """(info string, body) of every fenced block of a Markdown file."""
    return [(m.group(1).strip(), m.group(2)) for m in FENCE.finditer(path.read_text(encoding="utf-8"))]


def python_script(path: Path) -> str:
    return "\n\n".join(body for info, body in blocks(path) if info == "python")


def shell_commands(path: Path) -> list[str]:
    """Every command of the shell blocks: continuation lines joined, split at && ; |."""
    commands = []
    for info, body in blocks(path):
        if info.split(" ")[0] not in SHELL:
            continue
        for line in body.replace("\\\n", " ").splitlines():
            line = line.strip().removeprefix("$ ")
            if not line or line.startswith("#"):
                continue
            commands += [part.strip() for part in re.split(r"&&|;|\|(?!\|)", line) if part.strip()]
    return commands


@pytest.mark.slow  # the README's blocks train a small run (about 15 s on 2 cores)
@pytest.mark.parametrize("path", [p for p in DOCS if python_script(p)], ids=lambda p: p.name)
def test_python_blocks_run(path, tmp_path):
    (tmp_path / "specs").symlink_to(ROOT / "specs")
    shutil.copytree(ROOT / "generated", tmp_path / "generated", ignore=shutil.ignore_patterns("__pycache__"))
    script = tmp_path / f"{path.stem}_blocks.py"
    script.write_text(python_script(path), encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "MPLBACKEND": "Agg"})
    assert done.returncode == 0, f"{path.name}'s python blocks failed:\n{done.stderr[-3000:]}"


def listed_signatures(body: str) -> tuple[list[str], list[tuple[str, str]]]:
    """(import statements, [(function name, parameter text)]) of a signature block; an
    entry spans lines until its parentheses close."""
    entries, pending = [], ""
    for line in body.splitlines():
        code = line.split("#")[0].rstrip()
        if not pending and not (code.startswith("from ") or re.match(r"^[A-Za-z_]\w*\(", code)):
            continue
        pending = f"{pending} {code.strip()}" if pending else code
        if pending.count("(") <= pending.count(")") and not pending.endswith(","):
            entries.append(pending)
            pending = ""
    imports = [e for e in entries if e.startswith("from ")]
    calls = [(e.split("(", 1)[0], e.split("(", 1)[1][:_closing(e.split("(", 1)[1])]) for e in entries
             if not e.startswith("from ")]
    return imports, calls


def _parameter_names(params: str) -> list[str]:
    """Names in a listed parameter list, in order (read with `ast`, nothing evaluated)."""
    import ast

    args = ast.parse(f"def _listed({params}): pass").body[0].args
    names = [a.arg for a in [*args.posonlyargs, *args.args]]
    names += [args.vararg.arg] if args.vararg else []
    names += [a.arg for a in args.kwonlyargs] + ([args.kwarg.arg] if args.kwarg else [])
    return names


def _closing(params: str) -> int:
    """Index of the parenthesis that closes the parameter list `params` starts."""
    depth = 1
    for index, char in enumerate(params):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return index
    raise ValueError(f"unclosed parameter list: {params}")


@pytest.mark.parametrize("path", [p for p in DOCS if any(i == "python signatures" for i, _ in blocks(p))],
                         ids=lambda p: p.name)
def test_signature_blocks_match_the_code(path):
    import inspect

    namespace: dict = {}
    checked = 0
    for info, body in blocks(path):
        if info != "python signatures":
            continue
        imports, calls = listed_signatures(body)
        for statement in imports:
            exec(statement, namespace)  # noqa: S102 - the docs' own import lines
        for name, params in calls:
            listed = _parameter_names(params)
            actual = list(inspect.signature(namespace[name]).parameters)
            assert listed == actual, f"{path.name}: {name}(...) lists {listed}, the code has {actual}"
            checked += 1
    assert checked, f"{path.name}: no signature checked"


def _parses(argv: list[str]) -> str | None:
    """None if the mechdsl parser accepts `argv`, else its error message."""
    parser = build_parser()
    messages: list[str] = []
    parser.error = messages.append  # type: ignore[method-assign] - report instead of exiting
    for sub in next(a for a in parser._actions if a.dest == "command").choices.values():
        sub.error = messages.append  # type: ignore[method-assign]
    try:
        parser.parse_args(argv)
    except SystemExit as exited:  # --help / --version
        return None if exited.code == 0 else f"exit {exited.code}"
    return messages[0] if messages else None


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_shell_commands_name_real_subcommands_and_options(path):
    checked = 0
    for command in shell_commands(path):
        words = shlex.split(command, comments=True)
        if words and words[0] == "mechdsl":
            error = _parses(words[1:])
            assert error is None, f"{path.name}: `{command}`: {error}"
            checked += 1
        elif words[:1] == ["python"] and len(words) > 1 and words[1].endswith(".py"):
            assert (ROOT / words[1]).is_file(), f"{path.name}: `{command}`: no {words[1]}"
    if path.name == "README.md":
        assert checked >= 1


def inline_commands(path: Path) -> list[str]:
    """`mechdsl ...` code spans in the prose (not the synopses of the command table)."""
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    spans = re.findall(r"`(mechdsl [^`]+)`", text)
    return [span for span in spans if not re.search(r"\[|COMMAND|SPEC|RUN_DIR|\.\.\.", span)]


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_inline_commands_name_real_subcommands_and_options(path):
    """A span in the prose may be a fragment (`mechdsl sweep`, `mechdsl train --resume`): its
    subcommand must exist and each of its options must be one of that subcommand's."""
    subparsers = next(a for a in build_parser()._actions if a.dest == "command").choices
    for command in inline_commands(path):
        words = shlex.split(command)[1:]
        if words[0].startswith("-"):
            assert _parses(words) is None, f"{path.name}: `{command}`"
            continue
        for verb in words[0].split("/"):  # `mechdsl train/run/eval`
            assert verb in subparsers, f"{path.name}: `{command}`: no subcommand {verb}"
            options = subparsers[verb]._option_string_actions
            for word in words[1:]:
                assert not word.startswith("-") or word.split("=")[0] in options, f"{path.name}: `{command}`: {word}"


def test_the_checker_catches_a_wrong_option():
    assert _parses(["train", "specs/two_period.mech", "--stepz", "3"]) is not None
    assert _parses(["trian", "specs/two_period.mech"]) is not None
    assert _parses(["train", "specs/two_period.mech", "--steps", "3", "--debug"]) is None


def test_readme_starts_with_the_two_setup_commands():
    info, body = blocks(ROOT / "README.md")[0]
    assert info == "bash"
    assert body.splitlines() == ['pip install -c constraints.txt torch==2.13.0 -e ".[dev]" && mechdsl run specs/two_period.mech',
                                 'pip install -c constraints.txt torch==2.13.0 -e ".[dev]" && python -m pytest']


def test_ci_installs_the_readme_constraints():
    """CI installs the versions a newcomer gets: the same constraints file, every pin exact."""
    ci = (ROOT / ".ci" / "run").read_text()
    assert "-c constraints.txt" in ci
    pins = [line for line in (ROOT / "constraints.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert len(pins) > 20 and all(re.fullmatch(r"[a-z0-9.\-]+==[0-9][\w.]*", pin) for pin in pins), pins
    assert "torch==2.13.0" in pins and any(pin.startswith("scipy==") for pin in pins)
