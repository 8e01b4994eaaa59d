"""A direct NumPy transcription of the agent-migration model (eqs. 1-21 of the CGDM paper,
with the choices written in specs/agent_migration.mech), independent of the generated code:
it reads the state columns by name and the decisions by layout and recomputes every latency
and trust quantity with array operations in the paper's own arrangement (e.g. eq. (4) as
d_s D^con / (alpha_{v,s} C_s) at the host, not the spec's sum over RSUs)."""

from __future__ import annotations

import numpy as np

V, S = 8, 4


def columns(package, state: np.ndarray, name: str, shape: tuple[int, ...]) -> np.ndarray:
    layout = package.STATE_LAYOUT
    idx = [layout.index(f"{name}[{', '.join(map(str, i))}]") for i in np.ndindex(*shape)]
    return state[:, idx].reshape(len(state), *shape)


def transcribe(package, state: np.ndarray, decided: np.ndarray) -> dict[str, np.ndarray]:
    c = package.CONSTANTS
    col = lambda name, *shape: columns(package, state, name, shape)  # noqa: E731
    pos, lane, copy, D_con, D_raw, T_max = (col(n, V) for n in ("pos", "lane", "copy", "D_con", "D_raw", "T_max"))
    host, ev_pos, ev_neg, rep = (col(n, V, S) for n in ("host", "ev_pos", "ev_neg", "rep"))
    bw, cpu, attack, loss_rx, loss_fw = (col(n, S) for n in ("bw", "cpu", "attack", "loss_rx", "loss_fw"))
    rx_ok, rx_fail, fw_ok, fw_fail, lat_sum, lat_cnt = (col(n, S) for n in
                                                         ("rx_ok", "rx_fail", "fw_ok", "fw_fail", "lat_sum", "lat_cnt"))
    B = len(state)
    target = decided[:, :V * S].reshape(B, V, S)
    alpha = decided[:, V * S:2 * V * S].reshape(B, S, V).transpose(0, 2, 1)   # alpha[b, v, s]
    mtd = decided[:, 2 * V * S:].reshape(B, S)
    L = c["L"]
    out: dict[str, np.ndarray] = {}
    # eq. (1) with the ring-road distance P_{v,s}
    rsu_x = (np.arange(S) + 0.5) * L / S
    gap = np.abs(pos[:, :, None] - rsu_x[None, None, :])
    P = np.sqrt(np.minimum(gap, L - gap) ** 2 + lane[:, :, None] ** 2)
    g = c["Gamma"] * (c["c_light"] / (4 * np.pi * c["f_c"] * P)) ** 2
    out["dist"], out["gain"] = P, g
    # DDoS hits unless MTD runs; a hit RSU keeps (1 - drain) of its bandwidth and CPU
    hit = attack * (1 - mtd)
    bw_eff = bw * (1 - c["drain"] * hit)
    cpu_eff = cpu * (1 - c["drain"] * hit)
    # eq. (2) and the downlink rate
    out["rate_up"] = bw_eff[:, None, :] * np.log2(1 + c["h_tx"] * g / c["N0"])
    out["rate_down"] = bw_eff[:, None, :] * np.log2(1 + c["p_tx"] * g / c["N0"])
    k = host.argmax(2)                                                       # K_v(t)
    at = lambda x: np.take_along_axis(x, k[:, :, None], 2)[:, :, 0]          # noqa: E731  x_{v, K_v}
    R_up, R_down = at(out["rate_up"]), at(out["rate_down"])
    a_host, C_host = at(alpha), np.take_along_axis(cpu_eff, k, 1)
    out["lat_uc"] = D_con / R_up                                             # eq. (3)
    out["lat_dep"] = c["d_cyc"] * D_con / (a_host * C_host)                  # eq. (4)
    out["lat_um"] = D_raw / R_up                                             # eq. (5)
    out["lat_pro"] = c["d_cyc"] * D_raw / (a_host * C_host)                  # eq. (6)
    out["lat_down"] = c["res_frac"] * D_raw / R_down                         # eq. (7)
    s_p = target.argmax(2)
    out["lat_mig"] = np.where(s_p == k, 0.0, D_con / c["B_link"])            # eq. (8)
    beta = np.take_along_axis(mtd, k, 1)
    eps = copy
    out["lat_tot"] = ((1 - eps) * (out["lat_uc"] + out["lat_dep"]) + out["lat_um"] + out["lat_down"]
                      + np.maximum(out["lat_pro"], out["lat_mig"]) + beta * c["T_ext"])  # eq. (9)
    # evaluations of this slot, aged Beta evidence (eqs. 10-14)
    sees = np.maximum(host, (P < c["R_cov"]).astype(float))
    late = (out["lat_tot"] > T_max).astype(float)
    bad = sees * hit[:, None, :] + host * (1 - hit[:, None, :]) * late[:, :, None]
    p = c["phi"] * ev_pos + sees - bad
    q = c["phi"] * ev_neg + bad
    out["attitude"] = (c["alpha_A"] + p) / (c["alpha_A"] + c["beta_A"] + p + q)          # eq. (12)
    p_o, q_o = p.sum(1, keepdims=True) - p, q.sum(1, keepdims=True) - q
    out["norm"] = (c["alpha_S"] + p_o) / (c["alpha_S"] + c["beta_S"] + p_o + q_o)       # eq. (14)
    # eqs. (15)-(16): delivery ratios from aged packet counts
    f_rx = loss_rx + hit * c["ddos_loss"] * (1 - loss_rx)
    f_fw = loss_fw + hit * c["ddos_loss"] * (1 - loss_fw)
    D_s, D_f = c["phi"] * rx_ok + c["n_pkt"] * (1 - f_rx), c["phi"] * rx_fail + c["n_pkt"] * f_rx
    F_s, F_f = c["phi"] * fw_ok + c["n_pkt"] * (1 - f_fw), c["phi"] * fw_fail + c["n_pkt"] * f_fw
    out["reliability"] = c["lam"] * D_s / (D_s + D_f) + (1 - c["lam"]) * F_s / (F_s + F_f)
    # eqs. (17)-(18): aged mean latency at each RSU, efficiency per user
    total = c["phi"] * lat_sum + (host * out["lat_tot"][:, :, None]).sum(1)
    count = c["phi"] * lat_cnt + host.sum(1)
    T_bar = total / np.maximum(count, 1e-6)
    out["efficiency"] = np.maximum(0.0, 1 - T_bar[:, None, :] / T_max[:, :, None])
    out["control"] = c["sigma"] * out["reliability"][:, None, :] + (1 - c["sigma"]) * out["efficiency"]  # eq. (19)
    out["rep_near"] = c["zeta_A"] * out["attitude"] + c["zeta_S"] * out["norm"] + c["zeta_P"] * out["control"]  # (20)
    out["hits"] = hit
    nxt = {"rep": c["xi"] * out["rep_near"] + (1 - c["xi"]) * rep,                       # eq. (21)
           "ev_pos": p, "ev_neg": q, "rx_ok": D_s, "rx_fail": D_f, "fw_ok": F_s, "fw_fail": F_f,
           "lat_sum": total, "lat_cnt": count, "host": target, "load": target.sum(1),
           "copy": 1 - (target * hit[:, None, :]).sum(2), "pos": np.mod(pos + col("speed", V) * c["dt"], L)}
    out["reward"] = -out["lat_tot"].sum(1)                                              # eq. (23)
    out["excess_c22b"] = (host * alpha).sum(1) - 1                                      # (22b)
    out["excess_c22c"] = target.sum(1) - c["L_max"]                                     # (22c)
    out["excess_c22d"] = c["B_thre"] - (target * rep).sum(2)                            # (22d)
    return out, nxt


