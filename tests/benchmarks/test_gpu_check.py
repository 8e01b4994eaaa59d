"""The prepared device check (benchmarks/gpu_check.py) runs on the CPU with a tiny budget, so
the script a GPU session runs cannot rot between the sessions that have a GPU."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_check_runs_every_job_on_the_cpu_with_a_tiny_budget(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    out = tmp_path / "table.md"
    assert gpu_check.main(["--device", "cpu", "--tiny", "--out", str(out)]) == 0
    rows = [line for line in out.read_text().splitlines() if line.startswith("| ") and "| cpu |" in line]
    assert len(rows) == len(gpu_check.RUNS) == 3
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert float(cells[2]) > 0 and cells[3] != "-"  # a wall time and a ratio for every run
    assert "| edmsac K = 2 | cpu |" in out.read_text() and "exact" in out.read_text()
