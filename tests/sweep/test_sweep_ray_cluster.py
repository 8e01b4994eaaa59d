"""`mechdsl sweep --backend ray --address HOST:PORT` on a real two-node Ray cluster on this machine.

The cluster is started as a user starts one (`ray start --head`, then `ray start --address`, one
CPU per node; mechdsl.sweep.ray_cluster) and its processes, and only those, are ended afterwards.
Every sweep runs as its own `python -m mechdsl.cli.main` process, as the user's command would.
"""

import csv
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")
pytest.importorskip("ray.tune")
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the local cluster needs Linux")

from mechdsl.sweep.ray_cluster import LocalRayCluster  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SPEC = str(ROOT / "specs" / "static_contract.mech")
GRID = ["--grid", "M=6,12", "--algos", "amortized", "--seeds", "1", "--eval-states", "10"]
IDS = ["M=6,algo=amortized,seed=0", "M=12,algo=amortized,seed=0"]
CRASH_STEPS = 100  # long enough to kill a trial while it trains
SWEEP_SECONDS = 300  # bound on one sweep process; a hang fails the test instead of the CI run


@pytest.fixture(scope="module")
def cluster():
    with LocalRayCluster(nodes=2, cpus_per_node=1, env={"PYTHONPATH": str(ROOT)}) as started:
        yield started


@pytest.fixture(scope="module")
def node_ids(cluster):
    ids = cluster.node_ids()
    assert len(ids) == 2
    return ids


def sweep(args, env, *, timeout=SWEEP_SECONDS):
    return subprocess.run([sys.executable, "-m", "mechdsl.cli.main", "sweep", SPEC, *args], capture_output=True,
                          text=True, env=env | {"PYTHONPATH": str(ROOT)}, timeout=timeout, cwd=ROOT)


def read_rows(out):
    with open(out / "results.csv", newline="") as file:
        return list(csv.DictReader(file))


def without_timing(rows):
    return [{k: v for k, v in row.items() if k != "wall_seconds"} for row in rows]


@pytest.fixture(scope="module")
def swept(cluster, tmp_path_factory):
    out = tmp_path_factory.mktemp("cluster") / "out"
    done = sweep([*GRID, "--steps", "10", "--backend", "ray", "--address", cluster.address, "--out", str(out)],
                 cluster.driver_env())
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_trials_ran_on_both_nodes(node_ids, swept):
    records = [json.loads((swept / t / "trial.json").read_text()) for t in IDS]
    assert all(r["status"] == "trained" for r in records)
    # one CPU per node and one per trial: the two trials can only run side by side on the two nodes
    assert {r["ray_node_id"] for r in records} == node_ids
    assert (swept / "ray_tune").is_dir()


def test_results_equal_a_local_run_of_the_same_grid(swept, tmp_path, mechdsl_main):
    local = tmp_path / "local"
    assert mechdsl_main(["sweep", SPEC, *GRID, "--steps", "10", "--workers", "2", "--out", str(local)]) == 0
    ray_rows, local_rows = read_rows(swept), read_rows(local)
    assert [r["trial"] for r in ray_rows] == IDS and all(r["status"] == "trained" for r in ray_rows)
    assert all(0.5 < float(r["optimality_ratio"]) <= 1 + 1e-6 for r in ray_rows)
    # same seeds, one torch thread per trial on both backends: the same numbers to the last digit
    assert without_timing(ray_rows) == without_timing(local_rows)


@pytest.fixture(scope="module")
def crashed(cluster, tmp_path_factory):
    """A sweep whose trial on the second node is SIGKILLed mid-training (as the OOM killer would)."""
    out = tmp_path_factory.mktemp("crash") / "out"
    process = subprocess.Popen([sys.executable, "-m", "mechdsl.cli.main", "sweep", SPEC, *crash_args(cluster, out)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=cluster.driver_env() | {"PYTHONPATH": str(ROOT)})
    try:
        victim = None
        deadline = time.monotonic() + SWEEP_SECONDS
        while victim is None and time.monotonic() < deadline and process.poll() is None:
            # the trial on the second node is training once its worker runs there and both run folders exist
            workers = cluster.processes("ray::ImplicitFunc", node=1)
            if workers and all((out / t / "run.json").exists() for t in IDS):
                victim = workers[0]
            time.sleep(0.1)
        assert victim is not None, "no trial ran on the second node"
        os.kill(victim, signal.SIGKILL)
        output, _ = process.communicate(timeout=SWEEP_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
    return out, process.returncode, output


def crash_args(cluster, out):
    return [*GRID, "--steps", str(CRASH_STEPS), "--backend", "ray", "--address", cluster.address, "--out", str(out)]


def test_a_trial_killed_on_a_worker_is_reported_and_the_other_finishes(crashed):
    out, returncode, output = crashed
    assert returncode == 1, output
    rows = read_rows(out)
    failed = [r for r in rows if r["status"] == "failed"]
    trained = [r for r in rows if r["status"] == "trained"]
    assert len(failed) == 1 and len(trained) == 1, output
    assert "worker process died" in failed[0]["error"] and math.isnan(float(failed[0]["optimality_ratio"]))
    assert 0.5 < float(trained[0]["optimality_ratio"]) <= 1 + 1e-6
    assert "worker process died" in (out / failed[0]["trial"] / "error.txt").read_text()
    assert "1 trial(s) failed" in output and "Traceback" not in output


def test_resume_skips_the_finished_trial_and_retrains_the_killed_one(cluster, node_ids, crashed):
    out, _, _ = crashed
    before = {r["trial"]: r for r in read_rows(out)}
    finished = next(t for t in IDS if before[t]["status"] == "trained")
    killed = next(t for t in IDS if t != finished)
    stamp = (out / finished / "evaluation.json").stat().st_mtime_ns
    done = sweep(crash_args(cluster, out), cluster.driver_env())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 trials (1 already finished, 1 to train)" in done.stdout
    assert (out / finished / "evaluation.json").stat().st_mtime_ns == stamp
    rows = {r["trial"]: r for r in read_rows(out)}
    assert rows[finished]["status"] == "skipped"
    assert rows[finished]["optimality_ratio"] == before[finished]["optimality_ratio"]
    assert rows[killed]["status"] == "trained" and 0.5 < float(rows[killed]["optimality_ratio"]) <= 1 + 1e-6
    assert not (out / killed / "error.txt").exists()  # the failed attempt's report went with it
    assert json.loads((out / killed / "trial.json").read_text())["ray_node_id"] in node_ids


def test_a_driver_without_the_cluster_token_is_refused(cluster, tmp_path):
    env = cluster.driver_env()
    for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN_PATH"):
        env.pop(name)
    env["HOME"] = str(tmp_path)  # no ~/.ray/auth_token either
    start = time.monotonic()
    done = sweep([*GRID, "--steps", "10", "--backend", "ray", "--address", cluster.address,
                  "--out", str(tmp_path / "o")], env, timeout=120)
    assert time.monotonic() - start < 60
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"mechdsl: error: the Ray cluster at {cluster.address} refused this driver" in done.stderr
    assert "auth_token" in done.stderr and "Traceback" not in done.stderr
