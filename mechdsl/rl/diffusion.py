"""Conditional DDPM policy: the reverse chain of EDMSAC eqs. (47)-(54) (and CGDM eqs. 26-32).

Forward process (eq. 47): q(x_m | x_{m-1}) = N(sqrt(1 - beta_m) x_{m-1}, beta_m I), m = 1..M,
    alpha_m = 1 - beta_m,  alpha_bar_m = prod_{i=1..m} alpha_i  (the printed eq. 53 starts the
    product at i = 0, where alpha_0 is undefined; see docs/rl.md), so that (CGDM eq. 26)
    x_m = sqrt(alpha_bar_m) x_0 + sqrt(1 - alpha_bar_m) eps.
Reverse step (eqs. 53-54), with the noise predictor eps_theta(x_m, s, m):
    mu_theta = (x_m - beta_m / sqrt(1 - alpha_bar_m) eps_theta) / sqrt(alpha_m)
             = c1_m x0_hat + c2_m x_m,  x0_hat = (x_m - sqrt(1 - alpha_bar_m) eps_theta) / sqrt(alpha_bar_m),
    c1_m = beta_m sqrt(alpha_bar_{m-1}) / (1 - alpha_bar_m),
    c2_m = (1 - alpha_bar_{m-1}) sqrt(alpha_m) / (1 - alpha_bar_m)            (CGDM eq. 30),
    x_{m-1} = mu_theta + eta sigma_m xi,  xi ~ N(0, I),  xi = 0 at m = 1,
    eta = ``noise_scale``: 1 is the DDPM chain of eq. (54); 0 a deterministic map of x_M (DDIM-like).
    sigma_m^2 is beta_m (as printed in eq. 54) or the posterior variance
    beta_tilde_m = beta_m (1 - alpha_bar_{m-1}) / (1 - alpha_bar_m) (CGDM eq. 28, DDPM's choice).
The x0_hat form lets the estimate of x_0 be clipped to [-1, 1] (Diffusion-QL); unclipped it
equals eq. (53) exactly. The final action is clipped to [-1, 1].
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from mechdsl.rl.activations import Mish
from mechdsl.rl.networks import mlp

ScheduleKind = Literal["vp", "linear", "cosine"]
VarianceKind = Literal["posterior", "beta"]


def vp_betas(steps: int, b_min: float = 0.1, b_max: float = 10.0) -> torch.Tensor:
    """beta_m = 1 - exp(-b_min/M - (2m - 1)/(2 M^2) (b_max - b_min)), m = 1..M  (eq. 47).

    The discretised variance-preserving SDE; prod_m alpha_m = exp(-b_min - (b_max - b_min)/2)
    for every M (e^-5.05 = 0.0064 at the defaults), so x_M is close to N(0, I) (eq. 50).
    """
    m = torch.arange(1, steps + 1, dtype=torch.float64)
    return 1 - torch.exp(-b_min / steps - (2 * m - 1) / (2 * steps**2) * (b_max - b_min))


def linear_betas(steps: int, start: float = 1e-4, end: float = 2e-2) -> torch.Tensor:
    """beta_m evenly spaced in [start, end] (DDPM, Diffusion-QL's ``linear_beta_schedule``)."""
    return torch.linspace(start, end, steps, dtype=torch.float64)


def cosine_betas(steps: int, s: float = 0.008) -> torch.Tensor:
    """alpha_bar(t) = cos^2(((t/M + s)/(1 + s)) pi/2); beta_m = 1 - alpha_bar_m / alpha_bar_{m-1}, clipped to 0.999."""
    t = torch.arange(steps + 1, dtype=torch.float64) / steps
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    return (1 - f[1:] / f[:-1]).clamp(0, 0.999)


SCHEDULES = {"vp": vp_betas, "linear": linear_betas, "cosine": cosine_betas}


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


@dataclass(frozen=True)
class DiffusionSchedule:
    """All per-step constants of the chain, float64, index i = m - 1."""

    betas: torch.Tensor
    alphas: torch.Tensor
    alpha_bars: torch.Tensor
    alpha_bars_prev: torch.Tensor
    posterior_variance: torch.Tensor   # beta_tilde_m = beta_m (1 - alpha_bar_{m-1}) / (1 - alpha_bar_m)
    posterior_mean_coef1: torch.Tensor  # c1_m, multiplies x0_hat
    posterior_mean_coef2: torch.Tensor  # c2_m, multiplies x_m

    @property
    def steps(self) -> int:
        return int(self.betas.numel())

    @staticmethod
    def make(kind: ScheduleKind, steps: int) -> "DiffusionSchedule":
        if steps < 1:
            raise ValueError(f"denoising steps must be >= 1, got {steps}")
        betas = SCHEDULES[kind](steps)
        alphas = 1 - betas
        alpha_bars = torch.cumprod(alphas, 0)
        prev = torch.cat([torch.ones(1, dtype=torch.float64), alpha_bars[:-1]])
        return DiffusionSchedule(
            betas=betas, alphas=alphas, alpha_bars=alpha_bars, alpha_bars_prev=prev,
            posterior_variance=betas * (1 - prev) / (1 - alpha_bars),
            posterior_mean_coef1=betas * prev.sqrt() / (1 - alpha_bars),
            posterior_mean_coef2=(1 - prev) * alphas.sqrt() / (1 - alpha_bars),
        )

    def step_variance(self, variance: VarianceKind) -> torch.Tensor:
        """sigma_m^2 of the reverse step, with sigma_1 = 0 (no noise on the last step)."""
        var = (self.posterior_variance if variance == "posterior" else self.betas).clone()
        var[0] = 0.0
        return var


class SinusoidalEmbedding(nn.Module):
    """e(m)_{2j} = sin(m / 10000^{j/(d/2-1)}), e(m)_{2j+1} = cos(...) (Transformer / DDPM)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        if dim < 4 or dim % 2:
            raise ValueError("time embedding dimension must be an even number >= 4")
        half = dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half) / (half - 1))
        self.register_buffer("freqs", freqs, persistent=False)

    def forward(self, m: torch.Tensor) -> torch.Tensor:
        arg = m[:, None].to(self.freqs.dtype) * self.freqs[None, :]
        return torch.cat([arg.sin(), arg.cos()], dim=-1)


class NoisePredictor(nn.Module):
    """eps_theta(x_m, s, m): an MLP on [x_m, s, time_mlp(embed(m))] (Diffusion-QL's, whose hidden
    layers are Mish; `activation` names another of `networks.ACTIVATIONS`)."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: tuple[int, ...], time_dim: int = 16,
                 activation: str = "mish") -> None:
        super().__init__()
        self.time_mlp = nn.Sequential(SinusoidalEmbedding(time_dim), nn.Linear(time_dim, 2 * time_dim),
                                      Mish(), nn.Linear(2 * time_dim, time_dim))
        self.body = mlp(action_dim + obs_dim + time_dim, hidden, action_dim, activation)

    def forward(self, x: torch.Tensor, obs: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        return self.body(torch.cat([x, obs, self.time_mlp(m)], dim=-1))


class DiffusionActor(nn.Module):
    """pi_theta(A | S) as the reverse chain of eq. (52); ``sample`` implements eq. (54)."""

    def __init__(self, obs_dim: int, action_dim: int, *, hidden: tuple[int, ...] = (128, 128),
                 steps: int = 6, schedule: ScheduleKind = "vp", variance: VarianceKind = "posterior",
                 clip_denoised: bool = True, noise_output: Literal["linear", "tanh"] = "linear",
                 time_dim: int = 16, straight_through: bool = True, noise_scale: float = 1.0,
                 activation: str = "mish") -> None:
        super().__init__()
        self.action_dim, self.steps = action_dim, steps
        self.clip_denoised, self.noise_output = clip_denoised, noise_output
        self.straight_through = straight_through
        self.schedule = DiffusionSchedule.make(schedule, steps)
        self.noise_net = NoisePredictor(obs_dim, action_dim, hidden, time_dim, activation)
        s = self.schedule
        for name, value in (("sqrt_alpha_bars", s.alpha_bars.sqrt()),
                            ("sqrt_one_minus_alpha_bars", (1 - s.alpha_bars).sqrt()),
                            ("coef1", s.posterior_mean_coef1), ("coef2", s.posterior_mean_coef2),
                            ("sigma", noise_scale * s.step_variance(variance).sqrt())):
            self.register_buffer(name, value, persistent=False)  # float64; cast where used

    def flop_breakdown(self) -> list[tuple[nn.Module, int]]:
        """(module, passes per action) for FLOP counts: the body runs M times per action; the
        time MLP runs once per batch on the M step indices, so it is not charged per action."""
        return [(self.noise_net.body, self.steps)]

    def time_features(self, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """time_mlp(embed(m)) for m = 1..M, shape (M, time_dim): computed once per chain."""
        return self.noise_net.time_mlp(torch.arange(1, self.steps + 1, device=device, dtype=dtype))

    def predict_noise(self, x: torch.Tensor, obs: torch.Tensor, m: int,
                      time_features: torch.Tensor | None = None) -> torch.Tensor:
        """eps_theta(x_m, s, m); bounded by tanh when ``noise_output == "tanh"`` (CGDM eq. 31)."""
        if time_features is None:
            time_features = self.time_features(x.device, x.dtype)
        temb = time_features[m - 1].expand(x.shape[0], -1)
        eps = self.noise_net.body(torch.cat([x, obs, temb], dim=-1))
        return torch.tanh(eps) if self.noise_output == "tanh" else eps

    def denoise_step(self, x: torch.Tensor, obs: torch.Tensor, m: int, noise: torch.Tensor,
                     time_features: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """x_{m-1} = c1_m x0_hat + c2_m x_m + sigma_m xi  (eqs. 53-54 in the x0_hat form).

        Also returns sum_i relu(|x0_hat_i| - 1)^2, how far the unclipped x_0 estimate left [-1, 1].
        """
        noise_weight, scale, coef1, coef2, sigma = self.step_constants(x.dtype)[m - 1]
        eps = self.predict_noise(x, obs, m, time_features)
        x0_hat = (x - noise_weight * eps) / scale
        excess = (x0_hat.abs() - 1).clamp_min(0).pow(2).sum(-1)
        if self.clip_denoised:
            x0_hat = clip_unit(x0_hat, self.straight_through)
        mean = coef1 * x0_hat + coef2 * x
        return mean + sigma * noise, excess

    def step_constants(self, dtype: torch.dtype) -> list[tuple[float, ...]]:
        """Per step m (index m - 1): (sqrt(1 - alpha_bar_m), sqrt(alpha_bar_m), c1_m, c2_m, eta sigma_m),
        each rounded once to ``dtype`` (the value a cast of the float64 buffer gives) and kept as
        a Python number, so the chain's inner loop makes no casts and no host reads per step."""
        cache = self.__dict__.setdefault("_step_constants", {})
        if dtype not in cache:
            columns = [self.sqrt_one_minus_alpha_bars, self.sqrt_alpha_bars, self.coef1, self.coef2, self.sigma]
            cache[dtype] = list(zip(*(c.to(dtype).tolist() for c in columns)))
        return cache[dtype]

    def sample_with_excess(self, obs: torch.Tensor, generator: torch.Generator | None = None, *,
                           clip_action: bool = True, start_scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        """(A_0, excess): A_0 from A_M ~ N(0, I) through m = M..1 (eq. 54), differentiable unless
        called under no_grad; ``excess`` (B,) sums the squared distances by which the x_0
        estimates and the final output left [-1, 1] (for the boundary penalty of the actor loss).
        ``start_scale`` s draws A_M ~ N(0, s^2 I): s = 0 starts every chain at the prior's mode, a
        deterministic policy when the reverse-step noise eta is 0 too.
        """
        shape = (obs.shape[0], self.action_dim)
        x = start_scale * torch.randn(shape, generator=generator, device=obs.device, dtype=obs.dtype)
        time_features = self.time_features(obs.device, obs.dtype)
        total = torch.zeros(obs.shape[0], device=obs.device, dtype=obs.dtype)
        for m in range(self.steps, 0, -1):
            noise = torch.randn(shape, generator=generator, device=obs.device, dtype=obs.dtype)
            x, excess = self.denoise_step(x, obs, m, noise, time_features)
            total = total + excess
        total = total + (x.abs() - 1).clamp_min(0).pow(2).sum(-1)
        return (clip_unit(x, self.straight_through) if clip_action else x), total

    def sample(self, obs: torch.Tensor, generator: torch.Generator | None = None, *,
               clip_action: bool = True, start_scale: float = 1.0) -> torch.Tensor:
        """A_0 of the reverse chain (eq. 54); see ``sample_with_excess``."""
        return self.sample_with_excess(obs, generator, clip_action=clip_action, start_scale=start_scale)[0]

    def forward(self, obs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.sample(obs, generator)

    def noise_prediction_loss(self, obs: torch.Tensor, action: torch.Tensor,
                              generator: torch.Generator | None = None) -> torch.Tensor:
        """Per-sample ||eps_theta(A_k, k, S) - eps||^2, k ~ U{1..M}, A_k by eq. (26)  (CGDM eq. 33)."""
        batch = obs.shape[0]
        k = torch.randint(1, self.steps + 1, (batch,), generator=generator, device=obs.device)
        eps = torch.randn(action.shape, generator=generator, device=obs.device, dtype=obs.dtype)
        noisy = (self.sqrt_alpha_bars[k - 1, None].to(action.dtype) * action
                 + self.sqrt_one_minus_alpha_bars[k - 1, None].to(action.dtype) * eps)
        pred = self.noise_net(noisy, obs, k.to(obs.dtype))
        if self.noise_output == "tanh":
            pred = torch.tanh(pred)
        return (pred - eps).pow(2).sum(-1)
