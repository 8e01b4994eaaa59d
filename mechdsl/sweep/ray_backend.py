"""The Ray backend: the same trials as Ray Tune trials, on this machine or a Ray cluster.

`tune.Tuner` runs a `tune.grid_search` over the pending trial ids; each Tune trial is given
explicit resources (`tune.with_resources`), trains its trial into `OUT/<trial id>/` exactly
as the local backend does and `tune.report`s the final metrics. Tune's own records go to
`OUT/ray_tune/` (`RunConfig(storage_path=OUT)`). On a cluster, OUT must be storage every
node sees at the same path (NFS, a shared volume): the trials write their run folders there.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Callable

from mechdsl.errors import UsageError
from mechdsl.sweep.grid import Trial
from mechdsl.sweep.ray_connect import connect
from mechdsl.sweep.trial import ERROR_FILE, METRICS, read_row, set_threads, train_trial, write_quietly

EXPERIMENT_NAME = "ray_tune"
TUNE_CONTROLLER_LOGGER = "ray.tune.execution.tune_controller"


def import_ray():
    try:
        import ray
        from ray import tune
    except ImportError:
        raise UsageError("--backend ray needs Ray Tune, which is not installed",
                         hint="pip install 'mechdsl[ray]'   (or use the default --backend local)") from None
    return ray, tune


def run_ray(trials: list[Trial], out: Path, *, address: str | None = None, workers: int | None = None,
            cpus_per_trial: int = 1, gpus_per_trial: float = 0,
            on_done: Callable[[dict], None] = lambda row: None) -> list[dict]:
    """Train `trials` as Ray Tune trials; returns their rows."""
    if not trials:
        return []
    ray, tune = import_ray()
    out = Path(out).resolve()
    by_id = {t.trial_id: t for t in trials}
    started = connect(ray, address, workers * cpus_per_trial if workers else None)

    def trainable(config: dict) -> None:
        set_threads(cpus_per_trial)
        row = train_trial(by_id[config["trial_id"]], out, ray_node_id=ray.get_runtime_context().get_node_id())
        tune.report({name: float(row[name]) for name in METRICS} | {"failed": float(row["status"] == "failed")})

    try:
        tuner = tune.Tuner(
            tune.with_resources(trainable, {"cpu": cpus_per_trial, "gpu": gpus_per_trial}),
            param_space={"trial_id": tune.grid_search(list(by_id))},
            tune_config=tune.TuneConfig(max_concurrent_trials=workers,
                                        trial_dirname_creator=lambda t: t.config["trial_id"][:120]),
            run_config=tune.RunConfig(name=EXPERIMENT_NAME, storage_path=str(out), verbose=0),
        )
        with one_line_trial_errors():
            grid = tuner.fit()
    finally:
        if started:
            ray.shutdown()
    rows = []
    for result in grid:
        trial = by_id[result.config["trial_id"]]
        row = read_row(trial, out, status="failed" if result.error or (result.metrics or {}).get("failed") else "trained")
        if result.error and not row["error"]:
            # the trial never returned: an exception escaped it, or its worker process died
            row["error"] = describe_trial_error(result.error)
            write_quietly(out / trial.trial_id / ERROR_FILE, f"{row['error']}\n\n{result.error}\n")
        rows.append(row)
        on_done(row)
    return rows


@contextlib.contextmanager
def one_line_trial_errors():
    """Tune logs a failed trial with its traceback; the table and OUT/<trial>/error.txt carry the
    error, so the console gets Tune's one line without the traceback."""
    logger = logging.getLogger(TUNE_CONTROLLER_LOGGER)

    def drop_traceback(record: logging.LogRecord) -> bool:
        record.exc_info, record.exc_text = None, None
        return True

    logger.addFilter(drop_traceback)
    try:
        yield
    finally:
        logger.removeFilter(drop_traceback)


def describe_trial_error(error: BaseException) -> str:
    """One line for the table: the exception that escaped a Tune trial, or its worker's death."""
    from ray.exceptions import RayActorError, RayTaskError

    if isinstance(error, RayActorError):
        return ("ray: the trial's worker process died (killed, out of memory or its node lost): "
                f"{type(error).__name__}")
    cause = error.cause if isinstance(error, RayTaskError) and error.cause is not None else error
    first = next((line for line in str(cause).splitlines() if line.strip()), "")
    return f"ray: {type(cause).__name__}: {first}".rstrip(": ")
