"""Every kind of mistake gets a precise message at the right place.

Each `invalid/*.mech` is `tiny_contract.mech` with ONE mistake, and states what it expects
in its header (positions count the header lines):

    # mistake: what was changed
    # expect: LINE:COL: message       one line per diagnostic, in reported order
    # hint: text                      the hint of the diagnostic above (optional)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mechdsl.cli.main import main
from mechdsl.lang import SpecError, load_source
from mechdsl.lang.diagnostics import render_all
from mechdsl.lang.parser import STATEMENT_KEYWORDS
from spec_samples import INVALID, ROOT, TINY


@dataclass
class Expected:
    line: int
    col: int
    message: str
    hint: str | None = None


@dataclass
class Case:
    mistake: str
    expected: list[Expected] = field(default_factory=list)


def read_case(path: Path) -> Case:
    case = Case(mistake="")
    for line in path.read_text(encoding="utf-8").splitlines():
        if match := re.fullmatch(r"# mistake: (.+)", line):
            case.mistake = match[1]
        elif match := re.fullmatch(r"# expect: (\d+):(\d+): (.+)", line):
            case.expected.append(Expected(int(match[1]), int(match[2]), match[3]))
        elif match := re.fullmatch(r"# hint: (.+)", line):
            case.expected[-1].hint = match[1]
        elif not line.startswith("#"):
            break
    return case


def test_there_are_enough_invalid_specs():
    assert len(INVALID) >= 30
    assert all(read_case(path).mistake and read_case(path).expected for path in INVALID)


def test_the_base_of_the_invalid_specs_is_valid():
    model = load_source(TINY.read_text(encoding="utf-8"), str(TINY))
    assert repr(model) == "<Model tiny: K=2, 1 period(s), 4 decision variables>"


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_spec_reports_its_mistake(path: Path):
    case = read_case(path)
    source = path.read_text(encoding="utf-8")
    with pytest.raises(SpecError) as raised:
        load_source(source, path.name)
    got = raised.value.diagnostics
    assert [(d.span.line, d.span.col) for d in got] == [(e.line, e.col) for e in case.expected], \
        "\n" + render_all(path.name, source, got)
    for diagnostic, expected in zip(got, case.expected):
        assert expected.message in diagnostic.message
        if expected.hint is not None:
            assert diagnostic.hint is not None and expected.hint in diagnostic.hint
        assert diagnostic.span.end_line >= diagnostic.span.line
    rendered = render_all(path.name, source, got)
    first = case.expected[0]
    assert f"{path.name}:{first.line}:{first.col}: error: {first.message}" in rendered


@pytest.mark.parametrize("name", ["undefined_name_hint", "syntax_double_star_power", "unknown_algorithm"])
def test_cli_prints_the_mistake_with_a_caret(name, capsys):
    path = next(p for p in INVALID if p.stem == name)
    expected = read_case(path).expected[0]
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    header, source_line, carets, *rest = err.splitlines()
    assert header == f"{path}:{expected.line}:{expected.col}: error: {expected.message}"
    assert source_line.startswith(f"{expected.line:>5} | ")
    assert carets.index("^") == len(f"{expected.line:>5} | ") + expected.col - 1
    assert rest == [f"hint: {expected.hint}"]


# Hints that name the right thing, asserted here so a change of wording in a file cannot
# silently drop them.
@pytest.mark.parametrize(("name", "hint"), [
    ("undefined_name_hint", "did you mean 'c'?"),
    ("undefined_type_in_period", "did you mean 'theta'?"),
    ("undefined_function", "did you mean 'Q'?"),
    ("unknown_algorithm", "did you mean 'edmsac'?"),
    ("unknown_hyperparameter", "did you mean 'steps'?"),
    ("unknown_distribution", "did you mean 'uniform'?"),
    ("unknown_name_in_train", "did you mean 'N'?"),
    ("syntax_double_star_power", "powers are written with '^'"),
    ("syntax_single_equals_constraint", "use '=='"),
    ("syntax_keyword_as_name", "'size' is a reserved word"),
    ("syntax_unfinished_expression", "the previous statement looks unfinished"),
    ("syntax_misspelt_statement_keyword", "did you mean 'constraint'?"),
    ("syntax_misspelt_constraint_kind", "did you mean 'constraint ir'?"),
    ("syntax_misspelt_block_keyword", "did you mean 'type'?"),
    ("undefined_name_closest", "closest names in scope: c, t, th, theta"),
    ("payment_from_unknown_party", "did you mean 'worker'?"),
    ("types_fixed_unsorted", "sort the list: [11, 12]"),
])
def test_hints(name, hint):
    path = next(p for p in INVALID if p.stem == name)
    with pytest.raises(SpecError) as raised:
        load_source(path.read_text(encoding="utf-8"), path.name)
    assert hint in (raised.value.first.hint or "")


@pytest.mark.parametrize("values, message, col", [
    ("{2, 3, _5}", "'_5' is not defined", 22),
    ("{2, 3.5, 5}", "size 'K' can only take whole numbers >= 1, got 3.5", 19),
])
def test_bad_size_sweep_values_are_positioned_errors(values, message, col):
    """Found by the mutation fuzz: a name in a size's value set escaped as a traceback."""
    from mechdsl.lang import SpecError, load_source

    source = (ROOT / "specs" / "static_contract.mech").read_text(encoding="utf-8").replace("{2, 3, 5}", values)
    with pytest.raises(SpecError) as error:
        load_source(source, "bad.mech")
    (diagnostic,) = error.value.diagnostics
    assert diagnostic.message == message and (diagnostic.span.line, diagnostic.span.col) == (10, col)


@pytest.mark.parametrize("keyword", [k for k in STATEMENT_KEYWORDS  # 'auction' minus its u is 'action'
                                     if len(k) >= 5 and k[0] + k[2:] not in STATEMENT_KEYWORDS])
def test_every_misspelt_statement_keyword_gets_did_you_mean(keyword):
    """A statement keyword with one letter dropped, where a statement starts."""
    typo = keyword[0] + keyword[2:]
    with pytest.raises(SpecError) as raised:
        load_source(f"mechanism m\n{typo} x\n", "typo.mech")
    diagnostic = raised.value.first
    assert (diagnostic.span.line, diagnostic.span.col) == (2, 1)
    assert diagnostic.hint == f"did you mean '{keyword}'?"
