"""Metric rows of a run, mirrored to ``metrics.csv`` and ``metrics.jsonl`` in the run folder."""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from mechdsl.rl.checkpoint import atomic_write_text

# Columns that vary between identical runs (wall-clock), ignored when comparing runs.
NONDETERMINISTIC = frozenset({"time_s"})


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class MetricsLog:
    """Rows of evaluation metrics; both files are rewritten atomically after each row."""

    def __init__(self, out_dir: Path | None, rows: list[dict[str, Any]] | None = None) -> None:
        self.out_dir = out_dir
        self.rows: list[dict[str, Any]] = list(rows or [])

    def append(self, row: dict[str, Any]) -> None:
        self.rows.append({k: _clean(v) for k, v in row.items()})
        self.flush()

    def columns(self) -> list[str]:
        cols: list[str] = []
        for row in self.rows:
            cols += [k for k in row if k not in cols]
        return cols

    def flush(self) -> None:
        if self.out_dir is None:
            return
        jsonl = "".join(json.dumps(row, sort_keys=False) + "\n" for row in self.rows)
        atomic_write_text(self.out_dir / "metrics.jsonl", jsonl)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.columns(), restval="")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(self.out_dir / "metrics.csv", buf.getvalue())


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Rows of a ``metrics.jsonl`` (or of the run folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def deterministic_part(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows without wall-clock columns, for run-to-run comparison."""
    return [{k: v for k, v in row.items() if k not in NONDETERMINISTIC} for row in rows]