def random_states(package, env, batch: int, seed: int) -> np.ndarray:
    """Reset states with every dynamic column redrawn uniformly at random (valid one-hots)."""
    import torch

    rng = np.random.default_rng(seed)
    state = env.reset(batch, torch.Generator().manual_seed(seed)).numpy().copy()
    layout = package.STATE_LAYOUT

    def put(name, shape, values):
        for i, idx in enumerate(np.ndindex(*shape)):
            state[:, layout.index(f"{name}[{', '.join(map(str, idx))}]")] = values.reshape(batch, -1)[:, i]

    host = np.eye(S)[rng.integers(0, S, (batch, V))]
    put("host", (V, S), host)
    put("load", (S,), host.sum(1))
    put("copy", (V,), rng.integers(0, 2, (batch, V)).astype(float))
    put("attack", (S,), rng.integers(0, 2, (batch, S)).astype(float))
    for name in ("ev_pos", "ev_neg"):
        put(name, (V, S), rng.uniform(0, 2, (batch, V, S)))
    put("rep", (V, S), rng.uniform(0, 1, (batch, V, S)))
    for name in ("rx_ok", "rx_fail", "fw_ok", "fw_fail"):
        put(name, (S,), rng.uniform(0, 200, (batch, S)))
    put("lat_sum", (S,), rng.uniform(0, 100, (batch, S)))
    put("lat_cnt", (S,), rng.uniform(0, 8, (batch, S)))
    return state
