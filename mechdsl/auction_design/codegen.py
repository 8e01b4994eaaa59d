"""Stage 5 for auction designs: a checked `AuctionDesignModel` -> the batched env package of
its reserve prices, so the RL learners (`mechdsl train --algo amortized|edmsac|...`) train
mechanism parameters as they train contracts.

`compile_auction(model, out_dir)` renders `mechdsl/codegen/templates/auction_*.j2` into
`out_dir` (default `generated/<auction>/`): `env.py` (a `mechdsl.rl.env.BatchedEnv`: action =
one reserve per bidder and item, reward = the exact expected objective of selling each item by
a second-price auction with those reserves, `mechdsl.auction_design.reserve_auction`; optimum =
the sum over items of Myerson's optimal objective from `mechdsl derive`, run on each item's
laws), `train.py`, `spec.json`, `spec.mech`, `README.md`, `__init__.py` and the marker; written
by `mechdsl.codegen.generate.write_package` (deterministic text, all or nothing).

One item: Myerson's optimum, reached by the reserves r_i (phi_i(r_i) = 0) for i.i.d. regular
bidders. Several items with additive values: the items are sold separately, the family's best
is item-wise Myerson (`itemwise_optimum`), and where the library has the setting's closed-form
or published revenue (`learned.references`: 0.5492 for one bidder and two U[0, 1] items, about
0.878 for two and two) the package states it beside the optimum, which is below it.

Each (bidder, item) F and f are printed from the SymPy laws of `distributions.ValueLaw` by the
codegen's `TensorPrinter` (the value is a Dummy mapped to the local `v`); the auction's name
becomes the env's class name only after `check_identifier`.

Refused (positioned, exit 2): unit-demand values, at the `valuation` statement (a bidder who
wants one item links the items' auctions; its mechanisms are learned by `mechdsl train` without
a package), and a law without a density (`choice`, refused by Myerson's derivation, which the
optimum needs).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from mechdsl.auction_design.distributions import VALUE, ValueLaw
from mechdsl.auction_design.model import AuctionDesignModel
from mechdsl.codegen.generate import _environment, write_package
from mechdsl.codegen.printer import UnsafeIdentifier, check_identifier, print_expression
from mechdsl.codegen.templating import render_package
from mechdsl.errors import CompileError
from mechdsl.lang import ast, parse
from mechdsl.lang.diagnostics import Diagnostic, SpecError

FILES = {  # output file -> template
    "__init__.py": "auction_init.py.j2",
    "env.py": "auction_env.py.j2",
    "train.py": "auction_train.py.j2",
    "README.md": "auction_README.md.j2",
}
COMPILED = ("the reserve-price env (compile) sells one item, or several items with additive values each by its own "
            "second-price auction")
VALUE_NAME = "v"  # the local name of the value in the generated F and f


def _valuation_span(model: AuctionDesignModel):
    """The span of the spec's `valuation` statement (None for a spec given without its text)."""
    if not model.source:
        return None
    found = [s for s in parse(model.source, model.path).statements if isinstance(s, ast.ValuationDecl)]
    return found[0].span if found else None


def require_compilable(model: AuctionDesignModel) -> None:
    """Refuse a unit-demand spec at its `valuation` statement (what compile and the RL route need)."""
    if model.items == 1 or model.valuation == "additive":
        return
    message = (f"{COMPILED}; {model.name} sells {model.items} items with {model.valuation} values (a bidder wants "
               "at most one), which link the items' auctions")
    hint = (f"`mechdsl train {Path(model.path).name}` learns and certifies a {model.valuation} mechanism without a "
            f"package (rochetnet, affine_maximizer, regretnet); `valuation additive over {model.item_size}` or "
            f"`--set {model.item_size}=1` compiles")
    span = _valuation_span(model)
    if span is None:
        raise CompileError(message, hint=hint)
    raise SpecError(model.path, model.source, [Diagnostic(message, span, hint=hint)])


def item_model(model: AuctionDesignModel, item: int) -> AuctionDesignModel:
    """The single-item auction of item `item`: every bidder with its value law for that item."""
    if model.items == 1:
        return model
    bidders = tuple(replace(b, distributions=(b.distributions[item],)) for b in model.bidders)
    return replace(model, bidders=bidders, items=1, item_size=None, valuation="single")


def itemwise_optimum(model: AuctionDesignModel) -> list:
    """`report.derive` (Myerson's auction, symbolic) of each item's single-item auction, one
    derivation per distinct set of the items' laws: the best of the items-sold-separately
    family is J* = sum_j J*_j, each item's optimum (exact for i.i.d. regular bidders)."""
    from mechdsl.auction_design.report import derive

    derived: dict = {}
    out = []
    for item in range(model.items):
        key = tuple(b.distributions[item] for b in model.bidders)
        if key not in derived:
            derived[key] = derive(item_model(model, item))  # a `choice` law is refused here, at its bidder
        out.append(derived[key])
    return out


