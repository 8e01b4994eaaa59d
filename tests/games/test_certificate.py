"""The Stackelberg equilibrium certificate (largest relative unilateral-deviation gain) is
within 1e-6 on random states."""

import numpy as np
import pytest

from mechdsl.games.equilibrium import derive_followers
from mechdsl.games.solve import solve_game

TARGET = 1e-6


def test_certificate_on_20_states_small(small_model):
    forms = derive_followers(small_model)
    worst = 0.0
    for seed in range(20):
        solution = solve_game(small_model, seed, forms)
        worst = max(worst, solution.certificate.worst.relative_gain)
        assert np.all(np.asarray(solution.equilibrium.prices) > 0)
    assert worst <= TARGET, worst


@pytest.mark.parametrize("seed", [3, 11])
def test_certificate_full_spec(iot_model, iot_forms, seed):
    solution = solve_game(iot_model, seed, iot_forms)
    assert solution.certificate.worst.relative_gain <= TARGET
    assert len(solution.certificate.deviations) == 2 + 2 + 4
