"""Training speed of the RL algorithms on `specs/two_period.mech`: wall time per env step, split
into its parts, for the working tree and (optionally) a baseline revision timed in the same run.

    python benchmarks/bench_rl_speed.py --baseline-commit 1497eb4 [--algos edmsac,dmsac,td3,ppo]
        [--K 2,5] [--threads 1,2] [--rounds 2] [--warmup 12] [--steps 16] [--out benchmarks/results/rl_speed.md]

Every measurement is a fresh worker process (this script with ``--worker``) that imports mechdsl
from one code tree (the working tree, or the baseline revision extracted with `git archive`),
trains the ``default`` preset for ``warmup`` untimed steps (random warm-up actions, replay fill)
and then times ``steps`` training steps with the loop exactly as `mechdsl train` runs it. Workers
of the two trees alternate within every round (config by config, the order flipped each round), so
load from other processes on the shared machine hits both alike; the table reports the median
over rounds and the ratio baseline / new of the paired rounds.

The profile splits a step's wall time by timing, from outside the code under test, the calls both
trees share: ``env.step`` (env, incl. the feasibility repair), ``agent.act`` (actor sampling),
``agent.update`` (updates; minus the pruning hooks it calls), the pruning hooks, and the held-out
evaluation. Updates are split into critic and actor parts by the algorithm's own schedule: an
update on a critic-only turn (``step % actor_every`` or ``% policy_delay`` != 0) costs a critic
update c; an actor turn's cost minus c is the actor update. PPO updates actor and critic in one
loss (column "updates" only). Evaluation runs once per timed window and is charged at the rate of
the 1500-step benchmark (one evaluation per ``eval_period`` = 75 steps). "other" is the rest of
the loop (replay buffer, reward, bookkeeping). The env's `optimum` is not called (no exact solves).
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "specs" / "two_period.mech"
PHASES = ("env", "act", "critic", "actor", "updates", "pruning", "evaluation", "other")
PRUNING_HOOKS = ("before_update", "before_actor_step", "after_actor_step", "after_target_update")


# -- worker: one timed training run in the code tree on sys.path ---------------------------------

class _Clock:
    """Seconds per phase, counted only once the timed window has started; nested phases
    (pruning hooks inside an update) are recorded and later subtracted from their parent."""

    def __init__(self, clock) -> None:
        self.active, self.now = False, clock
        self.seconds = {name: 0.0 for name in ("env", "act", "update_critic_turn", "update_actor_turn",
                                               "pruning", "evaluation")}
        self.counts = {"update_critic_turn": 0, "update_actor_turn": 0, "steps": 0, "evaluations": 0}
        self.pruning_in_update = 0.0

    def timed(self, phase: str, call, *args, **kwargs):
        if not self.active:
            return call(*args, **kwargs)
        start = self.now()
        try:
            return call(*args, **kwargs)
        finally:
            self.seconds[phase] += self.now() - start


def _actor_turn(hp, step: int) -> bool | None:
    for period in ("actor_every", "policy_delay"):
        if hasattr(hp, period):
            return step % getattr(hp, period) == 0
    return None


def _instrument(agent, hp, clock: _Clock) -> None:
    act, update = agent.act, agent.update

    def timed_act(obs, *, explore, generator):
        return clock.timed("act", act, obs, explore=explore, generator=generator) if explore else \
            act(obs, explore=explore, generator=generator)

    def timed_update(batch, *, step, generator, env):
        before = clock.seconds["pruning"]
        turn = _actor_turn(hp, step)
        phase = "update_critic_turn" if turn is False else "update_actor_turn"
        start = clock.now()
        out = update(batch, step=step, generator=generator, env=env)
        if clock.active:
            clock.seconds[phase] += clock.now() - start - (clock.seconds["pruning"] - before)
            clock.counts[phase] += 1
        return out

    agent.act, agent.update = timed_act, timed_update
    for hook in PRUNING_HOOKS:
        original = getattr(agent, hook, None)
        if original is not None:
            setattr(agent, hook, lambda *a, _f=original, **k: clock.timed("pruning", _f, *a, **k))


def worker(job: dict) -> dict:
    import torch

    torch.set_num_threads(job["threads"])
    import mechdsl
    from mechdsl.rl import loop
    from mechdsl.rl.runs import load_package

    env = load_package(Path(job["package"])).Env(device="cpu")
    clock = _Clock(time.process_time if job["clock"] == "cpu" else time.perf_counter)
    total = job["warmup"] + job["steps"]

    class TimedEnv:
        """The compiled env; `step` timed and counted, the exact optimum switched off."""

        def __getattr__(self, name):
            return getattr(env, name)

        def step(self, action):
            clock.counts["steps"] += 1
            if clock.counts["steps"] == job["warmup"] + 1:
                clock.active, clock.start, clock.wall_start = True, clock.now(), time.perf_counter()
            return clock.timed("env", env.step, action)

        def optimum(self, state):
            return None

    make_agent, evaluator_call = loop.make_agent, loop._Evaluator.__call__

    def instrumented_agent(algo, env_, hp, generator, device):
        agent = make_agent(algo, env_, hp, generator, device)
        _instrument(agent, hp, clock)
        return agent

    def timed_evaluation(self, agent):
        if clock.active:
            clock.counts["evaluations"] += 1
        return clock.timed("evaluation", evaluator_call, self, agent)

    loop.make_agent, loop._Evaluator.__call__ = instrumented_agent, timed_evaluation
    loop.train(TimedEnv(), job["algo"], steps=total, seed=job["seed"], eval_every=total, log="none")
    elapsed, wall = clock.now() - clock.start, time.perf_counter() - clock.wall_start
    hp = loop.resolve_hparams(job["algo"], "default", None)
    return {"code": str(Path(mechdsl.__file__).parents[1]), "elapsed": elapsed, "wall": wall, "seconds": clock.seconds,
            "counts": clock.counts, "collect_batch": hp.collect_batch, "split": _actor_turn(hp, 1) is not None,
            "clock": job["clock"]}


def profile(result: dict, steps: int, eval_period: int) -> dict[str, float]:
    """Milliseconds per env step for each phase (see the module docstring)."""
    s, c = result["seconds"], result["counts"]
    evaluation = s["evaluation"] / max(c["evaluations"], 1) / eval_period
    updates = s["update_critic_turn"] + s["update_actor_turn"]
    measured = s["env"] + s["act"] + updates + s["pruning"] + s["evaluation"]
    phases = {"env": s["env"] / steps, "act": s["act"] / steps, "updates": updates / steps,
              "pruning": s["pruning"] / steps, "evaluation": evaluation,
              "other": max(result["elapsed"] - measured, 0.0) / steps}
    if result["split"] and c["update_critic_turn"]:
        critic_one = s["update_critic_turn"] / c["update_critic_turn"]
        actor = s["update_actor_turn"] - critic_one * c["update_actor_turn"]
        phases["actor"], phases["critic"] = actor / steps, (updates - actor) / steps
    out = {k: 1000 * v for k, v in phases.items()}
    out["total"] = sum(out[k] for k in ("env", "act", "updates", "pruning", "evaluation", "other"))
    out["wall"] = 1000 * (result["wall"] - s["evaluation"]) / steps + out["evaluation"]  # CPU clock: approximate
    out["samples_per_s"] = result["collect_batch"] / (out["total"] / 1000)
    out["updates_per_s"] = (c["update_critic_turn"] + c["update_actor_turn"]) / steps / (out["total"] / 1000)
    return out


# -- driver ------------------------------------------------------------------------------------

def run_worker(code_root: Path, job: dict) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code_root), "OMP_NUM_THREADS": str(job["threads"])}
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(job)], cwd=tempfile.gettempdir(),
                          env=env, check=True, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if Path(result["code"]).resolve() != code_root.resolve():
        raise RuntimeError(f"worker imported mechdsl from {result['code']}, not from {code_root}")
    return result


def compile_packages(ks: list[int], folder: Path) -> dict[int, Path]:
    from mechdsl.codegen import compile_spec
    from mechdsl.lang import load_file

    packages = {}
    for k in ks:
        packages[k] = folder / f"two_period_K{k}"
        compile_spec(load_file(SPEC, {"K": float(k)}), packages[k], source=SPEC.read_text())
    return packages


def markdown(results: dict, args, command: str, machine_before: str, machine_after: str, minutes: float) -> str:
    baseline = args.baseline_commit
    lines = ["# RL training speed on two_period.mech", "",
             f"command: `{command}`  ", f"machine at start: {machine_before}  ", f"machine at end: {machine_after}  ",
             f"total wall {minutes:.1f} min; {args.rounds} rounds, {args.warmup} untimed + {args.steps} timed training "
             f"steps per worker, `default` preset, seed {args.seed}; medians over rounds. Milliseconds per env step "
             f"(one step = collect_batch states acted on, then updates_per_step updates); evaluation charged once per "
             f"{args.eval_period} steps. Ratio = baseline ms/step / new ms/step, median of the paired rounds.", "",
             f"Phases and ms/step count the worker's {'CPU time (all threads)' if args.clock == 'cpu' else 'wall time'}; "
             "wall ms/step is the elapsed time of the same window; samples/s and updates/s follow ms/step.", "",
             "| algo | K | threads | code | env | act | critic | actor | updates | pruning | evaluation | other "
             "| ms/step | wall ms/step | samples/s | updates/s | speed-up (ms/step) | speed-up (wall) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    fmt = lambda d, k: f"{d[k]:.1f}" if k in d else "-"  # noqa: E731
    for (algo, k, threads), by_code in results.items():
        ratios = [b["total"] / n["total"] for b, n in zip(by_code.get("baseline", []), by_code["new"])]
        wall_ratios = [b["wall"] / n["wall"] for b, n in zip(by_code.get("baseline", []), by_code["new"])]
        for code, label in (("baseline", f"{baseline}"), ("new", "this tree")):
            rounds = (by_code.get(code) or [])[:len(by_code["new"])] if code == "baseline" else by_code["new"]
            if not rounds:
                continue
            median = {key: statistics.median(r.get(key, 0.0) for r in rounds) for key in rounds[0]}
            speed = f"{statistics.median(ratios):.2f}x | {statistics.median(wall_ratios):.2f}x" \
                if code == "new" and ratios else " |"
            lines.append(f"| {algo} | {k} | {threads} | {label} | " + " | ".join(fmt(median, p) for p in PHASES)
                         + f" | {median['total']:.1f} | {median['wall']:.1f} | {median['samples_per_s']:.0f} | {median['updates_per_s']:.1f} "
                         f"| {speed} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--algos", default="edmsac,dmsac,td3,ppo")
    parser.add_argument("--K", default="2,5", help="comma-separated sizes K of two_period")
    parser.add_argument("--threads", default="1,2", help="comma-separated torch thread counts")
    parser.add_argument("--baseline-commit", help="also time the mechdsl package as committed at this git revision")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=12, help="untimed steps before the window (replay fill)")
    parser.add_argument("--steps", type=int, default=16, help="timed training steps per worker")
    parser.add_argument("--eval-period", type=int, default=75, help="steps per evaluation the table charges")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                        help="what the profile counts: the worker's CPU time (all its threads; robust to other "
                             "processes' load) or wall time; ms/step (wall) is always reported too")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "rl_speed.md"))
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    sys.path.insert(0, str(ROOT))
    from benchmarks.baseline import extract_revision, machine

    command = f"python {shlex.join([str(Path(sys.argv[0]).resolve().relative_to(ROOT)), *sys.argv[1:]])}"
    machine_before, start = machine(), time.perf_counter()
    configs = [(algo, int(k), int(n)) for algo in args.algos.split(",") for k in args.K.split(",")
               for n in args.threads.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        trees = {"new": ROOT}
        if args.baseline_commit:
            trees["baseline"] = extract_revision(args.baseline_commit, ["mechdsl"], Path(scratch) / "baseline")
        packages = compile_packages(sorted({k for _, k, _ in configs}), Path(scratch))
        results: dict = {config: {code: [] for code in trees} for config in configs}
        for round_ in range(args.rounds):
            order = list(trees) if round_ % 2 == 0 else list(reversed(trees))
            for algo, k, threads in configs:
                for code in order:
                    job = {"package": str(packages[k]), "algo": algo, "threads": threads, "warmup": args.warmup,
                           "steps": args.steps, "seed": args.seed, "clock": args.clock}
                    timing = profile(run_worker(trees[code], job), args.steps, args.eval_period)
                    results[algo, k, threads][code].append(timing)
                    print(f"round {round_ + 1} {algo} K={k} threads={threads} {code}: {timing['total']:.1f} ms/step "
                          f"(wall {timing['wall']:.1f}; load {os.getloadavg()[0]:.1f})", flush=True)
                    # rewritten after every measurement, so an interrupted run keeps what it measured
                    text = markdown(results, args, command, machine_before, machine(), (time.perf_counter() - start) / 60)
                    out = Path(args.out)
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_text(text, encoding="utf-8")
    print(text)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
