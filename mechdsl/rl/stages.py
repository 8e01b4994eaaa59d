"""Wall-clock time of each stage of a run (compile, train, evaluate, report).

`mechdsl run` prints these times and `report.md` ends with them, so a user sees where a
run's time went. A pipeline wraps each of its stages in `clock.stage(name)`; a stage entered
twice adds up.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

STAGES_HEADING = "## Time per stage"


@dataclass
class StageClock:
    """Seconds per stage name, in the order the stages first ran."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    @property
    def total(self) -> float:
        return sum(self.seconds.values())

    def lines(self) -> list[str]:
        """Plain lines for the terminal: `  train      41.3 s`."""
        width = max((len(name) for name in self.seconds), default=0)
        rows = [f"  {name:<{width}}  {seconds:8.1f} s" for name, seconds in self.seconds.items()]
        return rows + [f"  {'total':<{width}}  {self.total:8.1f} s"]

    def markdown(self) -> str:
        rows = [f"| {name} | {seconds:.1f} |" for name, seconds in self.seconds.items()]
        return "\n".join([STAGES_HEADING, "", "| stage | seconds |", "|---|---|", *rows,
                          f"| total | {self.total:.1f} |", ""])

    def append_to_report(self, report: Path) -> None:
        """Add (or replace, on a resumed run) the stage table at the end of `report`."""
        text = report.read_text(encoding="utf-8") if report.is_file() else ""
        text = text.split(STAGES_HEADING)[0].rstrip("\n")
        report.write_text((text + "\n\n" if text else "") + self.markdown(), encoding="utf-8")


__all__ = ["STAGES_HEADING", "StageClock"]
