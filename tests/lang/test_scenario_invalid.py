"""Scenario specs: every kind of mistake gets a precise message at the right place.

Each `scenario_invalid/*.mech` is `tiny_scenario.mech` with ONE mistake and states what it
expects in its header, as `invalid/*.mech` does (positions count the header lines):

    # mistake: what was changed
    # expect: LINE:COL: message       one line per diagnostic, in reported order
    # hint: text                      the hint of the diagnostic above (optional)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mechdsl.cli.main import main
from mechdsl.lang import SpecError, load_source
from mechdsl.lang.diagnostics import render_all
from mechdsl.lang.fmt import format_spec
from mechdsl.lang.parser import parse

HERE = Path(__file__).parent
TINY = HERE / "tiny_scenario.mech"
INVALID = sorted((HERE / "scenario_invalid").glob("*.mech"))


def read_case(path: Path) -> tuple[str, list[tuple[int, int, str, str | None]]]:
    mistake, expected = "", []
    for line in path.read_text(encoding="utf-8").splitlines():
        if match := re.fullmatch(r"# mistake: (.+)", line):
            mistake = match[1]
        elif match := re.fullmatch(r"# expect: (\d+):(\d+): (.+)", line):
            expected.append((int(match[1]), int(match[2]), match[3], None))
        elif match := re.fullmatch(r"# hint: (.+)", line):
            expected[-1] = (*expected[-1][:3], match[1])
        elif not line.startswith("#"):
            break
    return mistake, expected


def test_there_are_enough_invalid_scenarios():
    assert len(INVALID) >= 10
    assert all(read_case(p)[0] and read_case(p)[1] for p in INVALID)


def test_the_base_scenario_is_valid_and_formats_to_itself():
    source = TINY.read_text(encoding="utf-8")
    model = load_source(source, str(TINY))
    assert repr(model) == "<ScenarioModel tiny: 12 state columns, action dim 15, horizon 5>"
    assert model.horizon == 5 and model.discount == 0.9 and model.train["algorithm"] == "cgdm"
    assert [c.label for c in model.constraints] == ["load"] and model.constraints[0].penalty == 5
    formatted = format_spec(parse(source))
    assert load_source(formatted, str(TINY)).meaning() == model.meaning()


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_scenario_reports_its_mistake(path: Path):
    _, expected = read_case(path)
    source = path.read_text(encoding="utf-8")
    with pytest.raises(SpecError) as raised:
        load_source(source, path.name)
    got = raised.value.diagnostics
    assert [(d.span.line, d.span.col) for d in got] == [(e[0], e[1]) for e in expected], \
        "\n" + render_all(path.name, source, got)
    for diagnostic, (_, _, message, hint) in zip(got, expected):
        assert message in diagnostic.message
        if hint is not None:
            assert diagnostic.hint is not None and hint in diagnostic.hint
    first = expected[0]
    assert f"{path.name}:{first[0]}:{first[1]}: error: {first[2]}" in render_all(path.name, source, got)


def test_cli_prints_the_position_and_exits_2(capsys):
    path = HERE / "scenario_invalid" / "threshold_out_of_range.mech"
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "threshold_out_of_range.mech:13:30: error: a threshold lies in (0, 1)" in err
    assert "^^^" in err
