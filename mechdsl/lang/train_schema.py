"""What a spec's `train { ... }` block may say: algorithm names and typed hyperparameters.

Kept apart from `mechdsl.rl` so checking a spec does not import torch: the algorithm names
and hyperparameter types come from `algorithm_table`, generated from the RL registry's
hyperparameter dataclasses (`python -m mechdsl.rl.algorithm_table`).
"""

from __future__ import annotations

from mechdsl.lang.algorithm_table import ALGORITHM_HYPERPARAMETERS, ALGORITHMS

# Settings of the run itself (not of an algorithm): name -> (type, low, high, description).
RUN_SETTINGS: dict[str, tuple[type, float | None, float | None, str]] = {
    "algorithm": (str, None, None, "algorithm name"),
    "preset": (str, None, None, "'default' or 'paper'"),
    "steps": (int, 1, None, "training steps"),
    "seed": (int, 0, None, "random seed"),
    "eval_every": (int, 1, None, "steps between evaluations"),
    "eval_states": (int, 1, None, "held-out states per evaluation"),
    "action_penalty": (float, 0, None, "weight lambda of the action penalty (eq. 46)"),
    "payments": (str, None, None, "how a contract env pays: 'auto' (the learner's choice, the default), "
                 "'action' (slack entries) or 'optimal' (an LP per state)"),
}

# Value ranges checked for the hyperparameters that have natural bounds.
HYPERPARAMETER_RANGES: dict[str, tuple[float | None, float | None]] = {
    "actor_lr": (0, 1), "critic_lr": (0, 1), "gamma": (0, 1), "tau": (0, 1),
    "prune_rate": (0, 0.99), "prune_span": (0, 1), "denoise_steps": (1, 100), "batch_size": (1, None),
    "buffer_size": (1, None), "collect_batch": (1, None), "warmup_steps": (0, None),
    "actor_every": (1, None), "violation_weight": (0, None), "lr_final": (0, 1),
}

ACTIVATION_NAMES = ("mish", "relu", "tanh", "silu")  # the keys of mechdsl.rl.networks.ACTIVATIONS (no torch here)

STRING_CHOICES = {
    "algorithm": ALGORITHMS,
    "preset": ("default", "paper"),
    "schedule": ("vp", "linear", "cosine"),
    "violation_penalty": ("linear", "log1p"),
    "lr_schedule": ("constant", "cosine"),
    "actor_q": ("min", "mean"),
    "critic": ("auto", "exact", "learned"),
    "inference_start": ("mode", "sample"),
    "train_start": ("auto", "mode", "sample"),
    "exact_reward_at": ("chain", "sample"),
    "actor_activation": ACTIVATION_NAMES,
    "critic_activation": ACTIVATION_NAMES,
    "payments": ("auto", "action", "optimal"),
}

def hyperparameters_of(algorithm: str | None) -> dict[str, type]:
    """Names a train block may set for `algorithm` (all algorithms' names when unknown)."""
    if algorithm in ALGORITHM_HYPERPARAMETERS:
        return ALGORITHM_HYPERPARAMETERS[algorithm]
    merged: dict[str, type] = {}
    for table in ALGORITHM_HYPERPARAMETERS.values():
        merged.update(table)
    return merged
