"""`mechdsl run SPEC`: compile + train the spec's algorithm + evaluate + report, in one go,
with the wall-clock time of each stage printed and written at the end of report.md."""

from __future__ import annotations

from mechdsl.cli.train_cmd import add_training_arguments, print_summary, start


def register(subparsers) -> None:
    parser = subparsers.add_parser("run", help="compile + train the spec's algorithm + evaluate + report, with the time of "
                                        "each stage",
                                   description="The run folder rules are those of `mechdsl train`; the time of "
                                               "each stage is printed and written at the end of report.md.")
    add_training_arguments(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from mechdsl.kinds import kind_of_source
    from mechdsl.kinds.runs import train_run
    from mechdsl.rl.stages import StageClock

    config, folder = start(args)
    kind = kind_of_source(config.source, config.spec)
    uses_package = getattr(kind.pipeline(), "uses_package", lambda _config: True)  # auction designs: RL runs only
    if kind.supports("compile") and uses_package(config):
        print(f"compiling {args.spec} -> {folder.path / 'package'}/")
    print(f"training {config.algo} for {config.steps} steps on {config.device} (seed {config.seed})", flush=True)
    stages = StageClock()
    evaluation = train_run(config, folder.path, resume=folder.resume, log="plain" if args.quiet else "rich",
                           eval_states=args.eval_states, stages=stages)
    print_summary(folder.path, evaluation)
    print("time per stage:")
    print("\n".join(stages.lines()))
    return 0
