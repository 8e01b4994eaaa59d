"""A sweep's results: the table of every trial, the summary over seeds, and the plots.

results.csv / results.md   one row per trial: grid values, algorithm, seed, final metrics
summary.csv                 one row per (grid point, algorithm): mean and sample std over seeds
<metric>_vs_<name>.png      the metric against one grid variable, a line per algorithm (and per
                            value of the other grid variables), error bars = std over seeds, with
                            the reference: ratio 1, or the exact optimum for the mean utility
                            (the layout of Figs. 7 and 9 of dynamic-contract-edmsac.txt)
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from mechdsl.sweep.grid import GridAxis, format_value
from mechdsl.sweep.trial import METRICS

SUMMARY_METRICS = ("optimality_ratio", "violation_rate", "mean_utility", "mean_optimum", "wall_seconds")
PLOTTED = {"optimality_ratio": "optimality ratio", "mean_utility": "mean utility of the principal"}


def ordered(rows: list[dict], trial_order: list[str]) -> list[dict]:
    rank = {t: i for i, t in enumerate(trial_order)}
    return sorted(rows, key=lambda r: rank[r["trial"]])


def columns(axes: list[GridAxis]) -> list[str]:
    return ["trial", *(a.name for a in axes), "algo", "seed", "steps", *METRICS, "status", "error"]


def _cell(value, exact: bool = False) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else (repr(value) if exact else f"{value:.6g}")
    return format_value(value)


def write_csv(path: Path, header: list[str], rows: list[dict]) -> None:
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        for row in rows:
            writer.writerow([_cell(row.get(name, ""), exact=True) for name in header])


def markdown_table(header: list[str], rows: list[dict]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(row.get(name, "")) for name in header) + " |" for row in rows]
    return "\n".join(lines)


def summarize(rows: list[dict], axes: list[GridAxis]) -> list[dict]:
    """Mean and sample std (ddof 1; 0 for one seed) over seeds per grid point and algorithm;
    failed trials are left out and counted."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        groups[tuple(row[a.name] for a in axes) + (row["algo"],)].append(row)
    summary = []
    for key, members in groups.items():
        entry = {a.name: v for a, v in zip(axes, key)} | {"algo": key[-1]}
        good = [m for m in members if m["status"] != "failed"]
        entry["seeds"], entry["failed"] = len(good), len(members) - len(good)
        for name in SUMMARY_METRICS:
            values = np.array([m[name] for m in good], dtype=float)
            values = values[~np.isnan(values)]
            entry[f"{name}_mean"] = float(values.mean()) if len(values) else math.nan
            entry[f"{name}_std"] = float(values.std(ddof=1)) if len(values) > 1 else (0.0 if len(values) else math.nan)
        summary.append(entry)
    return summary


def summary_columns(axes: list[GridAxis]) -> list[str]:
    stats = [f"{name}_{s}" for name in SUMMARY_METRICS for s in ("mean", "std")]
    return [*(a.name for a in axes), "algo", "seeds", "failed", *stats]


def _mean_std_table(summary: list[dict], axes: list[GridAxis]) -> str:
    header = [*(a.name for a in axes), "algo", "seeds", *(f"{n} (mean ± std)" for n in SUMMARY_METRICS)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for entry in summary:
        cells = [format_value(entry[a.name]) for a in axes] + [entry["algo"], str(entry["seeds"])]
        cells += [f"{entry[f'{n}_mean']:.4g} ± {entry[f'{n}_std']:.2g}" for n in SUMMARY_METRICS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_metric(summary: list[dict], axes: list[GridAxis], axis: GridAxis, metric: str, path: Path) -> Path:
    """`metric` against `axis`: one line per algorithm and value of the other grid variables."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in axis.values)
    position = {v: (float(v) if numeric else i) for i, v in enumerate(axis.values)}
    others = [a for a in axes if a is not axis]
    lines: dict[tuple, list[dict]] = defaultdict(list)
    for entry in summary:
        lines[(entry["algo"],) + tuple(entry[a.name] for a in others)].append(entry)
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, entries in lines.items():
        entries = sorted(entries, key=lambda e: position[e[axis.name]])
        label = ", ".join([key[0]] + [f"{a.name}={format_value(v)}" for a, v in zip(others, key[1:])])
        ax.errorbar([position[e[axis.name]] for e in entries], [e[f"{metric}_mean"] for e in entries],
                    yerr=[e[f"{metric}_std"] for e in entries], marker="o", capsize=3, label=label)
    if metric == "optimality_ratio":
        ax.axhline(1.0, color="black", linestyle="--", linewidth=1, label="exact optimum (ratio 1)")
    elif metric == "mean_utility":
        optimum: dict[object, list[float]] = defaultdict(list)
        for entry in summary:
            optimum[entry[axis.name]].append(entry["mean_optimum_mean"])
        xs = sorted(optimum, key=lambda v: position[v])
        ax.plot([position[x] for x in xs], [np.nanmean(optimum[x]) for x in xs], "k--", marker="s",
                linewidth=1, label="exact optimum")
    if not numeric:
        ax.set_xticks(list(position.values()), [format_value(v) for v in axis.values])
    ax.set_xlabel(axis.name)
    ax.set_ylabel(PLOTTED[metric])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_results(out: Path, rows: list[dict], axes: list[GridAxis], *, title: str, command: str,
                  backend: str, wall_seconds: float) -> list[Path]:
    """Write results.csv, results.md, summary.csv and the plots into `out`; returns the paths."""
    out = Path(out)
    header = columns(axes)
    summary = summarize(rows, axes)
    write_csv(out / "results.csv", header, rows)
    write_csv(out / "summary.csv", summary_columns(axes), summary)
    plots = []
    if summary and axes:
        for axis in axes:
            for metric in PLOTTED:
                plots.append(plot_metric(summary, axes, axis, metric, out / f"{metric}_vs_{axis.name}.png"))
    counts = defaultdict(int)
    for row in rows:
        counts[row["status"]] += 1
    md = [f"# Sweep: {title}", "",
          f"Command: `{command}`", "",
          f"Backend `{backend}`; {len(rows)} trials ({', '.join(f'{n} {s}' for s, n in sorted(counts.items()))}); "
          f"sweep wall time {wall_seconds:.1f} s (skipped trials cost nothing; their wall_seconds are "
          "those of the run that trained them). Each trial is a run folder `<trial>/` with report.md.", "",
          "## Summary over seeds", "",
          "Mean ± sample standard deviation over seeds of each grid point and algorithm.", "",
          _mean_std_table(summary, axes), ""]
    md += [f"![{p.stem}]({p.name})" for p in plots] + [""]
    md += ["## Every trial", "", markdown_table(header, rows), ""]
    (out / "results.md").write_text("\n".join(md))
    return [out / "results.csv", out / "results.md", out / "summary.csv", *plots]
