"""Stage 5 for auction designs: a checked single-item `AuctionDesignModel` -> the batched env
package of its reserve prices, so the RL learners (`mechdsl train --algo amortized|edmsac|...`)
train mechanism parameters as they train contracts.

`compile_auction(model, out_dir)` renders `mechdsl/codegen/templates/auction_*.j2` into
`out_dir` (default `generated/<auction>/`): `env.py` (a `mechdsl.rl.env.BatchedEnv`: action =
one reserve per bidder, reward = the exact expected objective of the second-price auction with
those reserves, `mechdsl.auction_design.reserve_auction`; optimum = Myerson's optimal objective
from `mechdsl derive`), `train.py`, `spec.json`, `spec.mech`, `README.md`, `__init__.py` and the
marker; written by `mechdsl.codegen.generate.write_package` (deterministic text, all or nothing).

Each bidder's F and f are printed from the SymPy laws of `distributions.ValueLaw` by the
codegen's `TensorPrinter` (the value is a Dummy mapped to the local `v`); the auction's name
becomes the env's class name only after `check_identifier`.

Refused (positioned, exit 2): several items (the reserve-price env sells one item; multi-item
mechanisms are learned by `mechdsl train` without a package) and a law without a density
(`choice`, refused by Myerson's derivation, which the optimum needs).
"""

from __future__ import annotations

import json
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
ONE_ITEM = "the reserve-price env (compile) sells one item"
VALUE_NAME = "v"  # the local name of the value in the generated F and f


def _valuation_span(model: AuctionDesignModel):
    """The span of the spec's `valuation` statement (None for a spec given without its text)."""
    if not model.source:
        return None
    found = [s for s in parse(model.source, model.path).statements if isinstance(s, ast.ValuationDecl)]
    return found[0].span if found else None


def require_single_item(model: AuctionDesignModel) -> None:
    """Refuse a multi-item spec at its `valuation` statement (what compile and the RL route need)."""
    if model.single_parameter:
        return
    message = (f"{ONE_ITEM}: {model.name} sells {model.items} items ({model.valuation}), whose mechanisms are "
               "learned without a package")
    hint = (f"`mechdsl train {Path(model.path).name}` learns and certifies a multi-item mechanism without a package "
            f"(rochetnet, affine_maximizer, regretnet, myerson); `--set {model.item_size}=1` gives the one-item auction")
    span = _valuation_span(model)
    if span is None:
        raise CompileError(message, hint=hint)
    raise SpecError(model.path, model.source, [Diagnostic(message, span, hint=hint)])


def _law_context(bidder, law: ValueLaw) -> dict:
    names = {VALUE: VALUE_NAME}
    low, high = law.numeric_support()
    return {"bidder": bidder.name, "text": str(bidder.distributions[0]),
            "cdf": print_expression(law.cdf, names), "pdf": print_expression(law.pdf, names),
            "low": float(low), "high": float(high)}


def _context(model: AuctionDesignModel, source: str) -> dict:
    from mechdsl.auction_design.report import derive

    require_single_item(model)
    try:
        check_identifier(model.name)
    except UnsafeIdentifier as error:
        raise CompileError(f"cannot compile {model.path}: {error}") from None
    derived = derive(model)  # a `choice` law is refused here, at its bidder (no density)
    auction = derived.auction
    laws = [_law_context(b.bidder, b.law) for b in auction.bidders]
    state_layout, state_values = [], []
    for bidder in model.bidders:
        law = bidder.distributions[0]
        for k, arg in enumerate(law.args):
            state_layout.append(f"{bidder.name}.{law.name}[{k}]")
            state_values.append(float(arg))
    action_layout = [f"{bidder.name}.reserve" for bidder in model.bidders]
    weight = float(model.objective.revenue_weight)
    optimum_method = ("closed form" if derived.revenue.exact is not None and (weight == 1 or derived.welfare.exact
                                                                                is not None)
                      else f"numeric, error <= {derived.revenue.error + derived.welfare.error:.1e}")
    spec_json = {
        "auction": model.name, "source": Path(model.path).name, "sizes": dict(sorted(model.sizes.items())),
        "bidders": [{"name": b.name, "value": {"name": b.distributions[0].name,
                                               "args": [float(a) for a in b.distributions[0].args]}}
                    for b in model.bidders],
        "mechanism": "second price with eager per-bidder reserves",
        "objective": str(model.objective), "revenue_weight": weight,
        "reserve_range": [[law["low"], law["high"]] for law in laws],
        "optimum": derived.objective_value, "optimum_method": optimum_method,
        "myerson_reserves": [float(b.reserve) for b in auction.bidders],
        "state_layout": state_layout, "action_layout": action_layout,
        "train": {k: model.train[k] for k in sorted(model.train)},
    }
    return {
        "auction": model.name, "source_name": Path(model.path).name, "source": source,
        "class_name": "".join(p[:1].upper() + p[1:] for p in model.name.split("_") if p) + "ReserveEnv",
        "n_bidders": len(model.bidders), "laws": laws,
        "state_layout": state_layout, "state_values": tuple(state_values), "action_layout": action_layout,
        "reserve_low": tuple(law["low"] for law in laws), "reserve_high": tuple(law["high"] for law in laws),
        "revenue_weight": weight, "objective": str(model.objective),
        "optimum": float(derived.objective_value), "optimum_method": optimum_method,
        "myerson_reserves": tuple(float(b.reserve) for b in auction.bidders), "action_penalty": 0.0,
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
