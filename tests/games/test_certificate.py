"""The Stackelberg equilibrium certificate (largest relative unilateral-deviation gain) is
within 1e-6 on random states."""

import numpy as np

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


def test_certificate_on_20_full_spec_states(iot_model, iot_forms):
    """The full spec (2 MAs, 2 FAs, 4 WAs: 4 prices, 16 offloading ratios) on 20 random
    states: every leader and follower deviation gain within the target, Newton converged,
    prices interior. ~1.3 s per state on 2 cores (was 7-17 s before vectorising)."""
    worst = 0.0
    for seed in range(20):
        solution = solve_game(iot_model, seed, iot_forms)
        certificate = solution.certificate
        assert len(certificate.deviations) == 2 + 2 + 4
        assert solution.equilibrium.converged
        worst = max(worst, certificate.worst.relative_gain)
        prices = np.asarray(solution.equilibrium.prices)
        assert np.all((prices > 0) & (prices < 20))
    assert worst <= TARGET, worst
