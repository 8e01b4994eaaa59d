"""The optimum hook of generated envs: an exact reference value per state, one state at a time.

`optimum(state)` of a generated env maps every row of a (B, S) batch of raw states to the
exact optimum of that state's problem. The per-row solver depends on the spec kind (a
convex program for a contract spec) and is passed in; this module holds the part every env
shares: rows to named points (the state columns by name plus the compiled constants), on
the CPU in float64, and the values back to a tensor on the batch's device and dtype. A
state whose reference cannot be found (`ReferenceUnavailable`: a non-convex problem where
every local start failed) gets NaN, so an evaluation flags it and leaves it out of its ratio
(`mechdsl.rl.evaluate.referenced_ratio`) instead of losing the whole run.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import torch

from mechdsl.errors import ReferenceUnavailable


def optimum_per_state(state: torch.Tensor, state_layout: Sequence[str], constants: Mapping[str, float],
                      value_of: Callable[[dict[str, float]], float]) -> torch.Tensor:
    """(B,) values `value_of(point)`, point = {constant: value} then {state column: value} of
    each row of `state` (B, len(state_layout)), in float64 on the CPU (slow: one call per row);
    NaN for a row whose `value_of` raises `ReferenceUnavailable`."""
    rows = state.detach().to("cpu", torch.float64).numpy()
    values = [_value_or_nan(value_of, {**constants, **{name: float(v) for name, v in zip(state_layout, row)}})
              for row in rows]
    return torch.tensor(values, device=state.device, dtype=state.dtype)


def _value_or_nan(value_of: Callable[[dict[str, float]], float], point: dict[str, float]) -> float:
    try:
        return float(value_of(point))
    except ReferenceUnavailable:
        return float("nan")


__all__ = ["optimum_per_state"]
