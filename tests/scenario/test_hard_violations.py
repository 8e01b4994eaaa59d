"""Violations of the hard constraints (22c) and (22d) split into those no decision could avoid
and the avoidable rest, per episode and in total: the counting on a hand-made trace, the greedy
reference (feasible through the map: nothing avoidable), decisions that overload an RSU every
slot (everything avoidable), and the "hard" block of `mechdsl eval --json` of a tiny run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mechdsl.cli.main import main
from mechdsl.scenario.rollout import greedy_nearest_trusted, hard_violation_counts, hard_violations, rollout
from transcription import S, V

from conftest import SPEC

KEYS = {"violations", "unavoidable", "avoidable", "violating_slots", "unavoidable_slots", "avoidable_slots"}


def test_each_slot_splits_into_unavoidable_and_avoidable():
    violated = np.array([[2, 0], [1, 3], [0, 1]], dtype=np.float32)        # (slots, episodes)
    unavoidable = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)
    counts = hard_violation_counts(violated + np.float32(1e-7), unavoidable)  # float counts round
    assert counts["per_episode"] == {"violations": [3, 4], "unavoidable": [2, 1], "avoidable": [1, 3],
                                     "violating_slots": [2, 2], "avoidable_slots": [1, 1], "unavoidable_slots": [1, 1]}
    assert counts["total"] == {"violations": 7, "unavoidable": 3, "avoidable": 4,
                               "violating_slots": 4, "avoidable_slots": 2, "unavoidable_slots": 2}
    assert all(isinstance(v, int) for v in counts["total"].values())


def assert_consistent(counts: dict, episodes: int) -> None:
    """avoidable = violations - unavoidable >= 0 per episode, slots likewise, totals = sums."""
    per = counts["per_episode"]
    assert set(per) == set(counts["total"]) == KEYS
    assert all(len(v) == episodes for v in per.values())
    violations, unavoidable, avoidable = (np.array(per[k]) for k in ("violations", "unavoidable", "avoidable"))
    np.testing.assert_array_equal(avoidable, violations - unavoidable)
    assert (unavoidable >= 0).all() and (avoidable >= 0).all()
    slots = {k: np.array(per[k]) for k in ("violating_slots", "unavoidable_slots", "avoidable_slots")}
    np.testing.assert_array_equal(slots["unavoidable_slots"] + slots["avoidable_slots"], slots["violating_slots"])
    assert (slots["avoidable_slots"] >= 0).all() and (slots["violating_slots"] <= violations).all()
    assert {k: sum(v) for k, v in per.items()} == counts["total"]


def test_the_greedy_reference_has_no_avoidable_violation(package, env64):
    episodes = rollout(env64, greedy_nearest_trusted(package), 16, seed=3)
    hard = hard_violations(episodes, package.HARD)
    assert set(hard) == {"c22c", "c22d"}
    for label, counts in hard.items():
        assert_consistent(counts, 16)
        assert counts["total"]["avoidable"] == 0 and counts["total"]["avoidable_slots"] == 0, label
        np.testing.assert_array_equal(counts["per_episode"]["violations"], episodes.violations[label])
    assert hard["c22c"]["total"]["violations"] == 0
    np.testing.assert_array_equal(hard["c22d"]["per_episode"]["unavoidable"], episodes.unavoidable["c22d"])
    assert hard["c22d"]["total"]["unavoidable"] > 0                  # greedy meets full trusted RSUs
    assert episodes.count_traces["violations_c22d"].shape == (env64.horizon, 16)


class EveryoneToRsu0:
    """Decisions handed in directly: every vehicle's agent to RSU 0 (over L_max = 3), equal
    shares on each host, no MTD. The map never does this; (22c) is broken every slot."""

    decides = True

    def __init__(self, package) -> None:
        self.host = [package.STATE_LAYOUT.index(f"host[{v}, {s}]") for v in range(V) for s in range(S)]

    def __call__(self, state: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
        batch = state.shape[0]
        target = torch.zeros(batch, V, S, dtype=state.dtype)
        target[:, :, 0] = 1
        host = state[:, self.host].reshape(batch, V, S)
        alpha = host.transpose(1, 2) / host.sum(1).clamp(min=1)[:, :, None]
        return torch.cat([target.reshape(batch, -1), alpha.reshape(batch, -1), torch.zeros(batch, S, dtype=state.dtype)], 1)


def test_decisions_overloading_an_rsu_are_avoidable_in_every_slot(package, env64):
    episodes = rollout(env64, EveryoneToRsu0(package), 4, seed=3)
    counts = hard_violations(episodes, package.HARD)
    horizon = env64.horizon
    assert counts["c22c"]["per_episode"] == {                        # one instance (RSU 0) per slot
        "violations": [horizon] * 4, "unavoidable": [0] * 4, "avoidable": [horizon] * 4,
        "violating_slots": [horizon] * 4, "unavoidable_slots": [0] * 4, "avoidable_slots": [horizon] * 4}
    assert counts["c22c"]["total"]["avoidable"] == 4 * horizon
    for label in ("c22c", "c22d"):
        assert_consistent(counts[label], 4)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("hard") / "run"
    assert main(["run", str(SPEC), "--algo", "cgdm", "--steps", "5", "--eval-states", "4", "--out", str(out),
                 "--quiet"]) == 0
    return out


def test_eval_json_gives_per_episode_unavoidable_and_avoidable_violations(tiny_run, capsys):
    capsys.readouterr()
    assert main(["eval", str(tiny_run), "--states", "6", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"objective", "violation_rate", "penalty", "violations", "hard"} <= set(report)
    assert len(report["objective"]) == 6 and set(report["violations"]) == {"c22b", "c22c", "c22d"}
    assert set(report["hard"]) == {"c22c", "c22d"}                   # (22b) is penalised, not hard
    for label, counts in report["hard"].items():
        assert_consistent(counts, 6)
        assert counts["per_episode"]["violations"] == report["violations"][label]
        assert counts["total"]["avoidable"] == 0, label                # the map keeps (22c) and (22d)
    assert report["hard"]["c22c"]["total"]["violations"] == 0
