"""Throughput of the batched auctions against per-market Python loops, plus welfare ratios.

    python benchmarks/bench_auction.py [--batch 4096] [--buyers 10] [--sellers 10]

Markets per second (best of several timed runs) for one batched torch call on ``batch``
markets, against two loops measured in the same run on the same markets: the plain-Python reference (the clock
simulation of ``mechdsl.auction.reference``) and torch called once per market (B = 1).
Also prints each mechanism's welfare ratio against the efficient trade, and the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import torch  # noqa: E402

from mechdsl.auction import (  # noqa: E402
    double_dutch,
    efficient_trade,
    k_double,
    mcafee,
    random_markets,
    welfare_ratio,
)
from mechdsl.auction.reference import (  # noqa: E402
    reference_double_dutch,
    reference_k_double,
    reference_mcafee,
)


def _best_seconds(run, repeats: int) -> float:
    """Fastest wall time of ``repeats`` runs after one warm-up.

    The minimum, not the median: on a machine shared with other jobs the slow runs measure
    the neighbours, and both sides of every ratio are timed the same way.
    """
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def _mechanisms(priorities: torch.Tensor):
    return {
        "double_dutch": (
            lambda v, c: double_dutch(v, c, lottery_priorities=priorities[: v.shape[0]]),
            lambda v, c, u: reference_double_dutch(v, c, lottery_priorities=u),
        ),
        "mcafee": (lambda v, c: mcafee(v, c), lambda v, c, u: reference_mcafee(v, c)),
        "k_double": (lambda v, c: k_double(v, c), lambda v, c, u: reference_k_double(v, c)),
    }


def throughput(batch: int, buyers: int, sellers: int, loop_markets: int) -> None:
    gen = torch.Generator().manual_seed(0)
    values, costs = random_markets(batch, buyers, sellers, generator=gen)
    draws = torch.rand(costs.shape, generator=gen, dtype=values.dtype)
    rows_v, rows_c, rows_u = values.tolist(), costs.tolist(), draws.tolist()
    few = min(loop_markets, batch)
    print(f"\nthroughput, {batch} markets of {buyers} buyers x {sellers} sellers (float64):")
    header = f"{'mechanism':<14}{'batched/s':>14}{'python/s':>12}{'torch B=1/s':>13}"
    print(header + f"{'vs python':>11}{'vs B=1':>9}")
    for name, (batched, reference) in _mechanisms(draws).items():
        t_batch = _best_seconds(lambda: batched(values, costs), repeats=15)

        def python_loop() -> None:
            for v, c, u in zip(rows_v, rows_c, rows_u):
                reference(v, c, u)

        t_python = _best_seconds(python_loop, repeats=5)

        def torch_loop() -> None:
            for i in range(few):
                batched(values[i : i + 1], costs[i : i + 1])

        t_single = _best_seconds(torch_loop, repeats=5) * batch / few
        rate = batch / t_batch
        print(
            f"{name:<14}{rate:>14,.0f}{batch / t_python:>12,.0f}{batch / t_single:>13,.0f}"
            f"{t_python / t_batch:>10.1f}x{t_single / t_batch:>8.0f}x"
        )


def welfare_table(batch: int) -> None:
    print(f"\nwelfare ratio W / W* (mean over {batch} markets; uniform [0, 1] values and costs):")
    print(f"{'n x m':<9}{'mean k':>7}{'DDA E[W]':>10}{'DDA W':>8}{'McAfee':>8}{'k-double':>10}")
    gen = torch.Generator().manual_seed(1)
    for n, m in [(2, 2), (5, 5), (10, 10), (20, 20), (50, 50), (10, 5), (5, 10)]:
        values, costs = random_markets(batch, n, m, generator=gen)
        best = efficient_trade(values, costs)
        dda = double_dutch(values, costs, generator=gen)

        def ratio(welfare: torch.Tensor) -> float:
            return welfare_ratio(welfare, best.welfare).mean().item()

        print(
            f"{f'{n} x {m}':<9}{best.num_trades.double().mean().item():>7.2f}"
            f"{ratio(dda.expected_welfare):>10.3f}{ratio(dda.welfare):>8.3f}"
            f"{ratio(mcafee(values, costs).welfare):>8.3f}"
            f"{ratio(k_double(values, costs).welfare):>10.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--buyers", type=int, default=10)
    parser.add_argument("--sellers", type=int, default=10)
    parser.add_argument("--loop-markets", type=int, default=512,
                        help="markets timed in the torch B=1 loop (rate extrapolated)")  # fmt: skip
    parser.add_argument(
        "--threads", type=int, nargs="*", default=None,
        help="intra-op thread counts to time (default: torch's, then 1)",
    )  # fmt: skip
    args = parser.parse_args()
    default_threads = torch.get_num_threads()
    thread_counts = args.threads or sorted({default_threads, 1}, reverse=True)
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    print(
        f"machine: {platform.platform()} | {platform.processor() or platform.machine()} | "
        f"{os.cpu_count()} cores | python {platform.python_version()} | torch {torch.__version__}"
        f" | load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    for threads in thread_counts:
        torch.set_num_threads(threads)
        print(f"\n[{threads} torch intra-op thread{'s' if threads > 1 else ''}]", end="")
        throughput(args.batch, args.buyers, args.sellers, args.loop_markets)
    torch.set_num_threads(default_threads)
    welfare_table(args.batch)


if __name__ == "__main__":
    main()
