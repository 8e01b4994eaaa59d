"""A ratio earned by contracts that violate the spec's constraints is never shown as a result
(issue 29): the evaluation adds the feasible-only ratio (a violating contract is worth 0), and
`mechdsl train`'s summary and the report put "NOT a result" beside the plain ratio."""
from __future__ import annotations

import torch
from toy_env import TrackingEnv

from mechdsl.cli.train_cmd import print_summary
from mechdsl.rl.algorithms import make_agent, resolve_hparams
from mechdsl.rl.env import StepResult
from mechdsl.rl.evaluate import evaluate_policy
from mechdsl.rl.report import write_report


class ProfitableButInfeasibleEnv(TrackingEnv):
    """Every contract is worth 2 against an optimum of 1; those with a positive first action
    entry violate a constraint by 1."""

    def evaluate(self, state: torch.Tensor, action: torch.Tensor) -> StepResult:
        reward = torch.full((state.shape[0],), 2.0, dtype=state.dtype)
        violation = (action[:, 0] > 0).to(state.dtype)
        return StepResult(reward=reward, penalty=torch.zeros_like(reward), violation=violation)


def test_violating_contracts_do_not_make_a_ratio_above_one_a_result(tmp_path, capsys):
    env = ProfitableButInfeasibleEnv()
    agent = make_agent("random", env, resolve_hparams("random"), torch.Generator().manual_seed(0), torch.device("cpu"))
    evaluation = evaluate_policy(env, agent, n_states=400, timing_states=10)
    assert evaluation.optimality_ratio == 2.0
    assert 0.4 < evaluation.violation_rate < 0.6
    assert evaluation.feasible_ratio == 2.0 * (1 - evaluation.violation_rate)

    print_summary(tmp_path, evaluation.as_dict())
    out = capsys.readouterr().out
    assert "optimality ratio     2.0000  NOT a result" in out
    assert f"feasible-only ratio  {evaluation.feasible_ratio:.4f}" in out

    report = write_report(tmp_path, {"random": [{"step": 1, "test_utility": 2.0}]}, {"random": evaluation}).read_text()
    assert "is NOT a result" in report


def test_a_feasible_run_shows_no_warning(tmp_path, capsys):
    env = TrackingEnv()
    agent = make_agent("random", env, resolve_hparams("random"), torch.Generator().manual_seed(0), torch.device("cpu"))
    evaluation = evaluate_policy(env, agent, n_states=50, timing_states=10)
    assert evaluation.violation_rate == 0.0 and evaluation.feasible_ratio == evaluation.optimality_ratio
    print_summary(tmp_path, evaluation.as_dict())
    assert "NOT a result" not in capsys.readouterr().out
