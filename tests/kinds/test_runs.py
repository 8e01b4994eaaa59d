"""`mechdsl.kinds.runs.train_run`: the learning curve is no larger than the final evaluation."""

from __future__ import annotations

from pathlib import Path

import pytest

from mechdsl.kinds import runs
from mechdsl.rl.runs import RunConfig

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "static_contract.mech"


def _config() -> RunConfig:
    return RunConfig(spec=str(SPEC), source=SPEC.read_text(encoding="utf-8"), algo="random", steps=2, seed=0,
                     device="cpu", preset="default")


# 300 > CURVE_STATES (256) checks the cap; the default 1000 held-out states cost 7 s more of exact solves.
@pytest.mark.parametrize(("eval_states", "curve_states", "expected"), [(5, None, 5), (300, None, 256), (5, 7, 7)])
def test_curve_states_follow_the_final_evaluation(eval_states, curve_states, expected, tmp_path, monkeypatch):
    import mechdsl.rl.contract_pipeline as contract_pipeline

    seen = []
    real_train = contract_pipeline.train

    def recording_train(*args, **kwargs):
        seen.append(kwargs["eval_states"])
        return real_train(*args, **kwargs)

    monkeypatch.setattr(contract_pipeline, "train", recording_train)
    summary = runs.train_run(_config(), tmp_path / "run", log="none", eval_states=eval_states,
                             curve_states=curve_states)
    assert seen == [expected]
    assert (tmp_path / "run" / "report.md").exists()
    assert 0.0 <= summary["violation_rate"] <= 1.0
