"""`mechdsl derive SPEC`: the symbolic derivation, step by step (text, LaTeX or JSON)."""

from __future__ import annotations

import json

import sympy as sp

from mechdsl.cli.output import add_set_argument, load_model, parse_overrides
from mechdsl.reduce import Derivation, derive
from mechdsl.reduce.derivation import fewer_ops_than


def register(subparsers) -> None:
    parser = subparsers.add_parser("derive", help="reduce IR/IC/IIC symbolically: single-crossing verdict, binding constraints, least payments, "
                                   "residual constraints, timed steps")
    parser.add_argument("spec", help="path of a .mech file")
    add_set_argument(parser)
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--latex", action="store_true", help="Markdown with LaTeX formulas")
    output.add_argument("--json", action="store_true", help="JSON; formulas as SymPy srepr strings")
    parser.add_argument("--verbose", "-v", action="store_true", help="list the reduction steps and their timings")
    parser.set_defaults(func=run)


SIMPLIFIED_OPS = 40
"""Largest closed form (in `sp.count_ops`) that `derive` simplifies for display. `sp.simplify`
of the chained least payments y_i = phi(theta_i, x_i, u(theta_i, x_{i-1}, y_{i-1})) grows
exponentially with the chain's depth (0.2 s at 28 operations, 8 s at 76, 140 s at 100 for
static_contract), so larger payments are shown as their recursive rule; the bundled specs'
closed forms have at most 20 operations."""


def payment_display(derivation: Derivation) -> list[tuple[sp.Symbol, sp.Expr, str]]:
    """(payment, formula, form): closed form where it is small, the recursive rule otherwise."""
    closed = derivation.closed_form()
    shown = []
    for symbol, rule in derivation.rules.items():
        expr = closed[symbol]
        if fewer_ops_than(expr, SIMPLIFIED_OPS + 1) and not expr.has(sp.Max):
            shown.append((symbol, sp.simplify(expr), "closed form"))
        else:
            shown.append((symbol, rule, "recursive rule (earlier payments substituted in order)"))
    return shown


def _srepr_or_none(expr: sp.Expr) -> str | None:
    """`sp.srepr(expr)`, or None where the expression nests too deep for it (the closed form of
    the K-th chained payment nests K levels: K = 1000 exceeds Python's recursion limit). The
    recursive `rule` beside it always prints and gives the same payment."""
    try:
        return sp.srepr(expr)
    except RecursionError:
        return None


def to_json(derivation: Derivation) -> dict:
    closed = derivation.closed_form()
    return {
        "mechanism": derivation.model.name,
        "single_crossing": {"holds": derivation.single_crossing.holds,
                            "method": derivation.single_crossing.method,
                            "message": derivation.single_crossing.message},
        "payments": {s.name: {"rule": sp.srepr(r), "closed_form": _srepr_or_none(closed[s]), "text": str(r)}
                     for s, r in derivation.rules.items()},
        "inverted_numerically": [s.name for s in derivation.numeric_payments],
        "binding": list(derivation.binding),
        "type_orientation": None if derivation.type_orientation is None else {
            "rises": derivation.type_orientation.rises, "method": derivation.type_orientation.method,
            "binding_ir": derivation.type_orientation.binding_ir, "message": derivation.type_orientation.message},
        "screening_order": list(derivation.screening_order),
        "allocations_rise_with_type": derivation.allocation_rises,
        "monotone": [{"name": c.name, "g": sp.srepr(c.g)} for c in derivation.monotone],
        "residual": [{"name": c.name, "g": sp.srepr(c.g)} for c in derivation.residual],
        "reduced_constraints": len(derivation.reduced),
        "payment_ranges": {s.name: {"slack": r.slack, "floor": sp.srepr(r.floor),
                                    "ceiling": None if r.ceiling is None else sp.srepr(r.ceiling),
                                    "text": r.describe()} for s, r in derivation.payment_ranges.items()},
        "steps": [{"name": s.name, "seconds": s.seconds, "assumed": s.assumed, "proved": s.proved,
                   "residual": s.residual} for s in derivation.steps],
    }


