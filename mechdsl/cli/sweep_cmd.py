"""`mechdsl sweep SPEC --grid NAME=V1,V2 ...`: train every grid point x algorithm x seed, tabulate, plot."""

from __future__ import annotations

import os
import shlex
import sys
import time
from pathlib import Path

from mechdsl.cli.arguments import check_writable_folder, count, share
from mechdsl.cli.output import SET_HELP, UsageError, add_set_argument, load_model, parse_overrides, read_spec


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "sweep", help="parameter studies: grid over spec constants/sizes and hyperparameters, one run per "
                     "trial, resumable; table (CSV/Markdown) and Fig. 7/9-style plots (local or Ray)",
        description="Each trial (grid point x algorithm x seed) is an ordinary run folder OUT/<trial>/; "
                    "finished trials (with evaluation.json) are skipped, so an interrupted sweep resumes.")
    parser.add_argument("spec", help="path of a .mech file")
    parser.add_argument("--grid", action="append", default=[], metavar="NAME[=V1,V2,...]",
                        help="a constant, size or hyperparameter and its values; without values, the "
                             "spec's `in {...}` values (repeatable; trials are the product)")
    parser.add_argument("--algos", metavar="A,B", default=None, help="comma-separated algorithms (default: the spec's)")
    parser.add_argument("--seeds", type=count("the number of seeds", "--seeds 3"), metavar="N", default=3,
                        help="seeds 0..N-1 per grid point (default 3)")
    parser.add_argument("--steps", type=count("the number of training steps", "--steps 2000"), metavar="N",
                        default=None, help="training steps, at least 1 (default: the spec's)")
    parser.add_argument("--preset", choices=("default", "paper"), default=None, help="hyperparameter preset")
    parser.add_argument("--device", default="cpu", help="device of every trial (default cpu)")
    add_set_argument(parser, help=SET_HELP + "; fixed for all trials")
    parser.add_argument("--backend", choices=("local", "ray"), default="local", help="local process pool or Ray Tune")
    parser.add_argument("--address", metavar="HOST:PORT", default=None,
                        help="Ray cluster to join ('auto', HOST:PORT; default $RAY_ADDRESS, else a local Ray)")
    parser.add_argument("--workers", type=count("the number of workers", "--workers 2"), metavar="N", default=None,
                        help="trials at once (default: os.cpu_count() locally; Ray: as resources allow)")
    parser.add_argument("--cpus-per-trial", type=count("the number of CPUs per trial", "--cpus-per-trial 1"), metavar="N",
                        default=1, help="Ray: CPUs reserved per trial (default 1)")
    parser.add_argument("--gpus-per-trial", type=share, metavar="N", default=None,
                        help="Ray: GPUs reserved per trial (default 1 with --device cuda, else 0)")
    parser.add_argument("--out", metavar="DIR", default=None, help="sweep folder (default runs/sweep-<mechanism>)")
    parser.add_argument("--eval-states", type=count("the number of held-out states", "--eval-states 1000"), metavar="N",
                        default=1000, help="held-out states of each final evaluation")
    parser.add_argument("--dry-run", action="store_true", help="list the trials and exit")
    parser.set_defaults(func=run)


def _check_grid(args) -> None:
    if not args.grid:
        raise UsageError("give at least one --grid NAME=V1,V2", hint="e.g. --grid prune_rate=0.3,0.5,0.7")


def run(args) -> int:
    from mechdsl.cli.train_cmd import check_device
    from mechdsl.sweep import expand, is_finished, parse_algos, parse_axes, read_row, write_results

    _check_grid(args)
    check_device(args.device)
    base = parse_overrides(args.set)
    source = read_spec(args.spec)
    model = load_model(args.spec, base)
    _require_trainable(model)
    algos = parse_algos(args.algos, model)
    axes = parse_axes(args.grid, model, algos)
    trials = expand(args.spec, source, lambda o: load_model(args.spec, o), axes, algos, list(range(args.seeds)),
                    steps=args.steps, device=args.device, preset=args.preset, eval_states=args.eval_states,
                    base_overrides=base)
    out = Path(args.out) if args.out else Path("runs") / f"sweep-{model.name}"
    check_writable_folder(out, "--out" if args.out else "sweep folder")
    if args.dry_run:
        for trial in trials:
            print(trial.trial_id)
        print(f"{len(trials)} trials -> {out}/")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    finished = [t for t in trials if is_finished(t, out)]
    pending = [t for t in trials if t not in finished]
    print(f"sweep {model.name}: {len(trials)} trials ({len(finished)} already finished, {len(pending)} to train) "
          f"-> {out}/  [backend {args.backend}]", flush=True)
    done = [0]

    def report(row: dict) -> None:
        done[0] += 1
        line = f"[{done[0]}/{len(pending)}] {row['trial']}  "
        line += (f"failed: {row['error']}" if row["status"] == "failed" else
                 f"ratio {row['optimality_ratio']:.4f}  violations {row['violation_rate']:.4f}  {row['wall_seconds']:.1f} s")
        print(line, flush=True)

    start = time.perf_counter()
    if args.backend == "ray":
        from mechdsl.sweep.ray_backend import run_ray

        gpus = args.gpus_per_trial if args.gpus_per_trial is not None else (1 if args.device.startswith("cuda") else 0)
        rows = run_ray(pending, out, address=args.address, workers=args.workers, cpus_per_trial=args.cpus_per_trial,
                       gpus_per_trial=gpus, on_done=report)
    else:
        from mechdsl.sweep.local import run_local

        rows = run_local(pending, out, workers=args.workers or os.cpu_count(), on_done=report)
    wall = time.perf_counter() - start
    trained = {row["trial"]: row for row in rows}
    table = [trained.get(t.trial_id) or read_row(t, out) for t in trials]
    command = "mechdsl sweep " + " ".join(shlex.quote(a) for a in _argv_of(args))
    paths = write_results(out, table, axes, title=f"{model.name} ({args.spec})", command=command,
                          backend=args.backend, wall_seconds=wall)
    failed = [r for r in table if r["status"] == "failed"]
    print(f"sweep wall time {wall:.1f} s; results: {paths[1]} ({len(paths) - 3} plots)")
    if failed:
        print(f"{len(failed)} trial(s) failed; see OUT/<trial>/error.txt", file=sys.stderr)
    return 1 if failed else 0


def _require_trainable(model) -> None:
    """A spec its kind cannot train (a game without an auction) is refused once, positioned,
    before any trial starts (the kind's back end says why, where it can tell)."""
    from mechdsl.kinds import kind_of_model

    check = getattr(kind_of_model(model).pipeline(), "check_trainable", None)
    if check is not None:
        check(model)


def _argv_of(args) -> list[str]:
    """The sweep's arguments rebuilt from `args` (for the command line recorded in results.md)."""
    argv = [args.spec] + [x for g in args.grid for x in ("--grid", g)]
    for flag, value in (("--algos", args.algos), ("--seeds", args.seeds), ("--steps", args.steps),
                        ("--preset", args.preset), ("--backend", args.backend), ("--address", args.address),
                        ("--workers", args.workers), ("--out", args.out), ("--eval-states", args.eval_states)):
        if value is not None:
            argv += [flag, str(value)]
    return argv
