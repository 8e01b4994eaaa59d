"""A statement of another spec kind is one positioned error (file:line:col, caret under
the statement) whose message names the kind(s) it belongs to and whose hint says what the
spec's own kind declares; the rest of the spec still checks as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from mechdsl.lang import SpecError, load_source, parse
from mechdsl.lang.diagnostics import render_all

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
BASES = {
    "contract": (HERE / "tiny_contract.mech").read_text(encoding="utf-8"),
    "game": (ROOT / "specs" / "iot_offloading.mech").read_text(encoding="utf-8"),
    "scenario": (HERE / "tiny_scenario.mech").read_text(encoding="utf-8"),
}
HINTS = {
    "contract": "a contract declares types, prob, principal, agent, utility",
    "game": "a game declares leader/follower, strategy, utility P[i] = ..., auction { ... }",
    "scenario": "a scenario declares state, observe, action, next, reward, constraint, horizon",
}

# (kind of the spec, foreign statement, its keyword in the message, the kind(s) it belongs to)
FOREIGN = [
    ("contract", "state load in [0, 1] = 0", "state", "scenario"),
    ("contract", "reward -load", "reward", "scenario"),
    ("contract", "horizon 5", "horizon", "scenario"),
    ("contract", "strategy x[K] of f in [0, 1]", "strategy", "game"),
    ("contract", "leader f[i in K]", "leader/follower", "game"),
    ("contract", "metric load = 1", "metric", "scenario"),
    ("game", "state load in [0, 1] = 0", "state", "scenario"),
    ("game", "observe load", "observe", "scenario"),
    ("game", "horizon 5 discount 0.9", "horizon", "scenario"),
    ("game", "types theta[k in K] ~ uniform(1, 2)", "types", "contract"),
    ("game", "constraint ir", "constraint ir", "contract and auction_design"),
    ("scenario", "principal server", "principal", "contract"),
    ("scenario", "maximize sum(k in K, x[k])", "maximize/minimize", "contract and auction_design"),
    ("scenario", "strategy x[K] of f in [0, 1]", "strategy", "game"),
    ("scenario", "auction a { mechanism double_dutch }", "auction", "game"),
]


@pytest.mark.parametrize(("kind", "statement", "keyword", "owner"), FOREIGN,
                         ids=[f"{k}-{s.split()[0]}" for k, s, _, _ in FOREIGN])
def test_a_statement_of_another_kind_is_a_positioned_error(kind, statement, keyword, owner):
    base = BASES[kind].rstrip("\n")
    source = f"{base}\n{statement}\n"
    line = base.count("\n") + 2
    with pytest.raises(SpecError) as raised:
        load_source(source, f"{kind}.mech")
    [diagnostic] = [d for d in raised.value.diagnostics if d.span.line == line]
    assert diagnostic.span == parse(source, f"{kind}.mech").statements[-1].span  # under the whole statement
    assert diagnostic.message == f"'{keyword}' belongs to {owner} specs, not to a {kind}"
    assert diagnostic.hint.startswith(HINTS[kind])
    rendered = render_all(f"{kind}.mech", source, [diagnostic], color=False)
    assert rendered.startswith(f"{kind}.mech:{line}:{diagnostic.span.col}: error: ") and "^" in rendered
    # the foreign statement is the only mistake: the spec without it checks
    assert len(raised.value.diagnostics) == 1, render_all(f"{kind}.mech", source, raised.value.diagnostics)
    load_source(base + "\n", f"{kind}.mech")


def test_shared_statements_belong_to_every_kind():
    from mechdsl.lang import CHECKERS
    from mechdsl.lang.spec_checker import SHARED_STATEMENTS

    for checker in CHECKERS:
        assert SHARED_STATEMENTS <= checker.STATEMENTS, checker.KIND
        assert checker.DECLARATION in checker.STATEMENTS


def test_every_statement_type_belongs_to_some_kind():
    from mechdsl.lang import CHECKERS, ast

    statements = {c for c in vars(ast).values() if isinstance(c, type) and issubclass(c, ast.Statement)
                  and c is not ast.Statement}
    claimed = set().union(*(c.STATEMENTS for c in CHECKERS))
    assert statements == claimed
