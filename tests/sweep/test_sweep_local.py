"""`mechdsl sweep` with the local backend: a 2x2 grid x 2 seeds, the table, plots, resume, bad names."""

import csv
import json
import math
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC = str(ROOT / "specs" / "static_contract.mech")
GRID = ["--grid", "M=6,12", "--grid", "actor_lr=1e-3,3e-3", "--algos", "amortized", "--seeds", "2",
        "--steps", "10", "--eval-states", "10", "--workers", "2"]
IDS = [f"M={m},actor_lr={lr},algo=amortized,seed={s}" for m in (6, 12) for lr in ("0.001", "0.003") for s in (0, 1)]
# The trials check the sweep's plumbing, not learning: the spec's train block gives amortized a small
# policy and 2 updates per step (with its defaults, (512, 512) x 16 updates, this module took 38.9 s of
# CPU instead of 23.7 s, -n 0).
SMALL_POLICY = "  hidden = 32\n  updates_per_step = 2\n"


@pytest.fixture(scope="module")
def small_spec(tmp_path_factory):
    """static_contract.mech with SMALL_POLICY in its train block (kept by --algos amortized)."""
    source = Path(SPEC).read_text(encoding="utf-8")
    assert source.count("train {\n") == 1
    spec = tmp_path_factory.mktemp("spec") / "static_contract.mech"
    spec.write_text(source.replace("train {\n", "train {\n" + SMALL_POLICY), encoding="utf-8")
    return str(spec)


@pytest.fixture(scope="module")
def swept(tmp_path_factory, small_spec):
    import mechdsl.cli.main as cli_main

    out = tmp_path_factory.mktemp("sweep") / "out"
    subcommands = cli_main.SUBCOMMANDS
    cli_main.SUBCOMMANDS = subcommands + ("sweep",) if "sweep" not in subcommands else subcommands
    try:
        assert cli_main.main(["sweep", small_spec, *GRID, "--out", str(out)]) == 0
    finally:
        cli_main.SUBCOMMANDS = subcommands
    return out


