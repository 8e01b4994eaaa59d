"""One declaration has at most MAX_ENTRIES entries (issue 34): two_period's K x K second-period
menu at K = 1000 (10^6 symbols) made `check` run past a minute and 1.7 GB; beyond the limit the
check now refuses at once, positioned at each oversized declaration."""

from __future__ import annotations

from mechdsl.cli.main import main
from mechdsl.lang.spec_checker import MAX_ENTRIES

SPEC = "specs/two_period.mech"


def test_a_declaration_beyond_the_entry_limit_is_a_positioned_error(capsys):
    assert MAX_ENTRIES == 10_000
    assert main(["check", SPEC, "--set", "K=101"]) == 2
    err = capsys.readouterr().err
    assert f"{SPEC}:66:1: error: this declaration has 10,201 entries (101 x 101), beyond mechdsl's limit" in err
    assert "allocation T2[K, K]" in err and "hint:" in err and "internal error" not in err


def test_k_1000_is_refused_instead_of_expanded(capsys):
    assert main(["check", SPEC, "--set", "K=1000"]) == 2
    assert "1,000,000 entries (1000 x 1000)" in capsys.readouterr().err
