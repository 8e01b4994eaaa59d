"""Benchmark: AI-agent migration scenario (specs/agent_migration.mech), CGDM vs its ablations
and the harness baselines against three references, plus latency against data size,
bandwidth, RSU capacity and attack frequency.

The issue-14 benchmark (every algorithm, 3 seeds, 1500 training steps; hours on 2 cores):

    nice python benchmarks/bench_migration.py --steps 1500 --seeds 3 --episodes 200 --workers 2

A quick look: `--steps 150 --seeds 1 --only CGDM --episodes 50 --no-sweeps`. With
`--cache DIR` every finished run and sweep is kept in DIR and a re-run resumes from there.

Every algorithm trains `--steps` training steps (one slot for `collect_batch` = 32 episodes
each) from the spec's train block, with gamma = the spec's discount, one torch thread per
run, `--workers` runs in parallel. Each trained policy is evaluated on the same `--episodes`
held-out episodes (20 slots) as the references (mechdsl/scenario/report.py): the random
policy, the greedy nearest-trusted-RSU heuristic (through the spec's map, so feasible) and
the myopic per-slot optimum (each slot solved exactly for its latency, knowing the hidden
attacks; mechdsl/scenario/myopic.py). The table reports total latency (s, summed over
vehicles and slots) per episode, mean and sd over seeds, its ratio to the random policy and
to the myopic optimum measured in the same run, the slots with an avoidable violation, and
the hard constraints' (22c, 22d) violations per episode with the part no decision avoids.
"Where the latency goes" splits the seed-0 CGDM policy's and the references' latency into the
terms of eq. (9), with the pre-migrations and the attacks that hit.
The sweeps evaluate the seed-0 CGDM policy (trained at the default parameters) and the
references at each setting (`--set`-style overrides of the spec's constants).

Writes benchmarks/results/migration.md, migration_runs.json and migration_*.png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SPEC = ROOT / "specs" / "agent_migration.mech"
RESULTS = ROOT / "benchmarks" / "results"

VARIANTS = {  # label -> (algorithm, extra hyperparameters)
    "CGDM": ("cgdm", {}),
    "CGDM w.o. Con": ("cgdm", {"confidence": False}),
    "CGDM w.o. DC": ("cgdm", {"consistency": False}),
    "SAC": ("sac", {}),
    "PPO": ("ppo", {}),
    "TD3": ("td3", {}),
    "DDPG": ("ddpg", {}),
    "random (trained harness)": ("random", {}),
}
SWEEPS = {  # name -> (x label, values, overrides of x)
    "data size": ("mean agent-construction data D^con (MB)", [100, 200, 300, 400, 500, 600],
                  lambda x: {"D_lo": 0.8 * x, "D_hi": 1.2 * x}),
    "bandwidth": ("wireless bandwidth (MHz)", [100, 150, 200, 250, 300], lambda x: {"B_lo": 0.9 * x, "B_hi": 1.1 * x}),
    "RSU capacity": ("RSU CPU speed (MHz)", [100, 150, 200, 250, 300], lambda x: {"C_lo": 0.9 * x, "C_hi": 1.1 * x}),
    "attack frequency": ("attack frequency p_attack", [0.1, 0.3, 0.5, 0.7, 0.9], lambda x: {"p_attack": x}),
}


def _setup():
    import torch

    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def _env(overrides: dict | None = None, folder: Path | None = None):
    import torch

    from mechdsl.lang import load_source
    from mechdsl.rl.runs import load_package
    from mechdsl.scenario.codegen import compile_scenario

    source = SPEC.read_text(encoding="utf-8")
    model = load_source(source, str(SPEC), overrides or {})
    if not overrides:
        import generated.agent_migration as package
    else:
        compile_scenario(model, folder, source=source)
        package = load_package(folder)
    return model, package, package.Env(dtype=torch.float32)


def _cache_path(cache: Path | None, name: str) -> Path | None:
    return None if cache is None else cache / f"{name.replace(' ', '_').replace('.', '')}.pt"


def _run_name(label: str, seed: int, steps: int, episodes: int) -> str:
    return f"run_{label}_seed{seed}_steps{steps}_episodes{episodes}"


def _cached(cache: Path | None, name: str, compute):
    """compute(), kept in cache/name.pt when a cache folder is given (an interrupted benchmark resumes there)."""
    import torch

    path = _cache_path(cache, name)
    if path is not None and path.exists():
        return torch.load(path, weights_only=False)
    value = compute()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(value, path.with_suffix(".tmp"))
        path.with_suffix(".tmp").replace(path)
    return value


def train_one(label: str, seed: int, steps: int, episodes: int, cache: Path | None = None) -> dict:
    return _cached(cache, _run_name(label, seed, steps, episodes),
                   lambda: _train_one(label, seed, steps, episodes))


def _train_one(label: str, seed: int, steps: int, episodes: int) -> dict:
    _setup()
    from mechdsl.rl import hyperparameter_names, train
    from mechdsl.rl.evaluate import HELDOUT_SEED
    from mechdsl.scenario.rollout import agent_policy, rollout

    algo, extra = VARIANTS[label]
    model, package, env = _env()
    known = hyperparameter_names(algo)
    hparams = {k: v for k, v in model.train.items() if k in known}
    hparams.update(extra)
    if "gamma" in known:
        hparams["gamma"] = model.discount
    start = time.perf_counter()
    result = train(env, algo, steps=steps, seed=seed, hparams=hparams, eval_every=steps, eval_states=64, log="none")
    wall = time.perf_counter() - start
    episodes_ = rollout(env, agent_policy(result.agent, HELDOUT_SEED), episodes, HELDOUT_SEED)
    out = {"label": label, "seed": seed, **_scores(episodes_), "wall_s": wall, "s_per_step": wall / steps}
    if label == "CGDM" and seed == 0:
        out["state_dict"] = result.agent.state_dict()
        out["hparams"] = hparams
    return out


def _scores(e) -> dict:
    """Latency, avoidable violating slots and the hard constraints' violations of one rollout."""
    return {"latency": float(-e.returns.mean()), "violation_rate": e.violation_rate,
            "penalty": float(e.penalties.mean()),
            "violations": {k: float(v.mean()) for k, v in e.violations.items()},
            "unavoidable": {k: float(v.mean()) for k, v in e.unavoidable.items()}}


