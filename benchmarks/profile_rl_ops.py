"""Where a training step's time goes, by torch operator: how much of EDMSAC's (or another
algorithm's) training time on `specs/two_period.mech` is spent inside dense matrix products.

    python benchmarks/profile_rl_ops.py [--algo edmsac] [--K 2] [--steps 80] [--threads 1]

The same training run (the `default` preset, seed 0, `steps` steps after a 12-step warm-up that
fills the caches) is timed once without and once under `torch.profiler`. The GEMM time is the
self CPU time of the aten matrix-product ops (mm, addmm, bmm, baddbmm, addmv, mv, dot), which
the profiler barely inflates (long kernels); it is reported against the unprofiled wall time.
This bounds what any change that keeps the arithmetic can gain: with every other operator,
Python and the env made free, a step still takes its GEMM time, so the speed-up is at most
wall / GEMM, at the same thread count (issue 16; benchmarks/results/rl_speed.md). The run's
first `warmup_steps` (10) act randomly without updates; they are included, which only loosens
the bound.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SPEC = ROOT / "specs" / "two_period.mech"
GEMM_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::addmv", "aten::mv", "aten::dot")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algo", default="edmsac")
    parser.add_argument("--K", type=int, default=2)
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--payments", choices=("action", "optimal"), default="optimal")
    parser.add_argument("--top", type=int, default=12, help="operators listed")
    args = parser.parse_args(argv)

    import torch
    from torch.profiler import ProfilerActivity, profile

    from mechdsl.codegen import compile_spec
    from mechdsl.lang import load_source
    from mechdsl.rl import train
    from mechdsl.rl.runs import load_package

    torch.set_num_threads(args.threads)
    source = SPEC.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        compile_spec(load_source(source, str(SPEC), {"K": args.K}), Path(tmp) / "pkg", source=source)
        env = load_package(Path(tmp) / "pkg").Env(device="cpu", payments=args.payments)
        run = lambda steps: train(env, args.algo, steps=steps, seed=0, eval_every=10**9, eval_states=16,  # noqa: E731
                                  log="none")
        run(12)
        start = time.perf_counter()
        run(args.steps)
        wall = time.perf_counter() - start
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            run(args.steps)
    rows = prof.key_averages()
    total = sum(r.self_cpu_time_total for r in rows) / 1e6
    gemm = sum(r.self_cpu_time_total for r in rows if r.key in GEMM_OPS) / 1e6
    print(f"# {args.algo}, K = {args.K}, {args.steps} steps, {args.threads} torch thread(s), payments {args.payments}\n")
    print("| unprofiled wall s | GEMM self CPU s | GEMM / wall | bound on the speed-up at the same arithmetic |")
    print("|---|---|---|---|")
    print(f"| {wall:.1f} | {gemm:.1f} | {gemm / wall:.1%} | {wall / gemm:.2f}x |\n")
    print("| operator | self CPU s | share of profiled self CPU | calls |\n|---|---|---|---|")
    for r in sorted(rows, key=lambda r: -r.self_cpu_time_total)[:args.top]:
        print(f"| {r.key} | {r.self_cpu_time_total / 1e6:.2f} | {r.self_cpu_time_total / 1e6 / total:.1%} | {r.count} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
