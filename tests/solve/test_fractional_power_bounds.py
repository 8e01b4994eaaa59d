"""A fractional power of an allocation near its bound of 0: `specs/static_contract.mech` with
fairness 0.999999 has the objective term s^(1e-6) / 1e-6, and solvers return s a hair below 0
(s = -1e-12), where that power is complex. `_finish` clips every entry into its declared
bounds before it evaluates the objective, so every state solves (24 of these 40 seeds used to
end in `TypeError: Cannot convert complex to float`)."""

import numpy as np

import mechdsl
from mechdsl.solve.exact import solve
from mechdsl.solve.state import sample_states, state_at

BETA = 0.999999


def _server_utility(state: dict[str, float], contract: dict[str, float]) -> float:
    """Eq. (3) of the static contract, in NumPy: M sum_k q_k (vartheta g(s_k) - r_k) with the
    beta-fairness satisfaction g(x) = x^(1 - beta) / (1 - beta)."""
    total = 0.0
    for k in range(2):
        satisfaction = contract[f"s[{k}]"] ** (1 - BETA) / (1 - BETA)
        total += state[f"q[{k}]"] * (state["vartheta"] * satisfaction - contract[f"r[{k}]"])
    return state["M"] * total


def test_near_one_fairness_solves_on_40_seeds():
    model = mechdsl.load("specs/static_contract.mech", {"fairness": BETA})
    for seed in range(40):
        state = state_at(sample_states(model, 1, np.random.default_rng(seed)), 0)
        solution = solve(model, state)
        allocations = [solution.contract[f"s[{k}]"] for k in range(2)]
        assert all(0.0 <= s <= 2000.0 for s in allocations), (seed, allocations)
        assert solution.certificate.worst >= -1e-6, seed
        expected = _server_utility(state, solution.contract)
        assert abs(solution.objective - expected) <= 1e-9 * max(1.0, abs(expected)), seed
