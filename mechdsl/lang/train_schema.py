"""What a spec's `train { ... }` block may say: algorithm names and typed hyperparameters.

Kept apart from `mechdsl.rl` so checking a spec does not import torch; a test asserts that
this table and the RL registry agree.
"""

from __future__ import annotations

ALGORITHMS = (
    "edmsac", "dmsac", "dmddpg", "cgdm", "amortized",
    "sac", "td3", "ddpg", "ppo", "random", "static",
)

# name -> (python type, lower bound or None, upper bound or None, description)
HYPERPARAMETERS: dict[str, tuple[type, float | None, float | None, str]] = {
    "algorithm": (str, None, None, "algorithm name"),
    "preset": (str, None, None, "'default' or 'paper'"),
    "schedule": (str, None, None, "noise schedule: 'vp', 'linear' or 'cosine'"),
    "steps": (int, 1, None, "environment steps (batches) to train for"),
    "seed": (int, 0, None, "random seed"),
    "batch_size": (int, 1, None, "states per environment step"),
    "minibatch": (int, 1, None, "replay mini-batch size"),
    "buffer_size": (int, 1, None, "replay buffer capacity"),
    "eval_every": (int, 1, None, "steps between evaluations"),
    "hidden": (int, 1, None, "hidden width of the networks"),
    "denoise_steps": (int, 1, 100, "denoising steps M of the diffusion actor"),
    "actor_lr": (float, 0, 1, "actor learning rate"),
    "critic_lr": (float, 0, 1, "critic learning rate"),
    "gamma": (float, 0, 1, "reward discount"),
    "tau": (float, 0, 1, "soft target update rate (eq. 60)"),
    "prune_rate": (float, 0, 0.99, "final fraction of pruned neurons"),
    "entropy_weight": (float, 0, None, "temperature kappa of the entropy term (eq. 55)"),
    "action_penalty": (float, 0, None, "weight lambda of the action penalty (eq. 46)"),
    "exploration_noise": (float, 0, None, "Gaussian exploration noise"),
}

STRING_CHOICES = {
    "algorithm": ALGORITHMS,
    "preset": ("default", "paper"),
    "schedule": ("vp", "linear", "cosine"),
}
