"""A short diffusion run on the generated auctioneer env learns: its deterministic policy
beats the random and the greedy auctioneer on held-out markets."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from mechdsl.lang import load_file
from mechdsl.lang.train_schema import RUN_SETTINGS
from mechdsl.rl import train
from mechdsl.rl.env import observation
from mechdsl.rl.evaluate import heldout_states

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import generated.iot_offloading as game_package  # noqa: E402


def test_edmsac_beats_random_and_greedy_in_100_steps():
    torch.set_num_threads(1)
    env = game_package.Env(device="cpu")
    settings = {k: v for k, v in load_file(ROOT / "specs" / "iot_offloading.mech").train.items()
                if k not in RUN_SETTINGS}  # the spec's train block, as `mechdsl train` uses it
    result = train(env, "edmsac", steps=100, seed=0, eval_every=50, eval_states=64, log="none", hparams=settings)
    state = heldout_states(env, 1000)
    learned = env.evaluate(state, result.agent.act(observation(env, state), explore=False,
                                                   generator=torch.Generator().manual_seed(0))).reward.mean()
    uniform = 2 * torch.rand(1000, env.action_dim, generator=torch.Generator().manual_seed(1)) - 1
    random = env.evaluate(state, uniform).reward.mean()
    greedy = env.evaluate(state, env.greedy_action(state)).reward.mean()
    assert float(learned) > float(random) + 0.5, (float(learned), float(random))
    assert float(learned) > float(greedy) + 0.5, (float(learned), float(greedy))
