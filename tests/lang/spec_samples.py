"""Specs the language tests run on, and what "the same model" means when comparing two."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = sorted([*ROOT.glob("specs/*.mech"), *ROOT.glob("examples/*.mech")])
TINY = Path(__file__).with_name("tiny_contract.mech")  # the valid base of tests/lang/invalid/
INVALID = sorted(Path(__file__).with_name("invalid").glob("*.mech"))


def meaning(model) -> tuple:
    """Everything a layout change must not alter: the summary, the objective, the utility,
    every derived expression and every constraint instance."""
    if hasattr(model, "meaning"):
        return model.meaning()
    return (
        model.summary(),
        str(model.objective.expr),
        str(model.utility.expr),
        [(name, str(d.expr)) for name, d in model.derived.items()],
        [(c.kind, c.scope, c.names, c.text, [(str(g), op) for g, op in c.instances]) for c in model.constraints],
        [(p.number, str(p.discount)) for p in model.periods],
        {name: (v.shape, v.lower, v.upper) for name, v in model.variables.items()},
        model.train,
    )
