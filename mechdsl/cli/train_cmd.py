"""`mechdsl train SPEC --algo NAME`: compile, train, evaluate against the exact optimum, report."""

from __future__ import annotations

from pathlib import Path

from mechdsl.cli.arguments import check_writable_folder, count, seed
from mechdsl.cli.output import UsageError, add_set_argument, load_model, parse_overrides, read_spec

ALGORITHM_HELP = "edmsac, dmsac, dmddpg, cgdm, amortized, sac, td3, ddpg, ppo, random (default: the spec's)"


def add_training_arguments(parser) -> None:
    parser.add_argument("spec", help="path of a .mech file")
    parser.add_argument("--algo", metavar="NAME", default=None, help=ALGORITHM_HELP)
    parser.add_argument("--steps", type=count("the number of training steps", "--steps 2000"), metavar="N", default=None,
                        help="training steps, at least 1 (default: the spec's train block)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default cpu)")
    parser.add_argument("--threads", type=count("the number of CPU threads", "--threads 4"), metavar="N", default=1,
                        help="CPU threads torch may use within one operation (default 1: the env's many small "
                             "operations run fastest on one; on a busy 2-core machine two threads made a K = 5 "
                             "EDMSAC step of two_period 10x slower)")
    parser.add_argument("--seed", type=seed, metavar="S", default=None,
                        help="random seed, 0 to 2^32 - 1 (default: the spec's, else 0)")
    parser.add_argument("--preset", choices=("default", "paper"), default=None,
                        help="hyperparameter preset: ours (default) or the papers'")
    parser.add_argument("--out", metavar="RUN_DIR", default=None,
                        help="run folder (default runs/<mechanism>-<algo>-seed<seed>)")
    add_set_argument(parser)
    parser.add_argument("--eval-states", type=count("the number of held-out states", "--eval-states 1000"), metavar="N", default=1000,
                        help="held-out states of the final evaluation (the learning curve scores at most N of them, at most 256)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar; one line per evaluation")
    folder = parser.add_mutually_exclusive_group()
    folder.add_argument("--resume", action="store_true",
                        help="continue the run in RUN_DIR from its last checkpoint (without --out: the newest "
                             "default run folder)")
    folder.add_argument("--overwrite", action="store_true",
                        help="start anew in an existing RUN_DIR; the old folder is moved to RUN_DIR.old-N first")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train (" + ALGORITHM_HELP.split(" (")[0] + "), evaluate against the exact optimum, report; "
                      "never replaces a run folder",
        description="An existing run folder is never replaced: without --out a new run gets a fresh folder "
                    "(runs/<mechanism>-<algo>-seed<seed>, then -2, -3, ...); --out into a folder that holds "
                    "files needs --resume or --overwrite.")
    add_training_arguments(parser)
    parser.set_defaults(func=run)


def check_device(device: str) -> None:
    """A device torch can place tensors on here (`mechdsl.rl.runs.device_problem`), else UsageError."""
    from mechdsl.rl.runs import device_problem

    problem = device_problem(device)
    if problem is not None:
        raise UsageError(f"--device {device}: {problem}", hint="use --device cpu, or cuda / cuda:N on a machine with GPUs")


def start(args):
    """Shared by `train` and `run`: the run configuration and its folder (`RunFolder`), the
    old folder moved aside for --overwrite; refusals are user errors (exit 2)."""
    from mechdsl.kinds.runs import configure_run
    from mechdsl.rl.runs import RunFolderError, check_resumable, default_run_dir, plan_run_folder

    import torch

    check_device(args.device)
    torch.set_num_threads(args.threads)
    overrides = parse_overrides(args.set)
    source = read_spec(args.spec)
    model = load_model(args.spec, overrides)
    config = configure_run(args.spec, source, model, algo=args.algo, steps=args.steps, seed=args.seed,
                           device=args.device, preset=args.preset, overrides=overrides)
    try:
        folder = plan_run_folder(Path(args.out) if args.out else None, default_run_dir(config, model.name),
                                 resume=args.resume, overwrite=args.overwrite)
        check_resumable(config, folder)
    except RunFolderError as error:
        raise UsageError(str(error), hint=error.hint) from None
    check_writable_folder(folder.path, "--out" if args.out else "run folder")
    folder.prepare()
    if folder.move_aside_to is not None:
        print(f"moved the old run folder {folder.path} to {folder.move_aside_to}")
    return config, folder


CRITIC_WORDS = {"exact": "the env's exact reward, back-propagated through the action (critic = exact)",
                "learned": "a learned critic Q(S, A) (critic = learned)"}
PAYMENT_WORDS = {"action": "from the action (allocations and payment slacks; payments = action)",
                 "optimal": "the best feasible payments for the action's allocations, an LP per state (payments = optimal)"}


def _not_a_result(evaluation: dict) -> str:
    """The warning beside a ratio earned partly by contracts that violate the spec's constraints."""
    rate = evaluation.get("violation_rate") or 0.0
    return (f"  NOT a result: {rate:.1%} of the deployed contracts violate a constraint of the spec, and the "
            "optimum is over feasible contracts") if rate > 0 else ""


def print_summary(run_dir: Path, evaluation: dict) -> None:
    if "regret_adjusted_revenue" in evaluation:  # an auction mechanism's certificate
        from mechdsl.auction_design.pipeline import certificate_lines

        print(f"run folder: {run_dir}/  (report.md, evaluation.json, mechanism.pt)")
        print("\n".join(certificate_lines(evaluation)))
        return
    ratio = evaluation.get("optimality_ratio")
    print(f"run folder: {run_dir}/  (report.md, plots, metrics.csv, checkpoint.pt)")
    print(f"  held-out states      {evaluation['n_states']}")
    if evaluation.get("critic"):
        print(f"  actor's objective    {CRITIC_WORDS[evaluation['critic']]}")
    if evaluation.get("payments"):
        print(f"  payments             {PAYMENT_WORDS[evaluation['payments']]}")
    print(f"  mean utility         {evaluation['mean_utility']:.6g}")
    if ratio is not None:
        print(f"  exact optimum (mean) {evaluation['mean_optimum']:.6g}")
        print(f"  optimality ratio     {ratio:.4f}" + _not_a_result(evaluation))
        if evaluation.get("violation_rate") and evaluation.get("feasible_ratio") is not None:
            print(f"  feasible-only ratio  {evaluation['feasible_ratio']:.4f} (a violating contract is worth 0)")
    print(f"  violation rate       {evaluation['violation_rate']:.4f}")
    if evaluation.get("violation_weight"):
        print(f"  constraint penalty   weight {evaluation['violation_weight']:.4g} in the learning reward on proposals "
              "that break a declared constraint (the train block's violation_weight, or automatic; 0 opts out)")
    if evaluation.get("reference_failures"):
        print(f"  states without an exact reference (left out of the ratio) {evaluation['reference_failures']}")
    if evaluation.get("solver_speedup"):
        print(f"  speed vs exact solve {evaluation['solver_speedup']:.0f}x")


def run(args) -> int:
    from mechdsl.kinds.runs import train_run

    config, folder = start(args)
    evaluation = train_run(config, folder.path, resume=folder.resume, log="plain" if args.quiet else "rich",
                           eval_states=args.eval_states)
    print_summary(folder.path, evaluation)
    return 0
