"""The Ray backend: the same trials as Ray Tune trials, on this machine or a Ray cluster.

`tune.Tuner` runs a `tune.grid_search` over the pending trial ids; each Tune trial is given
explicit resources (`tune.with_resources`), trains its trial into `OUT/<trial id>/` exactly
as the local backend does and `tune.report`s the final metrics. Tune's own records go to
`OUT/ray_tune/` (`RunConfig(storage_path=OUT)`). On a cluster, OUT must be storage every
node sees at the same path (NFS, a shared volume): the trials write their run folders there.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from mechdsl.cli.output import UsageError
from mechdsl.sweep.grid import Trial
from mechdsl.sweep.trial import METRICS, set_threads, train_trial

EXPERIMENT_NAME = "ray_tune"


def import_ray():
    try:
        import ray
        from ray import tune
    except ImportError:
        raise UsageError("--backend ray needs Ray Tune, which is not installed",
                         hint="pip install 'mechdsl[ray]'   (or use the default --backend local)") from None
    return ray, tune


def connect(ray, address: str | None, num_cpus: int | None) -> bool:
    """Join the cluster at `address` (or $RAY_ADDRESS), else start a local Ray with an explicit
    CPU count. Returns True when this call started Ray (and so should shut it down)."""
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS")
    try:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            # Workers import the same mechdsl as this driver (not whichever one their cwd finds).
            import mechdsl

            source_root = str(Path(mechdsl.__file__).resolve().parents[1])
            path = os.pathsep.join(p for p in (source_root, os.environ.get("PYTHONPATH")) if p)
            ray.init(num_cpus=num_cpus or os.cpu_count() or 1, log_to_driver=False,
                     runtime_env={"env_vars": {"PYTHONPATH": path}})
    except ConnectionError as error:
        raise UsageError(f"cannot reach the Ray cluster at {address!r}: {error}",
                         hint="start it with `ray start --head` (docs/scaling.md)") from None
    return True


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
        row = train_trial(by_id[config["trial_id"]], out)
        tune.report({name: float(row[name]) for name in METRICS} | {"failed": float(row["status"] == "failed")})

    try:
        tuner = tune.Tuner(
            tune.with_resources(trainable, {"cpu": cpus_per_trial, "gpu": gpus_per_trial}),
            param_space={"trial_id": tune.grid_search(list(by_id))},
            tune_config=tune.TuneConfig(max_concurrent_trials=workers,
                                        trial_dirname_creator=lambda t: t.config["trial_id"][:120]),
            run_config=tune.RunConfig(name=EXPERIMENT_NAME, storage_path=str(out), verbose=0),
        )
        grid = tuner.fit()
    finally:
        if started:
            ray.shutdown()
    from mechdsl.sweep.trial import read_row

    rows = []
    for result in grid:
        trial = by_id[result.config["trial_id"]]
        row = read_row(trial, out, status="failed" if result.error or (result.metrics or {}).get("failed") else "trained")
        if result.error and not row["error"]:
            row["error"] = f"ray: {result.error}"
        rows.append(row)
        on_done(row)
    return rows
