"""The local backend: a process pool on this machine (spawn, so each worker owns its torch).

`workers` processes run trials side by side; each sets torch to `cores // workers` threads so
the pool never oversubscribes the cores.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Callable

from mechdsl.sweep.grid import Trial
from mechdsl.sweep.trial import set_threads, train_trial


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    return max(1, (cores or os.cpu_count() or 1) // max(1, workers))


def run_local(trials: list[Trial], out: Path, *, workers: int | None = None,
              on_done: Callable[[dict], None] = lambda row: None) -> list[dict]:
    """Train `trials` in a spawn-context process pool; returns their rows in completion order."""
    if not trials:
        return []
    workers = max(1, min(workers or os.cpu_count() or 1, len(trials)))
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=set_threads, initargs=(threads_per_worker(workers),))
    rows = []
    try:
        pending = {pool.submit(train_trial, trial, Path(out).resolve()) for trial in trials}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                row = future.result()
                rows.append(row)
                on_done(row)
    except BaseException:
        # Interrupted: drop queued trials; finished ones keep their evaluation.json, so the
        # next `mechdsl sweep` with the same --out resumes after them.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return rows
