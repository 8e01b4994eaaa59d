"""Dynamic structured pruning: schedule, masks in online and target actors, compaction."""
from __future__ import annotations

import pytest
import torch
from toy_env import ScreeningContractEnv

from mechdsl.rl import train
from mechdsl.rl.diffusion import DiffusionActor
from mechdsl.rl.pruning import (
    CubicSchedule,
    Pruner,
    compact,
    inference_flops,
    parameter_count,
    prunable_layers,
    pruning_mask,
    row_importance,
)


def test_cubic_schedule_values():
    s = CubicSchedule(final_rate=0.5, every=10, events=30)  # N Delta = 300
    assert s.rate(0) == 0.0
    assert s.rate(150) == pytest.approx(0.5 - 0.5 * 0.5**3)  # 0.4375
    assert s.rate(75) == pytest.approx(0.5 - 0.5 * 0.75**3)  # 0.2890625
    assert s.rate(300) == 0.5
    assert s.rate(10_000) == 0.5
    assert [z for z in range(0, 41) if s.is_event(z)] == [10, 20, 30, 40]
    assert not s.is_event(310)
    with pytest.raises(ValueError):
        CubicSchedule(1.0, 10, 3)
    with pytest.raises(ValueError):
        CubicSchedule(0.5, 0, 3)


def test_row_importance_and_mask():
    w = torch.tensor([[3.0, 4.0], [1.0, 0.0], [0.0, 2.0], [0.3, 0.4]])
    assert row_importance(w).tolist() == pytest.approx([5.0, 1.0, 2.0, 0.5])
    assert pruning_mask(row_importance(w), 0.5).tolist() == [1.0, 0.0, 1.0, 0.0]
    assert pruning_mask(row_importance(w), 0.0).tolist() == [1.0, 1.0, 1.0, 1.0]
    assert pruning_mask(row_importance(w), 0.99).sum().item() == 1.0  # never an empty layer


def _tiny_actor() -> DiffusionActor:
    torch.manual_seed(0)
    return DiffusionActor(3, 2, hidden=(64, 64), steps=6, time_dim=16)


def test_parameter_and_flop_counts_by_hand():
    actor = _tiny_actor()
    assert prunable_layers(actor) == ["noise_net.time_mlp.1", "noise_net.body.0", "noise_net.body.2"]
    # time MLP 16->32->16, body 21->64->64->2
    assert parameter_count(actor) == (16 * 32 + 32) + (32 * 16 + 16) + (21 * 64 + 64) + (64 * 64 + 64) + (64 * 2 + 2)
    assert parameter_count(actor) == 6770
    assert inference_flops(actor) == 6 * (2 * (21 * 64 + 64 * 64 + 64 * 2) + 64 + 64 + 2)  # 67596
    pruner = Pruner(actor, CubicSchedule(0.5, 1, 1))
    assert pruner.update_masks(actor, 1)
    pruner.apply(actor)
    small = compact(actor, pruner.masks)
    assert parameter_count(small) == (16 * 16 + 16) * 2 + (21 * 32 + 32) + (32 * 32 + 32) + (32 * 2 + 2)  # 2370
    assert inference_flops(small) == 6 * (2 * (21 * 32 + 32 * 32 + 32 * 2) + 32 + 32 + 2)  # 21516
    assert pruner.sparsity() == 0.5


def test_compacted_actor_equals_masked_actor():
    actor = _tiny_actor()
    pruner = Pruner(actor, CubicSchedule(0.7, 1, 1))
    pruner.update_masks(actor, 1)
    pruner.apply(actor)
    small = compact(actor, pruner.masks)
    obs = torch.rand(500, 3) * 2 - 1
    with torch.no_grad():
        a = actor.sample(obs, torch.Generator().manual_seed(4), clip_action=False)
        b = small.sample(obs, torch.Generator().manual_seed(4), clip_action=False)
    assert (a - b).abs().max().item() < 1e-6
    assert a.abs().max().item() > 0.1  # not trivially zero


def test_masks_hold_in_online_and_target_after_optimizer_steps():
    env = ScreeningContractEnv()
    run = train(env, "edmsac", steps=40, seed=3, eval_every=40, log="none",
                hparams={"hidden": (32, 32), "batch_size": 64, "prune_rate": 0.5, "prune_every": 2,
                         "prune_events": 5, "updates_per_step": 2})  # 80 updates (the exact-reward default 16: 640)
    agent = run.agent
    assert run.final["updates"] > 20  # many Adam steps after the last pruning event (update 10)
    assert agent.pruning_sparsity() == 0.5
    assert run.final["sparsity"] == 0.5
    for name, mask in agent.pruner.masks.items():
        assert int((mask == 0).sum()) == mask.numel() // 2
        for net in (agent.diffusion, agent.diffusion_target):
            layer = net.get_submodule(name)
            assert layer.weight[mask == 0].abs().max().item() == 0.0
            assert layer.bias[mask == 0].abs().max().item() == 0.0
            assert layer.weight[mask == 1].norm(dim=1).min().item() > 0.0
    deployed = agent.deployable_actor()
    assert parameter_count(deployed) < parameter_count(agent.diffusion)
    obs = torch.rand(256, 3) * 2 - 1
    with torch.no_grad():
        masked = agent.diffusion.sample(obs, torch.Generator().manual_seed(0),
                                        start_scale=agent.hp.inference_start_scale)
    acted = agent.act(obs, explore=False, generator=torch.Generator().manual_seed(0))
    assert (masked - acted).abs().max().item() < 1e-6


@pytest.mark.parametrize("steps", [6, 12])
def test_a_prune_span_spreads_the_events_over_that_fraction_of_the_run(steps):
    """prune_span = 0.5 with N = 3 events: Delta = floor(0.5 x steps x updates_per_step) // 3, so the
    rate reaches w at half the run whatever its length, and the prune_every it replaces is unused."""
    env = ScreeningContractEnv()
    rows = []
    run = train(env, "edmsac", steps=steps, seed=2, eval_every=1, log=rows.append,
                hparams={"hidden": (16, 16), "batch_size": 32, "updates_per_step": 4, "prune_rate": 0.5,
                         "prune_every": 1000, "prune_events": 3, "prune_span": 0.5})
    every = (steps * 4 // 2) // 3
    assert run.agent.pruner.schedule == CubicSchedule(0.5, every, 3)
    sparsity = {row["updates"]: row["sparsity"] for row in rows}
    assert list(sparsity) == [4 * step for step in range(1, steps + 1)]
    assert all(0.0 < s < 0.5 for u, s in sparsity.items() if every <= u < 3 * every)
    assert 3 * every == 2 * steps  # the last event at half of the run's updates
    assert all(s == 0.5 for u, s in sparsity.items() if u >= 3 * every)
    assert any(u < 3 * every and s > 0.0 for u, s in sparsity.items())


def test_a_prune_span_outside_the_unit_interval_is_refused():
    with pytest.raises(ValueError, match=r"prune_span must be in \[0, 1\]"):
        train(ScreeningContractEnv(), "edmsac", steps=1, log="none", hparams={"prune_span": 1.5})
