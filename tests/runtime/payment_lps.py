"""Random payment LPs with the structure of a K = 5 two-period contract, for the tests of the
dual simplex (`test_dual_simplex.py`) and of the rows' pattern (`test_sparse_rows.py`)."""

from __future__ import annotations

import numpy as np
import torch

K = 5


def two_period_lps(batch: int, seed: int, pooled: float = 0.0, monotone: float = 0.9):
    """(w, A, c) of `batch` payment LPs max w^T y s.t. A y + c >= 0 over y = (R1[K], R2[K, K]):
    the agent of period-1 type i pays cost x^2 / theta for an allocation x, so the slack of each
    constraint is its utility difference (K = 5: 30 payments, 180 rows). Allocations are sorted
    (implementable) with probability `monotone`; `pooled` is the share of menus where two
    neighbouring types get the same allocations (equality pairs of IC rows)."""
    rng = np.random.default_rng(seed)
    n, rows = K + K * K, []
    out_w, out_A, out_c = [], [], []
    for _ in range(batch):
        theta1 = np.sort(rng.uniform(15 + 5 * np.arange(K), 20 + 5 * np.arange(K)))
        theta2 = np.sort(rng.uniform(15 + 5 * np.arange(K), 20 + 5 * np.arange(K)))
        p1, p2 = rng.dirichlet(np.ones(K)), rng.dirichlet(np.ones(K), size=K)
        beta, scale = rng.uniform(0.3, 1.0), rng.uniform(5.0, 40.0)
        x1, x2 = rng.uniform(0, 150, K), rng.uniform(0, 150, (K, K))
        if rng.random() < monotone:
            x1, x2 = np.sort(x1), np.sort(x2, axis=1)
        if rng.random() < pooled:
            k = rng.integers(K - 1)
            x1[k + 1] = x1[k]
            x2[:, k + 1] = x2[:, k]
        cost1, cost2 = x1[None, :] ** 2 / theta1[:, None], x2[:, :, None] ** 2 / theta2[None, None, :]  # [type, item]
        A, c = [], []

        def row(entries, constant):
            a = np.zeros(n)
            for index, value in entries:
                a[index] += value
            A.append(a)
            c.append(constant)

        r2 = lambda j, k: K + j * K + k  # noqa: E731
        for v in range(n):
            row([(v, 1.0)], 0.0)                                            # floor: R >= 0
        for i in range(K):
            row([(i, scale)], -scale * cost1[i, i])                          # IR, period 1
            for k in range(K):
                row([(r2(i, k), scale * beta)], -scale * beta * cost2[i, k, k])  # IR, period 2
        for j in range(K):
            for k in range(K):
                for h in range(K):
                    if h != k:  # type k in menu row j does not prefer item h
                        row([(r2(j, k), scale), (r2(j, h), -scale)], -scale * (cost2[j, k, k] - cost2[j, h, k]))
        for i in range(K):
            for j in range(K):
                if i != j:  # period-1 type i does not report j, with truthful period-2 play
                    later = [(r2(i, k), scale * beta * p2[i, k]) for k in range(K)]
                    later += [(r2(j, k), -scale * beta * p2[i, k]) for k in range(K)]
                    constant = -cost1[i, i] + cost1[i, j] - beta * sum(p2[i, k] * (cost2[i, k, k] - cost2[j, k, k])
                                                                       for k in range(K))
                    row([(i, scale), (j, -scale)] + later, scale * constant)
        weights = np.concatenate([p1, beta * (p1[:, None] * p2).ravel()])
        out_w.append(-weights)
        out_A.append(np.array(A))
        out_c.append(np.array(c))
    as_tensor = lambda x: torch.tensor(np.array(x), dtype=torch.float64)  # noqa: E731
    return as_tensor(out_w), as_tensor(out_A), as_tensor(out_c)
