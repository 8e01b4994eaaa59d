"""Overhead of the Ray backend against the local one: the same grid, in the same run.

    python benchmarks/bench_sweep_ray.py [--repeats 2]   # writes benchmarks/results/sweep_ray_overhead.md

Each grid is swept from scratch three times, each sweep a `python -m mechdsl.cli.main sweep`
process timed end to end (start-up included): `--backend local --workers 2` (the baseline),
`--backend ray` (a private Ray of 2 CPUs) and `--backend ray --address` on a two-node local
cluster of one CPU per node (`ray start`, mechdsl.sweep.ray_cluster; its start-up is not
counted). The backends take turns, `--repeats` rounds, so that a load shared with other work
falls on all of them; the table gives the median. The tables must agree (apart from wall
times): the run stops if they do not.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GRIDS = {
    "2 trials x 10 steps (the cluster test's grid)":
        ["--grid", "M=6,12", "--algos", "amortized", "--seeds", "1", "--steps", "10", "--eval-states", "10"],
    "4 trials x 200 steps":
        ["--grid", "M=6,12", "--algos", "amortized", "--seeds", "2", "--steps", "200", "--eval-states", "100"],
}


def timed_sweep(grid: list[str], backend: list[str], out: Path, env: dict) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mechdsl.cli.main", "sweep", str(ROOT / "specs" / "static_contract.mech"),
                           *grid, *backend, "--out", str(out)], capture_output=True, text=True, cwd=ROOT,
                          env=env | {"PYTHONPATH": str(ROOT)})
    if done.returncode != 0:
        raise SystemExit(f"sweep {backend} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - start


def table_without_timing(out: Path) -> list[dict]:
    with open(out / "results.csv", newline="") as file:
        return [{k: v for k, v in row.items() if k != "wall_seconds"} for row in csv.DictReader(file)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="rounds of all backends per grid")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "sweep_ray_overhead.md"))
    args = parser.parse_args()
    from mechdsl.sweep.ray_cluster import LocalRayCluster

    scratch = Path(tempfile.mkdtemp(prefix="bench_sweep_ray_"))
    load_start = os.getloadavg()[0]
    lines = []
    with LocalRayCluster(nodes=2, cpus_per_node=1, env={"PYTHONPATH": str(ROOT)}) as cluster:
        backends = [("local, --workers 2", ["--workers", "2"], dict(os.environ)),
                    ("ray, private (2 CPUs)", ["--backend", "ray", "--workers", "2"], dict(os.environ)),
                    ("ray, 2-node local cluster (--address)", ["--backend", "ray", "--address", cluster.address],
                     cluster.driver_env())]
        for g, (grid_name, grid) in enumerate(GRIDS.items()):
            seconds: dict[str, list[float]] = {name: [] for name, _, _ in backends}
            reference = None
            for round_ in range(args.repeats):
                for b, (name, flags, env) in enumerate(backends):
                    out = scratch / f"g{g}b{b}r{round_}"
                    seconds[name].append(timed_sweep(grid, flags, out, env))
                    table = table_without_timing(out)
                    reference = table if reference is None else reference
                    if table != reference:
                        raise SystemExit(f"{name}: the results table differs from the local backend's")
                    print(f"{grid_name} | {name} | {seconds[name][-1]:.1f} s", flush=True)
            baseline = statistics.median(seconds[backends[0][0]])
            lines += [f"### {grid_name}", "", "| backend | wall time (s), median | each round (s) | overhead vs local |",
                      "|---|---|---|---|"]
            for name, times in seconds.items():
                median = statistics.median(times)
                lines.append(f"| {name} | {median:.1f} | {', '.join(f'{t:.1f}' for t in times)} | "
                             f"{median - baseline:+.1f} s ({median / baseline:.2f}x) |")
            lines.append("")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Linux {platform.release()}, Python {platform.python_version()}"
    import ray

    text = ["# Ray backend overhead against the local backend", "",
            f"Command: `python benchmarks/bench_sweep_ray.py`. Machine: {machine}; Ray {ray.__version__}; "
            f"{args.repeats} rounds; load average at the start {load_start:.1f}, at the end "
            f"{os.getloadavg()[0]:.1f} (2 cores shared with other work: expect noise).", "",
            "Each sweep is one `mechdsl sweep` process from scratch, timed end to end; every backend's "
            "results table equals the local one's (wall times aside).", "", *lines]
    Path(args.out).write_text("\n".join(text))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
