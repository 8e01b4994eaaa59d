"""`mechdsl run SPEC`: compile + train the spec's algorithm + evaluate + report, in one go."""

from __future__ import annotations

from mechdsl.cli.train_cmd import add_training_arguments, print_summary, start


def register(subparsers) -> None:
    parser = subparsers.add_parser("run", help="compile, train the spec's algorithm, evaluate and report")
    add_training_arguments(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from mechdsl.rl.runs import train_run

    config, run_dir = start(args)
    print(f"compiling {args.spec} -> {run_dir / 'package'}/")
    print(f"training {config.algo} for {config.steps} steps on {config.device} (seed {config.seed})")
    evaluation = train_run(config, run_dir, log="plain" if args.quiet else "rich", eval_states=args.eval_states)
    print_summary(run_dir, evaluation)
    return 0
