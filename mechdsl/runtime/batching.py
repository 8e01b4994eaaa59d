"""Batch-last layout of the generated contract envs.

The generated `evaluate` keeps the batch as the LAST dimension: a (B, n) matrix becomes
rows (n, B), so that a per-sample quantity (B,) broadcasts against any (..., B) tensor of
histories, types and reports without reshaping.
"""

from __future__ import annotations

import torch


def batch_last(matrix: torch.Tensor) -> torch.Tensor:
    """(B, n) -> contiguous (n, B). Writing through the transposed view is about twice as
    fast on CPU as `.t().contiguous()`; differentiable (CopySlices)."""
    rows = matrix.new_empty((matrix.shape[1], matrix.shape[0]))
    rows.t().copy_(matrix)
    return rows


def per_sample(value: float, rows: torch.Tensor) -> torch.Tensor:
    """A formula that folded to a number, as a (B,) tensor (`rows` is (S, B))."""
    return torch.full(rows.shape[1:], value, device=rows.device, dtype=rows.dtype)


def columns_of(quantities: tuple[torch.Tensor, tuple[torch.Tensor, ...]], columns: torch.Tensor):
    """The state quantities (rows (S, B), per-sample quantities (B,) each) of the batch
    entries `columns`."""
    rows, values = quantities
    return rows[:, columns], tuple(v[columns] for v in values)


def straight_through(value: torch.Tensor, proposal: torch.Tensor) -> torch.Tensor:
    """Exactly `value`, with the gradients of `proposal` (value + proposal - stop_grad(proposal))."""
    return value + (proposal - proposal.detach())


__all__ = ["batch_last", "columns_of", "per_sample", "straight_through"]
