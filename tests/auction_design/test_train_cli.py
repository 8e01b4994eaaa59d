"""`mechdsl train` / `eval` on auction-design specs: the learned mechanism of the spec's train
block is trained, saved and certified (tiny budgets: a smoke test of the wiring, not of revenue)."""

from __future__ import annotations

import json
from pathlib import Path

from mechdsl.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "examples" / "auction_additive_1x2.mech"


def test_train_then_eval_a_menu(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", str(SPEC), "--steps", "2", "--eval-states", "8", "--out", str(run), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "revenue" in out and "regret (grid)" in out and "IR violation rate" in out
    evaluation = json.loads((run / "evaluation.json").read_text())
    assert evaluation["method"] == "rochetnet" and evaluation["revenue"] > 0
    assert evaluation["regret_grid"] == [0.0]             # a menu is IC by construction
    assert evaluation["ir_violation_rate"] == 0.0 and evaluation["reference_revenue"] > 0.54
    assert (run / "mechanism.pt").is_file() and (run / "report.md").is_file()
    assert main(["eval", str(run), "--states", "8", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["revenue"] == evaluation["revenue"]      # same profiles as the training run's certificate


def test_a_law_the_learned_mechanisms_do_not_sample_exits_2(tmp_path, capsys):
    spec = tmp_path / "normal.mech"
    spec.write_text(SPEC.read_text(encoding="utf-8").replace("uniform(0, 1)", "normal(1, 0.1)"), encoding="utf-8")
    assert main(["train", str(spec), "--steps", "1", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "normal(1, 0.1)" in err and "not supported by the learned auction mechanisms" in err
    assert not (tmp_path / "run").exists()
