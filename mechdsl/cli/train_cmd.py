"""`mechdsl train SPEC --algo NAME`: compile, train, evaluate against the exact optimum, report."""

from __future__ import annotations

from pathlib import Path

from mechdsl.cli.output import load_model, parse_overrides, read_spec

ALGORITHM_HELP = "edmsac, dmsac, dmddpg, cgdm, amortized, sac, td3, ddpg, ppo, random (default: the spec's)"


def add_training_arguments(parser) -> None:
    parser.add_argument("spec", help="path of a .mech file")
    parser.add_argument("--algo", default=None, help=ALGORITHM_HELP)
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the spec's train block)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default cpu)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: the spec's, else 0)")
    parser.add_argument("--preset", choices=("default", "paper"), default=None,
                        help="hyperparameter preset: ours (default) or the papers'")
    parser.add_argument("--out", metavar="RUN_DIR", default=None,
                        help="run folder (default runs/<mechanism>-<algo>-seed<seed>)")
    parser.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a size or constant")
    parser.add_argument("--eval-states", type=int, default=1000, help="held-out states of the final evaluation")
    parser.add_argument("--quiet", action="store_true", help="no progress bar; one line per evaluation")


def register(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train a policy on a spec and evaluate it against the exact optimum")
    add_training_arguments(parser)
    parser.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR from its last checkpoint")
    parser.set_defaults(func=run)


def check_device(device: str) -> None:
    import torch

    from mechdsl.cli.output import UsageError

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"--device {device}: CUDA is not available on this machine", hint="use --device cpu")


def start(args):
    """Shared by `train` and `run`: the run configuration and its folder."""
    from mechdsl.rl.runs import configure, default_run_dir

    check_device(args.device)
    overrides = parse_overrides(args.set)
    source = read_spec(args.spec)
    model = load_model(args.spec, overrides)
    config = configure(args.spec, source, model, algo=args.algo, steps=args.steps, seed=args.seed,
                       device=args.device, preset=args.preset, overrides=overrides)
    run_dir = Path(args.out) if args.out else default_run_dir(config, model.name)
    return config, run_dir


def print_summary(run_dir: Path, evaluation: dict) -> None:
    ratio = evaluation.get("optimality_ratio")
    print(f"run folder: {run_dir}/  (report.md, plots, metrics.csv, checkpoint.pt)")
    print(f"  held-out states      {evaluation['n_states']}")
    print(f"  mean utility         {evaluation['mean_utility']:.6g}")
    if ratio is not None:
        print(f"  exact optimum (mean) {evaluation['mean_optimum']:.6g}")
        print(f"  optimality ratio     {ratio:.4f}")
    print(f"  violation rate       {evaluation['violation_rate']:.4f}")
    if evaluation.get("solver_speedup"):
        print(f"  speed vs exact solve {evaluation['solver_speedup']:.0f}x")


def run(args) -> int:
    from mechdsl.rl.runs import train_run

    config, run_dir = start(args)
    evaluation = train_run(config, run_dir, resume=args.resume, log="plain" if args.quiet else "rich",
                           eval_states=args.eval_states)
    print_summary(run_dir, evaluation)
    return 0
