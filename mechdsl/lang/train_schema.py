"""What a spec's `train { ... }` block may say: algorithm names and typed hyperparameters.

Kept apart from `mechdsl.rl` so checking a spec does not import torch; a test asserts that
this table and the RL registry agree.
"""

from __future__ import annotations

ALGORITHMS = (
    "edmsac", "dmsac", "dmddpg", "cgdm", "amortized",
    "sac", "td3", "ddpg", "ppo", "random",
)

# Settings of the run itself (not of an algorithm): name -> (type, low, high, description).
RUN_SETTINGS: dict[str, tuple[type, float | None, float | None, str]] = {
    "algorithm": (str, None, None, "algorithm name"),
    "preset": (str, None, None, "'default' or 'paper'"),
    "steps": (int, 1, None, "training steps"),
    "seed": (int, 0, None, "random seed"),
    "eval_every": (int, 1, None, "steps between evaluations"),
    "eval_states": (int, 1, None, "held-out states per evaluation"),
    "action_penalty": (float, 0, None, "weight lambda of the action penalty (eq. 46)"),
}

# Value ranges checked for the hyperparameters that have natural bounds.
HYPERPARAMETER_RANGES: dict[str, tuple[float | None, float | None]] = {
    "actor_lr": (0, 1), "critic_lr": (0, 1), "gamma": (0, 1), "tau": (0, 1),
    "prune_rate": (0, 0.99), "denoise_steps": (1, 100), "batch_size": (1, None),
    "buffer_size": (1, None), "collect_batch": (1, None), "warmup_steps": (0, None),
    "actor_every": (1, None), "violation_weight": (0, None), "lr_final": (0, 1),
}

STRING_CHOICES = {
    "algorithm": ALGORITHMS,
    "preset": ("default", "paper"),
    "schedule": ("vp", "linear", "cosine"),
    "violation_penalty": ("linear", "log1p"),
    "lr_schedule": ("constant", "cosine"),
    "actor_q": ("min", "mean"),
    "inference_start": ("mode", "sample"),
}

