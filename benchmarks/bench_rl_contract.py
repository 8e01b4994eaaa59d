"""Every training algorithm on `specs/two_period.mech` after the same number of env samples.

    python benchmarks/bench_rl_contract.py --K 2 --samples 64000 --seeds 3
    python benchmarks/bench_rl_contract.py --K 5 --samples 64000 --seeds 3 --algos edmsac,amortized

Each trial trains one algorithm (``default`` preset, the spec's train-block settings that the
algorithm accepts) for ``samples / collect_batch`` steps, so every algorithm sees the same
number of sampled states, then evaluates the deterministic policy on 1000 held-out states
against the exact optimum (one compiled convex program per state, solved once and shared by
all trials). Baseline measured in the same run: `random` (uniform contracts). Trials run in a
process pool (``--workers``, one torch thread each).

Writes ``benchmarks/results/rl_two_period_K<K>.md`` (command, machine, per-trial and
mean +- std tables), the trials as JSON beside it, and PNGs of the learning curves (Fig. 6
style, against env samples, with the exact optimum as the reference line). ``--reuse FILE.json``
takes the trials of the algorithms not in ``--algos`` from an earlier run's JSON instead of
rerunning them (the table says which), for a change that touches some learners only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "specs" / "two_period.mech"
ALL_ALGOS = ("edmsac", "dmsac", "dmddpg", "cgdm", "amortized", "sac", "td3", "ddpg", "ppo", "random")
HELDOUT = 1000
PAYMENT_MODE_TEXT = {"auto": "each learner's, as `mechdsl train` picks it (mechdsl.rl.payment_mode): `action` for the "
                             "learners that ascend the env's own gradient and `random`, `optimal` for the learned "
                             "critics and PPO; the payments column says which",
                     "action": "allocations and one slack entry per payment not proven optimal at its floor",
                     "optimal": "allocations only, each state paid the best feasible payments for them by an LP"}


class CachedOptimumEnv:
    """The compiled env with `optimum` served from a table solved once per benchmark
    (keyed by the state row's bytes); every other attribute is the env's own."""

    def __init__(self, env, table: dict[bytes, float]):
        self._env, self._table = env, table

    def __getattr__(self, name):
        return getattr(self._env, name)

    def optimum(self, state):
        import torch

        missing = [i for i, row in enumerate(state) if row.cpu().numpy().tobytes() not in self._table]
        if missing:
            solved = self._env.optimum(state[missing])
            for i, value in zip(missing, solved.tolist()):
                self._table[state[i].cpu().numpy().tobytes()] = value
        return torch.tensor([self._table[row.cpu().numpy().tobytes()] for row in state],
                            dtype=state.dtype, device=state.device)


def load_env(package: Path, payments: str = "action"):
    import torch

    from mechdsl.rl.runs import load_package

    torch.set_num_threads(1)
    return load_package(package).Env(device="cpu", payments=payments)


def optimum_table(package: Path, cache: Path | None = None, key: str = "") -> dict[bytes, float]:
    """Exact optima of the held-out states and of the loop's learning-curve states. With `cache`,
    the optima are read from that JSON file when it was written for the same `key` (a hash of
    the spec's text and sizes) and written to it otherwise; a cached NaN (no reference found by
    an older solver) is solved again."""
    from mechdsl.rl.evaluate import heldout_states
    from mechdsl.rl.loop import EVAL_SEED

    env = load_env(package)
    table: dict[bytes, float] = {}
    if cache is not None and cache.exists():
        saved = json.loads(cache.read_text())
        if saved.get("key") == key:
            table = {bytes.fromhex(row): value for row, value in saved["optima"].items()
                     if value is not None and np.isfinite(value)}
    cached = CachedOptimumEnv(env, table)
    cached.optimum(heldout_states(env, HELDOUT))
    cached.optimum(heldout_states(env, 256, EVAL_SEED))
    if cache is not None:
        cache.write_text(json.dumps({"key": key, "optima": {row.hex(): value for row, value in table.items()}}))
    return table


def run_trial(package: str, algo: str, seed: int, samples: int, hparams: dict, table: dict[bytes, float],
              payments: str = "auto") -> dict:
    from mechdsl.rl import resolve_hparams, train
    from mechdsl.rl.evaluate import evaluate_policy
    from mechdsl.rl.payment_mode import learner_env

    env = CachedOptimumEnv(learner_env(load_env(Path(package), payments), algo, "default", hparams), table)
    hp = resolve_hparams(algo, "default", hparams, env)
    steps = max(1, samples // hp.collect_batch)
    start = time.perf_counter()
    result = train(env, algo, steps=steps, seed=seed, hparams=hparams, eval_every=max(1, steps // 20),
                   eval_states=256, log="none")
    wall = time.perf_counter() - start
    evaluation = evaluate_policy(env, result.agent, n_states=HELDOUT, timing_states=10_000)
    return {"algo": algo, "seed": seed, "payments": env.payments, "steps": steps, "env_samples": steps * hp.collect_batch, "wall_s": wall,
            "evaluation": evaluation.as_dict(), "rows": result.rows}


def spec_hparams(model, algo: str) -> dict:
    """The spec's train-block settings this algorithm accepts (as `mechdsl train --algo` does)."""
    from mechdsl.lang.train_schema import RUN_SETTINGS
    from mechdsl.rl import hyperparameter_names

    known = hyperparameter_names(algo)
    return {k: v for k, v in model.train.items() if k not in RUN_SETTINGS and k in known}


def parse_override(text: str) -> tuple[str, object]:
    """`NAME=VALUE` with a JSON value (a bare word stays a string): `updates_per_step=4`, `lr_schedule=cosine`."""
    name, _, value = text.partition("=")
    try:
        return name.strip(), json.loads(value)
    except json.JSONDecodeError:
        return name.strip(), value.strip()


def accepted(overrides: dict, algo: str) -> dict:
    """The overrides this algorithm has a hyperparameter for."""
    from mechdsl.rl import hyperparameter_names

    known = hyperparameter_names(algo)
    return {k: v for k, v in overrides.items() if k in known}


def summarize(trials: list[dict]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for algo in dict.fromkeys(t["algo"] for t in trials):
        mine = [t for t in trials if t["algo"] == algo]
        ratio = np.array([t["evaluation"]["optimality_ratio"] for t in mine])
        violation = np.array([t["evaluation"]["violation_rate"] for t in mine])
        proposals = np.array([t["evaluation"].get("proposal_violation_rate") or 0.0 for t in mine])
        repaired = np.array([t["evaluation"].get("repair_rate") or 0.0 for t in mine])
        shrink = np.array([t["evaluation"].get("mean_repair") or 0.0 for t in mine])
        out[algo] = {"ratio_mean": ratio.mean(), "ratio_std": ratio.std(ddof=1) if len(ratio) > 1 else 0.0,
                     "ratio_min": ratio.min(), "violation_mean": violation.mean(), "violation_max": violation.max(),
                     "proposal_violation": proposals.mean(), "repair_rate": repaired.mean(), "mean_repair": shrink.mean(),
                     "wall_mean": float(np.mean([t["wall_s"] for t in mine])),
                     "samples": mine[0]["env_samples"], "seeds": len(mine), "payments": mine[0].get("payments", "-"),
                     "flops": mine[0]["evaluation"]["actor_flops"],
                     "flops_deployed": mine[0]["evaluation"]["actor_flops_deployed"]}
    return out


def scheme_profits(model_static, source: str) -> dict[str, float]:
    """Fig. 9(a)'s baselines on the held-out states: the paper's two-period *static* scheme is
    the spec with beta = 0 (its Sec. VI: "we set beta = 0 to simplify it to a one-stage static
    contract"), i.e. the exact optimum of the beta = 0 problem; and random contracts under it."""
    import torch

    from mechdsl.codegen import compile_spec
    from mechdsl.rl.evaluate import heldout_states

    package = Path(tempfile.mkdtemp(prefix="bench_rl_static_")) / "package"
    compile_spec(model_static, package, source=source)
    env = load_env(package)
    state = heldout_states(env, HELDOUT)
    generator = torch.Generator().manual_seed(0)
    action = 2 * torch.rand(HELDOUT, env.action_dim, generator=generator) - 1
    return {"static scheme (beta = 0), exact optimum": float(np.nanmean(env.optimum(state).numpy())),
            "random contracts, static scheme (beta = 0)": float(env.evaluate(state, action).reward.mean())}


def reused_trials(path: Path | None, algos: list[str], seeds: int) -> list[dict]:
    """The trials of an earlier run's JSON (`path`) of the algorithms not in `algos`, seeds below
    `seeds` (none without `path`)."""
    if path is None:
        return []
    return [t for t in json.loads(path.read_text()) if t["algo"] not in algos and t["seed"] < seeds]


def write_markdown(path: Path, args, command: str, trials: list[dict], wall: float, optimum: float,
                   schemes: dict[str, float]) -> None:
    from mechdsl.rl.report import plot_curves

    summary = summarize(trials)
    seed0 = {t["algo"]: t["rows"] for t in trials if t["seed"] == 0 and t.get("rows")}
    reused = list(dict.fromkeys(t["algo"] for t in trials if t.get("reused")))
    stem = path.stem
    plot_curves(seed0, path.parent / f"{stem}_utility.png", metric="test_utility", optimum=optimum,
                x="env_samples", title=f"two_period K = {args.K}: test utility (seed 0)")
    plot_curves(seed0, path.parent / f"{stem}_ratio.png", metric="optimality_ratio", optimum=1.0,
                x="env_samples", title=f"two_period K = {args.K}: optimality ratio (seed 0)")
    fmt = lambda v: "-" if v is None else (f"{v:,}" if isinstance(v, int) else f"{v:.4f}")  # noqa: E731
    lines = [f"# RL algorithms on two_period.mech, K = {args.K}", "",
             f"Command: `{command}`  ", f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
             f"{platform.python_implementation()} {platform.python_version()}, torch threads 1 per trial, "
             f"{args.workers} trials in parallel; total wall {wall / 60:.1f} min.  ",
             f"Every algorithm sees {args.samples:,} sampled states (steps = samples / collect_batch); "
             f"evaluation on {HELDOUT} held-out states (seed fixed) against the exact optimum "
             f"(mean {optimum:.2f}). Baseline: `random`. Payment mode: `{args.payments}` "
             f"({PAYMENT_MODE_TEXT[args.payments]}).", "",
             *([f"Trials of {', '.join(reused)} reused from `{args.reuse}` as it stood before this run (its "
                "earlier version in git records the command and machine that measured them), not rerun; the "
                "learning-curve plots show the algorithms whose curves that file kept.", ""] if reused else []),
             "Violation rate = deployed contracts (after the env's feasibility repair) that break an original "
             "constraint; proposals infeasible = the policy's own proposals that did (the repair gave them the "
             "best feasible payments for their allocations, or shrank them toward the pooled menu: the "
             "parenthesis is the mean 1 - lambda* of that shrink over all states).", "",
             "| algorithm | payments | seeds | env samples | optimality ratio (mean +- std) | worst seed | "
             "violation rate (mean / max) | proposals infeasible (mean 1 - lambda*) | train wall s | "
             "FLOPs/action (deployed) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for algo, s in summary.items():
        flops = fmt(s["flops"]) if s["flops"] == s["flops_deployed"] else f"{fmt(s['flops'])} -> {fmt(s['flops_deployed'])}"
        lines.append(f"| {algo} | {s['payments']} | {s['seeds']} | {s['samples']:,} | {s['ratio_mean']:.4f} +- {s['ratio_std']:.4f} | "
                     f"{s['ratio_min']:.4f} | {s['violation_mean']:.4f} / {s['violation_max']:.4f} | "
                     f"{s['proposal_violation']:.4f} ({s['mean_repair']:.4f}) | {s['wall_mean']:.0f} | {flops} |")
    random_dynamic = summary.get("random", {}).get("ratio_mean")
    lines += ["", "Contract schemes (Fig. 9(a) of the EDMSAC paper), mean principal profit on the same states:", "",
              "| scheme | mean profit | / dynamic optimum |", "|---|---|---|",
              f"| dynamic (this spec), exact optimum | {optimum:.2f} | 1.0000 |"]
    if random_dynamic is not None:
        lines.append(f"| random contracts, dynamic scheme | {random_dynamic * optimum:.2f} | {random_dynamic:.4f} |")
    lines += [f"| {name} | {value:.2f} | {value / optimum:.4f} |" for name, value in schemes.items()]
    lines += ["", "Per trial:", "", "| algorithm | seed | steps | optimality ratio | violation rate | wall s |",
              "|---|---|---|---|---|---|"]
    for t in trials:
        e = t["evaluation"]
        lines.append(f"| {t['algo']} | {t['seed']} | {t['steps']} | {e['optimality_ratio']:.4f} | "
                     f"{e['violation_rate']:.4f} | {t['wall_s']:.0f} |")
    lines += ["", f"![test utility]({stem}_utility.png)", "", f"![optimality ratio]({stem}_ratio.png)", ""]
    path.write_text("\n".join(lines))
    (path.parent / f"{stem}.json").write_text(json.dumps(
        [{k: v for k, v in t.items() if k != "reused" and (k != "rows" or t["seed"] == 0)} for t in trials],
        indent=1, sort_keys=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--K", type=int, default=2, help="number of types (the spec's size K)")
    parser.add_argument("--samples", type=int, default=64_000, help="env samples per trial")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--algos", default=",".join(ALL_ALGOS))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--hparam", action="append", default=[], metavar="NAME=VALUE",
                        help="override a hyperparameter of every algorithm that has it (JSON value), repeatable")
    parser.add_argument("--out", default=None, help="Markdown file (default benchmarks/results/rl_two_period_K<K>.md)")
    parser.add_argument("--payments", choices=("auto", "action", "optimal"), default="auto",
                        help="the env's payment mode: each learner's (auto, the default; mechdsl.rl.payment_mode), "
                             "slack entries in the action, or allocations only with the best feasible payments (an "
                             "LP per state; mechdsl.runtime.contract_env)")
    parser.add_argument("--reuse", type=Path, default=None, metavar="FILE.json",
                        help="take the trials of the algorithms not in --algos from an earlier run's JSON")
    parser.add_argument("--optimum-cache", type=Path, default=None, metavar="FILE",
                        help="JSON file of the exact optima, reused by later runs of the same spec and K")
    args = parser.parse_args()
    command = "python " + " ".join(shlex.quote(a) for a in [str(Path(sys.argv[0]).relative_to(ROOT)
                                                              if Path(sys.argv[0]).is_absolute() else sys.argv[0]),
                                                             *sys.argv[1:]])
    from mechdsl.codegen import compile_spec
    from mechdsl.lang import load_file

    model = load_file(SPEC, {"K": float(args.K)})
    package = Path(tempfile.mkdtemp(prefix="bench_rl_")) / "package"
    compile_spec(model, package, source=SPEC.read_text())
    start = time.perf_counter()
    key = hashlib.sha256(f"{SPEC.read_text()}\nK={args.K}".encode()).hexdigest()
    table = optimum_table(package, args.optimum_cache, key)
    print(f"exact optima of {len(table)} states: {time.perf_counter() - start:.0f} s", flush=True)
    algos = [a.strip() for a in args.algos.split(",") if a.strip()]
    overrides = dict(parse_override(text) for text in args.hparam)
    jobs = [(str(package), algo, seed, args.samples, {**spec_hparams(model, algo), **accepted(overrides, algo)}, table,
             args.payments)
            for algo in algos for seed in range(args.seeds if algo != "random" else 1)]
    trials = [{**t, "reused": True} for t in reused_trials(args.reuse, algos, args.seeds)]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for trial in pool.map(run_trial, *zip(*jobs)):
            e = trial["evaluation"]
            print(f"{trial['algo']:>10} seed {trial['seed']}: ratio {e['optimality_ratio']:.4f}, "
                  f"violations {e['violation_rate']:.4f}, {trial['wall_s']:.0f} s", flush=True)
            trials.append(trial)
    trials.sort(key=lambda t: (ALL_ALGOS.index(t["algo"]) if t["algo"] in ALL_ALGOS else len(ALL_ALGOS), t["seed"]))
    from mechdsl.rl.evaluate import heldout_states

    optimum = float(np.nanmean(CachedOptimumEnv(load_env(package), table).optimum(
        heldout_states(load_env(package), HELDOUT)).numpy()))  # states without a reference are not scored
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"rl_two_period_K{args.K}.md"
    schemes = scheme_profits(load_file(SPEC, {"K": float(args.K), "beta": 0.0}), SPEC.read_text())
    write_markdown(out, args, command, trials, time.perf_counter() - start, optimum, schemes)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
