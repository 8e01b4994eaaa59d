"""The reverse chain against closed-form numbers (EDMSAC eqs. 47-54)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mechdsl.rl.diffusion import DiffusionActor, DiffusionSchedule, clip_unit, cosine_betas, linear_betas, vp_betas


def _vp_numpy(M: int, b_min=0.1, b_max=10.0) -> np.ndarray:
    m = np.arange(1, M + 1)
    return 1 - np.exp(-b_min / M - (2 * m - 1) / (2 * M**2) * (b_max - b_min))


def _zero_predictor(actor: DiffusionActor) -> DiffusionActor:
    last = actor.noise_net.body[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
    return actor


def test_vp_schedule_numbers():
    betas = vp_betas(6).numpy()
    assert betas[0] == pytest.approx(1 - math.exp(-0.1 / 6 - 9.9 / 72), rel=1e-12)
    assert betas[0] == pytest.approx(0.14287085, abs=1e-8)
    np.testing.assert_allclose(betas, _vp_numpy(6), rtol=1e-12)
    for M in (3, 6, 12):  # alpha_bar_M = exp(-b_min - (b_max - b_min)/2) for every M
        assert DiffusionSchedule.make("vp", M).alpha_bars[-1].item() == pytest.approx(math.exp(-5.05), rel=1e-10)


def test_other_schedules_and_posterior_variance():
    np.testing.assert_allclose(linear_betas(5).numpy(), np.linspace(1e-4, 2e-2, 5))
    cos = cosine_betas(6).numpy()
    assert np.all(cos > 0) and np.all(cos <= 0.999) and np.all(np.diff(cos) > 0)
    s = DiffusionSchedule.make("vp", 6)
    b = _vp_numpy(6)
    ab = np.cumprod(1 - b)
    ab_prev = np.concatenate([[1.0], ab[:-1]])
    np.testing.assert_allclose(s.posterior_variance.numpy(), b * (1 - ab_prev) / (1 - ab), rtol=1e-12)
    assert s.posterior_variance[0].item() == 0.0  # beta_tilde_1 = 0: the last step is noiseless
    # posterior mean coefficients reproduce eq. (53): c1/sqrt(alpha_bar) + c2 = 1/sqrt(alpha)
    lhs = s.posterior_mean_coef1 / s.alpha_bars.sqrt() + s.posterior_mean_coef2
    np.testing.assert_allclose(lhs.numpy(), 1 / np.sqrt(1 - b), rtol=1e-12)
    with pytest.raises(ValueError):
        DiffusionSchedule.make("vp", 0)


@pytest.mark.parametrize("variance", ["posterior", "beta"])
def test_zero_predictor_chain_variance_matches_product_formula(variance):
    """eps_theta = 0 makes the chain linear: x_{m-1} = x_m / sqrt(alpha_m) + sigma_m xi, so
    Var[x_0] = prod_m 1/alpha_m + sum_{m>=2} sigma_m^2 prod_{j<m} 1/alpha_j."""
    M = 6
    b = _vp_numpy(M)
    alpha = 1 - b
    ab = np.cumprod(alpha)
    ab_prev = np.concatenate([[1.0], ab[:-1]])
    sigma2 = b * (1 - ab_prev) / (1 - ab) if variance == "posterior" else b.copy()
    sigma2[0] = 0.0
    analytic = np.prod(1 / alpha) + sum(sigma2[m] * np.prod(1 / alpha[:m]) for m in range(1, M))
    recursion = 1.0
    for m in range(M - 1, -1, -1):
        recursion = recursion / alpha[m] + sigma2[m]
    assert analytic == pytest.approx(recursion, rel=1e-12)
    if variance == "posterior":
        assert analytic == pytest.approx(190.77037, rel=1e-6)  # the number itself, for the record

    actor = DiffusionActor(3, 2, hidden=(16,), steps=M, variance=variance, clip_denoised=False, noise_scale=1.0).double()
    _zero_predictor(actor)
    obs = torch.zeros(200_000, 3, dtype=torch.float64)
    with torch.no_grad():
        x0 = actor.sample(obs, torch.Generator().manual_seed(0), clip_action=False)
    empirical = x0.var(dim=0)
    assert abs(x0.mean().item()) < 0.1
    np.testing.assert_allclose(empirical.numpy(), [analytic, analytic], rtol=0.015)


def test_x0_form_equals_printed_eq54():
    """x_{m-1} = x_m/sqrt(chi_m) - zeta_m/sqrt(chi_m (1 - chi_bar_m)) eps + sqrt(zeta_m) xi (eq. 54)."""
    actor = DiffusionActor(3, 2, hidden=(32, 32), steps=6, variance="beta", clip_denoised=False, noise_scale=1.0).double()
    gen = torch.Generator().manual_seed(1)
    for p in actor.parameters():
        p.data.normal_(0, 0.3, generator=gen)
    s = actor.schedule
    obs = torch.randn(64, 3, dtype=torch.float64, generator=gen)
    x = torch.randn(64, 2, dtype=torch.float64, generator=gen)
    for m in range(6, 0, -1):
        xi = torch.randn(64, 2, dtype=torch.float64, generator=gen)
        eps = actor.predict_noise(x, obs, m)
        beta, chi, chi_bar = s.betas[m - 1], s.alphas[m - 1], s.alpha_bars[m - 1]
        printed = x / chi.sqrt() - beta / (chi * (1 - chi_bar)).sqrt() * eps + (beta.sqrt() if m > 1 else 0.0) * xi
        ours, _ = actor.denoise_step(x, obs, m, xi)
        torch.testing.assert_close(ours, printed, rtol=1e-10, atol=1e-10)
        x = ours


def test_gradient_flows_through_the_chain_and_not_under_no_grad():
    actor = DiffusionActor(3, 2, hidden=(16, 16), steps=4)
    obs = torch.randn(8, 3)
    a = actor.sample(obs, torch.Generator().manual_seed(0))
    assert a.abs().max() <= 1.0
    a.sum().backward()
    first = actor.noise_net.body[0].weight.grad
    assert first is not None and first.abs().sum() > 0
    with torch.no_grad():
        b = actor.sample(obs, torch.Generator().manual_seed(0))
    assert b.grad_fn is None
    torch.testing.assert_close(a.detach(), b)  # same generator -> same action


def test_straight_through_clip():
    x = torch.tensor([-2.0, 0.5, 3.0], requires_grad=True)
    y = clip_unit(x, straight_through=True)
    y.sum().backward()
    assert y.tolist() == [-1.0, 0.5, 1.0]
    assert x.grad.tolist() == [1.0, 1.0, 1.0]
    x.grad = None
    clip_unit(x, straight_through=False).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]


def test_mode_start_makes_inference_deterministic():
    """inference_start = "mode" starts the chain at A_M = 0: with eta = 0 the deployed policy is
    a function of the state (no generator dependence); "sample" draws A_M ~ N(0, I)."""
    from toy_env import ScreeningContractEnv

    from mechdsl.rl import train

    run = train(ScreeningContractEnv(), "dmsac", steps=3, seed=0, eval_every=3, log="none",
                hparams={"hidden": (16, 16), "batch_size": 32, "updates_per_step": 1})
    obs = torch.rand(64, 3) * 2 - 1
    first = run.agent.act(obs, explore=False, generator=torch.Generator().manual_seed(1))
    second = run.agent.act(obs, explore=False, generator=torch.Generator().manual_seed(2))
    assert torch.equal(first, second)
    with torch.no_grad():
        zero = run.agent.diffusion.sample(obs, torch.Generator().manual_seed(3), start_scale=0.0)
        drawn = run.agent.diffusion.sample(obs, torch.Generator().manual_seed(3))
    assert torch.equal(first, zero) and not torch.equal(first, drawn)


def test_the_noise_predictors_hidden_activation_is_a_choice():
    """Mish by default (Diffusion-QL's); `activation` puts another of networks.ACTIVATIONS between
    the body's hidden layers, and the time MLP keeps its Mish."""
    from torch import nn

    from mechdsl.rl.activations import Mish

    def hidden_activations(actor):
        return [type(layer) for layer in actor.noise_net.body if not isinstance(layer, nn.Linear)]

    assert hidden_activations(DiffusionActor(3, 2, hidden=(8, 8), steps=2)) == [Mish, Mish]
    relu = DiffusionActor(3, 2, hidden=(8, 8), steps=2, activation="relu")
    assert hidden_activations(relu) == [nn.ReLU, nn.ReLU]
    assert isinstance(relu.noise_net.time_mlp[2], Mish)
    with pytest.raises(KeyError):
        DiffusionActor(3, 2, hidden=(8,), steps=2, activation="gelu")
