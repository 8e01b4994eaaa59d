"""Named seeds of every evaluation, so held-out states and policy draws are the same everywhere.

Bottom layer: no mechdsl imports, no torch. An evaluation draws its states with a generator
seeded by its state seed, the policy's sampling noise with state seed + ACTION_SEED_OFFSET and
a second batch of states (timing) with state seed + TIMING_SEED_OFFSET.
"""

from __future__ import annotations

TRAINING_EVALUATION_SEED = 2_024_1125
"""States of the periodic evaluation during training: the same for every run and seed."""

HELDOUT_SEED = 7_777_777
"""States of the final held-out evaluation (`mechdsl eval`); differs from the training
evaluation's, so these states are never seen in training."""

ACTION_SEED_OFFSET = 1   # policy noise generator: state seed + 1
TIMING_SEED_OFFSET = 2   # states timed for inference speed: state seed + 2
INFERENCE_TIMING_SEED = 0  # every timed policy call restarts its noise from this seed

REPORT_POLICY_SEED = 0     # the policy's noise when a report tabulates its contract items
SINGLE_CROSSING_SEED = 0  # the numeric single-crossing test's samples
SLSQP_START_SEED = 0      # random allocation starts of the local reduced solver
