"""Wall time of the sweep of Fig. 7(a) of dynamic-contract-edmsac.txt: EDMSAC on two_period.mech
with prune rate 0.3, 0.5, 0.7 and 3 seeds (9 trials), local backend and (if installed) Ray.

    python benchmarks/bench_sweep.py                      # the paper's budget (spec's steps)
    python benchmarks/bench_sweep.py --steps 40 --eval-states 50   # reduced, minutes on 2 cores

Baseline in the same run: the local backend with --workers 1 (trials one after another);
the table prints each backend's speedup over it. Writes benchmarks/results/sweep_fig7a.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sweep(argv: list[str]) -> float:
    import mechdsl.cli.main as cli_main

    if "sweep" not in cli_main.SUBCOMMANDS:
        cli_main.SUBCOMMANDS = cli_main.SUBCOMMANDS + ("sweep",)
    start = time.perf_counter()
    code = cli_main.main(argv)
    if code != 0:
        raise SystemExit(f"mechdsl {' '.join(argv)} exited {code}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the spec's)")
    parser.add_argument("--eval-states", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--no-baseline", action="store_true", help="skip the --workers 1 baseline")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "sweep_fig7a.md"))
    args = parser.parse_args()
    base = ["sweep", str(ROOT / "specs" / "two_period.mech"), "--grid", "prune_rate=0.3,0.5,0.7",
            "--algos", "edmsac", "--seeds", str(args.seeds), "--eval-states", str(args.eval_states)]
    if args.steps:
        base += ["--steps", str(args.steps)]
    scratch = Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    runs = []
    if not args.no_baseline:
        runs.append(("local, --workers 1 (baseline)", base + ["--workers", "1"]))
    runs.append((f"local, --workers {os.cpu_count()}", base + ["--workers", str(os.cpu_count())]))
    try:
        import ray  # noqa: F401

        runs.append(("ray (local, num_cpus = cores)", base + ["--backend", "ray"]))
    except ImportError:
        pass
    times = {}
    for label, argv in runs:
        out = scratch / label.split()[0].strip(",") / str(len(times))
        times[label] = sweep(argv + ["--out", str(out)])
        print(f"{label}: {times[label]:.1f} s", flush=True)
    baseline = next(iter(times.values()))
    last_out = out
    lines = ["# Sweep wall time: Fig. 7(a) of dynamic-contract-edmsac.txt", "",
             f"Command: `python benchmarks/bench_sweep.py {' '.join(shlex.quote(a) for a in sys.argv[1:])}`", "",
             "Each backend runs `mechdsl " + " ".join(shlex.quote(a) for a in base) + " --out DIR` from scratch.", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
             f"Python {platform.python_version()}.", "",
             "| backend | wall time (s) | speedup vs first row |", "|---|---|---|"]
    lines += [f"| {label} | {t:.1f} | {baseline / t:.2f}x |" for label, t in times.items()]
    lines += ["", "## Results of the last backend", ""]
    text = (last_out / "results.md").read_text()
    lines += [text.split("## Summary over seeds", 1)[1].split("![", 1)[0].strip(), ""]
    stem = Path(args.out).stem
    for png in sorted(last_out.glob("*_vs_*.png")):  # Fig. 7(a)-style plots, optimum as reference
        target = Path(args.out).with_name(f"{stem}_{png.name}")
        shutil.copyfile(png, target)
        lines += [f"![{png.stem}]({target.name})", ""]
    Path(args.out).write_text("\n".join(lines))
    shutil.rmtree(scratch, ignore_errors=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