def reference_of(model: AuctionDesignModel):
    """The setting's closed-form or published revenue (`learned.references.Reference`), or None
    where the library has none (a law other than uniform, an objective other than revenue)."""
    from mechdsl.auction_design.learned.references import reference_revenue
    from mechdsl.auction_design.training import setting_of
    from mechdsl.errors import MechdslError

    try:
        return reference_revenue(setting_of(model))
    except MechdslError:
        return None


def _law_context(bidder, item: int, items: int, law: ValueLaw) -> dict:
    names = {VALUE: VALUE_NAME}
    low, high = law.numeric_support()
    return {"bidder": bidder.name if items == 1 else f"{bidder.name}, item {item}",
            "text": str(bidder.distributions[item]),
            "cdf": print_expression(law.cdf, names), "pdf": print_expression(law.pdf, names),
            "low": float(low), "high": float(high)}


def _context(model: AuctionDesignModel, source: str) -> dict:
    require_compilable(model)
    try:
        check_identifier(model.name)
    except UnsafeIdentifier as error:
        raise CompileError(f"cannot compile {model.path}: {error}") from None
    items = model.items
    per_item = itemwise_optimum(model)
    laws, myerson, state_layout, state_values, action_layout = [], [], [], [], []
    for i, bidder in enumerate(model.bidders):   # bidder-major: entry i * items + j is (bidder i, item j)
        for j in range(items):
            laws.append(_law_context(bidder, j, items, per_item[j].auction.bidders[i].law))
            myerson.append(float(per_item[j].auction.bidders[i].reserve))
            law = bidder.distributions[j]
            at = bidder.name if items == 1 else f"{bidder.name}.item[{j}]"
            for k, arg in enumerate(law.args):
                state_layout.append(f"{at}.{law.name}[{k}]")
                state_values.append(float(arg))
            action_layout.append(f"{bidder.name}.reserve" if items == 1 else f"{bidder.name}.reserve[{j}]")
    weight = float(model.objective.revenue_weight)
    closed = all(d.revenue.exact is not None and (weight == 1 or d.welfare.exact is not None) for d in per_item)
    error = sum(d.revenue.error + d.welfare.error for d in per_item)
    optimum_method = "closed form" if closed else f"numeric, error <= {error:.1e}"
    optimum = float(sum(d.objective_value for d in per_item))
    reference = reference_of(model)
    reference_json = None if reference is None else {"value": reference.value, "source": reference.source,
                                                     "optimal": reference.optimal}
    mechanism = ("second price with eager per-bidder reserves" if items == 1 else
                 "each item sold separately by a second price auction with eager per-bidder reserves")
    spec_json = {
        "auction": model.name, "source": Path(model.path).name, "sizes": dict(sorted(model.sizes.items())),
        "bidders": [{"name": b.name, "value": {"name": b.distributions[0].name,
                                               "args": [float(a) for a in b.distributions[0].args]}}
                    if items == 1 else
                    {"name": b.name, "values": [{"name": d.name, "args": [float(a) for a in d.args]}
                                                for d in b.distributions]}
                    for b in model.bidders],
        "items": items, "valuation": model.valuation, "mechanism": mechanism,
        "objective": str(model.objective), "revenue_weight": weight,
        "reserve_range": [[law["low"], law["high"]] for law in laws],
        "optimum": optimum, "optimum_method": optimum_method,
        "myerson_reserves": myerson, "reference": reference_json,
        "state_layout": state_layout, "action_layout": action_layout,
        "train": {k: model.train[k] for k in sorted(model.train)},
    }
    return {
        "auction": model.name, "source_name": Path(model.path).name, "source": source,
        "class_name": "".join(p[:1].upper() + p[1:] for p in model.name.split("_") if p) + "ReserveEnv",
        "n_bidders": len(model.bidders), "n_items": items, "laws": laws,
        "state_layout": state_layout, "state_values": tuple(state_values), "action_layout": action_layout,
        "reserve_low": tuple(law["low"] for law in laws), "reserve_high": tuple(law["high"] for law in laws),
        "revenue_weight": weight, "objective": str(model.objective),
        "optimum": optimum, "optimum_method": optimum_method,
        "myerson_reserves": tuple(myerson), "action_penalty": 0.0,
        "reference": None if reference is None else reference.value,
        "reference_source": None if reference is None else reference.source,
        "reference_optimal": None if reference is None else reference.optimal,
        "spec_json": json.dumps(spec_json, indent=2),
    }


def render_auction(model: AuctionDesignModel, source: str | None = None) -> dict[str, str]:
    """file name -> text of every generated file (no I/O besides reading templates)."""
    source = source if source is not None else model.source
    context = _context(model, source)
    return render_package(_environment(), FILES, context,
                          {"spec.json": context["spec_json"] + "\n", "spec.mech": source})


def compile_auction(model: AuctionDesignModel, out_dir: str | Path | None = None, force: bool = False,
                    source: str | None = None) -> list[Path]:
    """Render and write the package (`mechdsl.codegen.generate.write_package` rules)."""
    out = Path(out_dir) if out_dir is not None else Path("generated") / model.name
    return write_package(out, lambda: render_auction(model, source), force)
