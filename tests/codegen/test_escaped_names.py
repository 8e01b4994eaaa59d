"""Text from outside reaches generated code only escaped (`mechdsl.codegen.templating`).

The spec's file name is pasted into the docstrings of every generated module. Names with
triple quotes (which closed the docstring and ran the rest as code), backslashes (`\\x`
is an invalid escape in a docstring), a newline and an undecodable byte compile (exit 0),
every module compiles, importing the package runs none of the name's code, and the
docstring reads back as the original name.
"""

from __future__ import annotations

import ast as python_ast
import os
import shutil
import sys
from pathlib import Path

import pytest

from mechdsl.cli.main import main
from mechdsl.codegen.templating import comment_text, string_body, string_literal
from mechdsl.games.codegen import render_game
from mechdsl.lang import load_file
from mechdsl.runtime.package import import_folder
from mechdsl.scenario.codegen import render as render_scenario

ROOT = Path(__file__).resolve().parents[2]
INJECTION = 'x""";import sys;sys.INJECTED=1;""".mech'
NAMES = [INJECTION, "a\\xb.mech", "new\nline.mech", "it's \"quoted\" \\N{x}.mech", os.fsdecode(b"bad\xff.mech")]


@pytest.mark.parametrize("value", [*NAMES, "plain.mech", "", "ends with a backslash\\", '"', "tab\there\x00"])
def test_string_body_reads_back_as_itself_in_every_double_quoted_literal(value):
    body = string_body(value)
    assert "\n" not in body and '"' not in body.replace('\\"', "")
    for literal, text in ((f'"{body}"', value), (f'"""{body}"""', value), (f'"""({body})"""', f"({value})")):
        assert eval(literal) == text  # noqa: S307 - the literal is the test's own
    assert eval(string_literal(value)) == value  # noqa: S307


def test_plain_text_is_unchanged_and_comments_are_one_line():
    assert string_body("static_contract.mech") == "static_contract.mech"
    assert string_body("it's") == "it's"
    assert comment_text("a  *\n b\t") == "a * b"
    assert comment_text('say "hi"\\') == 'say \\"hi\\"\\\\'


@pytest.fixture(autouse=True)
def no_injection():
    yield
    assert not hasattr(sys, "INJECTED")


@pytest.mark.parametrize("name", NAMES, ids=["triple-quotes", "backslash-x", "newline", "quotes-and-N", "undecodable"])
def test_a_contract_compiles_whatever_its_file_is_called(tmp_path, monkeypatch, capsys, name):
    spec = tmp_path / name
    shutil.copyfile(ROOT / "specs" / "static_contract.mech", spec)
    out = tmp_path / "pkg"
    assert main(["compile", str(spec), "-o", str(out)]) == 0, capsys.readouterr().err
    for module in sorted(out.glob("*.py")):
        source = module.read_text(encoding="utf-8")
        compile(source, str(module), "exec")
        if module.name in ("__init__.py", "env.py", "formulas.py", "train.py"):
            assert string_body(name) in source and name in python_ast.get_docstring(python_ast.parse(source))
    monkeypatch.chdir(tmp_path)
    package_name = f"escaped_{NAMES.index(name)}"
    package = import_folder(out, package_name)
    try:
        assert f"(from {name})" in package.__doc__
        for module in ("env", "formulas"):
            assert f"from {name};" in sys.modules[f"{package_name}.{module}"].__doc__
    finally:
        for module in [m for m in sys.modules if m == package_name or m.startswith(f"{package_name}.")]:
            del sys.modules[module]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, "pkg"])  # nothing else was written


def test_games_and_scenarios_escape_the_name_too(tmp_path):
    for spec, render in ((ROOT / "specs" / "iot_offloading.mech", render_game),
                         (ROOT / "tests" / "lang" / "tiny_scenario.mech", render_scenario)):
        copy = tmp_path / f"{spec.stem}{INJECTION}"
        shutil.copyfile(spec, copy)
        files = render(load_file(copy))  # every .py module is compiled before render returns
        documented = [name for name, text in files.items() if name.endswith(".py") and string_body(copy.name) in text]
        assert "__init__.py" in documented and "env.py" in documented
        for name in documented:
            assert copy.name in python_ast.get_docstring(python_ast.parse(files[name]))
