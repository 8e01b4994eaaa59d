"""Cost-type contracts compile to envs that pay the derived payments (issue 29).

Laffont-Tirole as written (utility falling with beta, allocations rising) and procurement from
cost types (utility and allocations falling with theta: the monotone chain runs x[2] <= x[1] <=
x[0], against the column order). In each generated env, random actions give contracts that meet
every IR and IC (the least payments walk the types from the highest down), and the exact optimum
maps to an action and back to itself with the solver's objective."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from codegen_fixtures import ROOT, import_package
import mechdsl
from mechdsl.codegen import compile_spec
from mechdsl.reduce import derive
from mechdsl.solve.exact import solve

SPECS = ROOT / "tests" / "solve" / "specs"
STATES = {"laffont_tirole": {"S": 5.0, "lam": 0.3, "beta[0]": 1.0, "beta[1]": 1.5, "q[0]": 0.5, "q[1]": 0.5},
          "procurement_cost_types": {"theta[0]": 1.0, "theta[1]": 1.25, "theta[2]": 1.5,
                                     "f[0]": 0.3, "f[1]": 0.4, "f[2]": 0.3}}


@pytest.mark.parametrize("name", sorted(STATES))
def test_cost_type_env_pays_the_derived_payments(name, tmp_path):
    path = SPECS / f"{name}.mech"
    model = mechdsl.load(path)
    derivation = derive(model)
    compile_spec(model, tmp_path / name, derivation=derivation, source=path.read_text(encoding="utf-8"))
    package = import_package(tmp_path / name, f"mechdsl_cost_types_{name}")
    env = package.Env(dtype=torch.float64)
    generator = torch.Generator().manual_seed(0)
    env.reset(256, generator)
    action = 2 * torch.rand(256, env.action_dim, generator=generator, dtype=torch.float64) - 1
    result = env.step(action)
    assert float(result.violation.max()) == 0.0
    state = STATES[name]
    exact = solve(model, state, derivation)
    rows = torch.tensor([[state[n] for n in package.STATE_LAYOUT]], dtype=torch.float64)
    contract = {k: torch.tensor([v], dtype=torch.float64) for k, v in exact.contract.items()}
    back = package.env.contract_from_action(rows, package.env.action_from_contract(rows, contract))
    for key, value in exact.contract.items():
        assert float(back[key][0]) == pytest.approx(value, abs=1e-7), key
    objective, violation, _ = package.env.score(rows, back)
    assert float(objective[0]) == pytest.approx(exact.objective, rel=1e-9)
    assert float(violation[0]) <= 1e-9
    allocation = "C" if name == "laffont_tirole" else "x"
    levels = np.array([exact.contract[f"{allocation}[{k}]"] for k in range(model.K)])
    assert np.all(np.diff(levels) >= 0) if name == "laffont_tirole" else np.all(np.diff(levels) <= 0)