# Hyperparameters of each algorithm, mirrored from `mechdsl.rl` (a test keeps them equal).
ALGORITHM_HYPERPARAMETERS: dict[str, dict[str, type]] = {
    "amortized": {"actor_lr": float, "collect_batch": int, "grad_clip": float, "hidden": tuple, "lr_final": float, "lr_schedule": str, "reward_scale": float, "updates_per_step": int, "violation_penalty": str, "violation_weight": float, "weight_decay": float},
    "cgdm": {"act_with_target": bool, "actor_lr": float, "batch_size": int, "boundary_penalty": float, "buffer_size": int, "clip_denoised": bool, "collect_batch": int, "confidence": bool, "confidence_sensitivity": float, "consistency": bool, "consistency_weight": float, "critic_activation": str, "critic_hidden": tuple, "critic_lr": float, "denoise_steps": int, "exploration_noise": float, "gamma": float, "grad_clip": float, "hidden": tuple, "inference_start": str, "lr_final": float, "lr_schedule": str, "noise_scale": float, "reward_scale": float, "schedule": str, "straight_through": bool, "tau": float, "time_dim": int, "updates_per_step": int, "variance": str, "violation_penalty": str, "violation_weight": float, "warmup_steps": int, "weight_decay": float},
    "ddpg": {"actor_lr": float, "batch_size": int, "buffer_size": int, "collect_batch": int, "critic_activation": str, "critic_hidden": tuple, "critic_lr": float, "exploration_noise": float, "gamma": float, "grad_clip": float, "hidden": tuple, "lr_final": float, "lr_schedule": str, "reward_scale": float, "tau": float, "updates_per_step": int, "violation_penalty": str, "violation_weight": float, "warmup_steps": int, "weight_decay": float},
    "dmddpg": {"act_with_target": bool, "actor_lr": float, "batch_size": int, "boundary_penalty": float, "buffer_size": int, "clip_denoised": bool, "collect_batch": int, "critic_activation": str, "critic_hidden": tuple, "critic_lr": float, "denoise_steps": int, "exploration_noise": float, "gamma": float, "grad_clip": float, "hidden": tuple, "inference_start": str, "lr_final": float, "lr_schedule": str, "noise_scale": float, "reward_scale": float, "schedule": str, "straight_through": bool, "tau": float, "time_dim": int, "updates_per_step": int, "variance": str, "violation_penalty": str, "violation_weight": float, "warmup_steps": int, "weight_decay": float},
    "dmsac": {"act_with_target": bool, "actor_every": int, "actor_lr": float, "actor_q": str, "autotune_temperature": bool, "batch_size": int, "boundary_penalty": float, "buffer_size": int, "clip_denoised": bool, "collect_batch": int, "critic_activation": str, "critic_hidden": tuple, "critic_lr": float, "denoise_steps": int, "entropy": str, "gamma": float, "grad_clip": float, "hidden": tuple, "inference_start": str, "init_log_std": float, "init_temperature": float, "lr_final": float, "lr_schedule": str, "noise_scale": float, "reward_scale": float, "schedule": str, "straight_through": bool, "target_entropy": float, "tau": float, "temperature_lr": float, "time_dim": int, "updates_per_step": int, "variance": str, "violation_penalty": str, "violation_weight": float, "warmup_steps": int, "weight_decay": float},
    "edmsac": {"act_with_target": bool, "actor_every": int, "actor_lr": float, "actor_q": str, "autotune_temperature": bool, "batch_size": int, "boundary_penalty": float, "buffer_size": int, "clip_denoised": bool, "collect_batch": int, "critic_activation": str, "critic_hidden": tuple, "critic_lr": float, "denoise_steps": int, "entropy": str, "gamma": float, "grad_clip": float, "hidden": tuple, "inference_start": str, "init_log_std": float, "init_temperature": float, "lr_final": float, "lr_schedule": str, "noise_scale": float, "prune_events": int, "prune_every": int, "prune_rate": float, "reward_scale": float, "schedule": str, "straight_through": bool, "target_entropy": float, "tau": float, "temperature_lr": float, "time_dim": int, "updates_per_step": int, "variance": str, "violation_penalty": str, "violation_weight": float, "warmup_steps": int, "weight_decay": float},
    "ppo": {"actor_lr": float, "clip_ratio": float, "collect_batch": int, "critic_lr": float, "entropy_coef": float, "epochs": int, "gamma": float, "grad_clip": float, "hidden": tuple, "init_log_std": float, "lr_final": float, "lr_schedule": str, "minibatch_size": int, "reward_scale": float, "updates_per_step": int, "violation_penalty": str, "violation_weight": float},
    "random": {"collect_batch": int, "lr_final": float, "lr_schedule": str, "reward_scale": float, "updates_per_step": int, "violation_penalty": str, "violation_weight": float},
    "sac": {"actor_lr": float, "alpha_lr": float, "autotune_alpha": bool, "batch_size": int, "buffer_size": int, "collect_batch": int, "critic_activation": str, "critic_hidden": tuple, "critic_lr": float, "gamma": float, "grad_clip": float, "hidden": tuple, "init_alpha": float, "lr_final": float, "lr_schedule": str, "reward_scale": float, "tau": float, "updates_per_step": int, "violation_penalty": str, "violation_weight": float, "warmup_steps": int, "weight_decay": float},
    "td3": {"actor_lr": float, "batch_size": int, "buffer_size": int, "collect_batch": int, "critic_activation": str, "critic_hidden": tuple, "critic_lr": float, "exploration_noise": float, "gamma": float, "grad_clip": float, "hidden": tuple, "lr_final": float, "lr_schedule": str, "policy_delay": int, "reward_scale": float, "target_noise": float, "target_noise_clip": float, "tau": float, "updates_per_step": int, "violation_penalty": str, "violation_weight": float, "warmup_steps": int, "weight_decay": float},
}


def hyperparameters_of(algorithm: str | None) -> dict[str, type]:
    """Names a train block may set for `algorithm` (all algorithms' names when unknown)."""
    if algorithm in ALGORITHM_HYPERPARAMETERS:
        return ALGORITHM_HYPERPARAMETERS[algorithm]
    merged: dict[str, type] = {}
    for table in ALGORITHM_HYPERPARAMETERS.values():
        merged.update(table)
    return merged
