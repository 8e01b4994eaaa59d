"""Hard constraints are proven against the action map per instance (mechdsl/scenario/hard.py):
the accepted forms, including scaled and weighted ones; the refusals are positioned errors
(tests/lang/scenario_invalid/hard_*.mech)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mechdsl.lang import SpecError, load_source

TINY = (Path(__file__).parents[1] / "lang" / "tiny_scenario.mech").read_text(encoding="utf-8")
CHOICE = "action target[v in V, s in S] softmax over s where host[v, s] >= 0.5 fallback host[v, s] capacity 1\n"
LOAD = "constraint load: sum(v in V, target[v, s]) <= 1 for s in S penalty 5\n"


def scenario(constraints: str, choice: str = CHOICE) -> str:
    source = TINY.replace("action target[v in V, s in S] softmax over s\n", choice).replace(LOAD, constraints)
    assert choice in source and constraints in source
    return source


@pytest.mark.parametrize("constraint, form, positions", [
    ("constraint c: sum(v in V, target[v, s]) <= 1 for s in S hard\n", "capacity", (0, 1, 2)),
    ("constraint c: sum(v in V, 2 * target[v, s]) <= 2 for s in S hard\n", "capacity", (0, 1, 2)),
    ("constraint c: target[1, 2] <= 3 hard\n", "mask", (1,)),
    ("constraint c: sum(s in S, target[v, s] * host[v, s]) >= 0.5 for v in V hard\n", "mask", (0, 1)),
    ("constraint c: sum(s in S, 4 * target[v, s] * host[v, s]) >= 2 for v in V hard\n", "mask", (0, 1)),
])
def test_accepted_hard_constraints_say_what_keeps_them(constraint, form, positions):
    model = load_source(scenario(constraint), "hard.mech")
    (c,) = model.constraints
    assert c.hard and c.penalty == 0
    assert (c.kept.action, c.kept.form, c.kept.positions) == ("target", form, positions)
    assert f"hard, kept by the {form} of target" in model.summary()


@pytest.mark.parametrize("constraint, message", [
    ("constraint c: sum(s in S, target[v, s] * host[v, s]) >= 0.6 for v in V hard\n",
     "which its mask (host[0, 0] - 0.5 >= 0) does not imply"),
    ("constraint c: sum(v in V, target[v, s]) <= 0 for s in S hard\n", "can reach an excess of 1"),
    ("constraint c: sum(v in V, target[v, s] * pos[v]) <= 1 for s in S hard\n", "is not `sum of numbers times"),
])
def test_a_stronger_constraint_than_the_map_keeps_is_refused(constraint, message):
    with pytest.raises(SpecError) as raised:
        load_source(scenario(constraint), "hard.mech")
    (diagnostic,) = raised.value.diagnostics
    assert message in diagnostic.message and diagnostic.span.line == 18 and diagnostic.hint
