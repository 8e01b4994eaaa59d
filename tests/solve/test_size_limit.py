"""`solve` refuses, before building anything, a contract with more IR/IC constraints than it can
build and certify (issue 34: static_contract at K = 1000 hung in the parametric oracle)."""

import pytest

import mechdsl
from mechdsl.errors import ReferenceUnavailable
from mechdsl.solve.exact import MAX_ITEM_CONSTRAINTS, item_constraint_count, solve


def test_item_constraint_count_is_K_squared_per_history():
    assert item_constraint_count(mechdsl.load("specs/static_contract.mech", {"K": 3})) == 9
    assert item_constraint_count(mechdsl.load("specs/two_period.mech", {"K": 3})) == 9 + 27


def test_solve_refuses_beyond_the_limit_naming_it():
    model = mechdsl.load("specs/static_contract.mech", {"K": 142})  # 20,164 constraints
    with pytest.raises(ReferenceUnavailable, match=f"20164 IR/IC constraints, beyond solve's limit of {MAX_ITEM_CONSTRAINTS}"):
        solve(model, {})
