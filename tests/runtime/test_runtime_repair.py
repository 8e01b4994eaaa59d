"""mechdsl.runtime.repair: the parts that need no generated package (the rest is tested
through the generated envs in tests/codegen/test_repair.py)."""

from __future__ import annotations

import torch

from mechdsl.runtime.repair import MULTIPLIER_BOUND, bounded_multipliers


def test_bounded_multipliers_drop_only_the_states_at_the_edge_of_feasibility():
    multipliers = torch.tensor([[0.5, 3e6, 1.0, 0.0],
                                [338.0, 0.0, float("inf"), 2e6]], dtype=torch.float64)
    scale = torch.tensor([1.0, 1.0, 1.0, 1.0], dtype=torch.float64)  # bound 2e6 per state
    kept = bounded_multipliers(multipliers, scale)
    assert torch.equal(kept[:, 0], multipliers[:, 0])  # ordinary multipliers pass unchanged
    assert torch.equal(kept[:, 3], multipliers[:, 3])  # exactly at the bound still passes
    assert bool((kept[:, 1:3] == 0).all())  # above the bound, or not finite: the whole state is 0
    assert float(kept.max()) == 2 * MULTIPLIER_BOUND
