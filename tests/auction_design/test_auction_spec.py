"""The auction_design kind's language: `design auction NAME` specs check into their model,
format back to themselves, and every mistake is a positioned error."""

from __future__ import annotations

from pathlib import Path

import pytest

from mechdsl.kinds import KINDS, kind_of_source
from mechdsl.lang import SpecError, load_source, parse
from mechdsl.lang.fmt import format_spec

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(ROOT.glob("examples/auction_*.mech"))

BASE = """design auction a
size n = 2
size m = 2
bidder b[i in n] value ~ uniform(0, 1 + i)
valuation additive over m
maximize mix(0.25)
constraint ir
constraint ic
"""


def test_a_spec_checks_into_bidders_items_and_objective():
    model = load_source(BASE, "a.mech")
    assert kind_of_source(BASE, "a.mech") is KINDS["auction_design"]
    assert [b.name for b in model.bidders] == ["b[0]", "b[1]"]
    assert [tuple(str(d) for d in b.distributions) for b in model.bidders] == [
        ("uniform(0, 1)", "uniform(0, 1)"), ("uniform(0, 2)", "uniform(0, 2)")]
    assert (model.items, model.valuation, model.objective.kind, model.objective.revenue_weight) == (2, "additive", "mix", 0.25)
    assert model.ir and model.ic and not model.symmetric


def test_per_item_laws_and_several_populations():
    source = BASE.replace("bidder b[i in n] value ~ uniform(0, 1 + i)",
                          "bidder b[i in n, j in m] value ~ uniform(0, 1 + j)\nbidder c[k in m] value ~ loguniform(1, 2)")
    model = load_source(source, "a.mech")
    assert [b.name for b in model.bidders] == ["b[0]", "b[1]", "c[0]", "c[1]"]
    assert [str(d) for d in model.bidders[0].distributions] == ["uniform(0, 1)", "uniform(0, 2)"]


def test_set_changes_the_counts_of_bidders_and_items():
    model = load_source(BASE, "a.mech", {"n": 5, "m": 3})
    assert len(model.bidders) == 5 and model.items == 3 and len(model.bidders[4].distributions) == 3


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_the_examples_format_to_themselves(path):
    text = path.read_text(encoding="utf-8")
    assert format_spec(parse(text, str(path))) == text


MISTAKES = [
    ("bidder b[i in n] value ~ uniform(0, 1 + i)", "bidder b[i in n] value ~ uniform(-1, 1)", (4, 26),
     "can be negative"),
    ("bidder b[i in n] value ~ uniform(0, 1 + i)", "bidder b[i in n] value ~ dirichlet(1, 2)", (4, 26),
     "not a distribution usable here"),
    ("bidder b[i in n] value ~ uniform(0, 1 + i)", "bidder b[i in n, j in n] value ~ uniform(0, 1)", (4, 18),
     "ranges over the items"),
    ("bidder b[i in n] value ~ uniform(0, 1 + i)", "bidder b[i in q] value ~ uniform(0, 1)", (4, 10), "'q' is not defined"),
    ("valuation additive over m", "valuation additiv over m", (5, 1), "unknown valuation 'additiv'"),
    ("valuation additive over m", "valuation single over m", (5, 1), "has no items"),
    ("maximize mix(0.25)", "maximize mix(2)", (6, 14), "0 <= w <= 1"),
    ("maximize mix(0.25)", "minimize revenue", (6, 1), "maximizes"),
    ("maximize mix(0.25)", "maximize revenu", (6, 10), "revenue, welfare or mix(w)"),
    ("constraint ir\n", "constraint ir lifetime\n", (7, 12), "is for multi-period contracts"),
    ("constraint ic\n", "", (7, 1), "does not state `constraint ic`"),
    ("constraint ic\n", "constraint ic\ntrain {\n  algorithm = edmsac\n}\n", (10, 3), "unknown algorithm 'edmsac'"),
    ("constraint ic\n", "constraint ic\ntypes theta[k in n] ~ uniform(1, 2)\n", (9, 1), "belongs to contract specs"),
]


@pytest.mark.parametrize(("old", "new", "where", "message"), MISTAKES, ids=[m[3] for m in MISTAKES])
def test_every_mistake_is_positioned(old, new, where, message):
    source = BASE.replace(old, new, 1)
    with pytest.raises(SpecError) as raised:
        load_source(source, "bad.mech")
    found = [(d.span.line, d.span.col, d.message) for d in raised.value.diagnostics]
    assert any((line, col) == where and message in text for line, col, text in found), found


def test_the_train_block_takes_the_auction_settings():
    source = BASE + "train {\n  algorithm = regretnet\n  steps = 100\n  lr = 0.001\n}\n"
    assert load_source(source, "t.mech").train == {"algorithm": "regretnet", "steps": 100, "lr": 0.001}


def test_the_header_does_not_clash_with_a_games_auction_block():
    game = (ROOT / "specs" / "iot_offloading.mech").read_text(encoding="utf-8")
    assert kind_of_source(game, "g.mech").name == "game"
    with pytest.raises(SpecError) as raised:
        load_source(BASE + "auction x {\n  mechanism double_dutch\n}\n", "a.mech")
    assert "'auction' belongs to game specs, not to an auction_design" in raised.value.diagnostics[0].message


def test_every_kind_that_derives_has_a_deriver_in_the_cli():
    from mechdsl.cli.derive_cmd import DERIVERS

    assert set(DERIVERS) == {name for name, kind in KINDS.items() if kind.supports("derive")}


def test_sweep_exits_2_saying_why_it_is_not_available(capsys, tmp_path):
    from mechdsl.cli.main import main

    spec = ROOT / "examples" / "auction_single_item.mech"
    assert main(["sweep", str(spec), "--algos", "random", "--out", str(tmp_path / "s"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "sweep is not available for auction_design specs" in err and "compile" in err.split("support ")[1]
