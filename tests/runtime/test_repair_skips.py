"""The repair skips work that cannot change its result (`mechdsl.runtime.repair`): the payment LP
of a state whose violated row no payment enters, and the bisection toward the pooled menu when no
remaining state's pooled menu is feasible. Deployed contracts are the same with and without."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mechdsl.cli.main import main
from mechdsl.runtime import repair
from mechdsl.rl.runs import load_package

ROOT = Path(__file__).resolve().parents[2]


def test_a_violated_row_without_payments_makes_a_state_hopeless():
    c = torch.tensor([[1.0, -5.0, -1e-14, 2.0], [-3.0, 0.5, 0.5, -4.0]], dtype=torch.float64)
    depends = torch.tensor([[False, False, False, True], [True, True, True, True]])
    decisions = torch.ones(3, 4, dtype=torch.float32)
    rows = torch.ones(2, 4, dtype=torch.float32)
    hopeless = repair._violated_without_payments(c, depends, decisions, rows)
    # state 1: -5 on a payment-free row; state 2: -1e-14 is rounding; state 3: -4 on a payment row
    assert hopeless.tolist() == [False, True, False, False]


@pytest.fixture(scope="module")
def capped(tmp_path_factory):
    folder = tmp_path_factory.mktemp("capped")
    spec = folder / "capped.mech"
    source = (ROOT / "specs" / "static_contract.mech").read_text()
    spec.write_text(source.replace("constraint ic", "constraint ic\nconstraint s[k] <= 300 for k in K", 1))
    assert main(["compile", str(spec), "--out", str(folder / "pkg")]) == 0
    return load_package(folder / "pkg").Env(dtype=torch.float64)


@pytest.mark.parametrize("scale", [1.0, 0.3])
def test_deployed_contracts_equal_those_without_the_skips(capped, monkeypatch, scale):
    generator = torch.Generator().manual_seed(3)
    state = capped.reset(64, generator)
    action = (torch.rand(64, capped.action_dim, generator=generator, dtype=torch.float64) * 2 - 1) * scale
    solved_states = []
    real_solve = repair.solve_payment_lps

    def counting_solve(w, *args):
        solved_states.append(w.shape[0])
        return real_solve(w, *args)

    monkeypatch.setattr(repair, "solve_payment_lps", counting_solve)
    monkeypatch.setattr(repair.payment_program, "__defaults__", (counting_solve,))
    skipped = capped.evaluate(state, action)
    with_skips = sum(solved_states)
    solved_states.clear()
    monkeypatch.setattr(repair, "_violated_without_payments",
                        lambda c, depends, decisions, rows: torch.zeros(c.shape[1], dtype=torch.bool, device=c.device))
    full = capped.evaluate(state, action)
    assert torch.equal(skipped.reward, full.reward) and torch.equal(skipped.violation, full.violation)
    assert torch.equal(skipped.info["repaired"], full.info["repaired"])
    assert with_skips < sum(solved_states)  # some LPs were not solved
