"""Random batches of markets for tests, benchmarks and training environments.

Values and costs are i.i.d. uniform on [low, high] (ties have probability zero). With
``levels`` set, draws are rounded to ``levels`` evenly spaced points of [low, high], which
makes ties frequent: the hard case for tie-breaking.
"""

from __future__ import annotations

import torch
from torch import Tensor


def random_markets(
    batch: int,
    num_buyers: int,
    num_sellers: int,
    *,
    low: float = 0.0,
    high: float = 1.0,
    levels: int | None = None,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> tuple[Tensor, Tensor]:
    """(values (B, n), costs (B, m)) drawn uniformly on [low, high], optionally on a grid."""
    if batch < 1 or num_buyers < 1 or num_sellers < 1:
        raise ValueError("batch, num_buyers and num_sellers must be positive")
    if levels is not None and levels < 2:
        raise ValueError("levels must be at least 2")
    shape_v, shape_c = (batch, num_buyers), (batch, num_sellers)
    if levels is None:
        unit_v = torch.rand(shape_v, generator=generator, dtype=dtype, device=device)
        unit_c = torch.rand(shape_c, generator=generator, dtype=dtype, device=device)
    else:
        def on_grid(shape: tuple[int, int]) -> Tensor:
            steps = torch.randint(0, levels, shape, generator=generator, device=device)
            return steps.to(dtype) / (levels - 1)

        unit_v, unit_c = on_grid(shape_v), on_grid(shape_c)
    return low + (high - low) * unit_v, low + (high - low) * unit_c