def _baselines(env, package, episodes: int, agent=None) -> dict[str, dict]:
    from mechdsl.rl.evaluate import HELDOUT_SEED
    from mechdsl.scenario.report import reference_policies
    from mechdsl.scenario.rollout import agent_policy, rollout

    policies = reference_policies(env, package, HELDOUT_SEED)
    if agent is not None:
        policies = {"CGDM (seed 0)": agent_policy(agent, HELDOUT_SEED), **policies}
    return {k: _scores(rollout(env, p, episodes, HELDOUT_SEED)) for k, p in policies.items()}


def sweep_one(name: str, state_dict, hparams: dict, episodes: int, cache: Path | None = None, steps: int = 0) -> dict:
    return _cached(cache, f"sweep_{name}_steps{steps}_episodes{episodes}",
                   lambda: _sweep_one(name, state_dict, hparams, episodes))


def _sweep_one(name: str, state_dict, hparams: dict, episodes: int) -> dict:
    _setup()
    import torch

    from mechdsl.rl.algorithms import make_agent, resolve_hparams

    _, values, overrides = SWEEPS[name]
    curves: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for k, x in enumerate(values):
            model, package, env = _env(overrides(x), Path(tmp) / f"pkg{k}")
            agent = make_agent("cgdm", env, resolve_hparams("cgdm", "default", hparams), torch.Generator().manual_seed(0),
                               torch.device("cpu"))
            agent.load_state_dict(state_dict)
            for label, value in _baselines(env, package, episodes, agent).items():
                curves.setdefault(label, []).append(value["latency"])
    return {"name": name, "values": values, "curves": curves}


BREAKDOWN = {"lat_uc": "upload T^uc", "lat_dep": "deploy T^dep", "lat_um": "upload raw T^um",
             "lat_pro": "process T^pro", "lat_down": "download T^down", "lat_mig": "migrate T^mig",
             "lat_tot": "total T^tot"}


