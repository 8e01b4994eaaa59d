"""Broken specs never crash the front end.

The bundled specs are mutated the way editing goes wrong (lines deleted, duplicated or
swapped, the file cut short, stray characters typed, names renamed). Every mutant must
either check to a usable model or raise `SpecError` whose diagnostics point inside the
file (or just past its end); no other exception may escape, and the CLI must exit 0 or 2
without a traceback.
"""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mechdsl.cli.main import main
from mechdsl.lang import SpecError, load_source
from mechdsl.lang.diagnostics import render_all
from spec_samples import ROOT

SOURCES = [path.read_text(encoding="utf-8") for path in sorted(ROOT.glob("specs/*.mech"))]
# Checking the agent-migration scenario takes ~1.8 s (function bodies are expanded per call), so
# the 2000-case fuzz uses the small scenario fixture and the big spec gets its own, smaller fuzz.
LARGE = [(ROOT / "specs" / "agent_migration.mech").read_text(encoding="utf-8")]
FAST_SOURCES = [s for s in SOURCES if s not in LARGE] + [(ROOT / "tests" / "lang" / "tiny_scenario.mech").read_text(
    encoding="utf-8")]
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
KEYWORDS = ["param", "let", "in", "for", "sum", "type", "menu", "ir", "ic", "iic", "count", "lambda",
            "import", "size", "period", "train", "uniform", "dirichlet", "log", "K", "k", "N"]
NEW_NAMES = st.builds(lambda first, rest: first + rest, st.sampled_from("abkKxTR_"),
                      st.text(alphabet="abcdeKT0123_", max_size=6))
TYPED = st.text(alphabet="{}[]()=~,#^*+-/<>.\"'$@!;:\\ \t\r\f\n0123456789eE_abkKxé", min_size=1, max_size=4)


@st.composite
def mutants(draw, sources: list[str] = FAST_SOURCES) -> str:
    text = draw(st.sampled_from(sources))
    for _ in range(draw(st.integers(1, 3))):
        text = draw(st.sampled_from(MUTATIONS))(draw, text)
    return text


def _line_index(draw, lines: list[str]) -> int:
    return draw(st.integers(0, max(0, len(lines) - 1)))


def delete_line(draw, text: str) -> str:
    lines = text.splitlines(keepends=True)
    if lines:
        del lines[_line_index(draw, lines)]
    return "".join(lines)


def duplicate_line(draw, text: str) -> str:
    lines = text.splitlines(keepends=True)
    if lines:
        i = _line_index(draw, lines)
        lines.insert(i, lines[i])
    return "".join(lines)


def swap_lines(draw, text: str) -> str:
    lines = text.splitlines(keepends=True)
    if len(lines) > 1:
        i, j = _line_index(draw, lines), _line_index(draw, lines)
        lines[i], lines[j] = lines[j], lines[i]
    return "".join(lines)


def truncate(draw, text: str) -> str:
    return text[: draw(st.integers(0, len(text)))]


def insert_characters(draw, text: str) -> str:
    at = draw(st.integers(0, len(text)))
    return text[:at] + draw(TYPED) + text[at:]


def rename_identifier(draw, text: str) -> str:
    matches = list(IDENTIFIER.finditer(text))
    if not matches:
        return text
    old = draw(st.sampled_from(matches))
    new = draw(st.one_of(st.sampled_from(KEYWORDS), NEW_NAMES))
    if draw(st.booleans()):  # every occurrence (a consistent rename) or just this one
        return re.sub(rf"\b{re.escape(old.group())}\b", new, text)
    return text[: old.start()] + new + text[old.end():]


MUTATIONS = [delete_line, duplicate_line, swap_lines, truncate, insert_characters, rename_identifier]


def assert_checks_or_reports(text: str) -> None:
    try:
        model = load_source(text, "mutant.mech")
    except SpecError as error:
        lines = text.split("\n")  # numbered as the parser numbers them: only "\n" ends a line
        assert error.diagnostics
        for d in error.diagnostics:
            assert 1 <= d.span.line <= len(lines) + 1, d
            assert d.span.col >= 1, d
            if d.span.line <= len(lines):
                assert d.span.col <= len(lines[d.span.line - 1]) + 1, d
        assert render_all("mutant.mech", text, error.diagnostics).count(": error: ") == len(error.diagnostics)
    else:  # a model that checks must be usable by later stages
        assert model.summary() and repr(model)
        decisions = model.decision_symbols() if hasattr(model, "decision_symbols") else model.strategies
        assert decisions


@settings(max_examples=2000, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutants())
def test_mutated_specs_check_or_report_positioned_errors(text):
    assert_checks_or_reports(text)


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutants(LARGE))
def test_mutated_large_scenario_checks_or_reports_positioned_errors(text):
    assert_checks_or_reports(text)


@pytest.mark.parametrize("seed", range(8))
def test_cli_on_mutants_exits_cleanly(seed, tmp_path, capsys):
    rng = random.Random(seed)
    text = rng.choice(SOURCES)
    lines = text.splitlines(keepends=True)
    for _ in range(3):
        i = rng.randrange(len(lines))
        action = rng.choice(["delete", "duplicate", "garble"])
        if action == "delete":
            del lines[i]
        elif action == "duplicate":
            lines.insert(i, lines[i])
        else:
            at = rng.randrange(len(lines[i]) + 1)
            lines[i] = lines[i][:at] + rng.choice(["(", "}", "**", "=", " zz", "$"]) + lines[i][at:]
    spec = tmp_path / "mutant.mech"
    spec.write_text("".join(lines), encoding="utf-8")
    code = main(["check", str(spec)])
    captured = capsys.readouterr()
    assert code in (0, 2), captured.err
    assert "Traceback" not in captured.err and "internal error" not in captured.err
    if code == 2:
        assert re.search(rf"^{re.escape(str(spec))}:\d+:\d+: error: ", captured.err, re.M)
    else:
        assert captured.out.startswith("mechanism ")


@pytest.mark.parametrize(("source", "position"), [
    ("mechanism m\r\r\r\r\r\n", (1, 1)),  # a lone "\r" ends no line for the parser
    ("mechanism m\f\f\nparam", (2, 6)),
    ("param x = \f\f\f\f\n", (1, 10)),
    ("mechanism m\n\n\n", (3, 1)),
    ("", (1, 1)),
])
def test_positions_count_lines_as_the_parser_does(source, position):
    with pytest.raises(SpecError) as raised:
        load_source(source, "odd.mech")
    assert (raised.value.first.span.line, raised.value.first.span.col) == position
    assert_checks_or_reports(source)
    rendered = str(raised.value).splitlines()
    assert rendered[1].startswith(f"{position[0]:>5} | ") and "\r" not in rendered[1]
