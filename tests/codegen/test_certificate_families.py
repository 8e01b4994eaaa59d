"""The torch certificate is produced from `mechdsl.constraints`: its SLACK_LABELS are the
families' block labels, and an item family without a vectorised form (printed instance by
instance, optimal later play) scores exactly as the vectorised one."""

from __future__ import annotations

import importlib

import pytest
import torch
from codegen_fixtures import import_package, model_of
from test_env_numerics import arbitrary_contracts

from mechdsl.codegen import certificate as torch_certificate
from mechdsl.codegen import compile_spec
from mechdsl.constraints import BOUNDS, ITEM_FAMILIES, Screening

N = 400


@pytest.mark.parametrize("name", ["two_period", "static_contract"])
def test_slack_labels_are_the_family_blocks(name):
    model = model_of(name)
    package = importlib.import_module(f"generated.{name}")
    s = Screening(model)
    items = [str(f.block(s, t)) for f in ITEM_FAMILIES if f.applies(model) for t in f.periods(s)]
    assert list(package.env.SLACK_LABELS[:len(items)]) == items
    assert package.env.SLACK_LABELS[len(items)] == str(BOUNDS.block("lower"))


def test_printed_item_families_score_as_the_vectorised_ones(tmp_path, monkeypatch):
    model = model_of("two_period")
    monkeypatch.setattr(torch_certificate, "_VECTORISED", {})
    compile_spec(model, tmp_path / "printed")
    printed = import_package(tmp_path / "printed", "mechdsl_printed_certificate")
    vectorised = importlib.import_module("generated.two_period")
    generator = torch.Generator().manual_seed(4)
    state = vectorised.sample_states(N, generator, dtype=torch.float64)
    contract = arbitrary_contracts(model, N, generator)
    objective, violation, _ = vectorised.score(state, contract)
    objective_printed, violation_printed, _ = printed.score(state, contract)
    assert printed.env.SLACK_LABELS == vectorised.env.SLACK_LABELS
    assert float((violation > 0).double().mean()) > 0.1      # the random contracts exercise the slacks
    torch.testing.assert_close(violation_printed, violation, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(objective_printed, objective)
