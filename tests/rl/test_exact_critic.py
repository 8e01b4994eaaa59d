"""Exact-reward diffusion learners (issue 30): `critic = exact` makes the actor of EDMSAC, DMSAC
and DM-DDPG ascend the env's own learning reward through the denoising chain instead of a
learned Q; `auto` (the default) picks it where the env allows, the `paper` preset keeps the
learned critic, and envs that do not allow it refuse `critic = exact` with a clear error."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from toy_env import ScreeningContractEnv

from mechdsl.rl import HyperparameterError, resolve_hparams, train
from mechdsl.rl.algorithms import make_agent
from mechdsl.rl.buffer import Transition
from mechdsl.rl.env import learning_reward, observation

SMALL = {"hidden": (16, 16), "batch_size": 32, "denoise_steps": 3}


class DifferentiableScreeningEnv(ScreeningContractEnv):
    """The toy screening env declaring what a compiled contract env declares."""

    differentiable_reward = True


class TwoStepScreeningEnv(DifferentiableScreeningEnv):
    horizon = 2


def _agent(algo: str, env, **overrides):
    hp = resolve_hparams(algo, overrides={**SMALL, **overrides})
    return make_agent(algo, env, hp, torch.Generator().manual_seed(0), torch.device("cpu"))


def _batch(env, n: int = 8) -> Transition:
    state = env.reset(n, torch.Generator().manual_seed(1))
    obs = observation(env, state)
    zeros = torch.zeros(n, dtype=state.dtype)
    return Transition(state, obs, torch.zeros(n, env.action_dim, dtype=state.dtype), zeros, state, obs, zeros + 1)


@pytest.mark.parametrize("train_start", ["mode", "sample"])
def test_exact_actor_loss_gradient_is_autograd_of_env_evaluate_through_the_chain(train_start):
    """d/dtheta of -scale * r(S, chain_theta(S)) by autograd equals central finite differences of
    the same composition, computed only from `env.evaluate` and the chain (float64), with the
    chain started from its mode A_M = 0 (the exact reward's default) or from A_M ~ N(0, I). The
    clips are true clips here (straight_through = false), so the chain is the function autograd
    differentiates; by default they pass gradients straight through (a surrogate by design)."""
    torch.set_default_dtype(torch.float64)
    try:
        env = DifferentiableScreeningEnv(dtype=torch.float64, penalty=0.0)
        agent = _agent("dmsac", env, critic="exact", entropy="none", boundary_penalty=0.0,
                       straight_through=False, clip_denoised=False, train_start=train_start)
        start_scale = 0.0 if train_start == "mode" else 1.0
        agent.set_reward_scale(0.5)
        batch = _batch(env)

        def loss() -> torch.Tensor:
            action, _, _ = agent.policy(agent.diffusion, batch.obs, torch.Generator().manual_seed(7))
            return -agent.actor_value(batch, action, env).mean()

        def composition() -> torch.Tensor:  # the same map, written from env.evaluate alone
            action = agent.diffusion.sample_with_excess(batch.obs, torch.Generator().manual_seed(7),
                                                        start_scale=start_scale)[0]
            return -0.5 * learning_reward(env.evaluate(batch.state, action)).mean()

        params = [p for p in agent.diffusion.parameters() if p.requires_grad]
        grads = torch.autograd.grad(loss(), params)
        checked = 0
        for param, grad in zip(params, grads):
            for index in [0, param.numel() // 2, param.numel() - 1]:
                flat = param.data.view(-1)
                original = flat[index].item()
                flat[index] = original + 1e-6
                up = composition().item()
                flat[index] = original - 1e-6
                down = composition().item()
                flat[index] = original
                numeric = (up - down) / 2e-6
                assert grad.view(-1)[index].item() == pytest.approx(numeric, rel=1e-4, abs=1e-7)
                checked += 1
        assert checked >= 9 and any(g.abs().sum() > 0 for g in grads)
    finally:
        torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize("algo", ["edmsac", "dmsac", "dmddpg"])
def test_auto_uses_the_exact_reward_where_the_env_allows(algo):
    env = DifferentiableScreeningEnv()
    assert _agent(algo, env).critic_kind() == "exact"
    assert _agent(algo, ScreeningContractEnv()).critic_kind() == "learned"  # no differentiable_reward declared
    assert _agent(algo, env, critic="learned").critic_kind() == "learned"


@pytest.mark.parametrize("algo", ["edmsac", "dmsac"])
def test_the_exact_reward_trains_the_chain_from_the_start_inference_deploys(algo):
    """train_start = auto: under the exact reward the chain starts from its mode A_M = 0 in
    training too, so (without the final Gaussian) the action the actor's loss ascends is the one
    deterministic inference deploys, whatever the generator; under a learned critic, and in the
    paper preset, it starts from A_M ~ N(0, I) as in eq. (52) and the two differ
    (benchmarks/results/exact_critic/diagnosis_K5.md: K = 5 ratio -0.67 -> 0.83 at 3,200 samples)."""
    env = DifferentiableScreeningEnv()
    batch = _batch(env, 16)

    def trained_and_deployed(agent):
        trained = agent.policy(agent.diffusion, batch.obs, torch.Generator().manual_seed(5))[0]
        deployed = agent.act(batch.obs, explore=False, generator=torch.Generator().manual_seed(6))
        return trained.detach(), deployed

    exact = _agent(algo, env, entropy="none")
    assert (exact.critic_kind(), exact.train_start) == ("exact", "mode")
    trained, deployed = trained_and_deployed(exact)
    assert torch.allclose(trained, deployed, atol=1e-6)

    learned = _agent(algo, env, entropy="none", critic="learned")
    assert learned.train_start == "sample"
    trained, deployed = trained_and_deployed(learned)
    assert (trained - deployed).abs().max() > 1e-3
    assert resolve_hparams(algo, "paper").train_start == "sample"
    with pytest.raises(ValueError, match="train_start"):
        _agent(algo, env, train_start="noise")


@pytest.mark.parametrize("algo", ["edmsac", "dmsac", "dmddpg"])
def test_paper_preset_keeps_the_learned_critic(algo):
    assert resolve_hparams(algo, "paper").critic == "learned"
    run = train(DifferentiableScreeningEnv(), algo, steps=3, preset="paper", eval_every=3, log="none",
                hparams={"hidden": (16, 16), "batch_size": 32, "warmup_steps": 1}, eval_states=16)
    assert "critic_loss" in run.rows[-1]


def test_exact_update_trains_no_critic_and_raises_the_reward():
    """On the compiled static contract (generated/static_contract): 40 exact-reward actor steps
    raise the chain's mean reward on a fixed batch; the critic's weights never move."""
    from mechdsl.rl.runs import load_package

    env = load_package(Path(__file__).resolve().parents[2] / "generated" / "static_contract").Env()
    agent = _agent("dmsac", env, critic="exact", actor_every=1)
    assert agent.critic_kind() == "exact"  # a compiled contract env declares a differentiable reward
    critic_before = [p.detach().clone() for p in agent.critic.parameters()]
    batch = _batch(env, 64)

    def reward() -> float:
        with torch.no_grad():
            action = agent.diffusion.sample(batch.obs, torch.Generator().manual_seed(3))
            return float(env.evaluate(batch.state, action).reward.mean())

    before = reward()
    for step in range(1, 41):
        metrics = agent.update(batch, step=step, generator=torch.Generator().manual_seed(step), env=env)
    assert "critic_loss" not in metrics
    assert all(torch.equal(a, b) for a, b in zip(critic_before, agent.critic.parameters()))
    assert reward() > before + 0.05 * abs(before)


@pytest.mark.parametrize("algo", ["edmsac", "dmddpg"])
def test_critic_exact_is_refused_where_the_env_does_not_allow_it(algo):
    with pytest.raises(HyperparameterError, match="episodes last 2 steps"):
        train(TwoStepScreeningEnv(), algo, steps=1, log="none", hparams={**SMALL, "critic": "exact"})
    with pytest.raises(HyperparameterError, match="not differentiable in the action"):
        train(ScreeningContractEnv(), algo, steps=1, log="none", hparams={**SMALL, "critic": "exact"})


def test_a_train_block_checks_the_critic_choice(tmp_path):
    from mechdsl.cli.main import main

    spec = (Path(__file__).resolve().parents[2] / "specs" / "static_contract.mech").read_text()
    bad = tmp_path / "bad.mech"
    bad.write_text(spec.replace("  prune_rate = 0.1", '  prune_rate = 0.1\n  critic = "exakt"'))
    assert main(["check", str(bad)]) == 2


@pytest.mark.parametrize("algo", ["edmsac", "dmsac"])
def test_the_exact_reward_is_taken_at_the_denoised_action_not_the_exploring_one(algo):
    """exact_reward_at = chain (the default): the actor loss's gradient on the chain's parameters
    is autograd of -c r(S, chain(S)) + c_b excess, whatever the final Gaussian's draw (its
    log-density term reaches only sigma); with "sample" the reward is taken at A_0 + sigma xi and
    the gradient changes with the draw."""
    env = DifferentiableScreeningEnv()
    batch = _batch(env, 16)
    kappa = torch.tensor(0.01)

    def chain_grads(agent, seed):
        loss, _ = agent.actor_loss(batch, env, torch.Generator().manual_seed(seed), kappa)
        params = [p for p in agent.diffusion.parameters() if p.requires_grad]
        return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params)])

    agent = _agent(algo, env, init_log_std=-0.5)
    agent.set_reward_scale(0.3)
    assert agent.hp.exact_reward_at == "chain"
    first, second = chain_grads(agent, 1), chain_grads(agent, 2)
    assert torch.allclose(first, second, rtol=1e-5, atol=1e-7)
    a0, excess = agent.diffusion.sample_with_excess(batch.obs, torch.Generator().manual_seed(3), start_scale=0.0)
    reference = (agent.hp.boundary_penalty * excess - agent.scaled_reward(batch.state, a0, env)).mean()
    params = [p for p in agent.diffusion.parameters() if p.requires_grad]
    expected = torch.cat([g.reshape(-1) for g in torch.autograd.grad(reference, params)])
    assert torch.allclose(first, expected, rtol=1e-5, atol=1e-7) and expected.abs().sum() > 0

    smoothed = _agent(algo, env, init_log_std=-0.5, exact_reward_at="sample")
    smoothed.set_reward_scale(0.3)
    assert not torch.allclose(chain_grads(smoothed, 1), chain_grads(smoothed, 2), rtol=1e-3, atol=1e-6)
    with pytest.raises(ValueError, match="exact_reward_at"):
        _agent(algo, env, exact_reward_at="mean")


def test_dmddpg_under_the_exact_reward_trains_the_action_it_deploys():
    """DM-DDPG's actor loss takes the chain from where inference starts it (the mode) under the
    exact reward, and from A_M ~ N(0, I) under a learned critic (as DDPG through the chain)."""
    env = DifferentiableScreeningEnv()
    batch = _batch(env, 16)
    for critic, same in (("exact", True), ("learned", False)):
        agent = _agent("dmddpg", env, critic=critic)
        trained = agent.pi(agent.policy, batch.obs, torch.Generator().manual_seed(5))[0].detach()
        deployed = agent.act(batch.obs, explore=False, generator=torch.Generator().manual_seed(6))
        assert torch.allclose(trained, deployed, atol=1e-6) is same


@pytest.mark.parametrize("algo", ["edmsac", "dmsac"])
def test_the_default_preset_under_the_exact_reward_takes_its_own_schedule(algo):
    """Where the critic resolves to the exact reward, the default preset collects 256 fresh states
    per step, makes 48 updates on 128 replayed states each, every one an actor step, and denoises
    in one pass (EDMSAC: (768, 768) layers pruned over the first half of the run); a learned
    critic, the paper preset and an explicit override keep theirs."""
    env = DifferentiableScreeningEnv()
    exact = resolve_hparams(algo, env=env)
    assert (exact.collect_batch, exact.batch_size, exact.updates_per_step, exact.actor_every,
            exact.denoise_steps) == (256, 128, 48, 1, 1)
    assert exact.actor_activation == "relu"
    assert (exact.hidden, exact.actor_lr, exact.grad_clip) == ({"edmsac": (768, 768)}.get(algo, (512, 512)), 2e-3, 10.0)
    learned = resolve_hparams(algo, overrides={"critic": "learned"}, env=env)
    assert (learned.collect_batch, learned.batch_size, learned.updates_per_step, learned.actor_every,
            learned.denoise_steps) == (32, 256, 16, 2, 6)
    assert learned.actor_activation == resolve_hparams(algo, "paper", env=env).actor_activation == "mish"
    assert (learned.hidden, learned.actor_lr, learned.grad_clip) == ((256, 256), 1e-3, 0.0)
    if algo == "edmsac":  # wider, pruned over the first half of the run, under the exact reward only
        assert (exact.hidden, exact.prune_span, exact.prune_events, exact.prune_rate) == ((768, 768), 0.5, 30, 0.5)
        assert learned.prune_span == resolve_hparams(algo, "paper", env=env).prune_span == 0.0
    assert resolve_hparams(algo, env=ScreeningContractEnv()).collect_batch == 32  # reward not differentiable
    assert resolve_hparams(algo, "paper", env=env).updates_per_step == 1
    assert resolve_hparams(algo, overrides={"collect_batch": 64}, env=env).collect_batch == 64
    run = train(env, algo, steps=2, eval_every=2, log="none", hparams={"hidden": (16, 16), "batch_size": 32},
                eval_states=16)
    assert run.rows[-1]["env_samples"] == 512 and run.hparams.updates_per_step == 48


def test_an_unknown_actor_activation_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="unknown actor_activation 'gelu'; choose one of mish, relu"):
        _agent("edmsac", DifferentiableScreeningEnv(), actor_activation="gelu")
