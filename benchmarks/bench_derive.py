"""Derivation time for K = 2, 5, 10 and exact-solve time per state on two_period.mech.

Run: python benchmarks/bench_derive.py [--states 5]
Prints a Markdown table; targets: derive K=2 < 2 s, K=10 < 30 s (2 cores). The baseline
measured in the same run is the unreduced CVXPY solve; the ratio column is
reduced-solve time / unreduced-solve time.

Scaling in the number of types (issue 34): python benchmarks/bench_derive.py --scaling
[--sizes 2,5,10,20,50,100] times load, derive (with the text display of `mechdsl derive`) and
solve of static_contract.mech at each K, each K in a fresh process so its peak resident memory
is its own, as ratios to K = 2 measured in the same run, and fits the growth exponent (slope of
log time against log K over K >= 10). Times are CPU seconds of the process (the machine is
shared; wall time is printed beside them).

Scaling in the number of declared entries: python benchmarks/bench_derive.py --entries
[--sizes 10,100,1000,10000,100000] times `mechdsl check` (parse + check, in a fresh process) of
static_contract.mech with that many extra chained constants (`param z1 = z0 + 1`, ...), with the
growth exponent over the sizes >= 100.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np

import mechdsl
from mechdsl.errors import ReferenceUnavailable
from mechdsl.reduce import derive
from mechdsl.solve.exact import solve_reduced, solve_unreduced
from mechdsl.solve.state import sample_states, state_at


SCALING_SPEC = "specs/static_contract.mech"


def one_size(K: int) -> dict:
    """Load, derive (with the text display) and solve one state of SCALING_SPEC at K types."""
    from mechdsl.cli.derive_cmd import to_text
    from mechdsl.solve.exact import solve

    times = {}
    for stage in ("load", "derive", "solve"):
        cpu, wall = time.process_time(), time.perf_counter()
        if stage == "load":
            model = mechdsl.load(SCALING_SPEC, {"K": K})
        elif stage == "derive":
            to_text(derive(model), verbose=False, latex=False)
        else:
            try:
                solver = solve(model, state_at(sample_states(model, 1, np.random.default_rng(0)), 0)).solver
            except ReferenceUnavailable as refusal:  # beyond solve's size limit
                solver = f"refused: {str(refusal).split(': ', 1)[1].split(' (')[0]}"
        times[stage] = (time.process_time() - cpu, time.perf_counter() - wall)
    return {"K": K, **{k: v[0] for k, v in times.items()}, **{f"{k}_wall": v[1] for k, v in times.items()},
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "solver": solver}


def scaling(sizes: list[int], timeout: float) -> None:
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, python {platform.python_version()}")
    print(f"command: python benchmarks/bench_derive.py --scaling --sizes {','.join(map(str, sizes))}\n")
    print(f"{SCALING_SPEC}; CPU seconds (wall in parentheses), each K in a fresh process; ratios to K = {sizes[0]}\n")
    print("| K | load (s) | derive + display (s) | derive ratio | solve (s) | solve ratio | peak RSS (MB) | solver |")
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    for K in sizes:
        try:
            done = subprocess.run([sys.executable, __file__, "--one", str(K)], capture_output=True, text=True,
                                  timeout=timeout, check=True)
        except subprocess.TimeoutExpired:
            print(f"| {K} | not finished in {timeout:.0f} s | | | | | | |")
            continue
        row = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(row)
        base = rows[0]
        print(f"| {K} | {row['load']:.2f} ({row['load_wall']:.1f}) | {row['derive']:.2f} ({row['derive_wall']:.1f}) | "
              f"{row['derive'] / base['derive']:.1f} | {row['solve']:.2f} ({row['solve_wall']:.1f}) | "
              f"{row['solve'] / base['solve']:.1f} | {row['peak_mb']:.0f} | {row['solver']} |", flush=True)
    slopes = {}
    for stage in ("load", "derive", "solve"):
        fit = [r for r in rows if r["K"] >= 10 and not (stage == "solve" and r["solver"].startswith("refused"))]
        if len(fit) >= 2:
            slopes[stage] = np.polyfit(np.log([r["K"] for r in fit]), np.log([r[stage] for r in fit]), 1)[0]
    print("\ngrowth exponent (slope of log CPU time vs log K over K >= 10; solve over the sizes it solved): "
          + ", ".join(f"{stage} {slope:.2f}" for stage, slope in slopes.items()))


def chained_constants_spec(n: int) -> str:
    """SCALING_SPEC with n extra constants, each defined from the previous one."""
    source = open(SCALING_SPEC).read()
    extra = "\n".join(f"param z{i} = {'z' + str(i - 1) if i else '0'} + 1" for i in range(n))
    return source.replace("param M = 10", "param M = 10\n" + extra, 1)


def entries(sizes: list[int], timeout: float) -> None:
    import tempfile
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, python {platform.python_version()}")
    print(f"command: python benchmarks/bench_derive.py --entries --sizes {','.join(map(str, sizes))}\n")
    print(f"`mechdsl check` of {SCALING_SPEC} with n extra chained constants; CPU seconds of a fresh process\n")
    print("| n constants | check (s) | wall (s) | per constant (ms) | peak RSS (MB) |")
    print("|---|---|---|---|---|")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for n in sizes:
            path = os.path.join(folder, f"constants_{n}.mech")
            with open(path, "w") as f:
                f.write(chained_constants_spec(n))
            code = ("import json, resource, time, mechdsl; c, w = time.process_time(), time.perf_counter(); "
                    f"mechdsl.load({path!r}); print(json.dumps([time.process_time() - c, time.perf_counter() - w, "
                    "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]))")
            try:
                done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                      timeout=timeout, check=True)
            except subprocess.TimeoutExpired:
                print(f"| {n} | not finished in {timeout:.0f} s | | | |")
                continue
            cpu, wall, peak = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append((n, cpu))
            print(f"| {n} | {cpu:.2f} | {wall:.1f} | {1000 * cpu / n:.2f} | {peak:.0f} |", flush=True)
    fit = [(n, t) for n, t in rows if n >= 100]
    if len(fit) >= 2:
        slope = np.polyfit(np.log([n for n, _ in fit]), np.log([t for _, t in fit]), 1)[0]
        print(f"\ngrowth exponent (slope of log CPU time vs log n over n >= 100): {slope:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--states", type=int, default=5)
    parser.add_argument("--sizes", default=None)
    parser.add_argument("--scaling", action="store_true", help="static_contract at growing K (see the docstring)")
    parser.add_argument("--timeout", type=float, default=600.0, help="per K, with --scaling")
    parser.add_argument("--entries", action="store_true", help="check time against the number of constants")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one_size(args.one)))
        return
    if args.entries:
        entries([int(n) for n in (args.sizes or "10,100,1000,10000,100000").split(",")], args.timeout)
        return
    if args.scaling:
        scaling([int(k) for k in (args.sizes or "2,5,10,20,50,100").split(",")], args.timeout)
        return
    args.sizes = args.sizes or "2,5,10"
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
