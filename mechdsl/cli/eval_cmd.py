"""`mechdsl eval RUN_DIR`: evaluate a trained run on held-out states against the exact optimum."""

from __future__ import annotations

import json
from pathlib import Path

from mechdsl.cli.arguments import count, seed


def register(subparsers) -> None:
    parser = subparsers.add_parser("eval", help="re-evaluate a run: per-state contracts, utilities, optimum, optimality ratio")
    parser.add_argument("run_dir", help="a folder written by `mechdsl train` or `mechdsl run`")
    parser.add_argument("--states", type=count("the number of held-out states", "--states 1000"), metavar="N",
                        default=1000, help="held-out states, at least 1 (default 1000)")
    parser.add_argument("--seed", type=seed, metavar="S", default=None,
                        help="seed of the held-out states, 0 to 2^32 - 1 (default: fixed)")
    parser.add_argument("--json", action="store_true",
                        help='JSON with "states", "contracts" (as `mechdsl solve --json`), "objective", '
                             '"optimum" (per state) and "optimality_ratio"')
    parser.set_defaults(func=run)


def run(args) -> int:
    from mechdsl.kinds.runs import evaluate_run
    from mechdsl.rl.evaluate import HELDOUT_SEED
    from mechdsl.rl.runs import RunConfig

    run_dir = Path(args.run_dir)
    config = RunConfig.load(run_dir)
    report = evaluate_run(config, run_dir, args.states, HELDOUT_SEED if args.seed is None else args.seed)
    if args.json:
        print(json.dumps(report))
        return 0
    if "regret_adjusted_revenue" in report:  # an auction mechanism: its certificate
        from mechdsl.auction_design.pipeline import certificate_lines

        print(f"{config.algo} on {config.spec} ({args.states} fresh value profiles)")
        print("\n".join(certificate_lines(report)))
        return 0
    objective = report["objective"]
    print(f"{config.algo} on {config.spec} ({args.states} held-out states)")
    print(f"  mean utility     {sum(objective) / len(objective):.6g}")
    if report.get("optimum") is not None:
        optimum = [value for value in report["optimum"] if value is not None]
        if optimum:
            print(f"  mean optimum     {sum(optimum) / len(optimum):.6g}")
        if report.get("optimality_ratio") is not None:
            print(f"  optimality ratio {report['optimality_ratio']:.4f}")
        if report.get("reference_failures"):
            print(f"  states without an exact reference (left out of the ratio) {report['reference_failures']}")
    print(f"  violation rate   {report['violation_rate']:.4f}")
    return 0
