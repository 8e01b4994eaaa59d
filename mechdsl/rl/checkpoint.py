"""Atomic checkpoints: write to a temporary file in the same folder, then ``os.replace``.

A crash (even kill -9) leaves either the previous checkpoint or the new one, never a torn file.

A run folder is untrusted input (it may come from someone else), so a checkpoint is read with
``torch.load(weights_only=True)``: tensors and plain data only, never a pickle that calls
arbitrary code. Whatever keeps a checkpoint from being used (not readable, not safe, not the
layout `mechdsl.rl.loop` writes, non-finite weights, state that does not fit the run) is a
`CheckpointError`, a user error naming the file and what is wrong with it.
"""
from __future__ import annotations

import math
import os
import pickle
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from mechdsl.errors import UsageError

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_VERSION = 1

# Every key `mechdsl.rl.loop` writes, and the types its value may have.
CHECKPOINT_FIELDS: dict[str, tuple[type, ...]] = {
    "version": (int,), "algo": (str,), "seed": (int,), "hparams": (dict,), "step": (int,), "updates": (int,),
    "accum": (dict,), "rows": (list,), "elapsed": (int, float), "agent": (dict,), "buffer": (dict, type(None)),
    "env_generator": (torch.Tensor,), "agent_generator": (torch.Tensor,),
}
RETRAIN_HINT = "train the run again in a new folder (mechdsl train SPEC --out RUN_DIR), or with --overwrite"


class CheckpointError(UsageError, ValueError):
    """A checkpoint file mechdsl refuses to use; the message names the file and the reason.
    Also a `ValueError`, which is what `mechdsl.rl.loop.train` raised for a foreign checkpoint
    before it became a user error."""


