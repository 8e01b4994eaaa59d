"""`mechdsl check`, `compile`, `run` (tiny budget) and `eval` on the agent-migration spec."""

from __future__ import annotations

import json

import torch

from mechdsl.cli.main import main

from conftest import SPEC


def test_check_prints_the_scenario(capsys):
    assert main(["check", str(SPEC)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("scenario agent_migration")
    assert "action      target[8, 4] softmax" in out and "constraint  c22d: 8 instance(s)" in out


def test_compile_writes_the_package(tmp_path, capsys):
    assert main(["compile", str(SPEC), "-o", str(tmp_path / "pkg")]) == 0
    assert {"env.py", "__init__.py", "README.md", "spec.mech", ".mechdsl-generated"} <= {
        p.name for p in (tmp_path / "pkg").iterdir()}


def test_tiny_run_and_eval(tmp_path, capsys):
    torch.set_num_threads(1)
    out = tmp_path / "run"
    assert main(["run", str(SPEC), "--algo", "cgdm", "--steps", "10", "--eval-states", "20", "--out", str(out),
                 "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "greedy nearest trusted" in printed and "held-out states      20" in printed
    evaluation = json.loads((out / "evaluation.json").read_text())
    latency = evaluation["total_latency"]
    assert set(latency) == {"policy", "random", "greedy nearest trusted (feasible)", "myopic per-slot optimum"}
    assert all(v > 0 for v in latency.values())
    assert latency["myopic per-slot optimum"] < min(latency["random"], latency["greedy nearest trusted (feasible)"])
    for name, summary in evaluation["policies"].items():           # hard constraints: no avoidable violation
        assert summary["violation_rate"] == 0, name
        assert summary["violations_c22c_per_episode"] == 0
        assert summary["violations_c22d_per_episode"] == summary["unavoidable_c22d_per_episode"]
    report = (out / "report.md").read_text()
    assert "myopic per-slot optimum" in report and "c22d (hard) / episode" in report
    assert (out / "report.md").is_file() and (out / "reputation.png").is_file()
    assert main(["eval", str(out), "--states", "6", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["objective"]) == 6 and 0 <= report["violation_rate"] <= 1


def test_a_mistake_in_the_spec_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.mech"
    bad.write_text(SPEC.read_text(encoding="utf-8").replace("next copy[v] =", "next copyy[v] ="))
    assert main(["check", str(bad)]) == 2
    assert "'copyy' is not defined" in capsys.readouterr().err
