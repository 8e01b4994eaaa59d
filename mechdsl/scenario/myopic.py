"""The myopic per-slot optimum of the agent-migration scenario: a reference for learned policies.

Each slot it solves exactly, for that slot's total latency sum_v T_v^tot (eq. 9), over the
pre-migration targets s_p, the compute shares alpha and the MTD switches, subject to (22b)
(an RSU's shares sum to at most 1) and the hard constraints as the action map keeps them:
(22c) at most L_max agents per RSU and (22d) the most vehicles that any capacity-respecting
assignment can put on RSUs their user trusts (M*, mechdsl/scenario/choice.py). It knows the
whole state, the hidden attack state included (a clairvoyant bound for one slot), and ignores
every later slot (no look-ahead: a vehicle is never moved unless the constraints force it).

Decomposition. With K_v the host of v, eps_v its replica flag, C^eff the host's effective CPU
and m_v = D_v^con / B_link if v pre-migrates (s_p != K_v) else 0 (eq. 8: the transfer time
does not depend on the destination),

    T_v^tot = c_v + a_v / alpha_v + max(b_v / alpha_v, m_v),
    a_v = (1 - eps_v) d D_v^con / C^eff (eq. 4),  b_v = d D_v^raw / C^eff (eq. 6),

and c_v the rest (eqs. 3, 5, 7 and the MTD latency); a_v, b_v, c_v depend on the host's MTD
switch only. The coefficients are read from the env's own metrics (`lat_dep`, `lat_pro`,
`lat_mig`, `lat_tot` at equal shares) and every solved slot is re-scored by the env, which
must agree to 1e-9 (`MyopicMismatch` otherwise): the decomposition is checked, not assumed.
A slot's latency is thus a sum over hosting RSUs s of cost_s(movers among s's agents,
mtd_s, s's shares); destinations enter only through the constraints.

1. Shares, for fixed movers and mtd_s: min sum_v h_v(alpha_v) s.t. sum_v alpha_v <= 1 with
   h_v(x) = a_v / x + max(b_v / x, m_v) convex and decreasing. KKT (-h_v'(alpha_v) = lambda):
       alpha_v(lambda) = min( sqrt((a_v + b_v) / lambda), max(b_v / m_v, sqrt(a_v / lambda)) ),
   (b_v / m_v = inf for a staying vehicle) decreasing in lambda; lambda is found by bisection
   on log lambda to machine precision.
2. Per RSU, cost_s(M) = min over mtd_s in {0, 1} of sum_{v hosted} c_v + step 1's optimum.
3. A MILP per episode (scipy.optimize.milp, HiGHS): binaries z_{s,M} (one mover set per
   hosting RSU) and x_{v,t} (targets), sum_t x_{v,t} = 1, sum_v x_{v,t} <= L_max,
   sum_{t qualifying for v} x_{v,t} >= M*, x_{v,K_v} = 1 - sum_{M containing v} z_{s,M};
   minimise sum cost_s(M) z_{s,M}.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import Bounds, LinearConstraint, milp

from mechdsl.scenario.choice import max_qualifying

NEEDED_METRICS = ("lat_dep", "lat_pro", "lat_mig", "lat_tot")


class MyopicMismatch(RuntimeError):
    """The env's latency of the solved decisions differs from the decomposition's."""


def optimal_shares(a: np.ndarray, b: np.ndarray, m: np.ndarray, member: np.ndarray,
                   iterations: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Step 1 for N groups at once: a, b, m, member (N, V) -> shares (N, V), sum_v h_v (N,)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        kink = np.where(m > 0, b / np.where(m > 0, m, 1.0), np.inf)

        def shares(log_lam: np.ndarray) -> np.ndarray:
            lam = np.exp(log_lam)[:, None]
            alpha = np.minimum(np.sqrt((a + b) / lam), np.maximum(kink, np.sqrt(a / lam)))
            return np.where(member, alpha, 0.0)

        upper = np.log(np.square(np.where(member, np.sqrt(a + b), 0.0).sum(1)) + 1e-300)   # sum alpha <= 1 here
        lo, hi = upper - 120.0, upper + 1e-12
        for _ in range(iterations):
            mid = 0.5 * (lo + hi)
            over = shares(mid).sum(1) > 1.0
            lo, hi = np.where(over, mid, lo), np.where(over, hi, mid)
        alpha = shares(hi)
        cost = np.where(member, a / alpha + np.maximum(b / alpha, m), 0.0).sum(1)
    return alpha, np.where(member.any(1), cost, 0.0)


def _subsets_of(groups: np.ndarray, vehicles: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(episode, rsu, mover bitmask) of every mover set M within each hosting group (bitmasks)."""
    masks = np.arange(2 ** vehicles)
    valid = (masks[None, None, :] & ~groups[:, :, None]) == 0
    return np.nonzero(valid)


