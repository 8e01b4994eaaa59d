"""examples/monopoly.mech compiles, and a policy trains on its package to near the optimum
(the exact optimum is the Mussa-Rosen menu, tests/solve/test_monopoly.py)."""

from __future__ import annotations

import json

from codegen_fixtures import ROOT
from mechdsl.cli.main import main

EXAMPLE = str(ROOT / "examples" / "monopoly.mech")


def test_compiles_and_trains_a_few_steps(tmp_path, capsys):
    assert main(["compile", EXAMPLE, "-o", str(tmp_path / "package")]) == 0
    assert (tmp_path / "package" / "env.py").is_file()
    spec = json.loads((tmp_path / "package" / "spec.json").read_text())
    assert spec["variables"]["t"]["paid_by"] == "consumer"
    assert spec["types"]["theta"] == [{"value": 3.0}, {"value": 4.05}, {"value": 4.6}]
    run = tmp_path / "run"
    assert main(["train", EXAMPLE, "--algo", "amortized", "--steps", "60", "--out", str(run),
                 "--eval-states", "8", "--quiet"]) == 0
    evaluation = json.loads((run / "evaluation.json").read_text())
    profit = (2.7 + 13.23 + 18.29 - (0.9 ** 2 + 3.5 ** 2 + 4.6 ** 2) / 2) / 3  # the closed form's menu
    assert abs(evaluation["mean_optimum"] - profit) < 1e-5  # float32 state
    assert evaluation["optimality_ratio"] > 0.9 and evaluation["violation_rate"] == 0.0
    capsys.readouterr()