def atomic_write_bytes(path: Path, write) -> None:
    """Call ``write(fileobj)`` on a temp file next to ``path`` and rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, lambda f: f.write(text.encode("utf-8")))


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    atomic_write_bytes(path, lambda f: torch.save(state, f))


def load_checkpoint(path: Path, device: torch.device) -> dict[str, Any] | None:
    """The checkpoint at `path` (None if there is none), read safely and checked against the
    layout the loop writes (`checkpoint_problem`); `CheckpointError` if it cannot be used."""
    if not path.exists():
        return None
    if path.is_file() and path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty", hint="it was emptied or copied incompletely (mechdsl writes "
                                                       "checkpoints atomically); " + RETRAIN_HINT)
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointError(
            f"{path}: refusing to load it: not a checkpoint of tensors and plain data ({_refusal_detail(error)})",
            hint="a checkpoint mechdsl writes holds only tensors and plain data; this file is corrupted or was "
                 "made to run code when unpickled, so it is not loaded; " + RETRAIN_HINT) from None
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        raise CheckpointError(f"{path} is not a readable checkpoint ({_first_line(error)})",
                              hint="the file is truncated or corrupted; " + RETRAIN_HINT) from None
    problem = checkpoint_problem(state)
    if problem is not None:
        raise CheckpointError(f"{path}: {problem}", hint=RETRAIN_HINT)
    return state


def checkpoint_problem(state: Any) -> str | None:
    """What keeps `state` (a loaded checkpoint) from being one the loop wrote, or None: the
    keys and value types of `CHECKPOINT_FIELDS`, the version, the rows' steps, and finite
    weights (a NaN or inf in the agent's tensors would give non-finite actions)."""
    if not isinstance(state, dict):
        return f"it holds a {type(state).__name__}, not a mechdsl checkpoint (a dict)"
    missing = sorted(set(CHECKPOINT_FIELDS) - set(state))
    unknown = sorted(map(str, set(state) - set(CHECKPOINT_FIELDS)))
    if missing or unknown:
        parts = ([f"missing key(s) {', '.join(missing)}"] if missing else []) + (
            [f"unknown key(s) {', '.join(unknown)}"] if unknown else [])
        return "not a mechdsl checkpoint: " + "; ".join(parts)
    wrong = [f"{name} is a {type(state[name]).__name__}" for name, types in CHECKPOINT_FIELDS.items()
             if not isinstance(state[name], types) or (isinstance(state[name], bool) and bool not in types)]
    if wrong:
        return "not a mechdsl checkpoint: " + ", ".join(wrong)
    if state["version"] != CHECKPOINT_VERSION:
        return (f"checkpoint version {state['version']} is not supported "
                f"(this mechdsl reads version {CHECKPOINT_VERSION})")
    if state["step"] < 0 or state["updates"] < 0:
        return f"step {state['step']} and updates {state['updates']} must not be negative"
    if not all(isinstance(row, dict) and isinstance(row.get("step"), int) for row in state["rows"]):
        return "rows must be metric rows (dicts with an integer step)"
    if not all(_is_sum_and_count(value) for value in state["accum"].values()):
        return "accum must map each loss to (sum, count)"
    bad = non_finite_tensors(state["agent"])
    if bad:
        return (f"the checkpoint's weights hold non-finite values ({', '.join(bad[:3])}"
                f"{', ...' if len(bad) > 3 else ''}), so its policy would give non-finite actions")
    return None


def non_finite_tensors(state: Any, prefix: str = "agent") -> list[str]:
    """Dotted names of the floating-point tensors in a nested state dict holding a NaN or inf."""
    if isinstance(state, torch.Tensor):
        return [prefix] if state.is_floating_point() and not bool(torch.isfinite(state).all()) else []
    if isinstance(state, float):
        return [] if math.isfinite(state) else [prefix]
    items = state.items() if isinstance(state, dict) else enumerate(state) if isinstance(state, (list, tuple)) else ()
    return [name for key, value in items for name in non_finite_tensors(value, f"{prefix}.{key}")]


@contextmanager
def restoring(path: Path) -> Iterator[None]:
    """Run the restoring of a run's state from the checkpoint at `path`; whatever fails there
    (state dicts of other shapes, a foreign run, generator states of the wrong size) is the
    checkpoint's fault, so it becomes a `CheckpointError` naming the file."""
    try:
        yield
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as error:
        raise CheckpointError(f"{path} does not fit this run: {_first_line(error)}",
                              hint=RETRAIN_HINT) from None


def require_finite_actions(agent, obs: torch.Tensor, path: Path) -> None:
    """Refuse (`CheckpointError`) an agent restored from `path` whose deterministic actions on
    the observations `obs` are not all finite (weights finite but overflowing)."""
    action = agent.act(obs, explore=False, generator=torch.Generator(device=obs.device).manual_seed(0))
    finite = torch.isfinite(action).all(dim=-1)
    if not bool(finite.all()):
        raise CheckpointError(f"{path}: the checkpoint's weights give non-finite actions "
                              f"(on {int((~finite).sum())} of {finite.numel()} probe states)", hint=RETRAIN_HINT)


def _is_sum_and_count(value: Any) -> bool:
    return (isinstance(value, (tuple, list)) and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value))


def _first_line(error: BaseException) -> str:
    """One line for a message: torch's errors run over several paragraphs."""
    if isinstance(error, KeyError) and error.args:
        return f"missing {error.args[0]!r}"
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    first = " ".join(lines[:2]) if lines[0].endswith(":") else lines[0]  # torch's "Error(s) in ...:" header
    return first.split(". ")[0][:300]


def _refusal_detail(error: BaseException) -> str:
    """What torch's weights-only unpickler refused, from its (version-dependent) message: the
    global the pickle wanted to call ("global posix.system") or the opcode it could not read."""
    text = str(error)
    named = re.search(r"GLOBAL ([\w.]+)", text)
    if named:
        return f"global {named.group(1)}"
    opcode = re.search(r"Unsupported operand \S+", text)
    return opcode.group(0) if opcode else "unpickling refused"
