"""`mechdsl solve SPEC`: draw one state (or fix it) and print the exact optimal contract."""

from __future__ import annotations

import json

import numpy as np

from mechdsl.cli.arguments import seed
from mechdsl.cli.output import SET_HELP, UsageError, add_set_argument, load_model, parse_overrides, read_spec
from mechdsl.model_json import state_json


def register(subparsers) -> None:
    parser = subparsers.add_parser("solve", help="draw one state and print the exact optimal contract, its value and the "
                                   "certificate (worst slack over every original constraint)")
    parser.add_argument("spec", help="path of a .mech file")
    parser.add_argument("--seed", type=seed, metavar="S", default=0, help="seed of the state draw, 0 to 2^32 - 1 (default 0)")
    add_set_argument(parser, help=SET_HELP + "; here also pins a random parameter or state entry (sigma=0.7)")
    parser.add_argument("--json", action="store_true", help="print JSON: state, contract, objective, solver, certificate")
    parser.set_defaults(func=run)


def split_overrides(model_path: str, overrides: dict[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """--set values for sizes/constants (re-check the spec) vs. pinned state entries."""
    from mechdsl.lang import parse

    spec = parse(read_spec(model_path), model_path)
    structural = {s.name for s in spec.statements if type(s).__name__ in ("SizeDecl", "ParamConst")}
    return ({k: v for k, v in overrides.items() if k in structural},
            {k: v for k, v in overrides.items() if k not in structural})


def run_game(args) -> int:
    """`mechdsl solve` of a game spec (`game NAME`): Stackelberg equilibrium, tier-2 auction, certificate."""
    from mechdsl.games.solve import solve_game

    model = load_model(args.spec, parse_overrides(args.set))
    solution = solve_game(model, args.seed)
    report = solution.as_json()
    if args.json:
        print(json.dumps(report, indent=2))
        solution.require_certified()  # printed for inspection, then exit 2 when no equilibrium is certified
        return 0
    solver = report["solver"]
    print(f"Stackelberg equilibrium of {model.name} (seed {args.seed}; followers: {solver['followers']}; "
          f"leaders: {solver['leaders']})")
    for name, value in report["equilibrium"].items():
        print(f"  {name:<6} ({report['roles'][name]}) = {np.array2string(np.asarray(value), precision=4)}")
    print("  utilities: " + ", ".join(f"{k} {v:.4g}" for k, v in report["utilities"].items()))
    a = report["auction"]
    if a is not None:
        price = a["buyer_price"]
        print(f"  tier 2 ({a['mechanism']}): buyers {a['participating_buyers']} sellers {a['participating_sellers']}, "
              f"{a['trades']} trade(s)" + (f" at {price:.4g}" if price is not None else "")
              + f", welfare {a['welfare']:.4g}")
    c = report["certificate"]
    print(f"  certificate: largest relative deviation gain {c['max_relative_gain']:.3g} ({c['where']}), "
          f"target {c['target']:g}: {'ok' if c['within_target'] else 'NOT within target'}")
    solution.require_certified()
    return 0


def run_contract(args) -> int:
    """`mechdsl solve` of a contract spec: one state (drawn or pinned), its exact optimum and certificate."""
    from mechdsl.solve.exact import solve  # cvxpy is imported only when solving
    from mechdsl.solve.pooling import pooled_types
    from mechdsl.solve.state import sample_states, state_at

    overrides = parse_overrides(args.set)
    structural, pinned = split_overrides(args.spec, overrides)
    model = load_model(args.spec, structural)
    known = {*model.randoms, *(s.name for s in model.state_symbols())}
    unknown = sorted(set(pinned) - known)
    if unknown:
        raise UsageError(f"--set {unknown[0]}: not a parameter, size or state entry of {args.spec}")
    values = sample_states(model, 1, np.random.default_rng(args.seed), fixed=pinned)
    state = state_at(values, 0)
    solution = solve(model, state)
    pooled = pooled_types(model, solution.contract)
    if args.json:
        print(json.dumps({"state": state_json(model, state), "contract": solution.arrays(model),
                          "objective": solution.objective, "solver": solution.solver,
                          "certificate": solution.certificate.as_dict(),
                          "pooled": [group.as_dict() for group in pooled]}, indent=2))
        return 0
    print(f"exact optimum of {model.name} (seed {args.seed}, solver {solution.solver})")
    for name, value in solution.arrays(model).items():
        print(f"  {name:<6} = {np.array2string(np.asarray(value), precision=4)}")
    print(f"  objective = {solution.objective:.6g}")
    for group in pooled[:MOST_POOLED_SHOWN]:
        print(f"  pooled: {group.describe()}")
    if len(pooled) > MOST_POOLED_SHOWN:
        print(f"  pooled: {len(pooled) - MOST_POOLED_SHOWN} more groups (--json lists them all)")
    c = solution.certificate
    print(f"  certificate: worst slack {c.worst:.3g} over {c.constraints} original constraints ({c.where})")
    return 0


def run_auction_design(args) -> int:
    """`mechdsl solve` of an auction_design spec: Myerson's auction run on sampled value
    profiles (seeded), with its IR/IC certificate (`mechdsl.auction_design.certificate`)."""
    from mechdsl.auction_design import report

    overrides = parse_overrides(args.set)
    structural, pinned = split_overrides(args.spec, overrides)
    if pinned:
        raise UsageError(f"--set {sorted(pinned)[0]}: not a size or constant of {args.spec}",
                         hint="solve of an auction_design spec draws every value profile; --set changes sizes "
                              "and constants")
    derived, certificate = report.solve(load_model(args.spec, structural), args.seed)
    print(json.dumps(report.solve_json(derived, certificate, args.seed), indent=2) if args.json
          else report.solve_text(derived, certificate, args.seed))
    return 0


MOST_POOLED_SHOWN = 6  # pooled groups printed by the text output (a dynamic menu may have K^(P-1) rows of them)


# The solver of each kind that supports `solve` (`mechdsl.kinds`; a test keeps them in step).
SOLVERS = {"contract": run_contract, "game": run_game, "auction_design": run_auction_design}


def run(args) -> int:
    from mechdsl.kinds import kind_of_source

    return SOLVERS[kind_of_source(read_spec(args.spec), args.spec).name](args)
