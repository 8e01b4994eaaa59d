"""Clipping an action to the box [-1, 1]^d, optionally straight-through.

The straight-through clip is clamp(x, -1, 1) forward and the identity backward, d clip / dx = 1:
a policy pushed onto the boundary can still be pulled back inside, where the exact clamp
gradient (0 outside the box) would leave it stuck there.
"""
from __future__ import annotations

import torch


class _StraightThroughClip(torch.autograd.Function):
    """Forward: clamp to [-1, 1]. Backward: identity (straight-through)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return x.clamp(-1.0, 1.0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return grad


def clip_unit(x: torch.Tensor, straight_through: bool) -> torch.Tensor:
    """Clip to [-1, 1]. With ``straight_through`` the gradient passes as if unclipped, so a
    policy pushed onto the boundary by an early, wrong critic can still be pulled back inside
    (with the exact clamp gradient it is 0 there and the chain stays stuck at the corner)."""
    return _StraightThroughClip.apply(x) if straight_through else x.clamp(-1.0, 1.0)
