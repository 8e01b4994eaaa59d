"""The derived (symbolic KKT) follower best response equals a numeric optimisation."""

import numpy as np
from scipy.optimize import minimize

from mechdsl.games.equilibrium import LeaderGame
from mechdsl.games.state import sample_state


def _scipy_best(game, k, prices):
    """Independent optimum: SLSQP on U from many feasible starts (box + simplex)."""
    form = game.forms[k]
    mask = form.in_budget.astype(float)
    f = lambda x: -float(game.followers.utility(k, x, prices)[0])  # noqa: E731
    assert np.all(form.lower == 0)
    best = None
    rng = np.random.default_rng(0)
    starts = [np.zeros(len(mask))] + [rng.dirichlet(np.ones(len(mask))) * 0.9 for _ in range(3)]
    for x0 in starts:
        r = minimize(f, x0, method="SLSQP", bounds=list(zip(form.lower, form.upper)),
                     constraints=[{"type": "ineq", "fun": lambda x: form.budget - mask @ x}],
                     options={"ftol": 1e-15, "maxiter": 1000})
        # SLSQP may stop slightly outside the simplex: scale the budgeted entries back onto it
        # (the lower bounds are 0) so the reference point is feasible
        x = np.clip(r.x, form.lower, form.upper)
        x = np.where(form.in_budget, x * min(1.0, form.budget / max(mask @ x, 1e-300)), x)
        if best is None or f(x) < f(best):
            best = x
    return best, -f(best)


def test_best_response_matches_scipy_on_100_price_vectors(iot_model, iot_forms):
    game = LeaderGame(iot_model, sample_state(iot_model, np.random.default_rng(7)), iot_forms)
    assert game.followers.symbolic and all(f.method == "symbolic KKT" for f in iot_forms)
    rng = np.random.default_rng(1)
    prices = rng.uniform(game.lower, game.upper, size=(100, len(game.lower)))
    derived = game.followers.respond(prices)
    worst_x, worst_u = 0.0, 0.0
    for b in range(100):
        offset = 0
        for k, form in enumerate(game.forms):
            n = len(form.variables)
            x = derived[b, offset:offset + n]
            offset += n
            assert np.all(x >= form.lower - 1e-12) and np.all(x <= form.upper + 1e-12)
            assert x[form.in_budget].sum() <= form.budget + 1e-12
            x_ref, u_ref = _scipy_best(game, k, prices[b])
            u = float(game.followers.utility(k, x, prices[b])[0])
            worst_u = max(worst_u, (u_ref - u) / max(1.0, abs(u_ref)))
            worst_x = max(worst_x, float(np.max(np.abs(x - x_ref))))
    assert worst_u <= 1e-9, worst_u  # the derived response is never beaten
    assert worst_x <= 1e-6, worst_x
    assert game.followers.second_order_ok(derived[0], prices[0])
