"""Dynamic structured pruning of an actor's Linear layers (EDMSAC eqs. 57-59, static paper eq. 18).

Importance of output neuron i of layer h (eq. 57):  ||theta_i^(h)||_2 = sqrt(sum_j theta_ij^2).
Mask (eq. 58): theta'^(h) = theta^(h) (.) W^(h), W_i = 0 for the floor(omega_z x) least important
    rows of each layer. The bias entry of a pruned neuron is masked as well, so with an
    activation f(0) = 0 the neuron outputs exactly 0 and the next layer's input column can be
    removed: ``compact`` builds the physically smaller network with identical outputs.
Rate (static paper eq. 18, the cubic schedule of Zhu & Gupta):
    omega_z = w - w (1 - z / (N Delta))^3,  z = 0 .. N Delta, then omega_z = w.
    The printed threshold Upsilon_z = sum_{l,i} phi_i^(l) omega_z does not yield sparsity
    omega_z; we prune the omega_z fraction of each layer directly (docs/rl.md).
Masks are recomputed every Delta steps from the online actor and applied to both the online and
the target actor (so the soft update, eq. 60, keeps pruned rows at zero), after every optimizer
step (eq. 59 updates only theta').
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn

from mechdsl.rl.activations import Mish

ZERO_PRESERVING = (Mish, nn.Mish, nn.ReLU, nn.Tanh, nn.SiLU, nn.GELU, nn.Identity)


@dataclass(frozen=True)
class CubicSchedule:
    """omega_z = w - w (1 - z / (N Delta))^3 (eq. 18); masks are updated at z = Delta, 2 Delta, .., N Delta."""

    final_rate: float   # w, the target sparsity of every prunable layer
    every: int          # Delta, steps between pruning events
    events: int         # N, number of pruning events

    def __post_init__(self) -> None:
        if not 0.0 <= self.final_rate < 1.0:
            raise ValueError(f"pruning rate must be in [0, 1), got {self.final_rate}")
        if self.every < 1 or self.events < 1:
            raise ValueError("pruning 'every' and 'events' must be >= 1")

    @property
    def end(self) -> int:
        return self.every * self.events

    def rate(self, z: int) -> float:
        frac = min(max(z, 0), self.end) / self.end
        return self.final_rate - self.final_rate * (1.0 - frac) ** 3

    def is_event(self, z: int) -> bool:
        return 0 < z <= self.end and z % self.every == 0


def row_importance(weight: torch.Tensor) -> torch.Tensor:
    """||theta_i||_2 for every output row i (eq. 57)."""
    return weight.detach().norm(dim=1)


def pruning_mask(importance: torch.Tensor, rate: float) -> torch.Tensor:
    """Keep-mask (1 = keep) zeroing the floor(rate * n) least important rows, at least one kept.

    Ties break by index (stable sort), so already-zeroed rows stay pruned as the rate grows.
    """
    n = importance.numel()
    n_pruned = min(int(math.floor(rate * n + 1e-9)), n - 1)
    mask = torch.ones(n, dtype=importance.dtype, device=importance.device)
    if n_pruned > 0:
        order = torch.sort(importance, stable=True).indices
        mask[order[:n_pruned]] = 0.0
    return mask


def _linear_chain(seq: nn.Sequential) -> list[tuple[int, int | None]]:
    """(index of a Linear, index of the next Linear reached through zero-preserving activations)."""
    items = list(seq)
    out: list[tuple[int, int | None]] = []
    for i, layer in enumerate(items):
        if not isinstance(layer, nn.Linear):
            continue
        nxt = None
        for j in range(i + 1, len(items)):
            if isinstance(items[j], nn.Linear):
                nxt = j
                break
            if not isinstance(items[j], ZERO_PRESERVING):
                break
        out.append((i, nxt))
    return out


def prunable_layers(module: nn.Module) -> list[str]:
    """Names of Linear layers whose outputs feed another Linear through f(0) = 0 activations."""
    names = []
    for seq_name, seq in module.named_modules():
        if isinstance(seq, nn.Sequential):
            for i, nxt in _linear_chain(seq):
                if nxt is not None:
                    names.append(f"{seq_name}.{i}" if seq_name else str(i))
    return names


class Pruner:
    """Owns the keep-masks of one actor architecture (shared by online and target copies)."""

    def __init__(self, actor: nn.Module, schedule: CubicSchedule) -> None:
        self.schedule = schedule
        self.layer_names = prunable_layers(actor)
        self.masks = {name: torch.ones(actor.get_submodule(name).out_features,
                                       device=actor.get_submodule(name).weight.device)
                      for name in self.layer_names}

    def update_masks(self, actor: nn.Module, step: int) -> bool:
        """Recompute masks from the online actor's row norms at pruning events; True if updated."""
        if not self.schedule.is_event(step):
            return False
        rate = self.schedule.rate(step)
        for name in self.layer_names:
            layer = actor.get_submodule(name)
            self.masks[name] = pruning_mask(row_importance(layer.weight * self.masks[name][:, None]), rate)
        return True

    @torch.no_grad()
    def apply(self, *nets: nn.Module) -> None:
        """theta' = theta (.) W (eq. 58) on every given copy of the actor."""
        for net in nets:
            for name, mask in self.masks.items():
                layer = net.get_submodule(name)
                layer.weight.mul_(mask[:, None])
                if layer.bias is not None:
                    layer.bias.mul_(mask)

    def mask_gradients(self, net: nn.Module) -> None:
        """Zero the gradients of pruned rows so Adam's moments of theta' stay clean (eq. 59)."""
        for name, mask in self.masks.items():
            layer = net.get_submodule(name)
            if layer.weight.grad is not None:
                layer.weight.grad.mul_(mask[:, None])
            if layer.bias is not None and layer.bias.grad is not None:
                layer.bias.grad.mul_(mask)

    def sparsity(self) -> float:
        """Fraction of prunable neurons currently masked."""
        total = sum(m.numel() for m in self.masks.values())
        return 0.0 if total == 0 else float(sum((m == 0).sum().item() for m in self.masks.values()) / total)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {name: m.clone() for name, m in self.masks.items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.masks = {name: state[name].clone() for name in self.layer_names}


def _sliced_linear(layer: nn.Linear, keep_out: torch.Tensor | None, keep_in: torch.Tensor | None) -> nn.Linear:
    w = layer.weight.detach()
    b = layer.bias.detach() if layer.bias is not None else None
    if keep_out is not None:
        w, b = w[keep_out], (b[keep_out] if b is not None else None)
    if keep_in is not None:
        w = w[:, keep_in]
    new = nn.Linear(w.shape[1], w.shape[0], bias=b is not None, device=w.device, dtype=w.dtype)
    with torch.no_grad():
        new.weight.copy_(w)
        if b is not None:
            new.bias.copy_(b)
    return new


def compact(actor: nn.Module, masks: dict[str, torch.Tensor]) -> nn.Module:
    """A physically smaller copy: pruned rows removed, and the next layer's input columns.

    Exact for the masked actor (pruned neurons output f(0) = 0), so outputs agree to rounding.
    """
    small = copy.deepcopy(actor)
    for seq_name, seq in list(small.named_modules()):
        if not isinstance(seq, nn.Sequential):
            continue
        keep_in: dict[int, torch.Tensor] = {}
        replacements: dict[int, nn.Linear] = {}
        for i, nxt in _linear_chain(seq):
            name = f"{seq_name}.{i}" if seq_name else str(i)
            keep_out = masks[name].bool().nonzero().squeeze(1) if name in masks else None
            replacements[i] = _sliced_linear(seq[i], keep_out, keep_in.get(i))
            if nxt is not None and keep_out is not None:
                keep_in[nxt] = keep_out
        for i, layer in replacements.items():
            seq[i] = layer
    for p in small.parameters():
        p.requires_grad_(False)
    return small


def parameter_count(module: nn.Module) -> int:
    """Number of scalar parameters (a masked actor still counts its zeros; compact it first)."""
    return sum(p.numel() for p in module.parameters())


def linear_flops(module: nn.Module) -> int:
    """sum over Linear layers of 2 in out + out (multiply-add and bias) for one input row."""
    return sum(2 * m.in_features * m.out_features + (m.out_features if m.bias is not None else 0)
               for m in module.modules() if isinstance(m, nn.Linear))


def inference_flops(module: nn.Module) -> int:
    """FLOPs of the Linear layers for one action. A module may say which parts run how often
    per action through ``flop_breakdown()`` (a diffusion actor: its body M times); otherwise
    one pass over all its Linear layers. Activations are not counted."""
    parts = module.flop_breakdown() if hasattr(module, "flop_breakdown") else [(module, 1)]
    return sum(linear_flops(part) * passes for part, passes in parts)
