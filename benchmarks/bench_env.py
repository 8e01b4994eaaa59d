"""Contracts scored per second: the generated batched torch env vs a per-sample Python loop
over SymPy `lambdify` (payments by the derived rules, objective), same states and actions.

    python benchmarks/bench_env.py [--spec two_period] [--batch 4096] [--loop-samples 200]

Prints the command, the machine, both absolute rates and their ratio (target >= 100x).
"""
from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import sympy as sp
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mechdsl.lang import load_file  # noqa: E402
from mechdsl.reduce import derive  # noqa: E402
from mechdsl.solve.state import with_derived  # noqa: E402


def rate_torch(package, state, action, repeats: int) -> float:
    package.evaluate(state, action)  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        package.evaluate(state, action)
    return repeats * len(state) / (time.perf_counter() - start)


def rate_lambdify_loop(model, derivation, package, state, info, samples: int) -> float:
    """Per sample, the same outputs as the env: payments by the rules in order, the objective
    and the worst slack of the original constraints (`mechdsl.solve.exact.original_constraints`)
    plus the variable bounds."""
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
    base = {n: np.full(len(state), v) for n, v in package.env.CONSTANTS.items()}
    base.update({n: state[:, k].numpy() for k, n in enumerate(package.STATE_LAYOUT)})
    base = with_derived(model, base)
    allocations = [s.name for s in derivation.allocation_symbols]
    start = time.perf_counter()
    for i in range(samples):
        values = {n: float(v[i]) for n, v in base.items()}
        values.update({n: float(info[n][i]) for n in allocations})
        for symbol, function, args in rules:
            values[symbol.name] = function(*(values[a.name] for a in args))
        objective(*(values[a.name] for a in obj_symbols))
        worst = min(function(*(values[a.name] for a in args)) for function, args in checks)
        for name, lower, upper in bounds:
            worst = min(worst, values[name] - lower, float("inf") if upper is None else upper - values[name])
    return samples / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", default="two_period")
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--loop-samples", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    package = importlib.import_module(f"generated.{args.spec}")
    model = load_file(ROOT / "specs" / f"{args.spec}.mech")
    derivation = derive(model)
    generator = torch.Generator().manual_seed(0)
    state = package.sample_states(args.batch, generator, dtype=torch.float32)
    action = 2 * torch.rand(args.batch, len(package.ACTION_LAYOUT), generator=generator) - 1
    fast = rate_torch(package, state, action, args.repeats)
    info = {k: v.double().numpy() for k, v in package.evaluate(state.double(), action.double()).info.items()}
    slow = rate_lambdify_loop(model, derivation, package, state.double(), info, args.loop_samples)
    print(f"command: python {' '.join(sys.argv)}")
    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, python {platform.python_version()}, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads)")
    print(f"generated env ({args.spec}, batch {args.batch}, float32, incl. all constraint slacks): "
          f"{fast:,.0f} contracts/s")
    print(f"per-sample lambdify loop (payments, objective, constraint slacks): {slow:,.0f} contracts/s")
    print(f"ratio: {fast / slow:,.0f}x (target >= 100x)")


if __name__ == "__main__":
    main()
