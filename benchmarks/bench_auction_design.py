"""Learned auction mechanisms on the classic multi-item settings, each with its certificate.

    python benchmarks/bench_auction_design.py [--quick] [--device cpu] [--out FILE]
                                              [--regretnet-seconds 600]

For every setting x method: revenue on fresh test profiles, regret by misreport gradient
ascent (restarts x steps) and by exact enumeration of a grid of misreports (both lower
bounds on the true regret, printed side by side), regret-adjusted revenue (revenue minus the
larger estimate summed over bidders), the IR violation rate, training seconds, and the
closed-form or published reference with the ratio revenue / reference. Item-wise Myerson,
an exactly DSIC mechanism with a closed form, is measured in the same run as the baseline
(its certificate must read zero; its revenue 2 x 5/12 on 2 x 2 additive U[0, 1]).

`--quick` is a smoke run with tiny budgets (under a minute on 2 cores). The full run's
output is committed as benchmarks/results/auction_design.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import torch  # noqa: E402

from mechdsl.auction_design.learned import (  # noqa: E402
    ItemwiseMyerson,
    Setting,
    certify,
    train_affine_maximizer,
    train_menu,
    train_regretnet,
)

FULL = {
    "menu": dict(n_entries=500, steps=1500, batch=2048, lr=1e-2, time_limit_s=300),
    "ama_one_bidder": dict(n_lotteries=256, steps=1000, batch=2048, lr=1e-2, time_limit_s=180),
    "ama": dict(n_lotteries=256, steps=1500, batch=2048, lr=1e-2, time_limit_s=240),
    # RegretNet's published schedule (25 misreport steps, lambda every 100 steps, rho + 1
    # every 10^4 of 4 x 10^5 steps) compressed into the ~4000 steps 10 minutes allow here
    "regretnet": dict(steps=200_000, batch=256, misreport_steps=10, lagrange_every=10,
                      rho_every=300, rho_increment=2.0),
    "certificate": dict(samples=1 << 15, gradient_samples=512, restarts=8, steps=200,
                        grid_samples=512, grid_points=101),
}
QUICK = {
    "menu": dict(n_entries=50, steps=60, batch=512, lr=2e-2),
    "ama_one_bidder": dict(n_lotteries=8, steps=40, batch=512, lr=5e-2),
    "ama": dict(n_lotteries=8, steps=40, batch=512, lr=5e-2),
    "regretnet": dict(steps=30, batch=64, misreport_steps=5, rho_every=10),
    "certificate": dict(samples=1 << 12, gradient_samples=64, restarts=2, steps=10,
                        grid_samples=64, grid_points=21),
}


def _fmt(x: float | None, digits: int = 4) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _sci(values: tuple[float, ...] | None) -> str:
    return "-" if values is None else " / ".join(f"{v:.1e}" for v in values)


def run(quick: bool, device: str, regretnet_seconds: float,
        only: list[str] | None = None) -> tuple[list[str], list[str]]:
    """The table (printed row by row as each job finishes) and the notes below it."""
    budget = QUICK if quick else FULL
    cert = budget["certificate"]
    additive = Setting.iid(1, 2, "additive", name="1x2 additive U[0,1]")
    unit = Setting.iid(1, 2, "unit_demand", name="1x2 unit-demand U[0,1]")
    two = Setting.iid(2, 2, "additive", name="2x2 additive U[0,1]")
    jobs = [
        (additive, "RochetNet menu", lambda s: train_menu(s, device=device, **budget["menu"])),
        (additive, "lottery AMA (DSIC)",
         lambda s: train_affine_maximizer(s, device=device, **budget["ama_one_bidder"])),
        (additive, "item-wise Myerson (DSIC)", None),
        (unit, "RochetNet menu", lambda s: train_menu(s, device=device, **budget["menu"])),
        (unit, "lottery AMA (DSIC)",
         lambda s: train_affine_maximizer(s, device=device, **budget["ama_one_bidder"])),
        (two, "RegretNet", lambda s: train_regretnet(
            s, device=device, time_limit_s=regretnet_seconds, **budget["regretnet"])),
        (two, "lottery AMA (DSIC)", lambda s: train_affine_maximizer(s, device=device, **budget["ama"])),
        (two, "item-wise Myerson (DSIC)", None),
    ]
    header = [
        "| setting | method | revenue +- standard error | regret, gradient ascent (per bidder) | "
        "regret, grid (per bidder) | regret-adjusted revenue | IR violations | train s | "
        "certify s | reference | revenue / reference |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(header), flush=True)
    rows = []
    sources: dict[str, str] = {}
    for setting, method, train in jobs:
        if only and not any(part in f"{setting.name} | {method}" for part in only):
            continue
        if train is None:
            mechanism, seconds, note = ItemwiseMyerson(setting), None, "closed form"
        else:
            trained = train(setting)
            mechanism, seconds = trained.mechanism, trained.training_seconds
            note = f"{trained.history[-1]['step']} steps"
        start = time.perf_counter()
        c = certify(mechanism, setting, method, device=device, training_seconds=seconds, **cert)
        certify_seconds = time.perf_counter() - start
        ref = c.reference
        ratio = None if ref is None else c.revenue / ref.value
        if ref is not None:
            sources[setting.name] = ("optimal revenue, " if ref.optimal else "") + ref.source
        rows.append(
            f"| {setting.name} | {method} | {_fmt(c.revenue)} +- {c.revenue_standard_error:.4f} | {_sci(c.regret_gradient)} | "
            f"{_sci(c.regret_grid)} | {_fmt(c.regret_adjusted_revenue)} | "
            f"{c.ir_violation_rate:.1e} | {_fmt(seconds, 0)} ({note}) | {certify_seconds:.0f} | "
            f"{_fmt(None if ref is None else ref.value)} | {_fmt(ratio)} |")
        print(rows[-1], flush=True)
    certificate = (f"Certificate: revenue and IR on {cert['samples']} fresh profiles (seed 1000, "
                   f"float64); gradient ascent on the first {cert['gradient_samples']} of them, "
                   f"{cert['restarts']} restarts (truthful + uniform) x {cert['steps']} Adam steps, "
                   f"best iterate; grid on the first {cert['grid_samples']}, "
                   f"{cert['grid_points']}^2 misreports per bidder.")
    references = [f"- {name}: {source}" for name, source in sources.items()]
    return header + rows, ["", certificate, "", "References:", *references]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--regretnet-seconds", type=float, default=600.0)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1: on 2 shared cores, a second thread made "
                             "RegretNet's small batches ~10x slower)")
    parser.add_argument("--only", action="append",
                        help="run only the rows whose 'setting | method' contains this (repeatable)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    lines = [
        "# Learned auction mechanisms: revenue and regret certificate",
        "",
        f"Command: `python benchmarks/bench_auction_design.py {shlex.join(sys.argv[1:])}`",
        f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"device {args.device}, torch threads {torch.get_num_threads()}, load average at start "
        f"{os.getloadavg()[0]:.1f}",
        "",
    ]
    print("\n".join(lines), flush=True)
    table, notes = run(args.quick, args.device, args.regretnet_seconds, args.only)
    lines += table + notes
    print("\n".join(notes))
    if args.out:
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
