"""What the CLI's arguments may be, checked where they enter.

Numbers are argparse `type=` functions: a bad value is argparse's own refusal (usage line, the
flag named, exit 2) with a hint, never a number that fails deep inside a command (an internal
error) or one that silently means something else (`--steps 0` training the spec's steps).
Folders a command will write are probed before the command does any work
(`check_writable_folder`), so a path under a file or where the system refuses a folder is a
`UsageError` naming the flag.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from pathlib import Path
from typing import Callable

from mechdsl.errors import UsageError

MAX_SEED = 2**32 - 1
"""Largest seed the CLI takes: NumPy and torch both accept it, with room for the evaluation's
seed offsets (`mechdsl.seeds`)."""


def _whole(text: str, low: int, high: int | None, what: str, example: str) -> int:
    """`text` as a whole number in [low, high]; ArgumentTypeError (message and hint) otherwise."""
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    bounds = f">= {low}" if high is None else f"from {low} to {high}"
    if not math.isfinite(number) or number != int(number) or number < low or (high is not None and number > high):
        raise argparse.ArgumentTypeError(f"{what} must be a whole number {bounds}, got {text!r}\nhint: e.g. {example}")
    return int(number)


def count(what: str, example: str) -> Callable[[str], int]:
    """An argparse type for a count that must be at least 1 (`--steps`, `--eval-states`, ...)."""

    def parse(text: str) -> int:
        return _whole(text, 1, None, what, example)

    parse.__name__ = "count"
    return parse


def seed(text: str) -> int:
    """An argparse type for a random seed: a whole number in [0, MAX_SEED]."""
    return _whole(text, 0, MAX_SEED, "a seed", "--seed 0")


def share(text: str) -> float:
    """An argparse type for a finite number >= 0 (`--gpus-per-trial 0.5`)."""
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and number >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}\nhint: e.g. 0.5 (half a GPU)")
    return number


def _nearest_existing(path: Path) -> Path:
    """`path` itself or its closest ancestor that exists (the current folder for a relative path)."""
    for candidate in (path, *path.parents):
        try:
            if candidate.exists():
                return candidate
        except OSError:  # no permission to look: try the folder above
            continue
    return Path(".")


def check_writable_folder(path: Path, flag: str) -> None:
    """Refuse (UsageError) a folder a command cannot create or write: an existing file, a path
    below a file (`--out notes.txt/run`), or a place where the system refuses a new folder
    (`/proc/x`, a read-only disk, no permission). Probed with a temporary folder made and
    removed at once in the nearest existing ancestor; nothing is left behind."""
    existing = _nearest_existing(path)
    if not existing.is_dir():
        where = f"{flag} {path}" if existing == path else f"{flag} {path}: {existing}"
        raise UsageError(f"{where} is a file, not a folder",
                         hint="choose a folder, or a path that does not exist yet below a folder")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".mechdsl-probe-", dir=existing))
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise UsageError(f"{flag} {path}: cannot create a folder in {existing} ({reason})",
                         hint="choose a folder you can write, e.g. under your home or the current folder") from None
