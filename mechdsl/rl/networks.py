"""Shared networks: MLPs, critics, Gaussian and deterministic actors, target-net updates.

Every parameter is initialised from an explicit ``torch.Generator`` (never the global RNG),
with PyTorch's default Linear scheme: W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from mechdsl.rl.activations import Mish

ACTIVATIONS: dict[str, type[nn.Module]] = {"mish": Mish, "relu": nn.ReLU, "tanh": nn.Tanh, "silu": nn.SiLU}


def mlp(in_dim: int, hidden: tuple[int, ...], out_dim: int, activation: str = "mish") -> nn.Sequential:
    """Linear -> act -> ... -> Linear; hidden layers are the prunable ones (f(0) = 0)."""
    layers: list[nn.Module] = []
    width = in_dim
    for h in hidden:
        layers += [nn.Linear(width, h), ACTIVATIONS[activation]()]
        width = h
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


def _uniform_(p: torch.Tensor, bound: float, generator: torch.Generator) -> None:
    u = torch.rand(p.shape, generator=generator, dtype=p.dtype, device=p.device)
    p.copy_((2 * u - 1) * bound)


@torch.no_grad()
def init_from_generator(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """Re-initialise every Linear of ``module`` reproducibly from ``generator``.

    An ensemble (``TwinCritic``) draws member by member, each member's layers in order, so it
    receives exactly the numbers its members would as separate MLPs initialised one after another.
    """
    ensembles = [m for m in module.modules() if isinstance(m, TwinCritic)]
    in_ensemble = {id(layer) for e in ensembles for layer in e.layers}
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            bound = 1.0 / math.sqrt(layer.in_features)
            for p in (layer.weight, layer.bias):
                if p is not None:
                    _uniform_(p, bound, generator)
        elif isinstance(layer, TwinCritic):
            for member in range(layer.members):
                for linear in layer.layers:
                    bound = 1.0 / math.sqrt(linear.in_features)
                    _uniform_(linear.weight[member], bound, generator)
                    _uniform_(linear.bias[member], bound, generator)
        elif isinstance(layer, EnsembleLinear) and id(layer) not in in_ensemble:
            for member in range(layer.members):
                bound = 1.0 / math.sqrt(layer.in_features)
                _uniform_(layer.weight[member], bound, generator)
                _uniform_(layer.bias[member], bound, generator)
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


class EnsembleLinear(nn.Module):
    """E independent affine maps y_e = x_e W_e^T + b_e as one batched matmul (``baddbmm``).

    weight (E, out, in), bias (E, out); input (E', B, in) for the members ``members`` selects
    (all E by default). ``weights_grad=False`` uses the weights as constants: the gradient still
    flows to the input, none is computed for the weights (what an actor loss needs of a critic).
    """

    def __init__(self, members: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.members, self.in_features, self.out_features = members, in_features, out_features
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(members, out_features, in_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(members, out_features).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor, members: slice = slice(None), weights_grad: bool = True) -> torch.Tensor:
        weight, bias = self.weight[members], self.bias[members]
        if not weights_grad:
            weight, bias = weight.detach(), bias.detach()
        return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))


class TwinCritic(nn.Module):
    """Two independent critics Q_1, Q_2 (clipped double-Q, EDMSAC eq. 55-56, CGDM eq. 38-39).

    Both MLPs on [s, a] (widths ``hidden``, activation after every hidden layer) are evaluated
    together: layer l holds W_l = [W_l^(1); W_l^(2)] and computes both members' outputs in one
    batched matmul. Member i equals a separate ``Critic`` with weights W_l^(i) (the same
    initialisation stream, ``init_from_generator``); parameters are never shared between members.
    """

    members = 2

    def __init__(self, obs_dim: int, action_dim: int, hidden: tuple[int, ...], activation: str = "mish") -> None:
        super().__init__()
        widths = (obs_dim + action_dim, *hidden, 1)
        self.layers = nn.ModuleList(EnsembleLinear(self.members, w_in, w_out)
                                    for w_in, w_out in zip(widths[:-1], widths[1:]))
        self.activation = ACTIVATIONS[activation]()

    def q_values(self, obs: torch.Tensor, action: torch.Tensor, members: slice = slice(None),
                 weights_grad: bool = True) -> torch.Tensor:
        """(Q_i(s, a))_i for the selected members, shape (members, B)."""
        x = torch.cat([obs, action], dim=-1)
        count = len(range(self.members)[members])
        h = x.unsqueeze(0).expand(count, *x.shape)
        last = len(self.layers) - 1
        for l, layer in enumerate(self.layers):
            h = layer(h, members, weights_grad)
            if l < last:
                h = self.activation(h)
        return h.squeeze(-1)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        q = self.q_values(obs, action)
        return q[0], q[1]

    def min_q(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        q1, q2 = self(obs, action)
        return torch.minimum(q1, q2)

    def mean_q(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        q1, q2 = self(obs, action)
        return 0.5 * (q1 + q2)

    def actor_value(self, obs: torch.Tensor, action: torch.Tensor, aggregate: str = "min") -> torch.Tensor:
        """The value an actor ascends: min(Q_1, Q_2) (clipped double-Q, against the
        overestimation of bootstrapped targets), their mean (unbiased where y = r), or Q_1
        alone (TD3). Differentiable in ``action`` only: an actor loss never updates the critic,
        so the critic's weight gradients are not computed."""
        if aggregate == "first":
            return self.q_values(obs, action, slice(0, 1), weights_grad=False)[0]
        q = self.q_values(obs, action, weights_grad=False)
        if aggregate == "min":
            return torch.minimum(q[0], q[1])
        if aggregate == "mean":
            return 0.5 * (q[0] + q[1])
        raise ValueError(f"unknown critic aggregate {aggregate!r}; choose 'min', 'mean' or 'first'")

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        """Also reads checkpoints of the former layout (two ``Critic`` submodules q1, q2)."""
        for l in range(len(self.layers)):
            for kind in ("weight", "bias"):
                legacy = [f"{prefix}q{i + 1}.net.{2 * l}.{kind}" for i in range(self.members)]
                if all(key in state_dict for key in legacy):
                    state_dict[f"{prefix}layers.{l}.{kind}"] = torch.stack([state_dict.pop(key) for key in legacy])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def stack_legacy_twin_state(saved: dict, optimizer: torch.optim.Optimizer) -> dict:
    """An optimizer state saved for two separate critics (params q1..., q2...) rearranged for the
    batched ``TwinCritic`` that replaced them: per-parameter state of member tensors stacked, in
    the order of ``EnsembleLinear.weight``/``bias``. Any other state is returned unchanged."""
    groups, current = saved.get("param_groups", []), optimizer.param_groups
    if len(groups) != len(current) or any(len(g["params"]) != 2 * len(c["params"]) for g, c in zip(groups, current)):
        return saved
    state, new_state, new_groups, index = saved["state"], {}, [], 0
    for group, live in zip(groups, current):
        half = len(live["params"])
        ids = []
        for j, param in enumerate(live["params"]):
            first, second = state.get(group["params"][j]), state.get(group["params"][j + half])
            if first is None or second is None or param.shape[:1] != (2,):
                return saved
            new_state[index] = {k: (torch.stack([v, second[k]]) if isinstance(v, torch.Tensor) and v.dim() > 0 else v)
                                for k, v in first.items()}
            ids.append(index)
            index += 1
        new_groups.append({**group, "params": ids})
    return {"state": new_state, "param_groups": new_groups}


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
