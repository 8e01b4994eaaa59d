"""Reinforcement-learning runtime: diffusion policies, pruning, algorithms, training, evaluation.

Stages: ``env`` (protocol) -> ``algorithms`` (registry) -> ``loop.train`` -> ``evaluate`` -> ``report``.
"""
from mechdsl.rl.algorithms import ALGORITHMS, PRESETS, HyperparameterError, hyperparameter_names, resolve_hparams
from mechdsl.rl.env import BatchedEnv, StepResult
from mechdsl.rl.loop import RunResult, TrainingDiverged, train

__all__ = ["ALGORITHMS", "PRESETS", "BatchedEnv", "HyperparameterError", "RunResult", "StepResult",
           "TrainingDiverged", "hyperparameter_names", "resolve_hparams", "train"]
