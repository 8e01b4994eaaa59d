"""What the benchmarks share for before/after comparisons: files of a git revision extracted to a
folder (the baseline is then imported from there, next to the working tree's code, in one run) and
a one-line description of the machine with its load average."""
from __future__ import annotations

import io
import os
import platform
import subprocess
import tarfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def extract_revision(revision: str, paths: list[str], target: Path) -> Path:
    """The files under ``paths`` (repository-relative) as committed at git ``revision``, written
    below ``target`` with their repository layout (``git archive``); returns ``target``."""
    archive = subprocess.run(["git", "archive", "--format=tar", revision, *paths], cwd=ROOT, check=True,
                             capture_output=True).stdout
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{platform.platform()}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores "
            f"(load average {load}), python {platform.python_version()}, torch {torch.__version__}")
