"""Contracts scored per second: the generated batched torch env vs a per-sample Python loop
over SymPy `lambdify` (payments by the derived rules, objective, slacks of every original
constraint and bound), on the same states and actions.

    python benchmarks/bench_env.py [--spec two_period --spec static_contract] [--batch 4096]
                                   [--threads 1,2] [--rounds 15] [--out benchmarks/results/env.md]
    python benchmarks/bench_env.py --scenario agent_migration --baseline-commit REV --batch 256

A scenario (`--scenario NAME`, generated/NAME from specs/NAME.mech) has no lambdify loop: its
env is timed on whole slots (`transition`: decisions, score and the random next states) and
compared with the package committed at --baseline-commit only, in the same interleaved rounds;
the ratio is this package's rate over the baseline's, per round (best and median).

Both sides are timed in interleaved rounds (env, loop, env, loop, ...) so that load from
other processes on the machine hits them alike; a round's rate is work / wall time and the
best and the median round are reported, with the ratio env / loop of each. The env runs
with `torch.set_num_threads(n)` for every n in --threads (the loop is single-threaded
Python). Prints the command, the machine (with its load average), the rates and ratios,
and writes them as Markdown to --out (target: ratio >= 100x at batch 4096, float32).
`--package MODULE` times another compiled package instead of `generated.<spec>`;
`--baseline-commit REV` also times, in the same interleaved rounds, the package committed
under generated/<spec>/ at git revision REV (extracted to a temporary folder), for a
before/after comparison on equal terms.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import sympy as sp
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.baseline import extract_revision, machine  # noqa: E402
from mechdsl.lang import load_file  # noqa: E402
from mechdsl.reduce import derive  # noqa: E402
from mechdsl.solve.state import with_derived  # noqa: E402


def lambdify_loop(model, derivation, constants, state_layout, state, info):
    """A function scoring samples [0, n) one at a time with the same outputs as the env:
    payments by the rules in order, the objective and the worst slack of the original
    constraints (`mechdsl.solve.exact.original_constraints`) plus the variable bounds."""
    from mechdsl.solve.exact import original_constraints

    checks = []
    for _, g in original_constraints(model):
        args = sorted(g.free_symbols, key=lambda x: x.name)
        checks.append((sp.lambdify(args, g, "math"), args))
    bounds = [(s.name, v.lower, v.upper) for v in model.variables.values() for s in v.symbols()]
    rules = [(s, sp.lambdify(sorted(r.free_symbols, key=lambda x: x.name), r, [{"Max": max, "Min": min}, "math"]),
              sorted(r.free_symbols, key=lambda x: x.name)) for s, r in derivation.rules.items()]
    obj_symbols = sorted(model.objective.expr.free_symbols, key=lambda x: x.name)
    objective = sp.lambdify(obj_symbols, model.objective.expr, "math")
    base = {n: np.full(len(state), v) for n, v in constants.items()}
    base.update({n: state[:, k].numpy() for k, n in enumerate(state_layout)})
    base = with_derived(model, base)
    allocations = [s.name for s in derivation.allocation_symbols]

    def run(samples: int) -> None:
        for i in range(samples):
            values = {n: float(v[i]) for n, v in base.items()}
            values.update({n: float(info[n][i]) for n in allocations})
            for symbol, function, args in rules:
                values[symbol.name] = function(*(values[a.name] for a in args))
            objective(*(values[a.name] for a in obj_symbols))
            worst = min(function(*(values[a.name] for a in args)) for function, args in checks)
            for name, lower, upper in bounds:
                worst = min(worst, values[name] - lower, float("inf") if upper is None else upper - values[name])

    return run


def timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def package_at(revision: str, spec: str, folder: Path):
    """The package committed under generated/<spec>/ at git `revision`, imported from `folder`."""
    target = extract_revision(revision, [f"generated/{spec}"], folder / f"{spec}_at_{revision}") / "generated" / spec
    name = f"baseline_{spec}_{revision}".replace("-", "_")
    module_spec = importlib.util.spec_from_file_location(name, target / "__init__.py",
                                                         submodule_search_locations=[str(target)])
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    module_spec.loader.exec_module(module)
    return module


def bench_spec(spec: str, args, scratch: Path) -> dict:
    package = importlib.import_module(args.package or f"generated.{spec}")
    envs = {f"`{package.__name__}`": package}
    if args.baseline_commit:
        envs[f"generated/{spec} at {args.baseline_commit}"] = package_at(args.baseline_commit, spec, scratch)
    env_module = importlib.import_module(f"{package.__name__}.env")
    model = load_file(ROOT / "specs" / f"{spec}.mech")
    derivation = derive(model)
    generator = torch.Generator().manual_seed(0)
    state = package.sample_states(args.batch, generator, dtype=torch.float32)
    action = 2 * torch.rand(args.batch, len(package.ACTION_LAYOUT), generator=generator) - 1
    info = {k: v.double().numpy() for k, v in package.evaluate(state.double(), action.double()).info.items()}
    loop = lambdify_loop(model, derivation, env_module.CONSTANTS, package.STATE_LAYOUT, state.double(), info)

    def env_round(module):
        for _ in range(args.repeats):
            module.evaluate(state, action)

    env_rates = {(label, n): [] for label in envs for n in args.threads}
    loop_rates = []
    for label, n in env_rates:  # warm-up
        torch.set_num_threads(n)
        env_round(envs[label])
    loop(20)
    for _ in range(args.rounds):
        for label, n in env_rates:
            torch.set_num_threads(n)
            env_rates[label, n].append(args.repeats * args.batch / timed(lambda: env_round(envs[label])))
        loop_rates.append(args.loop_samples / timed(lambda: loop(args.loop_samples)))
    return {"spec": spec, "env": env_rates, "loop": loop_rates}


def bench_scenario(spec: str, args, scratch: Path) -> dict:
    """Slots per second of `transition` at --batch (float32), this package and the baseline."""
    envs = {f"`generated.{spec}`": importlib.import_module(f"generated.{spec}")}
    if not args.baseline_commit:
        raise SystemExit("--scenario needs --baseline-commit (the package to compare with)")
    envs[f"generated/{spec} at {args.baseline_commit}"] = package_at(args.baseline_commit, spec, scratch)
    package = next(iter(envs.values()))
    state = package.initial_states(args.batch, torch.Generator().manual_seed(0), dtype=torch.float32)
    action = 2 * torch.rand(args.batch, len(package.ACTION_LAYOUT), generator=torch.Generator().manual_seed(1)) - 1
    instances = {label: module.Env(dtype=torch.float32) for label, module in envs.items()}

    def slot_round(env) -> None:
        generator = torch.Generator().manual_seed(2)
        for _ in range(args.repeats):
            env.transition(state, action, generator)

    rates = {(label, n): [] for label in envs for n in args.threads}
    for label, n in rates:  # warm-up
        torch.set_num_threads(n)
        slot_round(instances[label])
    for _ in range(args.rounds):
        for label, n in rates:
            torch.set_num_threads(n)
            rates[label, n].append(args.repeats * args.batch / timed(lambda: slot_round(instances[label])))
    return {"spec": spec, "env": rates, "baseline": next(reversed(envs))}


def scenario_rows(result: dict) -> list[tuple]:
    """(spec, env, threads, best, median, ratio best, ratio median) against the baseline."""
    out = []
    for (label, n), rates in result["env"].items():
        base = result["env"][result["baseline"], n]
        ratios = [a / b for a, b in zip(rates, base)]
        out.append((result["spec"], label, n, max(rates), statistics.median(rates), max(rates) / max(base),
                    statistics.median(ratios)))
    return out


def scenario_markdown(results: list[dict], command: str, args, label: str) -> str:
    lines = [f"## {label}" if label else "## generated scenario env vs the baseline package", "",
             f"machine: {machine()}", f"command: {command}", "",
             f"batch {args.batch}, float32, {args.rounds} interleaved rounds ({args.repeats} slots each: "
             "`transition` = decisions, score, next states); rates in env-slots/s (best round / median round); "
             "ratio = rate / the baseline's rate (of the best rounds / median of the per-round ratios).", "",
             "| scenario | env | torch threads | best | median | ratio (best) | ratio (median per round) |",
             "|---|---|---|---|---|---|---|"]
    for result in results:
        for spec, env, n, best, median, ratio, ratio_median in scenario_rows(result):
            lines.append(f"| {spec} | {env} | {n} | {best:,.0f} | {median:,.0f} | {ratio:.2f}x | {ratio_median:.2f}x |")
    return "\n".join(lines) + "\n"


def rows(result: dict) -> list[tuple]:
    loop_best, loop_median = max(result["loop"]), statistics.median(result["loop"])
    out = []
    for (label, n), rates in result["env"].items():
        best, median = max(rates), statistics.median(rates)
        out.append((result["spec"], label, n, best, median, loop_best, loop_median, best / loop_best,
                    median / loop_median))
    return out


def markdown(results: list[dict], command: str, args, label: str) -> str:
    lines = [f"## {label}" if label else "## generated env vs per-sample lambdify loop", "",
             f"machine: {machine()}", f"command: {command}", "",
             f"batch {args.batch}, float32, {args.rounds} interleaved rounds ({args.repeats} env calls, "
             f"{args.loop_samples} loop samples each); rates in contracts/s (best round / median round).", "",
             "| spec | env | torch threads | env best | env median | loop best | loop median "
             "| ratio (best) | ratio (median) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for result in results:
        for spec, env, n, best, median, loop_best, loop_median, ratio, ratio_median in rows(result):
            lines.append(f"| {spec} | {env} | {n} | {best:,.0f} | {median:,.0f} | {loop_best:,.0f} "
                         f"| {loop_median:,.0f} | {ratio:,.0f}x | {ratio_median:,.0f}x |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", action="append", help="bundled spec (repeatable; default: both)")
    parser.add_argument("--scenario", action="append", help="bundled scenario spec (repeatable; see above)")
    parser.add_argument("--package", help="module of the compiled package to time (default generated.<spec>)")
    parser.add_argument("--baseline-commit", help="also time generated/<spec> as committed at this git revision")
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--threads", default="1,2", help="comma-separated torch thread counts for the env")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=10, help="env calls per round")
    parser.add_argument("--loop-samples", type=int, default=300, help="loop samples per round")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "env.md"))
    parser.add_argument("--append", action="store_true", help="append to --out instead of overwriting it")
    parser.add_argument("--label", default="", help="heading of this run in --out")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    args.threads = [int(n) for n in args.threads.split(",")]
    command = f"python {shlex.join(sys.argv)}"
    if args.scenario:
        with tempfile.TemporaryDirectory() as scratch:
            results = [bench_scenario(spec, args, Path(scratch)) for spec in args.scenario]
        print(f"command: {command}")
        print(f"machine: {machine()}")
        for result in results:
            for spec, env, n, best, median, ratio, ratio_median in scenario_rows(result):
                print(f"{spec} {env} (batch {args.batch}, float32, torch threads {n}): {best:,.0f} env-slots/s "
                      f"(median {median:,.0f}); ratio to the baseline {ratio:.2f}x (median {ratio_median:.2f}x)")
        write(scenario_markdown(results, command, args, args.label), args)
        return
    specs = args.spec or ["two_period", "static_contract"]
    with tempfile.TemporaryDirectory() as scratch:
        results = [bench_spec(spec, args, Path(scratch)) for spec in specs]
    print(f"command: {command}")
    print(f"machine: {machine()}")
    for result in results:
        for spec, env, n, best, median, loop_best, loop_median, ratio, ratio_median in rows(result):
            print(f"{spec} {env} (batch {args.batch}, float32, torch threads {n}): env {best:,.0f} contracts/s "
                  f"(median {median:,.0f}); per-sample lambdify loop {loop_best:,.0f} (median {loop_median:,.0f}); "
                  f"ratio {ratio:,.0f}x (median {ratio_median:,.0f}x; target >= 100x)")
    write(markdown(results, command, args, args.label), args)


def write(text: str, args) -> None:
    """Write (or with --append, add) one result section to --out, unless --no-write."""
    if args.no_write:
        return
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a" if args.append else "w", encoding="utf-8") as handle:
        if not args.append:
            handle.write("# Generated env throughput\n\n")
        handle.write(("\n" if args.append else "") + text)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
