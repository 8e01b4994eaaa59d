"""The value literals and money directions of contract specs: fixed types, nested
probability tables, `payment ... from AGENT`; what they mean and where their mistakes are."""

from __future__ import annotations

import pytest

from mechdsl.lang import SpecError, load_source
from spec_samples import ROOT, TINY

TWO_PERIOD = (ROOT / "specs" / "two_period.mech").read_text(encoding="utf-8")


def _tiny(old: str, new: str) -> str:
    source = TINY.read_text(encoding="utf-8")
    assert old in source
    return source.replace(old, new)


def _error(source: str, overrides=None):
    with pytest.raises(SpecError) as raised:
        load_source(source, "spec.mech", overrides)
    (diagnostic,) = raised.value.diagnostics
    return diagnostic


def test_a_nested_matrix_is_the_flat_row_major_list():
    nested = load_source(TWO_PERIOD.replace("prob p2[K, K] ~ dirichlet(1)", "prob p2[K, K] = [[0.7, 0.3], [0.2, 0.8]]"))
    flat = load_source(TWO_PERIOD.replace("prob p2[K, K] ~ dirichlet(1)", "prob p2[K, K] = [0.7, 0.3, 0.2, 0.8]"))
    assert nested.probs["p2"].values == flat.probs["p2"].values == (0.7, 0.3, 0.2, 0.8)
    assert nested.summary() == flat.summary()


def test_fixed_types_take_constant_expressions_and_are_state_entries():
    model = load_source(_tiny("types theta[k in K] ~ uniform(10 + 5 * k, 15 + 5 * k)", "types theta[K] = [N, 2 * N + 0.5]"))
    assert model.types["theta"].values == (4.0, 8.5)
    assert "types       theta[2] = [4, 8.5]" in model.summary()


def test_fixed_types_must_match_an_overridden_size():
    source = _tiny("types theta[k in K] ~ uniform(10 + 5 * k, 15 + 5 * k)", "types theta[K] = [11, 12]")
    diagnostic = _error(source, {"K": 3})
    assert diagnostic.message == "'theta' has 3 types (size K = 3), got 2 values"
    assert (diagnostic.span.line, diagnostic.span.col) == (8, 18)


def test_periods_whose_payments_flow_in_opposite_directions_are_refused():
    source = TWO_PERIOD.replace("payment R2[K, K] >= 0", "payment R2[K, K] from ES >= 0")
    diagnostic = _error(source)
    assert diagnostic.message.startswith("'R2' and 'R1' flow in opposite directions")
    line = next(n for n, text in enumerate(source.splitlines(), 1) if "menu T2, R2" in text)
    assert diagnostic.span.line == line


def test_from_and_to_stay_usable_around_the_payment_statement():
    """`to` is no reserved word (only a payment's direction uses it); `from` is Python's."""
    model = load_source(_tiny("param N = 4", "param N = 4\nparam to = 2"))
    assert model.constants["to"].value == 2
    assert "reserved word" in _error(_tiny("param N = 4", "param N = 4\nparam from = 2")).message
