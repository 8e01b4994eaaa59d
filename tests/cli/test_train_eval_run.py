"""`mechdsl train`, `eval` and `run` end to end on a small budget (CPU)."""

import json
from pathlib import Path

import torch

from mechdsl.cli.main import main


def test_train_then_eval_json(tmp_path, capsys):
    # The spec's train block gives amortized a (64, 64) policy and 4 updates per step: ratio 0.9995 in 7.7 s
    # of CPU (its defaults, (512, 512) x 16 updates: 0.9996 in 15.3 s); the test asks > 0.9.
    spec = tmp_path / "static_contract.mech"
    source = Path("specs/static_contract.mech").read_text(encoding="utf-8")
    assert source.count("train {\n") == 1
    spec.write_text(source.replace("train {\n", "train {\n  hidden = 64\n  updates_per_step = 4\n"), encoding="utf-8")
    run_dir = tmp_path / "run"
    assert main(["train", str(spec), "--algo", "amortized", "--steps", "60", "--out", str(run_dir),
                 "--eval-states", "50", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "optimality ratio" in out
    for name in ("run.json", "checkpoint.pt", "metrics.csv", "evaluation.json", "report.md", "test_utility.png",
                 "contract_items.png", "package/env.py"):
        assert (run_dir / name).exists(), name
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    assert evaluation["optimality_ratio"] > 0.9 and evaluation["violation_rate"] == 0.0

    assert main(["eval", str(run_dir), "--states", "5", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"states", "contracts", "objective", "optimum", "optimality_ratio"} <= set(report)
    assert len(report["contracts"]) == 5 and set(report["contracts"][0]) == {"s", "r"}
    assert len(report["states"][0]["psi"]) == 2
    ratio = sum(report["objective"]) / sum(report["optimum"])
    assert abs(ratio - report["optimality_ratio"]) < 1e-9
    assert all(o <= opt * (1 + 1e-6) for o, opt in zip(report["objective"], report["optimum"]))


def test_run_command_and_resume(tmp_path, capsys):
    run_dir = tmp_path / "r"
    assert main(["run", "specs/static_contract.mech", "--algo", "random", "--steps", "5", "--out", str(run_dir),
                 "--eval-states", "20", "--quiet"]) == 0
    assert (run_dir / "report.md").exists()
    assert main(["train", "specs/static_contract.mech", "--algo", "random", "--steps", "8", "--out", str(run_dir),
                 "--eval-states", "20", "--quiet", "--resume"]) == 0
    rows = (run_dir / "metrics.csv").read_text().strip().splitlines()
    assert rows[-1].split(",")[0] == "8"


def test_bad_inputs_exit_2(tmp_path, capsys):
    assert main(["eval", str(tmp_path)]) == 2
    assert "not a mechdsl run folder" in capsys.readouterr().err
    if torch.cuda.device_count() <= 7:  # a device this machine lacks: refused before anything is written
        out = tmp_path / "run"
        assert main(["train", "specs/static_contract.mech", "--device", "cuda:7", "--steps", "1", "--out", str(out)]) == 2
        assert "cuda:7" in capsys.readouterr().err
        assert not out.exists()


def test_threads_sets_torch_intra_op_threads(tmp_path, capsys):
    """--threads N (default 1) is torch's intra-op thread count for the run."""
    import torch

    before = torch.get_num_threads()
    try:
        assert main(["run", "specs/static_contract.mech", "--algo", "random", "--steps", "2", "--out",
                     str(tmp_path / "a"), "--eval-states", "8", "--quiet", "--threads", "2"]) == 0
        assert torch.get_num_threads() == 2
        assert main(["train", "specs/static_contract.mech", "--algo", "random", "--steps", "2", "--out",
                     str(tmp_path / "b"), "--eval-states", "8", "--quiet"]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
