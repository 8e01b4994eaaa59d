"""`pooled_types` finds the runs of neighbouring types an optimum gives one allocation."""

from __future__ import annotations

from pathlib import Path

import mechdsl
from mechdsl.solve.pooling import pooled_types

IRONING = Path(__file__).parent / "specs" / "ironing.mech"


def test_runs_of_equal_levels_are_pooled_and_bounds_are_told_apart():
    model = mechdsl.load(IRONING)  # x in [0, 10], K = 3
    contract = {"x[0]": 0.0, "x[1]": 1e-9, "x[2]": 4.0, "t[0]": 0.0, "t[1]": 0.0, "t[2]": 1.0}
    (group,) = pooled_types(model, contract)
    assert (group.types, group.at_bound, group.level) == ((0, 1), True, 5e-10)
    assert "at its bound" in group.describe()
    contract.update({"x[0]": 3.0, "x[1]": 3.0, "x[2]": 3.0 + 2e-6})
    (group,) = pooled_types(model, contract)
    assert group.types == (0, 1, 2) and not group.at_bound  # within 1e-6 relative of 3
    assert group.describe() == "x: types 0-2 pooled at 3 (monotone allocations bind: the relaxed optimum is ironed)"
    contract["x[2]"] = 3.1
    assert [g.types for g in pooled_types(model, contract)] == [(0, 1)]
    contract["x[1]"] = 3.05
    assert pooled_types(model, contract) == []
