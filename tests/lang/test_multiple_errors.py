"""Independent mistakes in one file are reported together, sorted by position."""

from __future__ import annotations

import re

import pytest

from mechdsl.cli.main import main
from mechdsl.lang import SpecError, load_source
from spec_samples import TINY

# The tiny contract with five independent mistakes, placed so that the checker meets them
# in a different order than they appear (it checks parameters before the utility, the
# utility before the objective, and the train block last).
BROKEN = {
    "train { algorithm = edmsac  steps = 10 }": "train { algorithm = edmsacc  steps = 10 }",
    "utility worker(th, t, r) = th * r - c * t": "utility worker(th, t, r) = th * r - cc * t",
    "maximize N * sum(k in K, p[k] * (Q(T[k]) - R[k]))": "maximize N * sum(k in K, p[k, k] * (Q(T[k]) - R[k]))",
    "param c ~ uniform(1, 2)": "param c ~ uniform(1, 2)\nparam sd ~ normal(0, 0)",
    "constraint ic": "constraint ic\nconstraint T[5] <= 1",
}
EXPECTED = [  # (line, col, message fragment) in file order
    (7, 22, "normal(mean, sd) needs sd > 0"),
    (13, 37, "'cc' is not defined"),
    (15, 26, "'p' takes 1 index(es), got 2"),
    (18, 14, "index 5 is out of range for 'T'"),
    (19, 9, "unknown algorithm 'edmsacc'"),
]


@pytest.fixture
def broken_source() -> str:
    source = TINY.read_text(encoding="utf-8")
    for old, new in BROKEN.items():
        assert source.count(old) == 1
        source = source.replace(old, new)
    return source


def test_all_mistakes_are_reported_sorted_by_position(broken_source):
    with pytest.raises(SpecError) as raised:
        load_source(broken_source, "broken.mech")
    got = [(d.span.line, d.span.col, d.message) for d in raised.value.diagnostics]
    assert [(line, col) for line, col, _ in got] == [(line, col) for line, col, _ in EXPECTED]
    for (_, _, message), (_, _, fragment) in zip(got, EXPECTED):
        assert fragment in message
    assert raised.value.first.message.startswith("normal(mean, sd)")


def test_a_mistaken_declaration_is_reported_once_not_at_every_use():
    source = TINY.read_text(encoding="utf-8").replace("prob p[K] ~ dirichlet(1)", "prob p[K] ~ dirichlet(-1)")
    with pytest.raises(SpecError) as raised:
        load_source(source, "once.mech")
    assert [d.message for d in raised.value.diagnostics] == ["dirichlet(alpha) needs every alpha > 0"]


def test_cli_prints_every_mistake_in_order_and_counts_them(broken_source, tmp_path, capsys):
    spec = tmp_path / "broken.mech"
    spec.write_text(broken_source, encoding="utf-8")
    assert main(["check", str(spec)]) == 2
    err = capsys.readouterr().err
    headers = re.findall(rf"^{re.escape(str(spec))}:(\d+):(\d+): error: (.*)$", err, re.M)
    assert [(int(line), int(col)) for line, col, _ in headers] == [(line, col) for line, col, _ in EXPECTED]
    assert err.rstrip().endswith(f"{len(EXPECTED)} errors")
    assert "did you mean 'c'?" in err and "did you mean 'edmsac'?" in err