class MyopicOptimum:
    """A decision policy (`decides = True`: it returns decisions, not raw actions)."""

    decides = True

    def __init__(self, package) -> None:
        self.package = package
        layout = package.STATE_LAYOUT
        self.vehicles, self.rsus = package.ACTIONS["target"][1]
        V, S = self.vehicles, self.rsus
        self.host_columns = [layout.index(f"host[{v}, {s}]") for v in range(V) for s in range(S)]
        self.copy_columns = [layout.index(f"copy[{v}]") for v in range(V)]
        self.capacity = package.CHOICES["target"][0] or V
        self.width = len(package.ACTION_LAYOUT)
        starts = {name: package.ACTION_LAYOUT.index(f"{name}[0, 0]" if len(shape) == 2 else f"{name}[0]")
                  for name, (_, shape) in package.ACTIONS.items()}
        self.target_at, self.alpha_at, self.mtd_at = starts["target"], starts["alpha"], starts["mtd"]
        self.last_latency: np.ndarray | None = None

    # ------------------------------------------------------------- env queries
    def _decided(self, host: np.ndarray, target: np.ndarray, alpha_sv: np.ndarray, mtd: np.ndarray) -> torch.Tensor:
        B, V, S = host.shape
        out = np.zeros((B, self.width))
        out[:, self.target_at:self.target_at + V * S] = target.reshape(B, -1)
        out[:, self.alpha_at:self.alpha_at + V * S] = alpha_sv.reshape(B, -1)
        out[:, self.mtd_at:self.mtd_at + S] = mtd
        return torch.from_numpy(out)

    def _metrics(self, state: torch.Tensor, decided: torch.Tensor) -> dict[str, np.ndarray]:
        slot = self.package.score(state, decided)
        return {k: slot.metrics[k].numpy() for k in NEEDED_METRICS} | {"reward": slot.reward.numpy()}

    def coefficients(self, state: torch.Tensor, host: np.ndarray) -> dict[str, np.ndarray]:
        """a, b, c per (episode, mtd of the host, vehicle) and m per (episode, vehicle)."""
        B, V, S = host.shape
        hosted = host.sum(1)                                               # (B, S)
        equal = host.transpose(0, 2, 1) / np.maximum(hosted, 1)[:, :, None]  # alpha[s, v] = 1 / n_s
        share = (equal.transpose(0, 2, 1) * host).sum(2)                    # alpha_{v, K_v}
        eps = state[:, self.copy_columns].numpy()
        moved = np.roll(host, 1, axis=2)
        a, b, c = (np.zeros((B, 2, V)) for _ in range(3))
        for switch in (0, 1):
            got = self._metrics(state, self._decided(host, host, equal, np.full((B, S), float(switch))))
            a[:, switch] = (1 - eps) * got["lat_dep"] * share
            b[:, switch] = got["lat_pro"] * share
            c[:, switch] = got["lat_tot"] - (1 - eps) * got["lat_dep"] - got["lat_pro"]
        m = self._metrics(state, self._decided(host, moved, equal, np.zeros((B, S))))["lat_mig"]
        return {"a": a, "b": b, "c": c, "m": m}

    # ------------------------------------------------------------- solve
    def __call__(self, state: torch.Tensor, obs: torch.Tensor | None = None) -> torch.Tensor:
        state64 = state.detach().cpu().double()
        B, V, S = state.shape[0], self.vehicles, self.rsus
        host = state64[:, self.host_columns].numpy().reshape(B, V, S).round()
        home = host.argmax(2)
        k = self.coefficients(state64, host)
        bits = 1 << np.arange(V)
        groups = (host.transpose(0, 2, 1).astype(np.int64) * bits).sum(2)    # (B, S) bitmask of hosted agents
        episode, rsu, movers = _subsets_of(groups, V)
        member = (groups[episode, rsu][:, None] & bits) > 0
        moving = (movers[:, None] & bits) > 0
        costs, shares = [], []
        for switch in (0, 1):
            a, b, c = (k[name][episode, switch] for name in ("a", "b", "c"))
            alpha, cost = optimal_shares(a, b, np.where(moving, k["m"][episode], 0.0), member)
            costs.append(cost + np.where(member, c, 0.0).sum(1))
            shares.append(alpha)
        switch = np.argmin(np.stack(costs), 0)
        cost = np.minimum(costs[0], costs[1])
        alpha = np.where(switch[:, None] == 1, shares[1], shares[0])
        qualifying = self.package.qualifying(state64)["target"].numpy()
        best = max_qualifying(torch.from_numpy(qualifying), self.capacity).numpy()
        target = np.zeros((B, V, S))
        alpha_sv = np.zeros((B, S, V))
        mtd = np.zeros((B, S))
        predicted = np.zeros(B)
        for e in range(B):
            rows = np.flatnonzero(episode == e)
            chosen, x = self._solve(rows, rsu, movers, cost, home[e], qualifying[e], int(best[e]))
            target[e] = x
            for row in rows[chosen]:
                alpha_sv[e, rsu[row]] = alpha[row]
                mtd[e, rsu[row]] = switch[row] if groups[e, rsu[row]] else 0.0
                predicted[e] += cost[row]
        decided = self._decided(host, target, alpha_sv, mtd)
        latency = -self._metrics(state64, decided)["reward"]
        if not np.allclose(latency, predicted, rtol=1e-9, atol=1e-9):
            worst = int(np.argmax(np.abs(latency - predicted)))
            raise MyopicMismatch(f"the env scores the myopic decisions {latency[worst]:.12g} s, the decomposition "
                                 f"{predicted[worst]:.12g} s: the spec's latency no longer has the documented form")
        self.last_latency = latency
        return decided.to(state.device, state.dtype)

    def _solve(self, rows: np.ndarray, rsu: np.ndarray, movers: np.ndarray, cost: np.ndarray, home: np.ndarray,
               qualifying: np.ndarray, best: int) -> tuple[np.ndarray, np.ndarray]:
        """Step 3 for one episode: (which candidate rows are chosen, targets (V, S))."""
        V, S = self.vehicles, self.rsus
        n_z, n_x = len(rows), V * S
        objective = np.concatenate([cost[rows], np.zeros(n_x)])
        matrix, low, high = [], [], []

        def add(coefficients: np.ndarray, lo: float, hi: float) -> None:
            matrix.append(coefficients)
            low.append(lo)
            high.append(hi)

        for s in range(S):                                                  # one mover set per RSU
            add(np.concatenate([(rsu[rows] == s).astype(float), np.zeros(n_x)]), 1, 1)
        for v in range(V):
            add(np.concatenate([np.zeros(n_z), np.eye(V)[v].repeat(S)]), 1, 1)               # one target each
            row = np.zeros(n_z + n_x)                                       # stays iff not a mover
            row[:n_z] = ((rsu[rows] == home[v]) & ((movers[rows] >> v) & 1 == 1)).astype(float)
            row[n_z + v * S + home[v]] = 1.0
            add(row, 1, 1)
        for t in range(S):
            add(np.concatenate([np.zeros(n_z), np.tile(np.eye(S)[t], V)]), 0, self.capacity)  # 22c
        add(np.concatenate([np.zeros(n_z), qualifying.reshape(-1).astype(float)]), best, np.inf)  # 22d, M*
        result = milp(objective, integrality=np.ones(n_z + n_x), bounds=Bounds(0, 1),
                      constraints=LinearConstraint(np.array(matrix), low, high))
        if result.x is None:
            raise MyopicMismatch(f"the slot problem has no solution ({result.message})")
        solution = result.x.round()
        return solution[:n_z] > 0.5, solution[n_z:].reshape(V, S)


def myopic_optimum(package) -> MyopicOptimum | None:
    """The reference for specs with the agent-migration names (a masked choice `target`, a
    simplex `alpha`, a threshold `mtd`, states `host`, `copy`, the latency metrics); None otherwise."""
    actions = package.ACTIONS
    needed = (actions.get("target", ("",))[0] == "softmax" and actions.get("alpha", ("",))[0] == "simplex"
              and actions.get("mtd", ("",))[0] == "threshold" and "target" in getattr(package, "CHOICES", {})
              and all(k in package.METRICS for k in NEEDED_METRICS)
              and "host[0, 0]" in package.STATE_LAYOUT and "copy[0]" in package.STATE_LAYOUT)
    return MyopicOptimum(package) if needed else None