def breakdown_one(state_dict, hparams: dict, episodes: int) -> dict[str, dict[str, float]]:
    """Where each policy's latency goes: per episode, each latency term of eq. (9) summed over
    vehicles and slots (before the max and the replica flag combine them; T^mtd as the rest of
    T^tot), the vehicles that
    pre-migrate (T^mig > 0) and the attacks that hit an RSU (`hits`), for the seed-0 CGDM
    policy and the references on the same held-out episodes."""
    _setup()
    import torch

    from mechdsl.rl.algorithms import make_agent, resolve_hparams
    from mechdsl.rl.evaluate import HELDOUT_SEED
    from mechdsl.scenario.report import reference_policies
    from mechdsl.scenario.rollout import agent_policy, rollout

    _, package, env = _env()
    agent = make_agent("cgdm", env, resolve_hparams("cgdm", "default", hparams), torch.Generator().manual_seed(0),
                       torch.device("cpu"))
    agent.load_state_dict(state_dict)
    policies = {"CGDM (seed 0)": agent_policy(agent, HELDOUT_SEED), **reference_policies(env, package, HELDOUT_SEED)}
    keep = tuple(k for k in (*BREAKDOWN, "hits") if k in package.METRICS)
    out = {}
    for label, policy in policies.items():
        played = rollout(env, policy, episodes, HELDOUT_SEED, keep)
        traces = played.metric_traces                                                # (slots, episodes, ...)
        row = {k: float(traces[k].sum(axis=(0, 2)).mean()) for k in BREAKDOWN if k in traces}
        if all(k in traces for k in BREAKDOWN):
            # T^mtd (no metric of its own) = T^tot minus the other terms as eq. (9) combines them
            vehicles = traces["lat_tot"].shape[2]
            copy = played.state_traces[:-1][:, :, [package.STATE_LAYOUT.index(f"copy[{v}]") for v in range(vehicles)]]
            rest = ((1 - copy) * (traces["lat_uc"] + traces["lat_dep"]) + traces["lat_um"] + traces["lat_down"]
                    + np.maximum(traces["lat_pro"], traces["lat_mig"]))
            row["lat_mtd"] = float((traces["lat_tot"] - rest).sum(axis=(0, 2)).mean())
        if "lat_mig" in traces:
            row["migrations"] = float((traces["lat_mig"] > 0).sum(axis=(0, 2)).mean())
        if "hits" in traces:
            row["hits"] = float(traces["hits"].sum(axis=(0, 2)).mean())
        out[label] = row
    return out


