"""Shared networks: MLPs, critics, Gaussian and deterministic actors, target-net updates.

Every parameter is initialised from an explicit ``torch.Generator`` (never the global RNG),
with PyTorch's default Linear scheme: W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
"""
from __future__ import annotations

import math

import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {"mish": nn.Mish, "relu": nn.ReLU, "tanh": nn.Tanh, "silu": nn.SiLU}


def mlp(in_dim: int, hidden: tuple[int, ...], out_dim: int, activation: str = "mish") -> nn.Sequential:
    """Linear -> act -> ... -> Linear; hidden layers are the prunable ones (f(0) = 0)."""
    layers: list[nn.Module] = []
    width = in_dim
    for h in hidden:
        layers += [nn.Linear(width, h), ACTIVATIONS[activation]()]
        width = h
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


@torch.no_grad()
def init_from_generator(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """Re-initialise every Linear of ``module`` reproducibly from ``generator``."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            bound = 1.0 / math.sqrt(layer.in_features)
            for p in (layer.weight, layer.bias):
                if p is not None:
                    u = torch.rand(p.shape, generator=generator, dtype=p.dtype, device=p.device)
                    p.copy_((2 * u - 1) * bound)
    return module


@torch.no_grad()
def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """theta_hat <- tau theta + (1 - tau) theta_hat  (EDMSAC eq. 60, CGDM eq. 40)."""
    for t, s in zip(target.parameters(), source.parameters(), strict=True):
        t.lerp_(s, tau)


def frozen_copy(module: nn.Module) -> nn.Module:
    """A target network: a copy that takes no gradients."""
    import copy

    target = copy.deepcopy(module)
    for p in target.parameters():
        p.requires_grad_(False)
    return target


class Critic(nn.Module):
    """Q(s, a): one MLP on the concatenation."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: tuple[int, ...], activation: str = "mish") -> None:
        super().__init__()
        self.net = mlp(obs_dim + action_dim, hidden, 1, activation)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([obs, action], dim=-1)).squeeze(-1)


class TwinCritic(nn.Module):
    """Two independent critics Q_1, Q_2 (clipped double-Q, EDMSAC eq. 55-56, CGDM eq. 38-39)."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: tuple[int, ...], activation: str = "mish") -> None:
        super().__init__()
        self.q1 = Critic(obs_dim, action_dim, hidden, activation)
        self.q2 = Critic(obs_dim, action_dim, hidden, activation)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.q1(obs, action), self.q2(obs, action)

    def min_q(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        q1, q2 = self(obs, action)
        return torch.minimum(q1, q2)

    def mean_q(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        q1, q2 = self(obs, action)
        return 0.5 * (q1 + q2)

    def actor_value(self, obs: torch.Tensor, action: torch.Tensor, aggregate: str = "min") -> torch.Tensor:
        """The value an actor ascends: min(Q_1, Q_2) (clipped double-Q, against the
        overestimation of bootstrapped targets) or their mean (unbiased where y = r)."""
        if aggregate == "min":
            return self.min_q(obs, action)
        if aggregate == "mean":
            return self.mean_q(obs, action)
        raise ValueError(f"unknown critic aggregate {aggregate!r}; choose 'min' or 'mean'")


class DeterministicActor(nn.Module):
    """a = tanh(f(o)) in [-1, 1]^d (DDPG / TD3 / amortized)."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: tuple[int, ...], activation: str = "relu") -> None:
        super().__init__()
        self.net = mlp(obs_dim, hidden, action_dim, activation)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(obs))


def gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """log N(x; mean, diag(exp(2 log_std))), summed over the last dimension."""
    z = (x - mean) * torch.exp(-log_std)
    return (-0.5 * z.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)


class TanhGaussianActor(nn.Module):
    """SAC policy a = tanh(u), u ~ N(mu(o), sigma(o)^2); log-density with the tanh Jacobian."""

    LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0

    def __init__(self, obs_dim: int, action_dim: int, hidden: tuple[int, ...], activation: str = "relu") -> None:
        super().__init__()
        self.net = mlp(obs_dim, hidden, 2 * action_dim, activation)

    def forward(self, obs: torch.Tensor, *, deterministic: bool = False,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.net(obs).chunk(2, dim=-1)
        log_std = log_std.clamp(self.LOG_STD_MIN, self.LOG_STD_MAX)
        if deterministic:
            return torch.tanh(mean), torch.zeros(obs.shape[0], device=obs.device, dtype=obs.dtype)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        u = mean + log_std.exp() * noise
        a = torch.tanh(u)
        # log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)), numerically stable
        log_jac = (2 * (math.log(2) - u - nn.functional.softplus(-2 * u))).sum(-1)
        return a, gaussian_log_prob(u, mean, log_std) - log_jac


class GaussianActor(nn.Module):
    """PPO policy u ~ N(mu(o), diag(exp(2 log_std))) with a state-independent log_std."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: tuple[int, ...], init_log_std: float,
                 activation: str = "tanh") -> None:
        super().__init__()
        self.net = mlp(obs_dim, hidden, action_dim, activation)
        self.log_std = nn.Parameter(torch.full((action_dim,), float(init_log_std)))

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net(obs), self.log_std.expand(obs.shape[0], -1)


class ValueNet(nn.Module):
    """V(o) for PPO's baseline."""

    def __init__(self, obs_dim: int, hidden: tuple[int, ...], activation: str = "tanh") -> None:
        super().__init__()
        self.net = mlp(obs_dim, hidden, 1, activation)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs).squeeze(-1)
