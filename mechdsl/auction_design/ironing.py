"""Ironing a virtual value that is not monotone (Myerson 1981, section 6), numerically.

In quantile space q = F(v) the virtual value is h(q) = psi(F^-1(q)) and its integral
H(q) = int_0^q h. The ironed virtual value is the derivative of the lower convex envelope
of H: equal to psi where the envelope touches H, constant (the slope of the bridging chord)
on each interval where it does not. For Myerson's virtual value psi = v - (1 - F)/f,
H(q) = low - F^-1(q) (1 - q) exactly (the revenue curve), so only the envelope is numeric;
for the weighted virtual value v - w (1 - F)/f of a revenue/welfare mix,
H = w (low - v (1 - q)) + (1 - w) int v dq, the last term by the trapezoid rule.

The envelope is taken over a grid of values (GRID points across the support), so the ends
of each ironing interval are located to within one grid step; `IronedValue.grid_step` says
how far that is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

GRID = 20_001


@dataclass(frozen=True)
class IronedValue:
    """psi with its ironing intervals: [(v_start, v_end, constant value)], in value space."""

    psi: Callable[[np.ndarray], np.ndarray]
    intervals: tuple[tuple[float, float, float], ...]
    grid_step: float

    def __call__(self, v) -> np.ndarray:
        v = np.asarray(v, dtype=float)
        out = np.array(self.psi(v), dtype=float, copy=True)
        for start, end, value in self.intervals:
            out = np.where((v >= start) & (v <= end), value, out)
        return out


def lower_convex_envelope(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the vertices of the lower convex hull of the points (x, y), x ascending
    (Andrew's monotone chain)."""
    hull: list[int] = []
    for k in range(len(x)):
        while len(hull) >= 2:
            i, j = hull[-2], hull[-1]
            if (y[j] - y[i]) * (x[k] - x[i]) >= (y[k] - y[i]) * (x[j] - x[i]):  # j is not below chord i-k
                hull.pop()
            else:
                break
        hull.append(k)
    return np.asarray(hull)


def iron(psi: Callable, cdf: Callable, support: tuple[float, float], revenue_weight: float = 1.0,
         low: float | None = None) -> IronedValue:
    """The ironed version of `psi` (a virtual value with weight `revenue_weight` on the
    information rent) for a value law with cdf `cdf` on the finite range `support`."""
    v = np.linspace(support[0], support[1], GRID)
    q = cdf(v)
    start = support[0] if low is None else low
    rent_part = start - v * (1 - q)
    welfare_part = np.concatenate([[0.0], np.cumsum(0.5 * (v[1:] + v[:-1]) * np.diff(q))])
    curve = revenue_weight * rent_part + (1 - revenue_weight) * welfare_part
    hull = lower_convex_envelope(q, curve)
    intervals = []
    for i, j in zip(hull[:-1], hull[1:]):
        if j - i > 2 and q[j] > q[i]:  # the envelope bridges grid points: an ironing interval
            slope = (curve[j] - curve[i]) / (q[j] - q[i])
            intervals.append((float(v[i]), float(v[j]), float(slope)))
    return IronedValue(psi, tuple(intervals), float(v[1] - v[0]))
