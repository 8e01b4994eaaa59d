"""Mish forward + backward: ``torch.nn.functional.mish`` (ATen's kernels) against
``mechdsl.rl.activations.mish`` (x n / d with n = e (e + 2), d = n + 2, e = exp(min(x, 20))).

    python benchmarks/bench_mish.py [--shapes 256x256,2x256x256] [--dtypes float32,float64]
        [--threads 1] [--rounds 7] [--reps 200] [--out benchmarks/results/mish.md]

Per shape and dtype, both sides are timed in interleaved rounds (aten, ours, aten, ours, ...) on
the same input x ~ 3 N(0, 1), so load from other processes hits them alike. A round times ``reps``
calls of: a leaf copy of x with requires_grad, y = mish(x), y.backward(ones) ("fwd+bwd"), and
separately ``reps`` calls under no_grad ("fwd"). The table gives the median round in ms per call
and the ratio aten / ours of the medians. Prints the command and the machine with its load average.
"""
from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.baseline import machine  # noqa: E402
from mechdsl.rl.activations import mish  # noqa: E402


def _fwd_bwd(fn, x: torch.Tensor, grad: torch.Tensor, reps: int) -> float:
    start = time.perf_counter()
    for _ in range(reps):
        leaf = x.detach().requires_grad_()
        fn(leaf).backward(grad)
    return (time.perf_counter() - start) / reps


def _fwd(fn, x: torch.Tensor, reps: int) -> float:
    with torch.no_grad():
        start = time.perf_counter()
        for _ in range(reps):
            fn(x)
        return (time.perf_counter() - start) / reps


def measure(shape: tuple[int, ...], dtype: torch.dtype, rounds: int, reps: int) -> dict[str, float]:
    x = 3 * torch.randn(shape, dtype=dtype, generator=torch.Generator().manual_seed(0))
    grad = torch.ones_like(x)
    sides = {"aten": F.mish, "ours": mish}
    for fn in sides.values():  # warm-up
        _fwd_bwd(fn, x, grad, 10)
    times: dict[str, list[float]] = {f"{side} {kind}": [] for side in sides for kind in ("fwd+bwd", "fwd")}
    for _ in range(rounds):
        for side, fn in sides.items():
            times[f"{side} fwd+bwd"].append(_fwd_bwd(fn, x, grad, reps))
            times[f"{side} fwd"].append(_fwd(fn, x, reps))
    return {key: statistics.median(values) * 1e3 for key, values in times.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="256x256,2x256x256")
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    lines = [f"command: python {shlex.join(['benchmarks/bench_mish.py', *(argv or sys.argv[1:])])}",
             f"machine: {machine()}, {args.threads} thread(s)", "",
             "| shape | dtype | aten fwd+bwd ms | ours fwd+bwd ms | ratio | aten fwd ms | ours fwd ms | ratio |",
             "|---|---|---|---|---|---|---|---|"]
    for spec in args.shapes.split(","):
        shape = tuple(int(n) for n in spec.split("x"))
        for name in args.dtypes.split(","):
            t = measure(shape, getattr(torch, name), args.rounds, args.reps)
            lines.append(f"| {spec} | {name} | {t['aten fwd+bwd']:.3f} | {t['ours fwd+bwd']:.3f} | "
                         f"{t['aten fwd+bwd'] / t['ours fwd+bwd']:.2f}x | {t['aten fwd']:.3f} | {t['ours fwd']:.3f} | "
                         f"{t['aten fwd'] / t['ours fwd']:.2f}x |")
            print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
