"""The one label scheme of every constraint: `<family>[ period t][ after reports h]: <subject>`.

One constraint (`mechdsl derive`, `mechdsl solve --json`, the NumPy certificate's `where`):

    IR period 2 after reports [1]: type 0
    IIC period 1: type 0 vs report 1
    lifetime IR: type 2
    bound: y1[0] >= 0
    monotone: T1[1] >= T1[0]
    line 12: s[k] >= 400 for k in K [0]

A block of them (the generated env's `SLACK_LABELS`, one label per vectorised block) writes
`every` for what the block ranges over: `IC period 2 after every history: every type vs every
report`, `bound: every decision >= its lower bound`.
"""

from __future__ import annotations

from dataclasses import dataclass

EVERY = "every"  # a place field a block of constraints ranges over


@dataclass(frozen=True)
class Place:
    """Where a constraint (or a block of constraints) sits, rendered by `str`."""

    family: str                            # "IR", "lifetime IR", "IC", "IIC", "bound", "monotone", "line 12"
    subject: str                           # "type 0 vs report 1", "y1[0] >= 0", ...
    period: int | None = None
    history: tuple[int, ...] | str = ()    # the reports before `period`, or EVERY

    def __str__(self) -> str:
        where = self.family
        if self.period is not None:
            where += f" period {self.period}"
        if self.history == EVERY:
            where += f" after {EVERY} history"
        elif self.history:
            where += f" after reports {list(self.history)}"
        return f"{where}: {self.subject}"


def item_subject(type_index: int | str, report: int | str | None = None) -> str:
    """`type 0`, `type 0 vs report 1`; EVERY for a block: `every type vs every report`."""
    who = f"{EVERY} type" if type_index == EVERY else f"type {type_index}"
    if report is None:
        return who
    return f"{who} vs {EVERY} report" if report == EVERY else f"{who} vs report {report}"


__all__ = ["EVERY", "Place", "item_subject"]
