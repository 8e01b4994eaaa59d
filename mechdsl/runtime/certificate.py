"""The spec-independent steps of a generated contract env's certificate (the formulas are
stated in `mechdsl.codegen.certificate`): utilities u[h, i, r] of every history h, type i
and report r are (H, K, K, B) tensors, batch last."""

from __future__ import annotations

import torch

ROUNDING_ULPS = 16  # slack within this many ulps of the largest decision x state product is rounding


def incentive_slacks(value: torch.Tensor) -> torch.Tensor:
    """value[h, i, i] - value[h, i, r] for value (H, K, K, B), as rows (H K K, B)."""
    return (value.diagonal(0, 1, 2).transpose(1, 2).unsqueeze(2) - value).reshape(-1, value.shape[-1])


def later_play(value: torch.Tensor, truthful: bool) -> torch.Tensor:
    """value (H, K, K, B) of every (history, type, report) -> the value of each type's later
    play (H, K, B): the best report (optimal later play) or the truthful one."""
    return value.diagonal(0, 1, 2).movedim(-1, 1) if truthful else value.amax(2)


def violation_beyond_rounding(slacks: torch.Tensor, decisions: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """max(0, -min slack - rounding) per sample, for slacks (m, B), decisions (n, B) and state
    rows (S, B). A float32 contract misses its binding constraints by rounding alone (~1e-3 at
    the scale of these utilities): slack within ROUNDING_ULPS ulps of the largest product of a
    decision and a state quantity is not a violation (negligible in float64). A slack that is
    NaN (a utility evaluated outside its domain, log of a negative wealth) certifies nothing:
    that sample's violation is +inf, so the repair and the violation counts see it."""
    worst = torch.where(slacks.isnan().any(0), torch.full_like(slacks[0], -torch.inf), slacks.amin(0))
    rounding = ROUNDING_ULPS * torch.finfo(rows.dtype).eps * (decisions.abs().amax(0) * rows.abs().amax(0) + 1)
    return torch.clamp(-worst - rounding, min=0.0)


__all__ = ["ROUNDING_ULPS", "incentive_slacks", "later_play", "violation_beyond_rounding"]
