"""The prepared device check: the main job and short EDMSAC / amortized runs, on a device and on
the CPU, with wall times and optimality ratios side by side (issue 30).

    python benchmarks/gpu_check.py --device cuda            # on a GPU machine, within ~8 minutes
    python benchmarks/gpu_check.py --device cpu --tiny      # what CI runs (tests/benchmarks): it cannot rot

Runs, each through the CLI exactly as a user types it (`mechdsl run/train SPEC --device D
--steps N --eval-states E --out ...`): the main job (`mechdsl run specs/two_period.mech`, the
spec's algorithm), EDMSAC at K = 2 and amortized at K = 5. With a device other than the CPU
every run is repeated on the CPU in the same process tree, so the ratio of wall times is
measured on the same machine (the baseline of the same run). Prints one table (run, device,
wall s, optimality ratio, violation rate, critic) and writes it to --out as markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "specs" / "two_period.mech"

# (label, verb, extra arguments, steps, held-out states): the full budget is meant to fit in ~8
# minutes on a GPU machine (16 cores for the CPU baseline); --tiny makes every run 2 steps on 8
# states. The main job takes the spec's 188 steps; the other two are shortened (256 fresh states
# per step are both learners' defaults, then 48 updates of 128 states for EDMSAC, whose (768, 768)
# layers are pruned over the first 50 steps, and 16 of 256 for the amortized policy: 100 and 80
# steps are 25,600 and 20,480 sampled states).
RUNS = (
    ("main job (two_period, spec's algorithm)", "run", [], 188, 1000),
    ("edmsac K = 2", "train", ["--algo", "edmsac"], 100, 256),
    ("amortized K = 5", "train", ["--algo", "amortized", "--set", "K=5"], 80, 256),
)


def run_once(verb: str, extra: list[str], steps: int, states: int, device: str, folder: Path) -> dict:
    """One CLI run; its wall time and the evaluation it wrote (evaluation.json)."""
    command = [sys.executable, "-m", "mechdsl.cli.main", verb, str(SPEC), *extra, "--device", device,
               "--steps", str(steps), "--eval-states", str(states), "--out", str(folder), "--quiet"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    evaluation = json.loads((folder / "evaluation.json").read_text())
    return {"wall_s": wall, "ratio": evaluation.get("optimality_ratio"),
            "violation_rate": evaluation.get("violation_rate"), "critic": evaluation.get("critic")}


def table(rows: list[tuple[str, str, dict]]) -> str:
    def fmt(value, spec):
        return "-" if value is None else format(value, spec)

    lines = ["| run | device | wall s | optimality ratio | violation rate | actor's objective |", "|---|---|---|---|---|---|"]
    for label, device, r in rows:
        lines.append(f"| {label} | {device} | {r['wall_s']:.1f} | {fmt(r['ratio'], '.4f')} | "
                     f"{fmt(r['violation_rate'], '.4f')} | {r['critic'] or '-'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="the device to check (default cuda); the CPU is the baseline")
    parser.add_argument("--tiny", action="store_true", help="2 steps on 8 held-out states per run (CI)")
    parser.add_argument("--out", type=Path, default=None, help="also write the table here (markdown)")
    args = parser.parse_args(argv)
    devices = [args.device] if args.device == "cpu" else [args.device, "cpu"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="mechdsl-gpu-check-") as scratch:
        for index, (label, verb, extra, steps, states) in enumerate(RUNS):
            steps, states = (2, 8) if args.tiny else (steps, states)
            for device in devices:
                result = run_once(verb, extra, steps, states, device, Path(scratch) / f"{index}-{device.replace(':', '_')}")
                rows.append((label, device, result))
                print(f"{label:<42} {device:<8} {result['wall_s']:8.1f} s  ratio {result['ratio']}", flush=True)
    text = (f"Device check ({'tiny budget' if args.tiny else 'full budget'}), {platform.node()}, "
            f"{os.cpu_count()} CPU cores, Python {platform.python_version()}\n\n{table(rows)}\n")
    print("\n" + text)
    if args.out is not None:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
