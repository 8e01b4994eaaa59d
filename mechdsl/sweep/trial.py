"""One trial of a sweep: an ordinary training run in `OUT/<trial id>/`, plus its wall time.

Shared by the local and the Ray backend, so both leave identical folders and rows.
"""

from __future__ import annotations

import json
import math
import socket
import time
import traceback
from pathlib import Path

from mechdsl.sweep.grid import EVALUATION_FILE, Trial

TRIAL_FILE = "trial.json"
ERROR_FILE = "error.txt"

# Final metrics of a trial, in the column order of results.csv.
METRICS = ("optimality_ratio", "violation_rate", "mean_utility", "mean_optimum", "wall_seconds", "actor_flops")


def set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(max(1, int(threads)))


def train_trial(trial: Trial, out: Path, *, ray_node_id: str | None = None) -> dict:
    """Train and evaluate one trial (resuming from its checkpoint if a previous attempt was
    interrupted); writes the run folder and `trial.json` (status, error, wall time, the host and,
    on Ray, the node that ran it); returns the trial's row. Any exception is a failed row."""
    from mechdsl.kinds.runs import train_run

    folder = Path(out) / trial.trial_id
    config = trial.config
    start = time.perf_counter()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # the in-training curve uses at most --eval-states states (train_run's default): each costs one exact solve
        train_run(config, folder, resume=True, log="none", eval_states=trial.eval_states)
        status, error = "trained", ""
        (folder / ERROR_FILE).unlink(missing_ok=True)  # left by an earlier, failed attempt
    except Exception as exc:  # noqa: BLE001 - one diverged trial must not end the sweep
        status, error = "failed", f"{type(exc).__name__}: {exc}"
        write_quietly(folder / ERROR_FILE, traceback.format_exc())
    record = {"trial_id": trial.trial_id, "status": status, "error": error,
              "wall_seconds": time.perf_counter() - start, "host": socket.gethostname()}
    if ray_node_id:
        record["ray_node_id"] = ray_node_id
    write_quietly(folder / TRIAL_FILE, json.dumps(record, indent=2, sort_keys=True))
    return read_row(trial, out, status=status, record=record)


def write_quietly(path: Path, text: str) -> None:
    """Write `text` if the folder allows it: a failure to record must not hide the trial's result."""
    try:
        path.write_text(text)
    except OSError:
        pass


def read_row(trial: Trial, out: Path, *, status: str | None = None, record: dict | None = None) -> dict:
    """The results row of a trial from its folder (NaN for what is missing); `record` replaces
    the folder's `trial.json`."""
    folder = Path(out) / trial.trial_id
    evaluation = _read_json(folder / EVALUATION_FILE)
    record = _read_json(folder / TRIAL_FILE) if record is None else record
    row = {"trial": trial.trial_id}
    row.update({name: value for name, value in trial.point})
    row.update({"algo": trial.algo, "seed": trial.seed, "steps": trial.config.steps})
    for name in METRICS:
        value = record.get(name) if name == "wall_seconds" else evaluation.get(name)
        row[name] = math.nan if value is None else value
    row["status"] = status or ("skipped" if evaluation else record.get("status", "missing"))
    row["error"] = record.get("error", "") if row["status"] != "skipped" else ""
    return row


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