def to_text(derivation: Derivation, verbose: bool, latex: bool) -> str:
    m = derivation.model
    fmt = (lambda e: f"${sp.latex(e)}$") if latex else str
    bullet = "- " if latex else "  "
    lines = [f"# Derivation: {m.name}" if latex else f"derivation of {m.name} (K = {m.K}, {len(m.periods)} period(s))", ""]
    lines += [("## Single crossing" if latex else "single crossing:"), bullet + derivation.single_crossing.message, ""]
    if verbose or latex:
        lines.append("## Reduction steps" if latex else "steps:")
        for s in derivation.steps:
            lines.append(f"{bullet}{s.name} ({s.seconds * 1000:.0f} ms)")
            for label, items in (("assumed", s.assumed), ("proved", s.proved), ("residual", s.residual)):
                for item in items:
                    lines.append(f"{'  ' if latex else '    '}- {label}: {item}")
        lines.append("")
    lines.append("## Binding constraints" if latex else "binding:")
    lines += [bullet + b for b in derivation.binding]
    if derivation.type_orientation is not None:
        o = derivation.type_orientation
        lines.append(f"{bullet}why the {o.binding_ir} type's IR: {o.message}")
    if derivation.monotone:
        direction = "non-decreasing" if derivation.allocation_rises else "non-increasing"
        lines.append(f"{bullet}monotonicity: allocations {direction} in the type are constraints of the reduced "
                     "problem, not an assumption; where virtual values are not monotone they bind and the optimum "
                     "pools neighbouring types (ironing; `mechdsl solve` lists the pooled types)")
    lines.append("")
    rule_name = derivation.payment_rule_name
    lines.append(f"## {rule_name.capitalize()}" if latex else f"payments ({rule_name} given allocations):")
    for symbol, expr, form in payment_display(derivation):
        lines.append(f"{bullet}{fmt(symbol)} = {fmt(expr)}" + (f"  ({form})" if form != "closed form" else ""))
    if derivation.numeric_payments:
        lines.append(f"{bullet}inverted numerically: {', '.join(map(str, derivation.numeric_payments))} (SymPy has no "
                     "closed-form inverse of the utility in the payment; each is the root of u = target on the payment's "
                     "bounds, brentq in `solve`, bisection and one Newton step in the generated env)")
    lines.append("")
    lines.append("## Residual constraints" if latex else "residual constraints (kept in the reduced problem):")
    lines += [bullet + (f"{c.name}: ${sp.latex(c.g)} \\ge 0$" if latex else f"{c.name}")
              for c in derivation.residual] or [bullet + "none"]
    lines.append("")
    lines.append(f"{bullet}reduced problem: {len(derivation.reduced)} constraints in allocations and payments "
                 f"plus {len(derivation.monotone)} monotonicity constraints")
    lines += ["", "## Payment slacks of the generated env" if latex else "payment slacks (action entries of the generated env):"]
    lines += [bullet + r.describe() for r in derivation.payment_ranges.values()]
    return "\n".join(lines)


def run_contract(args) -> int:
    model = load_model(args.spec, parse_overrides(args.set))
    derivation = derive(model)  # a ReductionRefused is positioned at the utility statement by the CLI
    if args.json:
        print(json.dumps(to_json(derivation), indent=2))
    else:
        print(to_text(derivation, args.verbose, args.latex))
    return 0


def run_auction_design(args) -> int:
    """Myerson's optimal auction of a single-item auction_design spec (`mechdsl.auction_design`)."""
    from mechdsl.auction_design import report
    from mechdsl.cli.output import UsageError

    if args.latex:
        raise UsageError("derive --latex is for contract specs", hint="an auction_design spec derives as text or --json")
    derived = report.derive(load_model(args.spec, parse_overrides(args.set)))
    print(json.dumps(report.derive_json(derived), indent=2) if args.json else report.derive_text(derived))
    return 0


# The derivation of each kind that supports `derive` (`mechdsl.kinds`; a test keeps them in step).
DERIVERS = {"contract": run_contract, "auction_design": run_auction_design}


def run(args) -> int:
    from mechdsl.cli.output import read_spec
    from mechdsl.kinds import kind_of_source

    return DERIVERS[kind_of_source(read_spec(args.spec), args.spec).name](args)