def _plot_sweep(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    for label, ys in result["curves"].items():
        ax.plot(result["values"], ys, marker="o", label=label)
    ax.set_xlabel(SWEEPS[result["name"]][0])
    ax.set_ylabel("total latency per episode (s)")
    ax.set_title(f"latency against {result['name']}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _hard_cell(violations: dict, unavoidable: dict, label: str) -> str:
    if label not in violations:
        return "-"
    cell = f"{violations[label]:.2f}"
    return cell + (f" ({unavoidable[label]:.2f})" if label in unavoidable else "")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1500, help="training steps per run (default: the issue's 1500)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--episodes", type=int, default=200, help="held-out episodes per evaluation")
    parser.add_argument("--workers", type=int, default=2, help="runs in parallel (one torch thread each)")
    parser.add_argument("--only", nargs="*", default=None, help=f"subset of the table's labels: {', '.join(VARIANTS)}")
    parser.add_argument("--no-sweeps", action="store_true", help="skip the four parameter sweeps")
    parser.add_argument("--results", type=Path, default=RESULTS, help="output folder (default: benchmarks/results)")
    parser.add_argument("--cache", type=Path, default=None,
                        help="folder that keeps every finished run and sweep; a re-run with the same folder resumes")
    args = parser.parse_args(argv)
    _setup()
    start, load = time.perf_counter(), os.getloadavg()[0]
    labels = args.only or list(VARIANTS)
    jobs = [(label, seed) for seed in range(args.seeds) for label in labels]
    reused = sum(1 for label, seed in jobs
                 if (path := _cache_path(args.cache, _run_name(label, seed, args.steps, args.episodes))) and path.exists())
    with ProcessPoolExecutor(args.workers) as pool:
        n = len(jobs)
        runs = list(pool.map(train_one, *zip(*jobs), [args.steps] * n, [args.episodes] * n, [args.cache] * n))
        table_wall = time.perf_counter() - start
        cgdm0 = next((r for r in runs if "state_dict" in r), None)
        sweeps = []
        if cgdm0 is not None and not args.no_sweeps:
            sweeps = list(pool.map(sweep_one, list(SWEEPS), [cgdm0["state_dict"]] * len(SWEEPS),
                                   [cgdm0["hparams"]] * len(SWEEPS), [args.episodes] * len(SWEEPS),
                                   [args.cache] * len(SWEEPS), [args.steps] * len(SWEEPS)))
        breakdown = {}
        if cgdm0 is not None:
            breakdown = pool.submit(_cached, args.cache, f"breakdown_steps{args.steps}_episodes{args.episodes}",
                                    partial(breakdown_one, cgdm0["state_dict"], cgdm0["hparams"], args.episodes)).result()
    _, package, env = _env()
    baselines = _baselines(env, package, args.episodes)
    wall = time.perf_counter() - start
    random_latency = baselines["random"]["latency"]
    myopic = next((v["latency"] for k, v in baselines.items() if k.startswith("myopic")), float("nan"))
    hard = list(getattr(package, "HARD", {}))

    results = args.results
    results.mkdir(parents=True, exist_ok=True)
    command = (f"python benchmarks/bench_migration.py --steps {args.steps} --seeds {args.seeds} --episodes "
               f"{args.episodes} --workers {args.workers}" + (f" --only {' '.join(args.only)}" if args.only else "")
               + (" --no-sweeps" if args.no_sweeps else ""))
    lines = ["# AI-agent migration benchmark (specs/agent_migration.mech)", "",
             f"Command: `{command}`", "",
             f"Machine: {platform.platform()}, {os.cpu_count()} CPUs (load average {load:.1f} at the start), torch 1 thread per "
             f"run, {args.workers} runs in parallel. Wall time: table {table_wall:.0f} s, everything {wall:.0f} s"
             + (f" ({reused} of {len(jobs)} runs reused from the cache of an earlier run; each run's own time is "
                "in the train wall column)." if reused else "."), "",
             f"Each run: {args.steps} training steps x 32 episodes per step (one 20-slot episode = 20 steps), "
             f"default preset with the spec's train block, gamma = 0.95. Total latency = sum over 8 vehicles and "
             f"20 slots of T_v^tot (eq. 9), per episode, on {args.episodes} held-out episodes; mean and sd over "
             f"{args.seeds} seed(s). Ratios: latency / latency of the uniformly random policy and of the myopic "
             "per-slot optimum on the same episodes. Violating slots: slots with a violation a decision could have "
             "avoided. Hard constraints (" + ", ".join(hard) + "): violated instances per episode, in parentheses "
             "those no capacity-respecting decision avoids (no trusted RSU with room).", "",
             "| policy | total latency / episode (s) | sd over seeds | ratio to random | ratio to myopic optimum | "
             "violating slots | " + " | ".join(f"{k} / episode" for k in hard) + " | train wall s | s / step |",
             "|---" * (8 + len(hard)) + "|"]
    for label in labels:
        mine = [r for r in runs if r["label"] == label]
        lat = np.array([r["latency"] for r in mine])
        violations = {k: np.mean([r["violations"].get(k, 0.0) for r in mine]) for k in hard}
        unavoidable = {k: np.mean([r["unavoidable"][k] for r in mine]) for k in hard if k in mine[0]["unavoidable"]}
        lines.append(f"| {label} | {lat.mean():.1f} | {lat.std():.1f} | {lat.mean() / random_latency:.3f} | "
                     f"{lat.mean() / myopic:.3f} | {np.mean([r['violation_rate'] for r in mine]):.3f} | "
                     + " | ".join(_hard_cell(violations, unavoidable, k) for k in hard)
                     + f" | {np.mean([r['wall_s'] for r in mine]):.0f} | {np.mean([r['s_per_step'] for r in mine]):.3f} |")
    for name, value in baselines.items():
        lines.append(f"| {name} (no training) | {value['latency']:.1f} | - | {value['latency'] / random_latency:.3f} | "
                     f"{value['latency'] / myopic:.3f} | {value['violation_rate']:.3f} | "
                     + " | ".join(_hard_cell(value["violations"], value["unavoidable"], k) for k in hard) + " | - | - |")
    lines.append("")
    if breakdown:
        order = [*(k for k in BREAKDOWN if k != "lat_tot"), "lat_mtd", "lat_tot", "migrations", "hits"]
        columns = [k for k in order if k in next(iter(breakdown.values()))]
        names = {**BREAKDOWN, "lat_mtd": "MTD T^mtd", "migrations": "pre-migrations", "hits": "attacks that hit"}
        lines += ["## Where the latency goes", "",
                  "Per held-out episode, each latency term of eq. (9) summed over vehicles and slots (s; before "
                  "the max(T^pro, T^mig) and the replica flag combine them into T^tot), the vehicles that "
                  "pre-migrate and the attacks that hit an RSU (not blocked by MTD); CGDM is the seed-0 policy.", "",
                  "| policy | " + " | ".join(names[k] for k in columns) + " |", "|---" * (len(columns) + 1) + "|"]
        for label, row in breakdown.items():
            lines.append(f"| {label} | " + " | ".join(f"{row[k]:.1f}" for k in columns) + " |")
        lines.append("")
    for result in sweeps:
        slug = result["name"].replace(" ", "_")
        png = results / f"migration_{slug}.png"
        _plot_sweep(result, png)
        lines += [f"## Latency against {result['name']}", "", f"![{result['name']}]({png.name})", "",
                  "| " + SWEEPS[result["name"]][0] + " | " + " | ".join(result["curves"]) + " |",
                  "|---" * (len(result["curves"]) + 1) + "|"]
        for i, x in enumerate(result["values"]):
            lines.append(f"| {x:g} | " + " | ".join(f"{ys[i]:.1f}" for ys in result["curves"].values()) + " |")
        lines.append("")
    (results / "migration.md").write_text("\n".join(lines))
    (results / "migration_runs.json").write_text(json.dumps(
        [{k: v for k, v in r.items() if k not in ("state_dict", "hparams")} for r in runs], indent=1))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
