"""`mechdsl run` / `mechdsl eval` on the game spec: a tiny budget end to end (train the
spec's algorithm and the comparison, evaluate against greedy/random and the efficient
welfare, report with plots), then the per-market JSON of `mechdsl eval --json`."""

from __future__ import annotations

import json

from mechdsl.cli.main import main

SPEC = "specs/iot_offloading.mech"


def test_run_then_eval(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", SPEC, "--steps", "20", "--eval-states", "50", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "optimality ratio" in printed and "held-out states      50" in printed
    for name in ("report.md", "test_reward.png", "welfare.png", "evaluation.json", "checkpoint.pt",
                 "compare/ppo/checkpoint.pt", "package/env.py"):
        assert (out / name).is_file(), name
    report = (out / "report.md").read_text()
    assert "![test reward](test_reward.png)" in report and "| greedy |" in report and "| random |" in report
    summary = json.loads((out / "evaluation.json").read_text())
    assert summary["n_states"] == 50 and summary["violation_rate"] == 0.0
    assert 0 < summary["optimality_ratio"] < 1
    assert set(summary["comparison"]) == {"edmsac", "ppo", "greedy", "random"}

    assert main(["eval", str(out), "--states", "12", "--json"]) == 0
    evaluation = json.loads(capsys.readouterr().out)
    assert len(evaluation["objective"]) == len(evaluation["optimum"]) == len(evaluation["states"]) == 12
    objective, welfare, rounds = evaluation["objective"], evaluation["welfare"], evaluation["clock_rounds"]
    for b in range(12):  # reward = welfare - round_cost x ticks, welfare <= the efficient welfare
        assert abs(objective[b] - (welfare[b] - 0.02 * rounds[b])) < 1e-4
        assert welfare[b] <= evaluation["optimum"][b] + 1e-4
    assert abs(evaluation["optimality_ratio"] - sum(objective) / sum(evaluation["optimum"])) < 1e-9
    assert set(evaluation["greedy"]) == {"mean_reward", "mean_welfare", "mean_clock_rounds"}
