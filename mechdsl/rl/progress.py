"""Progress display for ``train``: a rich bar with the current test reward and optimality ratio,
plain lines, or nothing.

The bar is drawn only on a terminal: with output redirected to a file or a pipe (CI logs,
``| tee``) a bar is cut to the width rich guesses and repaints as garbage, so ``"rich"``
falls back to the plain lines of ``--quiet`` there (one line per evaluation, on stderr)."""
from __future__ import annotations

import sys
from typing import Any, Callable


def _summary(row: dict[str, Any]) -> str:
    text = f"step {row['step']}  test reward {row['test_reward']:.4f}"
    if row.get("optimality_ratio") is not None:
        text += f"  optimality {row['optimality_ratio']:.3f}"
    if row.get("sparsity") is not None:
        text += f"  sparsity {row['sparsity']:.2f}"
    return text


class _Silent:
    def __enter__(self) -> "_Silent":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def advance(self, step: int) -> None: ...

    def report(self, row: dict[str, Any]) -> None: ...


class _Plain(_Silent):
    def __init__(self, description: str) -> None:
        self.description = description

    def report(self, row: dict[str, Any]) -> None:
        print(f"[{self.description}] {_summary(row)}", file=sys.stderr, flush=True)


class _Rich(_Silent):
    def __init__(self, total: int, completed: int, description: str) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.description = description
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), TextColumn("{task.fields[status]}"), transient=False)
        self.task = self.progress.add_task(description, total=total, completed=completed, status="")

    def __enter__(self) -> "_Rich":
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def advance(self, step: int) -> None:
        self.progress.update(self.task, completed=step)

    def report(self, row: dict[str, Any]) -> None:
        self.progress.update(self.task, status=_summary(row))


def on_terminal() -> bool:
    """True when rich's console (stdout) is an interactive terminal, where a bar can redraw."""
    from rich.console import Console

    return Console().is_terminal


def make_progress(log: str | Callable[[dict[str, Any]], None], *, total: int, completed: int, description: str):
    if callable(log) or log == "none":
        return _Silent()
    if log == "plain":
        return _Plain(description)
    if log == "rich":
        return _Rich(total, completed, description) if on_terminal() else _Plain(description)
    raise ValueError(f"unknown log mode {log!r}; choose 'rich', 'plain', 'none' or pass a callable")
