"""Benchmark of every algorithm (``default`` preset) on the toy screening contract.

    python tests/rl/run_toy_benchmark.py OUT_DIR [--scale 1.0] [--only algos,pruning,steps,entropy]
    python tests/rl/run_toy_benchmark.py OUT_DIR --render   # rebuild report.md from OUT_DIR

Trains each algorithm, evaluates it on 1000 held-out states (with a per-state SciPy solve
timed for the speed ratio), runs the EDMSAC pruning-rate and denoising-step comparisons and
the DMSAC entropy-realisation ablation, and writes OUT_DIR/report.md with its plots.
Not a test (the file name does not start with ``test_``); numbers are quoted in docs/rl.md.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "rl"))
from toy_env import ScreeningContractEnv  # noqa: E402

from mechdsl.rl import resolve_hparams, train  # noqa: E402
from mechdsl.rl.algorithms import make_agent  # noqa: E402
from mechdsl.rl.checkpoint import CHECKPOINT_NAME, load_checkpoint  # noqa: E402
from mechdsl.rl.evaluate import Evaluation, evaluate_policy, heldout_states  # noqa: E402
from mechdsl.rl.loop import EVAL_SEED  # noqa: E402
from mechdsl.rl.metrics import read_metrics  # noqa: E402
from mechdsl.rl.report import contract_items, items_of_actions, write_report  # noqa: E402

GROUPS = {"EDMSAC pruning rate (test utility)": "edmsac prune ",
          "EDMSAC denoising steps (test utility)": "edmsac M=",
          "DMSAC entropy realisation (test utility)": "dmsac entropy="}

STEPS = {"edmsac": 1000, "dmsac": 1000, "dmddpg": 1000, "cgdm": 1000, "sac": 1000, "td3": 1000,
         "ddpg": 1000, "ppo": 150, "amortized": 300, "random": 1}


def scipy_solve_one(env: ScreeningContractEnv):
    """Per-state numeric solve over the action box (the 'solver' the policy is compared with)."""
    def solve(state: torch.Tensor) -> float:
        s = state.double()[None]

        def negative(x: np.ndarray) -> float:
            return -float(env.evaluate(s, torch.from_numpy(x)[None]).reward)

        best = min((minimize(negative, x0, method="L-BFGS-B", bounds=[(-1, 1), (-1, 1)])
                    for x0 in (np.array([-0.5, 0.5]), np.array([0.0, 0.0]))), key=lambda r: r.fun)
        return -best.fun
    return solve


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every step budget")
    parser.add_argument("--only", default="", help="comma-separated subset of sections: algos,pruning,steps,entropy")
    parser.add_argument("--render", action="store_true", help="only rebuild report.md from OUT")
    args = parser.parse_args()
    if args.render:
        print(render(args.out))
        return
    torch.set_num_threads(1)
    env = ScreeningContractEnv()
    out: Path = args.out
    sections = set(args.only.split(",")) if args.only else {"algos", "pruning", "steps", "entropy"}
    runs, evaluations, comparisons, summary = {}, {}, {}, {}

    def run(label: str, algo: str, steps: int, hparams: dict | None = None):
        steps = max(1, int(steps * args.scale))
        start = time.perf_counter()
        result = train(env, algo, steps=steps, seed=0, eval_every=max(steps // 20, 1), log="plain",
                       hparams=hparams or {}, out_dir=out / "runs" / label)
        wall = time.perf_counter() - start
        runs[label] = result.rows
        summary[label] = {"algo": algo, "steps": steps, "wall_s": round(wall, 1), "hparams": hparams or {},
                          "final_ratio_256": result.final.get("optimality_ratio")}
        return result

    if "algos" in sections:
        solver = scipy_solve_one(env)
        for algo, steps in STEPS.items():
            result = run(algo, algo, steps)
            ev = evaluate_policy(env, result.agent, n_states=1000, solve_one=solver, solver_states=20)
            evaluations[algo] = ev
            summary[algo]["heldout"] = ev.as_dict()
        comparisons["held-out optimality ratio per algorithm"] = {a: e.optimality_ratio for a, e in evaluations.items()}
    if "pruning" in sections:
        values = {}
        for rate in (0.0, 0.3, 0.5, 0.7):
            label = f"edmsac prune {rate}"
            result = run(label, "edmsac", 600, {"prune_rate": rate})
            values[str(rate)] = evaluate_policy(env, result.agent, n_states=1000, timing_states=10_000).optimality_ratio
        comparisons["EDMSAC pruning rate -> held-out optimality ratio"] = values
    if "steps" in sections:
        values = {}
        for m in (3, 6, 12):
            label = f"edmsac M={m}"
            result = run(label, "edmsac", 600, {"denoise_steps": m})
            values[f"M={m}"] = evaluate_policy(env, result.agent, n_states=1000).optimality_ratio
        comparisons["EDMSAC denoising steps -> held-out optimality ratio"] = values
    if "entropy" in sections:
        values = {}
        for realisation in ("final_gaussian", "none"):
            label = f"dmsac entropy={realisation}"
            result = run(label, "dmsac", 600, {"entropy": realisation})
            values[realisation] = evaluate_policy(env, result.agent, n_states=1000).optimality_ratio
        comparisons["DMSAC entropy realisation -> held-out optimality ratio"] = values

    (out / "summary.json").write_text(json.dumps({"summary": summary, "comparisons": comparisons,
                                                  "command": " ".join(sys.argv)}, indent=2, default=str))
    render(out)
    print(json.dumps(comparisons, indent=2, default=str))


def render(out: Path) -> Path:
    """report.md from OUT/summary.json, OUT/runs/*/metrics.jsonl and the EDMSAC checkpoint."""
    env = ScreeningContractEnv()
    data = json.loads((out / "summary.json").read_text())
    summary = data["summary"]
    rows = {label: read_metrics(out / "runs" / label) for label in summary}
    main_runs = {k: v for k, v in rows.items() if not any(k.startswith(p) for p in GROUPS.values())}
    groups = {title: {k: v for k, v in rows.items() if k.startswith(prefix)} for title, prefix in GROUPS.items()}
    evaluations = {k: Evaluation(**v["heldout"]) for k, v in summary.items() if "heldout" in v}
    items = reference = None
    ckpt = load_checkpoint(out / "runs" / "edmsac" / CHECKPOINT_NAME, torch.device("cpu"))
    if ckpt is not None:
        agent = make_agent("edmsac", env, resolve_hparams("edmsac"), torch.Generator().manual_seed(0), torch.device("cpu"))
        agent.load_state_dict(ckpt["agent"])
        items = contract_items(env, agent)
        state = heldout_states(env, 512)
        reference = items_of_actions(env, state, env.optimal_action(state))
    optimum = float(env.optimum(env.reset(256, torch.Generator().manual_seed(EVAL_SEED))).mean())
    walls = ", ".join(f"{k} {v['wall_s']} s" for k, v in summary.items())
    notes = (f"Toy screening contract (tests/rl/toy_env.py), `default` preset, seed 0, 1 torch thread. "
             f"Machine: {platform.machine()}, {torch.__version__}, shared 2-core VM. "
             f"Command: `{data.get('command', 'python tests/rl/run_toy_benchmark.py ' + str(out))}`. "
             f"Wall time per run: {walls}.")
    return write_report(out, main_runs, evaluations, optimum=optimum, comparisons=data["comparisons"],
                        curve_groups={k: v for k, v in groups.items() if v}, items=items, items_reference=reference,
                        title="mechdsl.rl on the toy screening contract", notes=notes)


if __name__ == "__main__":
    main()