def read_rows(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_every_trial_is_a_run_folder_and_a_row(swept):
    rows = read_rows(swept / "results.csv")
    assert [r["trial"] for r in rows] == IDS
    assert list(rows[0])[:6] == ["trial", "M", "actor_lr", "algo", "seed", "steps"]
    for row in rows:
        folder = swept / row["trial"]
        for name in ("run.json", "evaluation.json", "metrics.csv", "report.md"):
            assert (folder / name).is_file(), (row["trial"], name)
        evaluation = json.loads((folder / "evaluation.json").read_text())
        assert float(row["optimality_ratio"]) == pytest.approx(evaluation["optimality_ratio"], rel=1e-5)
        assert float(row["actor_flops"]) == evaluation["actor_flops"]
        assert float(row["wall_seconds"]) > 0 and row["status"] == "trained"
        config = json.loads((folder / "run.json").read_text())
        assert config["overrides"] == {"M": float(row["M"])}
        assert config["hparams"]["actor_lr"] == float(row["actor_lr"]) and config["steps"] == 10
        assert config["hparams"]["hidden"] == [32, 32] and config["hparams"]["updates_per_step"] == 2


def test_grid_values_reach_the_spec_and_the_optimizer(swept):
    rows = {r["trial"]: r for r in read_rows(swept / "results.csv")}
    small, large = rows[IDS[0]], rows[IDS[4]]  # M=6 and M=12, same lr and seed
    # The objective is M * (...) and the held-out states are the same: the optimum doubles.
    assert float(large["mean_optimum"]) == pytest.approx(2 * float(small["mean_optimum"]), rel=1e-4)
    # Different learning rates train different policies.
    assert rows[IDS[0]]["optimality_ratio"] != rows[IDS[2]]["optimality_ratio"]


def test_summary_is_mean_and_std_over_seeds(swept):
    rows = read_rows(swept / "results.csv")
    summary = read_rows(swept / "summary.csv")
    assert len(summary) == 4 and all(s["seeds"] == "2" for s in summary)
    for entry in summary:
        ratios = [float(r["optimality_ratio"]) for r in rows
                  if r["M"] == entry["M"] and r["actor_lr"] == entry["actor_lr"]]
        mean = sum(ratios) / 2
        assert float(entry["optimality_ratio_mean"]) == pytest.approx(mean, rel=1e-5)
        assert float(entry["optimality_ratio_std"]) == pytest.approx(math.sqrt(sum((x - mean) ** 2 for x in ratios)),
                                                                     rel=1e-4, abs=1e-9)


def test_markdown_table_and_plots(swept):
    md = (swept / "results.md").read_text()
    assert "mechdsl sweep" in md and md.count("algo=amortized") == 8
    for name in ("optimality_ratio_vs_M.png", "mean_utility_vs_M.png", "optimality_ratio_vs_actor_lr.png",
                 "mean_utility_vs_actor_lr.png"):
        assert (swept / name).stat().st_size > 5000, name
        assert f"]({name})" in md


def test_rerun_skips_finished_trials(swept, small_spec, mechdsl_main, capsys):
    stamps = {t: (swept / t / "evaluation.json").stat().st_mtime_ns for t in IDS}
    checkpoints = {t: (swept / t / "checkpoint.pt").stat().st_mtime_ns for t in IDS}
    assert mechdsl_main(["sweep", small_spec, *GRID, "--out", str(swept)]) == 0
    out = capsys.readouterr().out
    assert "8 already finished, 0 to train" in out
    assert stamps == {t: (swept / t / "evaluation.json").stat().st_mtime_ns for t in IDS}
    assert checkpoints == {t: (swept / t / "checkpoint.pt").stat().st_mtime_ns for t in IDS}
    rows = read_rows(swept / "results.csv")
    assert len(rows) == 8 and {r["status"] for r in rows} == {"skipped"}
    assert all(float(r["wall_seconds"]) > 0 for r in rows)  # kept from the run that trained them


def test_changed_configuration_in_the_same_folder_is_refused(swept, small_spec, mechdsl_main, capsys):
    assert mechdsl_main(["sweep", small_spec, *GRID[:-6], "--steps", "11", "--eval-states", "10",
                         "--out", str(swept)]) == 2
    assert "trained with a different steps" in capsys.readouterr().err


@pytest.mark.parametrize("grid, message", [
    ("Mm=6,12", "did you mean 'M'?"),
    ("prune_rate=0.3", "a hyperparameter of"),
    ("M", "the spec declares no values for M"),
    ("actor_lr=fast", "'fast' is not a valid float"),
])
def test_bad_grid_names_exit_2(mechdsl_main, capsys, tmp_path, grid, message):
    assert mechdsl_main(["sweep", SPEC, "--grid", grid, "--algos", "amortized", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mechdsl: error: --grid") and message in err
    assert not any(tmp_path.iterdir())  # nothing trained


def test_bad_algorithm_and_missing_grid_exit_2(mechdsl_main, capsys):
    assert mechdsl_main(["sweep", SPEC, "--grid", "M=6", "--algos", "amortised"]) == 2
    assert "did you mean 'amortized'?" in capsys.readouterr().err
    assert mechdsl_main(["sweep", SPEC]) == 2
    assert "at least one --grid" in capsys.readouterr().err


def test_declared_values_and_trial_ids(mechdsl_main, capsys):
    two_period = str(ROOT / "specs" / "two_period.mech")
    assert mechdsl_main(["sweep", two_period, "--grid", "N", "--grid", "prune_rate=0.3,0.5", "--algos", "edmsac",
                         "--seeds", "1", "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["N=3,prune_rate=0.3,algo=edmsac,seed=0", "N=3,prune_rate=0.5,algo=edmsac,seed=0",
                         "N=6,prune_rate=0.3,algo=edmsac,seed=0"]
    assert lines[-1].startswith("8 trials")


def test_threads_per_worker():
    from mechdsl.sweep.local import threads_per_worker

    assert threads_per_worker(2, cores=2) == 1 and threads_per_worker(1, cores=8) == 8
    assert threads_per_worker(3, cores=8) == 2 and threads_per_worker(16, cores=8) == 1
