"""Derivation time for K = 2, 5, 10 and exact-solve time per state on two_period.mech.

Run: python benchmarks/bench_derive.py [--states 5]
Prints a Markdown table; targets: derive K=2 < 2 s, K=10 < 30 s (2 cores). The baseline
measured in the same run is the unreduced CVXPY solve; the ratio column is
reduced-solve time / unreduced-solve time.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

import mechdsl
from mechdsl.reduce import derive
from mechdsl.solve.exact import solve_reduced, solve_unreduced
from mechdsl.solve.state import sample_states, state_at


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--states", type=int, default=5)
    parser.add_argument("--sizes", default="2,5,10")
    args = parser.parse_args()
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, python {platform.python_version()}")
    print(f"command: python benchmarks/bench_derive.py --states {args.states} --sizes {args.sizes}\n")
    print("| K | derive (s) | target (s) | unreduced solve (s/state) | reduced solve (s/state) | ratio reduced/unreduced |")
    print("|---|---|---|---|---|---|")
    for K in (int(k) for k in args.sizes.split(",")):
        model = mechdsl.load("specs/two_period.mech", {"K": K})
        start = time.perf_counter()
        derivation = derive(model)
        derive_s = time.perf_counter() - start
        states = sample_states(model, args.states, np.random.default_rng(0))
        t_full = t_red = 0.0
        for n in range(args.states):
            state = state_at(states, n)
            start = time.perf_counter(); solve_unreduced(model, state); t_full += time.perf_counter() - start
            start = time.perf_counter(); solve_reduced(derivation, state); t_red += time.perf_counter() - start
        target = 2 if K <= 2 else 30
        print(f"| {K} | {derive_s:.2f} | {target} | {t_full / args.states:.2f} | {t_red / args.states:.2f} | "
              f"{t_red / t_full:.2f} |")


if __name__ == "__main__":
    main()
