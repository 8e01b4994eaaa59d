"""Sweeps: many training runs of one spec over a grid of constants, sizes and hyperparameters.

    grid.py          `--grid` choices -> trials (product(grid) x algorithms x seeds), trial ids
    trial.py         one trial = one ordinary run folder `OUT/<trial id>/` (shared by backends)
    local.py         process pool on this machine (default)
    ray_backend.py   Ray Tune, on this machine or a Ray cluster (extra `mechdsl[ray]`)
    ray_connect.py   the driver's Ray: join a cluster (bounded, one clear error) or start a private one
    ray_cluster.py   a throwaway multi-node Ray cluster on this machine (`ray start`), for tests and benchmarks
    results.py       results.csv/.md, summary over seeds, plots of metric vs grid variable

A sweep resumes: trials whose folder holds `evaluation.json` are not trained again.
"""

from mechdsl.sweep.grid import GridAxis, Trial, expand, is_finished, parse_algos, parse_axes, trial_id
from mechdsl.sweep.results import summarize, write_results
from mechdsl.sweep.trial import METRICS, read_row

__all__ = ["GridAxis", "METRICS", "Trial", "expand", "is_finished", "parse_algos", "parse_axes", "read_row",
           "summarize", "trial_id", "write_results"]
